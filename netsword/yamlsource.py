"""YAML written by people (rule packs, site profiles, campaign plans), read with the place of every value.

One loader and one error type for all of them: :func:`parse_yaml` turns a document into
:class:`YMap` / :class:`YList` (a dict and a list that remember the file, line and column of
each value and key), and every problem is a :class:`SourceError` that names the file and line
to open. Rule packs raise its subclasses (:mod:`pipelines.match.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


@dataclass(frozen=True)
class SourceLocation:
    """Where a value was written: file, 1-based line and column (0 = unknown)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.path}:{self.line}:{self.column}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path


class SourceError(ValueError):
    """A problem in a file a person wrote, with the place to fix it. ``str(err)`` is ``file:line: problem (hint)``."""

    def __init__(self, message: str, location: SourceLocation | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    @property
    def problem(self) -> str:
        return self.message

    @property
    def path(self) -> str | None:
        return self.location.path if self.location else None

    @property
    def line(self) -> int:
        return self.location.line if self.location else 0

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}" + (f" ({self.hint})" if self.hint else "")


class YMap(dict):
    """A mapping that remembers where it, each key and each key's value came from."""

    loc: SourceLocation
    key_loc: dict[str, SourceLocation]  # where each key's value starts
    name_loc: dict[str, SourceLocation]  # where each key itself is written
    raw: dict[str, str]  # plain scalars as written (so `1:1` or `yes` stay text where text is wanted)


class YList(list):
    """A list that remembers where it and each item came from."""

    loc: SourceLocation
    item_loc: list[SourceLocation]
    raw: list[str | None]


def _loc(path: str, node: Node) -> SourceLocation:
    return SourceLocation(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _to_py(node: Node, path: str, ctor: SafeConstructor, schema_error: type[SourceError]) -> Any:
    if isinstance(node, MappingNode):
        d = YMap()
        d.loc, d.key_loc, d.name_loc, d.raw = _loc(path, node), {}, {}, {}
        for k_node, v_node in node.value:
            if k_node.tag == "tag:yaml.org,2002:merge":
                raise schema_error("不支持 YAML 合并键 '<<' / merge keys are not supported", _loc(path, k_node))
            key = ctor.construct_object(k_node) if isinstance(k_node, ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key is None:
                raise schema_error("键必须是文字 / keys must be plain text", _loc(path, k_node))
            key = str(key) if not isinstance(key, str) else key
            if key in d:
                raise schema_error(f"键 '{key}' 重复 / duplicate key '{key}'", _loc(path, k_node),
                                   "同一层只能写一次；合并两处的内容 / write each key once and merge the values")
            d[key] = _to_py(v_node, path, ctor, schema_error)
            d.key_loc[key] = _loc(path, v_node)
            d.name_loc[key] = _loc(path, k_node)
            if isinstance(v_node, ScalarNode):
                d.raw[key] = v_node.value
        return d
    if isinstance(node, SequenceNode):
        lst = YList()
        lst.loc, lst.item_loc, lst.raw = _loc(path, node), [], []
        for item in node.value:
            lst.append(_to_py(item, path, ctor, schema_error))
            lst.item_loc.append(_loc(path, item))
            lst.raw.append(item.value if isinstance(item, ScalarNode) else None)
        return lst
    return ctor.construct_object(node, deep=True)


def parse_yaml(text: str, path: str, *, syntax_error: type[SourceError] = SourceError,
               schema_error: type[SourceError] = SourceError) -> Any:
    """Parse one YAML document into YMap/YList/scalars. A syntax error raises ``syntax_error`` at its
    line (an unclosed quote or bracket: where it was opened); merge keys, duplicate keys and keys
    that are not text raise ``schema_error``."""
    try:
        loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        node = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark
        loc = SourceLocation(path, mark.line + 1, mark.column + 1) if mark else SourceLocation(path)
        hint = "检查缩进（只用空格，不用 Tab）、冒号后的空格和引号是否成对 / check indentation (spaces, no tabs), "
        hint += "a space after each colon, and matching quotes"
        lines = text.splitlines()
        if mark and mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] in ("@", "`"):
            hint = "引用要加引号 / quote values that start with @ or `: \"@lists/brands.txt\""
        what = f"{exc.problem} ({exc.context})" if exc.context and exc.problem else (exc.problem or str(exc))
        raise syntax_error(f"YAML 格式错误 / YAML syntax error: {what}", loc, hint) from None
    except yaml.YAMLError as exc:
        raise syntax_error(f"YAML 格式错误 / YAML syntax error: {exc}", SourceLocation(path)) from None
    if node is None:
        return None
    return _to_py(node, path, SafeConstructor(), schema_error)


@dataclass
class LoadedYaml:
    """A parsed file: its data (YMap/YList) and the lines of its values."""

    path: Path
    data: Any

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """1-based line of the value at ``loc`` (a path of keys / indexes), or of the nearest parent."""
        node = self.data
        line = node.loc.line if isinstance(node, YMap | YList) else None
        for key in loc:
            if isinstance(node, YMap) and str(key) in node:
                line = node.name_loc[str(key)].line
                node = node[str(key)]
            elif isinstance(node, YList) and isinstance(key, int) and 0 <= key < len(node):
                line = node.item_loc[key].line
                node = node[key]
            else:
                return line
        return line


def load_yaml(path: Path | str) -> LoadedYaml:
    """Read and parse ``path``; unreadable text or a syntax error becomes a :class:`SourceError` with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text: {exc}", SourceLocation(str(path)), "save the file as UTF-8") from exc
    return LoadedYaml(path, parse_yaml(text, str(path)))
