"""YAML with line numbers: rule packs and reference tables are parsed into dicts and lists that
remember the file, line and column of every value, so errors can point an analyst at them.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipelines.rules_model import RuleLocation, RuleSchemaError, RuleSyntaxError


class YMap(dict):
    """A mapping that remembers where it and each of its keys' values came from."""

    loc: RuleLocation
    key_loc: dict[str, RuleLocation]
    raw: dict[str, str]  # plain scalars as written (so `1:1` or `yes` stay text where text is wanted)


class YList(list):
    loc: RuleLocation
    item_loc: list[RuleLocation]
    raw: list[str | None]


def _loc(path: str, node: Node) -> RuleLocation:
    return RuleLocation(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _to_py(node: Node, path: str, ctor: SafeConstructor) -> Any:
    if isinstance(node, MappingNode):
        d = YMap()
        d.loc, d.key_loc, d.raw = _loc(path, node), {}, {}
        for k_node, v_node in node.value:
            if k_node.tag == "tag:yaml.org,2002:merge":
                raise RuleSchemaError("不支持 YAML 合并键 '<<' / merge keys are not supported", _loc(path, k_node))
            key = ctor.construct_object(k_node) if isinstance(k_node, ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key is None:
                raise RuleSchemaError("键必须是文字 / keys must be plain text", _loc(path, k_node))
            key = str(key) if not isinstance(key, str) else key
            if key in d:
                raise RuleSchemaError(f"键 '{key}' 重复 / duplicate key '{key}'", _loc(path, k_node),
                                      "同一层只能写一次；合并两处的内容 / write each key once and merge the values")
            d[key] = _to_py(v_node, path, ctor)
            d.key_loc[key] = _loc(path, v_node)
            if isinstance(v_node, ScalarNode):
                d.raw[key] = v_node.value
        return d
    if isinstance(node, SequenceNode):
        lst = YList()
        lst.loc, lst.item_loc, lst.raw = _loc(path, node), [], []
        for item in node.value:
            lst.append(_to_py(item, path, ctor))
            lst.item_loc.append(_loc(path, item))
            lst.raw.append(item.value if isinstance(item, ScalarNode) else None)
        return lst
    return ctor.construct_object(node, deep=True)


def parse_yaml(text: str, path: str) -> Any:
    """Parse one YAML document into YMap/YList/scalars; syntax errors become RuleSyntaxError."""
    try:
        loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        node = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote or bracket: point at where it was opened
        loc = RuleLocation(path, mark.line + 1, mark.column + 1) if mark else RuleLocation(path)
        hint = "检查缩进（只用空格，不用 Tab）、冒号后的空格和引号是否成对 / check indentation (spaces, no tabs), "
        hint += "a space after each colon, and matching quotes"
        lines = text.splitlines()
        if mark and mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] in ("@", "`"):
            hint = "词表引用要加引号 / quote list references: \"@lists/brands.txt\""
        what = f"{exc.problem} ({exc.context})" if exc.context and exc.problem else (exc.problem or str(exc))
        raise RuleSyntaxError(f"YAML 格式错误 / YAML syntax error: {what}", loc, hint) from None
    except yaml.YAMLError as exc:
        raise RuleSyntaxError(f"YAML 格式错误 / YAML syntax error: {exc}", RuleLocation(path)) from None
    if node is None:
        return None
    return _to_py(node, path, SafeConstructor())


