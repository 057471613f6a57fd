"""Export: one row per finding with the columns a 网监 office files; spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import json

import pytest
from openpyxl import load_workbook
from test_search import COUNTERFEIT, fill_corpus
from test_store_sqlite import finding, listing, shop

from leads.export import COLUMNS, FINDING_KEYS, export, neutralise
from netsword.clock import beijing_time
from pipelines.store import SearchQuery, open_store

EVIL = '=HYPERLINK("http://x","y")'


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/export.db")
    fill_corpus(s)
    evil = listing("9", EVIL, price=10.0, shop_id="s9", shop_name="+cmd|' /C calc'!A0")
    s.upsert_listing(evil)
    s.upsert_shop(shop("s9", "+cmd|' /C calc'!A0", operator="@SUM(1+1)", license_number="-2+3"))
    s.upsert_findings([finding(evil, snippet="\t=1+1", severity="critical")])
    yield s
    s.close()


def test_columns_are_the_office_ones():
    assert COLUMNS == ("平台", "店铺", "经营者", "统一社会信用代码", "商品标题", "价格", "违法类别", "严重程度", "规则",
                       "违法依据", "问题说明", "证据摘要", "链接", "抓取时间", "证据哈希", "状态", "图片证据")


def test_neutralise():
    for bad in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert neutralise(bad) == "'" + bad
    assert neutralise("耐克=鞋") == "耐克=鞋" and neutralise(12.5) == 12.5 and neutralise(None) is None
    assert beijing_time("2026-06-01T02:00:00+00:00") == "2026-06-01 10:00:00+08:00"
    assert beijing_time("garbled") == "garbled" and beijing_time("") == ""


def test_csv_has_bom_headers_and_neutralised_cells(store, tmp_path):
    path = tmp_path / "out" / "leads.csv"
    n = export(store, path, "csv")
    assert n == 8  # one row per unresolved finding
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == COLUMNS and len(rows) == n
    evil = next(r for r in rows if "HYPERLINK" in r["商品标题"])
    assert evil["商品标题"] == "'" + EVIL
    assert evil["店铺"].startswith("'+") and evil["经营者"] == "'@SUM(1+1)" and evil["统一社会信用代码"] == "'-2+3"
    assert evil["证据摘要"] == "'\t=1+1" and evil["严重程度"] == "严重" and evil["状态"] == "待核查"
    assert evil["价格"] == "10.00" and evil["平台"] == "demo" and evil["抓取时间"].endswith("+08:00")
    assert evil["规则"] == "疑似高仿（counterfeit.high-imitation）" and evil["证据哈希"].startswith("sha-9")
    assert rows[0]["严重程度"] == "严重"  # worst first


def test_xlsx_cells_are_strings_not_formulas(store, tmp_path):
    path = tmp_path / "leads.xlsx"
    n = export(store, path)  # format from the suffix
    assert n == 8
    wb = load_workbook(path)
    assert wb.sheetnames == ["线索", "问题明细"] and wb.active.title == "线索"  # leads first, then findings
    ws = wb["问题明细"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert tuple(header) == COLUMNS and all(c.font.b for c in ws[1])
    title_col = COLUMNS.index("商品标题") + 1
    cells = [ws.cell(row=r, column=title_col) for r in range(2, ws.max_row + 1)]
    evil = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert evil.value == "'" + EVIL and evil.data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    price = ws.cell(row=evil.row, column=COLUMNS.index("价格") + 1)
    assert price.value == 10.0 and price.data_type == "n"
    assert ws.column_dimensions["E"].width >= 30


def test_json_and_filters(store, tmp_path):
    path = tmp_path / "leads.json"
    n = export(store, path, "json", {"category": COUNTERFEIT, "site": "demo"})
    data = json.loads(path.read_text(encoding="utf-8"))
    assert n == len(data) == 3  # listings 1, 2 and the evil one
    # for programs: stable ids and English keys; for people: the Chinese columns under "zh"
    assert all(tuple(row) == (*FINDING_KEYS, "zh") and tuple(row["zh"]) == COLUMNS for row in data)
    assert all(row["category"] == row["zh"]["违法类别"] == COUNTERFEIT and row["finding_id"] and row["rule_id"]
               and row["subject_id"].startswith("demo:") for row in data)
    assert {row["subject_title"] for row in data} == {"耐克高仿运动鞋", "高仿名牌包 全网最低价", EVIL}  # raw in JSON
    assert export(store, tmp_path / "none.json", filters=SearchQuery(text="不存在")) == 0
    assert json.loads((tmp_path / "none.json").read_text(encoding="utf-8")) == []
    # text and price filters select the subjects whose findings are exported
    assert export(store, tmp_path / "t.csv", filters=SearchQuery(text="高仿", price_max=100)) == 2
    with pytest.raises(ValueError, match="csv"):
        export(store, tmp_path / "x.pdf")
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_includes_resolved_on_request(store, tmp_path):
    store.resolve_findings("mall:6", [])
    assert export(store, tmp_path / "a.csv") == 7
    assert export(store, tmp_path / "b.csv", filters={"include_resolved": True}) == 8
    rows = list(csv.DictReader((tmp_path / "b.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert sorted({r["状态"] for r in rows}) == ["复查已消除", "待核查"]
