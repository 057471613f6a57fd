"""Campaign calendars (campaigns/*.yml): phases, target sites, focus, festivals and their sweep plans.

Loaded with :func:`load_campaign`, validated on load; every error names the file and line
(:class:`crawler.yaml_source.SourceError`). Festival days come from the calendar: a Gregorian
``date`` ("06-18", or a full "2026-06-18") or a ``lunar`` month-day ("01-01" = Spring Festival,
converted with lunardate), plus ``offset_days``; a month-day means its first occurrence on or after
the campaign's first phase starts. See campaigns/README.md for the format.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crawler.items import CATEGORIES
from netsword.config import campaigns_dir, sites_dir
from netsword.yamlsource import LoadedYaml, SourceError, SourceLocation, load_yaml

PHASE_NAMES = ("动员部署", "组织实施", "分析总结", "督查总结")
KIND_LABELS = {"baseline": "节前基准扫描", "daily": "每日扫描", "hourly": "重点店铺每小时扫描", "manual": "手动扫描"}
#: A sweep run's status (``SweepRun.status``) as analysts read it.
RUN_STATUS_LABELS = {"running": "运行中", "ok": "完成", "incomplete": "未完成", "failed": "失败", "crashed": "崩溃",
                     "interrupted": "中断", "skipped": "跳过"}
DEFAULT_TZ = "Asia/Shanghai"
_ID = r"^[a-z0-9][a-z0-9_-]*$"
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("时间要加引号，例如 at: \"02:00\"（不加引号时 YAML 把 2:00 读成数字）")
    m = _CLOCK.match(str(value).strip())
    if not m:
        raise ValueError("时间写成 \"HH:MM\" 或 \"HH:MM:SS\"，例如 \"02:00\"")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if h > 23 or mi > 59 or s > 59:
        raise ValueError("时间超出范围（00:00:00 - 23:59:59）")
    return time(h, mi, s)


Clock = Annotated[time, BeforeValidator(_clock)]
#: A text that YAML may have read as a number (name: 618).
Text = Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str | bool) or not isinstance(v, int | float)
                                       else str(v))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Phase(_Strict):
    name: Literal["动员部署", "组织实施", "分析总结", "督查总结"]
    start: date
    end: date


class SiteTarget(_Strict):
    site: str = Field(pattern=r"^[a-z0-9_-]+$")
    base_url: str | None = None  # overrides the profile's base_url
    start_urls: list[str] = Field(default_factory=list)  # sweep only from these pages (e.g. local shops)
    watch: list[str] = Field(default_factory=list)  # watch-listed shop pages, "{base_url}/shop/S01/"
    keywords: list[Text] = Field(default_factory=list)  # this site's search keywords (its profile's search.url)
    profile_terms: bool = False  # also the profile's own search.terms


class Baseline(_Strict):
    enabled: bool = True
    days_before: int = Field(14, ge=0, le=120)
    at: Clock = time(3, 0)


class Daily(_Strict):
    enabled: bool = True
    days_before: int = Field(7, ge=0, le=60)  # daily sweeps from this many days before through the last day
    at: Clock = time(2, 0)


class Hourly(_Strict):
    enabled: bool = True
    every_hours: int = Field(1, ge=1, le=12)
    minute: int = Field(0, ge=0, le=59)
    from_hour: int = Field(0, ge=0, le=23)
    to_hour: int = Field(23, ge=0, le=23)


class Plan(_Strict):
    baseline: Baseline = Field(default_factory=Baseline)
    daily: Daily = Field(default_factory=Daily)
    hourly: Hourly = Field(default_factory=Hourly)

    def merged(self, override: Plan | None) -> Plan:
        """This plan with the keys an override (a festival's ``plan:``) sets replaced."""
        if override is None:
            return self
        parts = {}
        for name in ("baseline", "daily", "hourly"):
            mine, theirs = getattr(self, name), getattr(override, name)
            parts[name] = mine.model_copy(update=theirs.model_dump(exclude_unset=True)) \
                if name in override.model_fields_set else mine
        return Plan(**parts)


class Festival(_Strict):
    id: str = Field(pattern=_ID)
    name: Text = Field(min_length=1)
    date: str | date | None = None
    lunar: str | None = None
    offset_days: int = Field(0, ge=-60, le=60)
    days: int = Field(1, ge=1, le=31)
    plan: Plan | None = None
    note: str = ""


class Alerts(_Strict):
    min_severity: Literal["low", "medium", "high", "critical"] = "high"
    notify: list[str] = Field(default_factory=list)  # Apprise URLs; ${VAR} is read from the environment
    console_url: str = ""  # analyst console, for links in the digest
    max_items: int = Field(20, ge=1, le=200)


class Campaign(_Strict):
    campaign: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    timezone: str = DEFAULT_TZ
    phases: list[Phase] = Field(min_length=1)
    sites: list[str | SiteTarget] = Field(min_length=1)
    focus_goods: list[str] = Field(default_factory=list)
    focus_categories: list[str] = Field(default_factory=list)
    keywords: list[Text] = Field(default_factory=list)  # searched on every site whose profile has `search:`
    plan: Plan = Field(default_factory=Plan)
    festivals: list[Festival] = Field(min_length=1)
    alerts: Alerts = Field(default_factory=Alerts)
    note: str = ""

    @property
    def start(self) -> date:
        return min(p.start for p in self.phases)

    @property
    def end(self) -> date:
        return max(p.end for p in self.phases)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def targets(self) -> list[SiteTarget]:
        return [SiteTarget(site=s) if isinstance(s, str) else s for s in self.sites]

    def phase_on(self, day: date) -> str:
        """The phase(s) ``day`` falls in, "" outside every phase."""
        return "、".join(p.name for p in self.phases if p.start <= day <= p.end)


@dataclass(frozen=True)
class FestivalDays:
    """A festival placed on the calendar, with its effective sweep plan."""

    festival: Festival
    first_day: date
    last_day: date
    plan: Plan

    @property
    def baseline_day(self) -> date:
        return self.first_day - timedelta(days=self.plan.baseline.days_before)

    @property
    def daily_from(self) -> date:
        return self.first_day - timedelta(days=self.plan.daily.days_before)


@dataclass
class LoadedCampaign:
    campaign: Campaign
    path: Path
    festivals: list[FestivalDays]

    @property
    def id(self) -> str:
        return self.campaign.campaign

    def festival(self, festival_id: str) -> FestivalDays | None:
        return next((f for f in self.festivals if f.festival.id == festival_id), None)

    def target(self, site: str) -> SiteTarget | None:
        return next((t for t in self.campaign.targets if t.site == site), None)

    def search_terms(self, target: SiteTarget) -> tuple[str, ...]:
        """The keywords a site's baseline and daily sweeps search for (its own, the campaign's, and with
        ``profile_terms`` its profile's ``search.terms``), each once; () = a sweep from its start pages.
        The campaign's keywords skip sites whose profile has no ``search:``."""
        profile = _site_search(target.site)
        terms = list(target.keywords)
        if profile is not None:
            terms += list(self.campaign.keywords)
            if target.profile_terms:
                terms += list(profile.terms)
        return tuple(dict.fromkeys(t.strip() for t in terms if t.strip()))


def _site_search(site: str) -> Any:
    """The ``search:`` of a site's profile (None without one, or an unreadable profile)."""
    from crawler.profiles import find_profile

    try:
        return find_profile(site).search
    except SourceError:
        return None


# --------------------------------------------------------------------------- festival days


def _month_day(text: str) -> tuple[int, int]:
    m = _MONTH_DAY.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} 不是 月-日（例如 \"06-18\"）")
    return int(m[1]), int(m[2])


def lunar_to_solar(lunar_year: int, month: int, day: int) -> date:
    """The Gregorian date of a lunar (农历) date, e.g. (2026, 1, 1) -> 2026-02-17 (Spring Festival)."""
    from lunardate import LunarDate

    ld = LunarDate(lunar_year, month, day)
    to_solar = getattr(ld, "to_solar_date", None) or ld.toSolarDate
    return to_solar()


def spring_festival(year: int) -> date:
    """春节 (lunar 01-01) of the lunar year that starts in Gregorian ``year``."""
    return lunar_to_solar(year, 1, 1)


def festival_day(f: Festival, on_or_after: date) -> date:
    """The festival's first day: its first occurrence (offset included) on or after ``on_or_after``."""
    if isinstance(f.date, date):
        return f.date + timedelta(days=f.offset_days)
    if f.date is not None and re.match(r"^\d{4}-\d{1,2}-\d{1,2}$", f.date.strip()):
        return date.fromisoformat("-".join(p.zfill(2) for p in f.date.strip().split("-"))) \
            + timedelta(days=f.offset_days)
    month, day = _month_day(f.date if f.date is not None else f.lunar or "")
    for year in range(on_or_after.year - 1, on_or_after.year + 2):
        if f.date is not None:
            try:
                d = date(year, month, day)
            except ValueError:
                raise ValueError(f"公历没有 {month} 月 {day} 日") from None
        else:
            try:
                d = lunar_to_solar(year, month, day)
            except ValueError:
                continue
        d += timedelta(days=f.offset_days)
        if d >= on_or_after:
            return d
    raise ValueError(f"找不到 {on_or_after} 之后的日期")


# --------------------------------------------------------------------------- loading


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Pydantic's error location as YAML keys (union member tags dropped)."""
    tags = {"str", "date", "SiteTarget", "function-before[_clock(), time]"}
    return tuple(p for p in loc if not (isinstance(p, str) and (p in tags or p.startswith("function-"))))


_EXAMPLES = {
    "campaign": "campaign: 2026-netsword", "title": "title: 2026网络市场监管专项行动（网剑行动）",
    "phases": "phases: [{name: 动员部署, start: 2026-05-01, end: 2026-06-30}]", "sites": "sites: [demo]",
    "festivals": "festivals: [{id: \"618\", name: 618年中大促, date: \"06-18\"}]",
    "id": "id: double11", "name": "name: 双11", "start": "start: 2026-05-01", "end": "end: 2026-06-30",
    "site": "site: demo",
}
_MODELS = {"": Campaign, "phases": Phase, "sites": SiteTarget, "festivals": Festival, "plan": Plan,
           "alerts": Alerts, "baseline": Baseline, "daily": Daily, "hourly": Hourly}


def _hint(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    key = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        parents = [p for p in loc[:-1] if isinstance(p, str)]
        model = _MODELS.get(parents[-1] if parents else "", Campaign)
        close = difflib.get_close_matches(key, list(model.model_fields), n=1)
        return f"是否想写 {close[0]!r}？" if close else f"可用的键：{', '.join(model.model_fields)}"
    if err["type"] == "missing":
        return f"加上 `{_EXAMPLES.get(key, key + ': ...')}`"
    if err["type"] == "literal_error":
        return f"可选：{err.get('ctx', {}).get('expected', '')}"
    if err["type"] == "string_pattern_mismatch":
        return "只用小写字母、数字、- 和 _；纯数字要加引号，例如 id: \"618\""
    return ""


_ERROR_ORDER = {"extra_forbidden": 0, "missing": 1, "value_error": 2, "literal_error": 3}


def _check(doc: LoadedYaml, c: Campaign) -> None:
    """Checks across fields; the first problem raises SourceError at its line."""
    def fail(loc: tuple[Any, ...], problem: str, hint: str = "") -> NoReturn:
        raise SourceError(problem, SourceLocation(str(doc.path), doc.line_of(loc) or 0), hint)

    try:
        ZoneInfo(c.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(("timezone",), f"未知时区 {c.timezone!r}", "例如 timezone: Asia/Shanghai")
    for i, p in enumerate(c.phases):
        if p.end < p.start:
            fail(("phases", i, "end"), f"阶段 {p.name} 的结束日期 {p.end} 早于开始日期 {p.start}")
        if i and p.start < c.phases[i - 1].start:
            fail(("phases", i, "start"), f"阶段 {p.name} 开始得比上一阶段早", "按时间顺序排列阶段")
    known = sorted(x.stem for x in sites_dir().glob("*.yml"))
    seen_sites: set[str] = set()
    for i, t in enumerate(c.targets):
        loc: tuple[Any, ...] = ("sites", i) if isinstance(c.sites[i], str) else ("sites", i, "site")
        if t.site not in known:
            close = difflib.get_close_matches(t.site, known, n=1)
            fail(loc, f"没有站点配置 {t.site!r}（{sites_dir()}/{t.site}.yml）",
                 f"是否想写 {close[0]!r}？" if close else f"已有站点：{', '.join(known) or '无'}")
        if t.site in seen_sites:
            fail(loc, f"站点 {t.site!r} 重复")
        seen_sites.add(t.site)
        if t.keywords or t.profile_terms:
            key = "keywords" if t.keywords else "profile_terms"
            search = _site_search(t.site)
            if search is None:
                fail(("sites", i, key), f"站点 {t.site!r} 的配置没有 search:（搜索地址模板），无法按关键词扫描",
                     f"在 {sites_dir()}/{t.site}.yml 里加上 search: {{url: '{{base_url}}/search?q={{query}}'}}")
            if t.profile_terms and not search.terms:
                fail(("sites", i, "profile_terms"), f"站点 {t.site!r} 的配置 search.terms 是空的",
                     "在站点配置 search: 下写 terms: [高仿, 原单]，或去掉 profile_terms")
        for key in ("start_urls", "watch"):
            for j, url in enumerate(getattr(t, key)):
                if not (url.startswith("{base_url}") or re.match(r"^https?://", url)):
                    fail(("sites", i, key, j), f"地址 {url!r} 要以 {{base_url}} 或 http(s):// 开头",
                         "例如 \"{base_url}/shop/S001/\"")
    for i, cat in enumerate(c.focus_categories):
        if cat not in CATEGORIES:
            close = difflib.get_close_matches(cat, CATEGORIES, n=1)
            fail(("focus_categories", i), f"{cat!r} 不是统计表的类别",
                 f"是否想写 {close[0]!r}？" if close else "照抄统计表14类之一")
    ids: set[str] = set()
    for i, f in enumerate(c.festivals):
        if f.id in ids:
            fail(("festivals", i, "id"), f"节日 id {f.id!r} 重复")
        ids.add(f.id)
        if (f.date is None) == (f.lunar is None):
            fail(("festivals", i), f"节日 {f.name} 要写 date（公历）或 lunar（农历）之一",
                 "例如 date: \"06-18\" 或 lunar: \"01-01\"（春节）")
        key = "date" if f.date is not None else "lunar"
        try:
            day = festival_day(f, c.start)
        except ValueError as exc:
            fail(("festivals", i, key), f"节日 {f.name} 的日期 {getattr(f, key)!s} 无法确定：{exc}",
                 "公历写 \"MM-DD\" 或 \"YYYY-MM-DD\"，农历写 \"MM-DD\"")
        last = day + timedelta(days=f.days - 1)
        if day < c.start or last > c.end:
            fail(("festivals", i, key), f"节日 {f.name}（{day} 至 {last}）不在行动期 {c.start} 至 {c.end} 内",
                 "调整日期或阶段")
        hourly = c.plan.merged(f.plan).hourly
        if hourly.from_hour > hourly.to_hour:
            fail(("festivals", i, "plan") if f.plan else ("plan", "hourly"), "hourly.from_hour 大于 to_hour")
    for i, url in enumerate(c.alerts.notify):
        if "${" not in url and not _notify_url_ok(url):
            fail(("alerts", "notify", i), f"通知地址无法识别：{_redact(url)}",
                 "Apprise 格式，例如 json://host/path、mailto://user:pass@host、dingtalk://token、wecombot://key")


def _notify_url_ok(url: str) -> bool:
    import apprise

    return bool(apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory")).add(url))


def _redact(url: str) -> str:
    return re.sub(r"(://)[^/@]*@", r"\1***@", url)


def load_campaign(path: Path | str) -> LoadedCampaign:
    """Load and validate one campaign file; raises SourceError naming file and line."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise SourceError("行动计划应是一个映射（campaign:, title:, phases:, sites:, festivals:）",
                          SourceLocation(str(doc.path), 1))
    try:
        campaign = Campaign.model_validate(doc.data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: (_ERROR_ORDER.get(e["type"], 9), -len(e["loc"])))
        err = errors[0]
        loc = _clean_loc(tuple(err["loc"]))
        what = ".".join(str(p) for p in loc) or "campaign"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SourceError(f"{what}: {msg}", SourceLocation(str(doc.path), doc.line_of(loc) or 0),
                          _hint(err, loc)) from exc
    _check(doc, campaign)
    festivals = []
    for f in campaign.festivals:
        first = festival_day(f, campaign.start)
        festivals.append(FestivalDays(f, first, first + timedelta(days=f.days - 1), campaign.plan.merged(f.plan)))
    return LoadedCampaign(campaign, Path(doc.path), festivals)


def campaign_files(paths: list[str] | tuple[str, ...] | None = None) -> list[Path]:
    """The campaign files to load: the given files/folders, else :func:`campaigns_dir`."""
    out: list[Path] = []
    for p in [Path(x) for x in paths] if paths else [campaigns_dir()]:
        out.extend(sorted(p.glob("*.yml")) if p.is_dir() else [p])
    return out


def load_campaigns(paths: list[str] | tuple[str, ...] | None = None) -> list[LoadedCampaign]:
    """Every campaign (see :func:`campaign_files`); ids must be unique."""
    loaded: list[LoadedCampaign] = []
    for path in campaign_files(paths):
        c = load_campaign(path)
        other = next((x for x in loaded if x.id == c.id), None)
        if other is not None:
            raise SourceError(f"行动 id {c.id!r} 与 {other.path} 重复", SourceLocation(str(path), 1))
        loaded.append(c)
    return loaded


def localize(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)
