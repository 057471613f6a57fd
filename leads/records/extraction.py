"""The 电子数据提取笔录 (extraction record) of one lead or a batch, as data.

Laid out after the 2024 市场监督管理行政执法电子数据取证暂行规定 (interim provisions on electronic
evidence in market-regulation enforcement): the case (the leads: shop, operator, licence), who
extracted (提取人, the analyst) and who witnessed (见证人), when and where, how (the method), the
capture environment (netsword version, operating system, browser version, exit IP, clock source:
a TSA or the machine's clock), each electronic datum (URL, fetch time, file names, SHA-256, the
timestamp token's serial number), how integrity is protected (hash chain, the unit's signature,
trusted timestamps), and the signature lines. :mod:`leads.records.render` writes it as DOCX and
PDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leads.leads import Lead
from leads.records.pages import EvidencePage, SweepSeal, evidence_pages
from netsword.clock import beijing_time, utc_now
from netsword.digests import sha256_bytes
from pipelines.store.base import Store

METHOD = ("使用 netsword 网络交易监测系统按站点配置抓取网页：普通网页经 HTTP 直接下载并原样保存，需脚本渲染的网页由无头"
          "Chromium 浏览器打开后保存其呈现的内容；每个网页保存时即计算 SHA-256 哈希值，写入扫描清单（哈希链）和 WARC "
          "文件；被标记的商品页面截图（浏览器实时截图，截图上方标注网址、北京时间、扫描编号和网页哈希值；无法实时截图时为"
          "依存储 HTML 的离线重绘，截图上注明）。扫描结束时本单位密钥对扫描清单签名，并向时间戳服务申请可信时间戳。")
INTEGRITY = ("每个文件的 SHA-256 哈希值列于上表及证据包 SHA256SUMS 中；扫描清单每行含上一行的哈希值"
             "（哈希链），删除、调换、截断任何一行均可被发现；清单和证据包由本单位密钥签名，并附 RFC 3161 "
             "可信时间戳令牌。核验：netsword evidence verify 证据包.zip --public-key 本单位公钥.pem，"
             "或 sha256sum -c SHA256SUMS、openssl ts -verify。")


@dataclass
class LeadLine:
    lead_id: str
    shop_name: str
    operator: str
    license_number: str
    shop_url: str
    main_category: str
    findings: int


@dataclass
class ExtractionRecord:
    number: str
    case: str
    operator: str  # 提取人
    witness: str  # 见证人 ("" leaves the line blank)
    place: str
    made_at: str  # Beijing time
    started: str  # first fetch, Beijing time
    ended: str  # last fetch
    leads: list[LeadLine]
    pages: list[EvidencePage]
    seals: list[SweepSeal]
    environment: list[tuple[str, str]]  # (label, value), in order
    method: str = METHOD
    integrity: str = INTEGRITY
    unit: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return "电子数据提取笔录"


def _environment(seals: Sequence[SweepSeal], exit_ip: str) -> list[tuple[str, str]]:
    """The capture environment, from the seals (what each sweep stated when it was sealed)."""
    def values(key: str) -> str:
        found = sorted({str(s.environment.get(key)) for s in seals if s.environment.get(key)})
        return "；".join(found)

    sources = sorted({s.time_source for s in seals}) or ["本机时钟"]
    tsas = sorted({s.tsa for s in seals if s.tsa})
    return [("采集软件", f"netsword {values('netsword') or '（未记录）'}（Scrapy {values('scrapy') or '?'}，"
                         f"Playwright {values('playwright') or '?'}）"),
            ("操作系统", values("os") or "（未记录）"),
            ("浏览器", values("browser") or "（未记录）"),
            ("出口 IP", values("exit_ip") or exit_ip or "未知（未配置 exit_ip）"),
            ("主机名", values("host") or "（未记录）"),
            ("时间来源", "；".join(sources) + (f"（{'；'.join(tsas)}）" if tsas else ""))]


def lead_line(lead: Lead) -> LeadLine:
    return LeadLine(lead.lead_id, lead.shop_name, lead.operator, lead.license_number, lead.shop_url,
                    lead.main_category or "", len(lead.counted))


def build_extraction_record(store: Store, evidence_dir: Path | str, leads: Sequence[Lead], *, operator: str,
                            witness: str = "", case: str = "", place: str = "", unit: str = "",
                            exit_ip: str = "") -> ExtractionRecord:
    """The record of these leads' pages (one lead, or a batch)."""
    pages = evidence_pages(store, evidence_dir, leads)
    seals = list({p.sweep_id: p.seal for p in pages if p.seal is not None}.values())
    times = sorted(p.fetched_at for p in pages if p.fetched_at)
    ids = ",".join(lead.lead_id for lead in leads)
    made = utc_now()
    number = f"NS-TQ-{made[:10].replace('-', '')}-{sha256_bytes(f'{ids}|{made}'.encode())[:8].upper()}"
    if not case:
        names = "、".join(lead.shop_name or lead.lead_id for lead in leads[:3]) + ("等" if len(leads) > 3 else "")
        case = f"{names}涉嫌违法经营线索（{len(leads)} 条线索）"
    record = ExtractionRecord(number, case, operator, witness, place or "本单位网络交易监测室（远程提取）",
                              beijing_time(made), times[0] if times else "", times[-1] if times else "",
                              [lead_line(lead) for lead in leads], pages, seals, _environment(seals, exit_ip),
                              unit=unit)
    if not any(s.token_serial for s in seals):
        record.notes.append("本批网页所属扫描清单未取得可信时间戳，时间以本机时钟为准。")
    return record


def record_facts(record: ExtractionRecord) -> dict[str, Any]:
    """The record as plain data (what the DOCX, the PDF and tests read)."""
    return {"number": record.number, "case": record.case, "operator": record.operator, "witness": record.witness,
            "pages": [{"url": p.url, "sha256": p.html_sha256, "token": p.seal.token_serial if p.seal else ""}
                      for p in record.pages]}
