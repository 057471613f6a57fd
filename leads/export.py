"""Findings out to the people who act on them: CSV, XLSX or JSON.

XLSX has two sheets: 线索 (one row per lead, ``LEAD_COLUMNS``) and 问题明细 (one row per
finding, ``COLUMNS``). CSV and JSON hold one of the two tables (``what``: "findings", the
default, or "leads"). Columns are the ones a 网监 office files. Spreadsheet cells that start
with = + - @ tab or carriage return get a leading apostrophe (OWASP "CSV injection"),
so a listing titled ``=HYPERLINK(...)`` stays text in Excel/WPS; CSV and XLSX cells are
cut at 32,767 characters (Excel's cell limit; the page snapshot keeps everything); JSON
keeps values as they are. Files are written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from leads import lead_status_label, severity_label, status_label
from leads.clustering import Link
from leads.evidence_files import picture_citations
from leads.leads import Lead
from leads.leads import build_leads as build_all_leads
from leads.readable import explain_finding
from netsword.clock import beijing_time
from pipelines.store.base import SearchQuery, Store

COLUMNS: tuple[str, ...] = ("平台", "店铺", "经营者", "统一社会信用代码", "商品标题", "价格", "违法类别", "严重程度",
                            "规则", "违法依据", "问题说明", "证据摘要", "链接", "抓取时间", "证据哈希", "状态",
                            "图片证据")
LEAD_COLUMNS: tuple[str, ...] = ("线索编号", "平台", "店铺", "经营者", "统一社会信用代码", "联系电话", "经营地址",
                                 "主要违法类别", "最高严重程度", "涉及违法类别", "问题数", "涉及商品数", "关联经营者组",
                                 "关联依据", "状态", "承办人", "店铺链接", "首次发现", "最近发现")
FINDINGS_SHEET, LEADS_SHEET = "问题明细", "线索"
FORMATS = ("csv", "xlsx", "json")
TABLES = ("findings", "leads")
_WIDTHS = {"平台": 10, "店铺": 22, "经营者": 26, "统一社会信用代码": 22, "商品标题": 40, "价格": 10, "违法类别": 26,
           "严重程度": 9, "规则": 30, "违法依据": 36, "问题说明": 50, "证据摘要": 50, "链接": 40,
           "抓取时间": 22, "证据哈希": 24,
           "状态": 10, "线索编号": 18, "联系电话": 16, "经营地址": 30, "主要违法类别": 26, "最高严重程度": 9,
           "涉及违法类别": 36, "问题数": 8, "涉及商品数": 10, "关联经营者组": 18, "关联依据": 40, "承办人": 10,
           "店铺链接": 36, "首次发现": 22, "最近发现": 22, "图片证据": 50}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XLSX_MAX_CELL = 32767


def neutralise(value: Any) -> Any:
    """A spreadsheet-safe cell value: text that a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value




#: keys of a JSON finding record (for programs: stable ids, English names, UTC times); the
#: Chinese columns people read are under "zh"
FINDING_KEYS: tuple[str, ...] = ("finding_id", "rule_id", "rule_version", "pack", "category", "severity", "basis",
                                 "site", "shop_id", "shop_name", "operator", "license_number", "subject_kind",
                                 "subject_id", "subject_title", "price", "currency", "url", "field", "matched",
                                 "snippet", "explanation", "snapshot_sha256", "sweep_id", "fetched_at", "first_seen",
                                 "last_seen", "status")
LEAD_KEYS: tuple[str, ...] = ("lead_id", "site", "shop_id", "shop_name", "operator", "license_number",
                              "main_category", "max_severity", "categories", "finding_ids", "status", "assignee",
                              "shop_url", "first_seen", "last_seen")


def rows(store: Store, filters: SearchQuery | Mapping[str, Any] | None = None, *,
         site_names: Mapping[str, str] | None = None, keep: Callable[[str], bool] | None = None
         ) -> Iterator[dict[str, Any]]:
    """Export rows (dicts keyed by ``COLUMNS``), worst findings first."""
    for _, row in finding_records(store, filters, site_names=site_names, keep=keep):
        yield row


def finding_records(store: Store, filters: SearchQuery | Mapping[str, Any] | None = None, *,
                    site_names: Mapping[str, str] | None = None, keep: Callable[[str], bool] | None = None
                    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(record keyed by ``FINDING_KEYS``, row keyed by ``COLUMNS``) per finding, worst first."""
    names = site_names or {}
    for d in store.iter_findings(filters):
        if keep is not None and not keep(f"{d['site']}:{d['shop_id']}"):
            continue
        record = {k: d.get(k) for k in FINDING_KEYS}
        record["explanation"] = explain_finding(d)
        rule = d["title"] or d["rule_id"]
        if d["title"] and d["rule_id"]:
            rule = f"{d['title']}（{d['rule_id']}）"
        yield record, {
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
            "问题说明": explain_finding(d),
            "证据摘要": d["snippet"],
            "链接": d["url"],
            "抓取时间": beijing_time(d["fetched_at"]),
            "证据哈希": d["snapshot_sha256"],
            "状态": status_label(d["status"]),
            "图片证据": "\n".join(f"{p['role']} sha256:{p['sha256']}" + (f" 框[{p['box']}]" if p["box"] else "")
                               + f" {p['url']}" for p in picture_citations(d)),
        }


def lead_record(lead: Lead) -> dict[str, Any]:
    """A lead for programs: stable ids, English keys (see ``LEAD_KEYS``)."""
    return {"lead_id": lead.lead_id, "site": lead.site, "shop_id": lead.shop_id, "shop_name": lead.shop_name,
            "operator": lead.operator, "license_number": lead.license_number, "main_category": lead.main_category,
            "max_severity": lead.max_severity, "categories": dict(lead.categories),
            "finding_ids": [f["finding_id"] for f in lead.findings], "status": lead.status,
            "assignee": lead.assignee, "shop_url": lead.shop_url, "first_seen": lead.first_seen,
            "last_seen": lead.last_seen}


def link_text(link: Link) -> str:
    """Why two shops are one operator group, in words."""
    return f"{link.a} 与 {link.b} 共用{link.label} {link.value}"


def lead_rows(leads: Iterable[Lead], *, site_names: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows keyed by ``LEAD_COLUMNS``, one per lead, in the order given."""
    names = site_names or {}
    for lead in leads:
        group = lead.group
        links = "；".join(link_text(link) for link in group.links) if group else ""
        yield {
            "线索编号": lead.lead_id,
            "平台": names.get(lead.site, lead.site),
            "店铺": lead.shop_name,
            "经营者": lead.operator,
            "统一社会信用代码": lead.license_number,
            "联系电话": lead.phone,
            "经营地址": lead.address,
            "主要违法类别": lead.main_category or "",
            "最高严重程度": severity_label(lead.max_severity),
            "涉及违法类别": "、".join(f"{c}（{n}）" for c, n in lead.categories.items()),
            "问题数": len(lead.findings),
            "涉及商品数": len({f["subject_id"] for f in lead.findings if f["subject_kind"] == "listing"}),
            "关联经营者组": group.group_id if group else "",
            "关联依据": links,
            "状态": lead_status_label(lead.status),
            "承办人": lead.assignee,
            "店铺链接": lead.shop_url,
            "首次发现": beijing_time(lead.first_seen),
            "最近发现": beijing_time(lead.last_seen),
        }


def export(store: Store, path: str | Path, fmt: str | None = None,
           filters: SearchQuery | Mapping[str, Any] | None = None, *,
           site_names: Mapping[str, str] | None = None, what: str = "findings",
           keep: Callable[[str], bool] | None = None) -> int:
    """Write the findings passing ``filters`` to ``path``; returns the number of findings written
    (of leads, for CSV/JSON with ``what="leads"``). ``keep``: only leads (ids) it accepts (an account
    scoped to its unit's regions).

    ``fmt`` is "csv", "xlsx" or "json" (default: from the file suffix). ``filters`` is a
    ``SearchQuery`` or its keyword arguments (limit/offset are ignored: everything goes).
    ``site_names`` maps site ids to the platform names printed in 平台. XLSX always holds
    both sheets (线索 first).
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if what not in TABLES:
        raise ValueError(f"unknown table {what!r}; use one of {', '.join(TABLES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    findings = rows(store, filters, site_names=site_names, keep=keep)

    def build_leads(store: Store, filters: Any) -> list[Lead]:
        return [x for x in build_all_leads(store, filters) if keep is None or keep(x.lead_id)]

    try:
        if fmt == "xlsx":
            leads = lead_rows(build_leads(store, filters), site_names=site_names)
            n = _write_xlsx(tmp, [(LEADS_SHEET, LEAD_COLUMNS, leads), (FINDINGS_SHEET, COLUMNS, findings)])[1]
        elif fmt == "json" and what == "leads":
            leads_ = build_leads(store, filters)
            n = _write_json(tmp, zip((lead_record(x) for x in leads_), lead_rows(leads_, site_names=site_names),
                                     strict=True))
        elif fmt == "json":
            n = _write_json(tmp, finding_records(store, filters, site_names=site_names, keep=keep))
        elif what == "leads":
            n = _write_csv(tmp, LEAD_COLUMNS, lead_rows(build_leads(store, filters), site_names=site_names))
        else:
            n = _write_csv(tmp, COLUMNS, findings)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _write_csv(path: Path, columns: Sequence[str], data: Iterable[dict[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # the BOM makes Excel read UTF-8
        w = csv.writer(fh)
        w.writerow(columns)
        for row in data:
            w.writerow(["" if row[c] is None else _csv_value(row[c]) for c in columns])
            n += 1
    return n


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):  # spreadsheets open CSV too: the same cell limit as XLSX
        return neutralise(value)[:_XLSX_MAX_CELL]
    return value


def xlsx_text(value: str) -> str:
    """A string as a safe XLSX cell: no characters XML forbids, formulas neutralised, within the cell limit."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))[:_XLSX_MAX_CELL]


def _write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[str], Iterable[dict[str, Any]]]]) -> list[int]:
    """One sheet per (title, columns, rows); returns the rows written per sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    written = []
    for title, columns, data in sheets:
        ws = wb.create_sheet(title)
        for i, col in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(col, 16)
        ws.freeze_panes = "A2"
        header = []
        for c in columns:
            cell = WriteOnlyCell(ws, value=c)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        price_col = columns.index("价格") if "价格" in columns else -1
        n = 0
        for row in data:
            values: list[Any] = []
            for i, c in enumerate(columns):
                v = row[c]
                if isinstance(v, str):
                    v = xlsx_text(v)
                if i == price_col and v is not None:
                    cell = WriteOnlyCell(ws, value=v)
                    cell.number_format = "#,##0.00"
                    v = cell
                values.append(v)
            ws.append(values)
            n += 1
        written.append(n)
    wb.save(path)
    return written


def _write_json(path: Path, data: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> int:
    """One object per (record, Chinese row): the record's English keys, and the row under "zh"."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        for record, row in data:
            fh.write(("\n" if n == 0 else ",\n") + json.dumps({**record, "zh": row}, ensure_ascii=False))
            n += 1
        fh.write("\n]\n" if n else "]\n")
    return n
