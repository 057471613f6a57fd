"""The campaign statistics form (情况统计表) of shared/reference/000_*.txt, filled from leads.

What netsword counts, for leads whose findings were seen in the period:

* a **case** (查处网络违法案件) is a lead an analyst confirmed or referred; each case is counted
  once, under its main category (``leads.categories``), in the 14 category rows;
* **referrals** (移送公安机关案件) are the referred leads (status 已移送);
* 网上检查网站、网店（个次）: shop pages fetched, summed over the sweeps started in the period;
* 督促网络交易平台删除违法商品信息（条）: listings of confirmed or referred leads that a re-check
  (``netsword recheck``, :mod:`leads.recheck`) in the period found removed (blank before any re-check).

Everything else on the form (other departments, on-site checks, fines) netsword cannot know:
those cells stay blank, not 0. A category row stays blank when no loaded rule can produce
that category (netsword could not have found such a case), with a note saying so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from crawler.items import CATEGORIES
from leads.categories import MAIN_CATEGORY_RULE
from leads.dates import day_bounds, parse_day
from leads.leads import Lead, build_leads
from netsword.clock import today_beijing
from pipelines.store.base import SearchQuery, Store

#: Category -> its row label on the form.
FORM_LABELS: dict[str, str] = {
    "网络销售假冒伪劣商品": "网络销售假冒伪劣商品案件（件）",
    "电子商务平台未履行平台义务": "电子商务平台未履行平台义务案件（件）",
    "电子商务经营者未履行市场主体公示义务": "电子商务经营者未履行市场主体公示义务案件（件）",
    "无证生产电子商务产品": "无证生产电子商务产品案件（件）",
    "缺乏资质经营食品": "缺乏资质经营食品案件（件）",
    "网络销售非法添加滥添加食品": "网络销售非法添加、滥添加食品案件（件）",
    "互联网不正当竞争": "互联网不正当竞争案件（件）",
    "不正当价格行为": "不正当价格行为案件（件）",
    "虚假违法互联网广告": "虚假违法互联网广告案件（件）",
    "侵害网络消费者合法权益": "侵害网络消费者合法权益案件（件）",
    "侵害公民个人信息": "侵害公民个人信息案件（件）",
    "合同违法违规": "合同违法违规案件（件）",
    "网络销售禁售限售物品": "网络销售禁售、限售物品案件（件）",
    "其他": "其他违法违规案件（件）",
}
ONLINE_CHECKS = "网上检查网站、网店（个次）"
#: The form's department rows, in its order.
DEPARTMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("通信管理部门", ("处置违法违规互联网应用（网站、APP等）（家）",)),
    ("公安部门", ("清理网上违法有害信息（条）", "查办网络违法案件（件）", "查处违法违规网络平台（个）",
                 "打击网络犯罪案件（起）")),
    ("海关部门", ("查获跨境侵权邮包（批次）", "案值（万元）")),
    ("市场监管部门", (ONLINE_CHECKS, "实地检查网站、网店经营者（个次）", "督促网络交易平台删除违法商品信息（条）",
                    "责令整改网站（个次）", "已提请关闭网站（个次）", "已责令停止平台服务的网店（个次）")),
    ("网信部门", ("清理网上违法违规信息（万条）", "督促互联网企业关闭违法违规账号（个）")),
    ("邮政管理部门", ("检查邮政企业、快递企业（家次）", "查处违法违规行为（次）")),
)
CASES, REFERRALS, FINES = "查处网络违法案件（件）", "移送公安机关案件（件）", "罚没款（万元）"
REMOVED = "督促网络交易平台删除违法商品信息（条）"
FORM_NOTE = ("注：如查处的同一网络违法案件属于同时违反多个法律法规的，原则上按照涉及的最主要的违法问题进行分类"
             "（不重复计算），并请在备注中予以说明。")
CASE_STATUSES = ("confirmed", "referred")


@dataclass
class FormRow:
    label: str
    value: int | None  # None: netsword cannot know; the cell stays blank
    note: str = ""


@dataclass
class StatisticsForm:
    campaign: str
    date_from: date | None
    date_to: date | None
    filled_on: date
    unit: str = ""
    departments: list[tuple[str, list[FormRow]]] = field(default_factory=list)
    totals: list[FormRow] = field(default_factory=list)
    categories: list[FormRow] = field(default_factory=list)
    cases: list[Lead] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.campaign}情况统计表" if self.campaign else "网络市场监管专项行动情况统计表"

    @property
    def period(self) -> str:
        a = self.date_from.isoformat() if self.date_from else "最早"
        b = self.date_to.isoformat() if self.date_to else "至今"
        return f"{a} 至 {b}"


def rule_categories() -> set[str] | None:
    """Categories the loaded rule packs can produce; None when the packs cannot be read."""
    try:
        from netsword.config import rules_dir as default_rules_dir
        from pipelines.match import load_packs

        packs, _ = load_packs(default_rules_dir(), collect_errors=True)
    except Exception:  # the form is still useful without knowing the rules
        return None
    return {rule.category for pack in packs for rule in pack.rules}


def _online_checks(store: Store, seen_from: str | None, seen_before: str | None) -> FormRow:
    sweeps = [s for s in store.sweeps() if (not seen_from or s.started_at >= seen_from)
              and (not seen_before or s.started_at < seen_before)]
    shops = sum(store.counts(sweep_id=s.sweep_id)["shops"] for s in sweeps)
    return FormRow(ONLINE_CHECKS, shops, f"netsword 巡查店铺首页 {shops} 个次（{len(sweeps)} 次巡查）")


def _removals(store: Store, form: StatisticsForm) -> FormRow:
    from leads.recheck import removals

    n = removals(store, form.date_from.isoformat() if form.date_from else None,
                 form.date_to.isoformat() if form.date_to else None)
    if n is None:
        return FormRow(REMOVED, None, "尚未复查（netsword recheck），请人工填报")
    return FormRow(REMOVED, n, f"netsword 复查（已确认、已移送线索）确认已删除/下架的商品 {n} 条")


def build_form(store: Store, campaign: str, date_from: str | date | None = None, date_to: str | date | None = None,
               *, unit: str = "", known: set[str] | None = None) -> StatisticsForm:
    """The form for leads seen between ``date_from`` and ``date_to`` (Beijing days, both included).

    ``known``: the categories netsword can find (default: those of the loaded rule packs).
    """
    bounds = day_bounds(date_from, date_to)
    form = StatisticsForm(campaign, parse_day(date_from), parse_day(date_to), today_beijing(), unit)
    q = SearchQuery(include_resolved=True, seen_from=bounds["seen_from"], seen_before=bounds["seen_before"])
    leads = build_leads(store, q)
    form.cases = [lead for lead in leads if lead.status in CASE_STATUSES and lead.main_category]
    pending = sum(1 for lead in leads if lead.status == "new")
    referred = sum(1 for lead in form.cases if lead.status == "referred")
    checks = _online_checks(store, bounds["seen_from"], bounds["seen_before"])
    removed = _removals(store, form)
    known_rows = {ONLINE_CHECKS: checks, REMOVED: removed}
    form.departments = [(dept, [known_rows.get(item) or FormRow(item, None) for item in items])
                        for dept, items in DEPARTMENTS]
    form.totals = [
        FormRow(CASES, len(form.cases), f"netsword 中“已确认”“已移送”的线索，每个店铺（经营者）计 1 件；"
                                        f"另有待核查线索 {pending} 条未计入"),
        FormRow(REFERRALS, referred, "netsword 中状态为“已移送”的线索，请核对移送对象是否为公安机关"),
        FormRow(FINES, None, "netsword 无处罚数据，请人工填报"),
    ]
    known = rule_categories() if known is None else known
    if known is None:
        known = {f["category"] for lead in leads for f in lead.findings}
    by_main = Counter(lead.main_category for lead in form.cases)
    for category in CATEGORIES:
        label = FORM_LABELS[category]
        if category not in known and not by_main[category]:
            form.categories.append(FormRow(label, None, "netsword 无此类规则，无法统计，请人工填报"))
            continue
        form.categories.append(FormRow(label, by_main[category], _overlap_note(form.cases, category)))
    return form


def _overlap_note(cases: list[Lead], category: str) -> str:
    mine = [lead for lead in cases if lead.main_category == category]
    others: Counter[str] = Counter()
    n = 0
    for lead in mine:
        extra = [c for c in lead.categories if c != category]
        n += bool(extra)
        others.update(extra)
    if not n:
        return ""
    return f"其中 {n} 件同时涉及：" + "、".join(f"{c} {k} 件" for c, k in others.most_common())


def format_text(form: StatisticsForm) -> str:
    """The form as plain text (for the terminal)."""
    lines = [form.title, f"统计期间：{form.period}　填报日期：{form.filled_on.isoformat()}", ""]

    def row(r: FormRow) -> str:
        value = "" if r.value is None else str(r.value)
        return f"  {r.label}：{value or '（空）'}" + (f"　备注：{r.note}" if r.note else "")

    for dept, rows in form.departments:
        lines.append(dept)
        lines.extend(row(r) for r in rows)
    lines += ["", "案件情况"] + [row(r) for r in form.totals]
    lines += ["", "按主要违法行为问题分类"] + [row(r) for r in form.categories]
    lines += ["", FORM_NOTE, MAIN_CATEGORY_RULE]
    return "\n".join(lines) + "\n"


def write_xlsx(form: StatisticsForm, path: str | Path) -> Path:
    """The form as a workbook laid out like the seed: 部门 | 项目 | 数量 | 备注, then the 14 categories."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    from leads.export import xlsx_text

    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "情况统计表"
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")
    for col, width in zip("ABCD", (16, 46, 10, 60), strict=True):
        ws.column_dimensions[col].width = width
    ws["A1"] = "附件"
    ws.merge_cells("A2:D2")
    ws["A2"] = xlsx_text(form.title)  # the title comes from a campaign file: text, never a formula
    ws["A2"].font = Font(bold=True, size=16)
    ws["A2"].alignment = Alignment(horizontal="center")
    ws.merge_cells("A3:D3")
    ws["A3"] = xlsx_text(f"填报单位：{form.unit}　　统计期间：{form.period}　　填报日期："
                         f"{form.filled_on.month}月{form.filled_on.day}日")
    r = 4

    def put(a: str, b: str, row: FormRow | None, bold: bool = False) -> None:
        nonlocal r
        values = (a, b, None if row is None else row.value, "" if row is None else xlsx_text(row.note))
        for col, value in zip("ABCD", values, strict=True):
            cell = ws[f"{col}{r}"]
            cell.value = value
            cell.border, cell.alignment = box, wrap
            if bold:
                cell.font = Font(bold=True)
        r += 1

    put("", "项目", None, bold=True)
    ws[f"C{r - 1}"], ws[f"D{r - 1}"] = "数量", "备注"
    for dept, rows in form.departments:
        start = r
        for i, row in enumerate(rows):
            put(dept if i == 0 else "", row.label, row)
        if len(rows) > 1:
            ws.merge_cells(f"A{start}:A{r - 1}")
    start = r
    for i, row in enumerate(form.totals):
        put("案件情况" if i == 0 else "", row.label, row)
    ws.merge_cells(f"A{start}:A{r - 1}")
    put("", "按主要违法行为问题分类", None, bold=True)
    ws[f"C{r - 1}"], ws[f"D{r - 1}"] = "数量", "备注"
    for row in form.categories:
        put("", row.label, row)
    ws.merge_cells(f"A{r}:D{r}")
    ws[f"A{r}"] = FORM_NOTE
    ws[f"A{r}"].alignment = Alignment(wrap_text=True)
    ws.merge_cells(f"A{r + 1}:D{r + 1}")
    ws[f"A{r + 1}"] = MAIN_CATEGORY_RULE
    _cases_sheet(wb.create_sheet("案件清单"), form.cases)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _cases_sheet(ws: Any, cases: list[Lead]) -> None:
    from openpyxl.styles import Font

    from leads import lead_status_label
    from leads.export import xlsx_text

    header = ("线索编号", "店铺", "经营者", "统一社会信用代码", "主要违法类别", "同时涉及", "状态", "承办人")
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for lead in cases:
        also = "、".join(c for c in lead.categories if c != lead.main_category)
        ws.append([xlsx_text(str(v)) for v in (lead.lead_id, lead.shop_name, lead.operator, lead.license_number,
                                               lead.main_category or "", also, lead_status_label(lead.status),
                                               lead.assignee)])
    for col, width in zip("ABCDEFGH", (18, 24, 28, 22, 30, 40, 10, 10), strict=True):
        ws.column_dimensions[col].width = width
