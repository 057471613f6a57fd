"""Findings out to the people who act on them: CSV, XLSX or JSON, one row per finding.

Columns are the ones a 网监 office files (``COLUMNS``). Spreadsheet cells that start
with = + - @ tab or carriage return get a leading apostrophe (OWASP "CSV injection"),
so a listing titled ``=HYPERLINK(...)`` stays text in Excel/WPS; JSON keeps values as
they are. Files are written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from leads import severity_label, status_label
from pipelines.store.base import SearchQuery, Store

COLUMNS: tuple[str, ...] = ("平台", "店铺", "经营者", "统一社会信用代码", "商品标题", "价格", "违法类别", "严重程度",
                            "规则", "违法依据", "证据摘要", "链接", "抓取时间", "证据哈希", "状态")
FORMATS = ("csv", "xlsx", "json")
_WIDTHS = {"平台": 10, "店铺": 22, "经营者": 26, "统一社会信用代码": 22, "商品标题": 40, "价格": 10, "违法类别": 26,
           "严重程度": 9, "规则": 30, "违法依据": 36, "证据摘要": 50, "链接": 40, "抓取时间": 22, "证据哈希": 24,
           "状态": 10}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BEIJING = timezone(timedelta(hours=8))
_XLSX_MAX_CELL = 32767


def neutralise(value: Any) -> Any:
    """A spreadsheet-safe cell value: text that a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def beijing_time(iso: str | None) -> str:
    """ISO 8601 (any offset) as Beijing time ``YYYY-MM-DD HH:MM:SS+08:00``; unparsable text unchanged."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(_BEIJING).isoformat(sep=" ", timespec="seconds")


def rows(store: Store, filters: SearchQuery | Mapping[str, Any] | None = None, *,
         site_names: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Export rows (dicts keyed by ``COLUMNS``), worst findings first."""
    names = site_names or {}
    for d in store.iter_findings(filters):
        rule = d["title"] or d["rule_id"]
        if d["title"] and d["rule_id"]:
            rule = f"{d['title']}（{d['rule_id']}）"
        yield {
            "平台": names.get(d["site"], d["site"]),
            "店铺": d["shop_name"] or "",
            "经营者": d["operator"] or "",
            "统一社会信用代码": d["license_number"] or "",
            "商品标题": d["subject_title"] or "",
            "价格": d["price"],
            "违法类别": d["category"],
            "严重程度": severity_label(d["severity"]),
            "规则": rule,
            "违法依据": d["basis"],
            "证据摘要": d["snippet"],
            "链接": d["url"],
            "抓取时间": beijing_time(d["fetched_at"]),
            "证据哈希": d["snapshot_sha256"],
            "状态": status_label(d["status"]),
        }


def export(store: Store, path: str | Path, fmt: str | None = None,
           filters: SearchQuery | Mapping[str, Any] | None = None, *,
           site_names: Mapping[str, str] | None = None) -> int:
    """Write the findings passing ``filters`` to ``path``; returns the number of rows (findings) written.

    ``fmt`` is "csv", "xlsx" or "json" (default: from the file suffix). ``filters`` is a
    ``SearchQuery`` or its keyword arguments (limit/offset are ignored: everything goes).
    ``site_names`` maps site ids to the platform names printed in 平台.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        n = _WRITERS[fmt](tmp, rows(store, filters, site_names=site_names))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _write_csv(path: Path, data: Iterable[dict[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # the BOM makes Excel read UTF-8
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for row in data:
            w.writerow(["" if row[c] is None else _csv_value(row[c]) for c in COLUMNS])
            n += 1
    return n


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.2f}"
    return neutralise(value)


def _write_xlsx(path: Path, data: Iterable[dict[str, Any]]) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("线索")
    for i, col in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS[col]
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for c in COLUMNS:
        cell = WriteOnlyCell(ws, value=c)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    price_col = COLUMNS.index("价格")
    n = 0
    for row in data:
        values: list[Any] = []
        for i, c in enumerate(COLUMNS):
            v = row[c]
            if isinstance(v, str):
                v = neutralise(ILLEGAL_CHARACTERS_RE.sub("", v))[:_XLSX_MAX_CELL]
            if i == price_col and v is not None:
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = "#,##0.00"
                v = cell
            values.append(v)
        ws.append(values)
        n += 1
    wb.save(path)
    return n


def _write_json(path: Path, data: Iterable[dict[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        for row in data:
            fh.write(("\n" if n == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
            n += 1
        fh.write("\n]\n" if n else "]\n")
    return n


_WRITERS = {"csv": _write_csv, "xlsx": _write_xlsx, "json": _write_json}
