"""YAML loading that remembers where every value came from, for file:line error messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is much faster; fall back to pure Python where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class SourceError(ValueError):
    """A problem in a YAML file written by a person, with the place to fix it."""

    def __init__(self, path: Path | str, line: int | None, problem: str, hint: str = "") -> None:
        self.path, self.line, self.problem, self.hint = str(path), line, problem, hint
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}" + (f" ({hint})" if hint else ""))


@dataclass
class LoadedYaml:
    path: Path
    data: Any
    node: yaml.Node | None

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """1-based line of the value at ``loc`` (a path of keys / indexes), or the nearest parent."""
        node, line = self.node, (self.node.start_mark.line + 1 if self.node else None)
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == key:
                        nxt, line = v, k.start_mark.line + 1
                        break
                if nxt is None:
                    return line
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def load_yaml(path: Path | str) -> LoadedYaml:
    """Parse ``path``; a syntax error becomes a :class:`SourceError` with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(path, None, f"not UTF-8 text: {exc}", "save the file as UTF-8") from exc
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(path, line, f"YAML syntax: {exc.problem or exc}", "check indentation and quoting") from exc
    return LoadedYaml(path, data, node)
