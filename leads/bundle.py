"""Evidence bundles: one zip an enforcement team can file and check without netsword.

Inside (fixed names)::

    说明.txt                  what is inside and how to check it (Chinese)
    leads.xlsx               the export: sheets 线索 and 问题明细
    snapshots/<sha256>.html  each finding's page exactly as fetched; the name is the SHA-256
                             of the content, the same hash as in 证据哈希
    screenshots/<sha256>.png the page's screenshot where the crawler took one (same name)
    pictures/<sha256>.<ext>  the pictures findings were read from (OCR), as received; the name is their SHA-256
    manifests/<sweep>.jsonl  the manifest of each sweep that fetched one of those pages (hash-chained),
                             with its .sha256 and its seal: .seal.json, .sig, .tsr
    archive.wacz             the pages as a WACZ (Webrecorder's format: WARC records, CDXJ index,
                             pages.jsonl, datapackage.json) any replay tool opens
    records/电子数据提取笔录.docx, .pdf   the extraction record of the bundle's leads
    records/线索交办通知书.docx, .pdf     the handover notice (when the bundle is handed over)
    rechecks/<sweep>.json    the latest re-check (复查) of the leads' listings, with its seal (.seal.json,
                             .sig, .tsr): online, changed or removed, the HTTP answer and its WARC record
    keys/unit.pub.pem        the public key of the unit that signed (when it has one)
    tsa/chain.pem            the time-stamping authority's certificate chain (when configured)
    manifest.json            bundle format, filters, every file's SHA-256 and size, and
                             per finding: URL, fetch time, snapshot and screenshot paths
    SHA256SUMS               every file above's SHA-256 (``sha256sum -c SHA256SUMS`` works)
    SHA256SUMS.seal.json     the bundle's seal (:mod:`pipelines.evidence.seal`): the unit's signature
    SHA256SUMS.sig           (.sig) over a statement of SHA256SUMS's hash and a TSA timestamp token
    SHA256SUMS.tsr           (.tsr) over SHA256SUMS; the record says the key and the time source

``verify_bundle(path, trust)`` checks a bundle without extracting it: every file listed with the
right hash, nothing unlisted, every snapshot's content matching its name, the manifest agreeing
with SHA256SUMS; the WACZ valid (Webrecorder's validator) and holding each snapshot's page with the
same content; the extraction record listing each snapshot's SHA-256; the bundle's seal and each
sweep manifest's seal and hash chain, with the key
the verifier trusts (``--public-key``; the key the bundle carries is only reported: a bundle
re-signed with another key carries that key), and whether each snapshot is listed in a sweep
manifest. Each check holds or fails in Chinese and English (``checks``).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leads.charts import price_timeline, timeline_svg
from leads.evidence_files import evidence_files, is_sha256, picture_citations, picture_file
from leads.export import export
from leads.readable import explain_finding, split_when_snippet
from leads.records.handover import HandoverNotice
from netsword.clock import beijing_time, utc_now
from netsword.digests import sha256_bytes, sha256_stream
from pipelines.evidence import (
    Check,
    Sealer,
    Trust,
    check_chain,
    check_seal,
    load_trust,
    make_seal,
    read_public_key_bytes,
    seal_names,
)
from pipelines.store.base import SearchQuery, Store, as_query

FORMAT = "netsword-evidence-bundle/3"
#: /1: before seals (no manifests, keys, seal); /2: before the WACZ and the extraction record
FORMATS = ("netsword-evidence-bundle/1", "netsword-evidence-bundle/2", FORMAT)
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
SHEET = "leads.xlsx"
README = "说明.txt"
PUBLIC_KEY = "keys/unit.pub.pem"
TSA_CHAIN = "tsa/chain.pem"
WACZ = "archive.wacz"
RECORD = "records/电子数据提取笔录"
NOTICE = "records/线索交办通知书"
#: the bundle's seal: written after SHA256SUMS, so not listed in it
SEAL_FILES = frozenset(seal_names(SUMS))
_README_TEXT = """netsword 证据包 / evidence bundle

leads.xlsx               线索表（工作表“线索”）与问题明细（工作表“问题明细”）
snapshots/<哈希>.html     每条问题所在网页的原始 HTML，文件名即其 SHA-256（与“证据哈希”列一致）
screenshots/<哈希>.png    该网页的截图（如有）
pictures/<哈希>.<扩展名>   从图片中识别出违法内容的原图（文件名即其 SHA-256；命中位置见 manifest.json 与“图片证据”列）
charts/price-<编号>.svg   价格类问题的价格走势图（每次抓取的售价、划线价，标出基准扫描与节日促销期）
archive.wacz             这些网页的 WACZ 归档（ReplayWeb.page 等工具可回放）
records/电子数据提取笔录.docx/.pdf   电子数据提取笔录（提取环境、每个网页的网址、文件名、哈希值、时间戳令牌序列号）
records/线索交办通知书.docx/.pdf     线索交办通知书（交办时）
rechecks/<复查>.json      复查记录（仍在线、已变化、已删除），及其封存文件
manifests/<扫描>.jsonl    抓取这些网页的扫描清单（哈希链：每行含上一行的 SHA-256），及其封存文件
                         .sha256、.seal.json（封存记录）、.sig（本单位签名）、.tsr（可信时间戳）
keys/unit.pub.pem        签名单位的公钥（如有）
tsa/chain.pem            时间戳服务的证书链（如有）
manifest.json            每个文件的 SHA-256、大小，以及每条问题的链接、抓取时间和证据文件
SHA256SUMS               以上所有文件的 SHA-256
SHA256SUMS.seal.json     证据包的封存记录：签名密钥指纹、时间来源（时间戳服务或本机时钟）
SHA256SUMS.sig           本单位对封存内容（含 SHA256SUMS 的哈希）的签名
SHA256SUMS.tsr           时间戳服务（RFC 3161）对 SHA256SUMS 的时间戳令牌

校验：netsword evidence verify 本文件.zip --public-key 签发单位公钥.pem
（逐项说明哪些成立、哪些不成立；另一台电脑上只需本文件和公钥）。
不用 netsword 时，在解压后的目录中：
  sha256sum -c SHA256SUMS
  openssl ts -verify -data SHA256SUMS -in SHA256SUMS.tsr -CAfile tsa/chain.pem
  jq -j .statement SHA256SUMS.seal.json > statement.json
  openssl pkeyutl -verify -pubin -inkey 签发单位公钥.pem -rawin -in statement.json -sigfile SHA256SUMS.sig
  （SM2 密钥另加：-digest sm3 -pkeyopt distid:1234567812345678）
注意：网页快照来自被检查的网站，可能含有恶意脚本，请勿在浏览器中直接打开。
"""


@dataclass
class BundleSummary:
    path: str
    findings: int
    snapshots: int
    screenshots: int
    missing: list[str] = field(default_factory=list)  # snapshot hashes without an HTML file
    documents: list[str] = field(default_factory=list)  # WACZ, record and notice files in the bundle
    problems: list[str] = field(default_factory=list)  # what could not be made (no WARC, no browser ...)


@dataclass
class BundleCheck:
    path: str
    ok: bool
    files_checked: int
    problems: list[str] = field(default_factory=list)  # what fails, one line each (Chinese / English)
    checks: list[Check] = field(default_factory=list)  # everything checked: holds, fails, or a warning


def write_bundle(store: Store, path: str | Path, filters: SearchQuery | Mapping[str, Any] | None = None, *,
                 evidence_dir: str | Path, site_names: Mapping[str, str] | None = None,
                 sealer: Sealer | None = None, records: bool = True, operator: str = "", witness: str = "",
                 handover: HandoverNotice | None = None, exit_ip: str = "",
                 keep: Callable[[str], bool] | None = None) -> BundleSummary:
    """Write the bundle of the findings passing ``filters`` to ``path`` (a .zip), sealed by ``sealer``
    (default: the unit's key and the TSA from the configuration). ``records``: with the WACZ and the
    extraction record (``operator`` as 提取人, ``witness`` as 见证人); ``handover``: the handover notice
    to put in too."""
    path = Path(path)
    sealer = sealer if sealer is not None else Sealer.from_config()
    q = as_query(filters)
    path.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    findings: list[dict[str, Any]] = []
    summary = BundleSummary(str(path), 0, 0, 0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:

            def add(name: str, data: bytes, compress: bool = True) -> None:
                zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
                files[name] = {"sha256": sha256_bytes(data), "size": len(data)}

            add(README, _README_TEXT.encode())
            with tempfile.TemporaryDirectory() as d:
                sheet = Path(d) / SHEET
                summary.findings = export(store, sheet, "xlsx", q, site_names=site_names, keep=keep)
                add(SHEET, sheet.read_bytes())
            done: dict[str, tuple[str | None, str | None]] = {}
            pictures_done: dict[str, str | None] = {}
            timelines: dict[str, str | None] = {}
            sweeps: set[str] = set()
            for f in store.iter_findings(q):
                if keep is not None and not keep(f"{f['site']}:{f['shop_id']}"):
                    continue
                sha = f["snapshot_sha256"]
                if sha and sha not in done:
                    done[sha] = _add_evidence(store, evidence_dir, sha, add, summary)
                    sweeps.update(s.sweep_id for s in store.snapshots(sha) if s.sweep_id)
                html, shot = done.get(sha, (None, None))
                cited = [_add_picture(evidence_dir, p, add, pictures_done) for p in picture_citations(f)]
                findings.append({"finding_id": f["finding_id"], "lead_id": f"{f['site']}:{f['shop_id']}",
                                 "rule_id": f["rule_id"], "category": f["category"], "url": f["url"],
                                 "fetched_at": beijing_time(f["fetched_at"]), "snapshot_sha256": sha,
                                 "html": html, "screenshot": shot, "pictures": [p for p in cited if p is not None],
                                 "explanation": explain_finding(f),
                                 "price_timeline": _add_timeline(store, f, add, timelines)})
            manifests = _add_manifests(Path(evidence_dir), sorted(sweeps), add)
            rechecks = _add_rechecks(store, Path(evidence_dir), {f["lead_id"] for f in findings}, add)
            extras: dict[str, Any] = {}
            if records and findings:
                extras = _add_records(store, Path(evidence_dir), q, sorted(sweeps), findings, add, operator=operator,
                                      witness=witness, handover=handover, exit_ip=exit_ip, summary=summary, keep=keep)
            if sealer.key is not None:
                add(PUBLIC_KEY, sealer.key.public.pem())
            if sealer.tsa_chain:
                add(TSA_CHAIN, sealer.tsa_chain)
            manifest = {"format": FORMAT, "created_at": utc_now(), "filters": asdict(q), "files": files,
                        "findings": findings, "missing_snapshots": summary.missing, "sweep_manifests": manifests,
                        "rechecks": rechecks, **extras,
                        "public_key": PUBLIC_KEY if sealer.key is not None else None,
                        "key_fingerprint": sealer.key.public.fingerprint if sealer.key is not None else None}
            add(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
            sums = "".join(f"{meta['sha256']}  {name}\n" for name, meta in sorted(files.items())).encode()
            zf.writestr(SUMS, sums)
            for name, data in make_seal(SUMS, sums, sealer, kind="evidence bundle",
                                        extra={"bundle_format": FORMAT, "files": len(files)}).items():
                zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def _add_timeline(store: Store, f: Mapping[str, Any], add: Any, done: dict[str, str | None]) -> str | None:
    """The price timeline of a price finding's listing as ``charts/price-<id>.svg`` (once per listing);
    its name, or None for other findings and listings without a price history."""
    sid = f["subject_id"]
    if f["subject_kind"] != "listing" or split_when_snippet(f["snippet"] or "") is None:
        return None
    if sid not in done:
        t = price_timeline(store, sid, title=f.get("subject_title") or "")
        name = f"charts/price-{sha256_bytes(sid.encode())[:16]}.svg" if t is not None else None
        if t is not None and name is not None:
            add(name, str(timeline_svg(t)).encode())
        done[sid] = name
    return done[sid]


def _add_records(store: Store, root: Path, q: SearchQuery, sweeps: list[str], findings: list[dict[str, Any]],
                 add: Any, *, operator: str, witness: str, handover: HandoverNotice | None, exit_ip: str,
                 summary: BundleSummary, keep: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """The WACZ of the bundle's pages, the extraction record of its leads and the handover notice, added
    to the bundle; what manifest.json says of them."""
    from leads.leads import build_leads
    from leads.records import RenderError, write_notice_docx, write_notice_pdf
    from leads.records.archive import write_extraction_record
    from pipelines.evidence import write_wacz

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="netsword-bundle-") as d:
        urls = {f["url"] for f in findings if f.get("html")}
        try:
            wacz = write_wacz(root, sweeps, Path(d) / "archive.wacz", urls=urls, title="netsword evidence bundle")
        except ValueError as exc:
            summary.problems.append(f"WACZ: {exc}")
        else:
            add(WACZ, (Path(d) / "archive.wacz").read_bytes(), compress=False)
            out["wacz"] = {"file": WACZ, "pages": wacz.pages, "missing": wacz.missing}
            summary.documents.append(WACZ)
        leads = [x for x in build_leads(store, q) if keep is None or keep(x.lead_id)]
        files = write_extraction_record(store, root, leads, d, operator=operator, witness=witness, exit_ip=exit_ip,
                                        stem="record")
        names = {"number": files.record.number, "docx": f"{RECORD}.docx"}
        add(f"{RECORD}.docx", files.docx.read_bytes())
        if files.pdf is not None:
            add(f"{RECORD}.pdf", files.pdf.read_bytes())
            names["pdf"] = f"{RECORD}.pdf"
        else:
            summary.problems.append(files.pdf_problem)
        out["extraction_record"] = names
        summary.documents += [v for k, v in names.items() if k != "number"]
        if handover is not None:
            notice = {"number": handover.number, "receiving_unit": handover.receiving_unit,
                      "due_date": handover.due_date.isoformat(), "docx": f"{NOTICE}.docx"}
            add(f"{NOTICE}.docx", write_notice_docx(handover, Path(d) / "notice.docx").read_bytes())
            try:
                add(f"{NOTICE}.pdf", write_notice_pdf(handover, Path(d) / "notice.pdf").read_bytes())
                notice["pdf"] = f"{NOTICE}.pdf"
            except RenderError as exc:
                summary.problems.append(str(exc))
            out["handover_notice"] = notice
            summary.documents += [v for k, v in notice.items() if k in ("docx", "pdf")]
    return out


def _add_evidence(store: Store, root: str | Path, sha: str, add: Any,
                  summary: BundleSummary) -> tuple[str | None, str | None]:
    ev = evidence_files(store, root, sha)
    html_name = shot_name = None
    body = ev.read_html()
    if body is not None:
        html_name = f"snapshots/{sha}.html"
        add(html_name, body)
        summary.snapshots += 1
    else:
        summary.missing.append(sha)
    if ev.screenshot_path is not None:
        shot_name = f"screenshots/{sha}.png"
        add(shot_name, ev.screenshot_path.read_bytes(), compress=False)
        summary.screenshots += 1
    return html_name, shot_name


def _add_picture(root: str | Path, cited: dict[str, str], add: Any,
                 done: dict[str, str | None]) -> dict[str, str] | None:
    """``pictures/<sha256>.<ext>`` for a picture a finding cites (once per picture); its name, box and URL."""
    sha = cited["sha256"]
    if sha not in done:
        path = picture_file(root, sha)
        done[sha] = None
        if path is not None:
            done[sha] = f"pictures/{path.name}"
            add(done[sha], path.read_bytes(), compress=False)
    if done[sha] is None:
        return None
    return {"file": done[sha], "sha256": sha, "box": cited["box"], "url": cited["url"], "role": cited["role"]}


def _add_manifests(root: Path, sweeps: list[str], add: Any) -> list[dict[str, Any]]:
    """Each sweep's manifest with its .sha256 and seal, as ``manifests/...`` (those the evidence folder has)."""
    out = []
    for sweep in sweeps:
        mpath = root / "manifests" / f"{sweep}.jsonl"
        if not mpath.is_file():
            continue
        names = []
        for name in (mpath.name, f"{mpath.name}.sha256", *seal_names(mpath.name)):
            if (mpath.parent / name).is_file():
                add(f"manifests/{name}", (mpath.parent / name).read_bytes())
                names.append(f"manifests/{name}")
        out.append({"sweep_id": sweep, "manifest": f"manifests/{mpath.name}", "files": names})
    return out


def _add_rechecks(store: Store, root: Path, lead_ids: set[str], add: Any) -> list[str]:
    """The sealed re-check records (evidence/rechecks/) of the leads' latest re-checks, as ``rechecks/...``."""
    from leads.recheck import latest

    wanted = {r.evidence for lead_id in sorted(lead_ids) for r in latest(store.triage_events(lead_id)).values()
              if r.evidence.startswith("rechecks/")}
    out = []
    for rel in sorted(wanted):
        path = root / rel
        if not path.is_file():
            continue
        for name in (path.name, *seal_names(path.name)):
            if (path.parent / name).is_file():
                add(f"rechecks/{name}", (path.parent / name).read_bytes())
        out.append(f"rechecks/{path.name}")
    return out


def _hash_member(zf: zipfile.ZipFile, name: str) -> str:
    with zf.open(name) as fh:
        return sha256_stream(fh)


def verify_bundle(path: str | Path, trust: Trust | None = None) -> BundleCheck:
    """Check a bundle (a .zip): its files against SHA256SUMS and manifest.json, its seal, its sweep
    manifests' chains and seals; ``ok`` when nothing fails. ``trust``: the key and TSA chain to
    check with (default: the unit's public key and ``tsa_certs`` from the configuration)."""
    check = BundleCheck(str(path), False, 0)
    checks = check.checks
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        checks.append(fail(f"不是可读的 zip 文件：{exc}", f"not a readable zip: {exc}"))
        return _done(check)
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        listed = _check_sums(zf, names, check)
        if listed is None:
            return _done(check)
        manifest, problems = _check_manifest(zf, names, listed)
        checks.extend(problems)
        if not any(c.failed for c in checks):
            checks.append(Check("ok", f"文件哈希相符：{check.files_checked} 个文件与 {SUMS} 和 {MANIFEST} 一致",
                                f"file hashes hold: {check.files_checked} files match {SUMS} and {MANIFEST}"))
        trust = trust if trust is not None else load_trust()
        trust = trust.with_tsa_chain(_member(zf, TSA_CHAIN), f"{TSA_CHAIN} in the bundle")
        carried = read_public_key_bytes(_member(zf, PUBLIC_KEY))
        sums = _member(zf, SUMS) or b""
        seal = check_seal(SUMS, sha256_bytes(sums), {n: _member(zf, n) for n in SEAL_FILES}, trust,
                          carried_key=carried, what_zh=SUMS, what_en=SUMS)
        checks.extend(_prefixed("证据包", "bundle", seal.checks))
        pages = _check_sweep_manifests(zf, names, trust, carried, checks)
        checks.extend(_check_snapshots_listed(manifest, pages))
        checks.extend(_check_rechecks(zf, names, trust, carried))
        checks.extend(_check_wacz(zf, names, manifest))
        checks.extend(_check_record(zf, names, manifest))
    return _done(check)


def _check_rechecks(zf: zipfile.ZipFile, names: list[str], trust: Trust, carried: Any) -> list[Check]:
    """Each re-check record's seal (signature, timestamp) over its content."""
    out: list[Check] = []
    for name in sorted(n for n in names if n.startswith("rechecks/") and n.endswith(".json")
                       and not n.endswith(".seal.json")):
        base = name.rpartition("/")[2]
        seal = check_seal(base, sha256_bytes(zf.read(name)),
                          {n: _member(zf, f"rechecks/{n}") for n in seal_names(base)}, trust, carried_key=carried,
                          what_zh="该复查记录", what_en="the re-check record")
        out.extend(_prefixed(f"复查记录 {base}", f"re-check record {base}", seal.checks))
    return out


def _finding_pages(zf: zipfile.ZipFile, manifest: Mapping[str, Any]) -> dict[str, bytes]:
    """url -> the snapshot's bytes, for each finding whose snapshot the bundle holds."""
    out: dict[str, bytes] = {}
    for f in manifest.get("findings") or []:
        if f.get("html") and f.get("url") and f["url"] not in out:
            data = _member(zf, f["html"])
            if data is not None:
                out[f["url"]] = data
    return out


def _check_wacz(zf: zipfile.ZipFile, names: list[str], manifest: Mapping[str, Any]) -> list[Check]:
    """The WACZ validates (Webrecorder's validator) and replays each snapshot's page with the same bytes."""
    if WACZ not in names:
        return []
    from pipelines.evidence import archived_captures, validate_wacz

    with tempfile.TemporaryDirectory(prefix="netsword-verify-") as d:
        path = Path(d) / "archive.wacz"
        path.write_bytes(zf.read(WACZ))
        valid, said = validate_wacz(path)
        if not valid:
            return [fail(f"WACZ 归档未通过校验（wacz validate）：{said[-200:]}",
                         f"the WACZ does not validate (wacz validate): {said[-200:]}")]
        out = [Check("ok", "WACZ 归档通过校验（wacz validate：文件齐全、哈希相符）",
                     "the WACZ validates (wacz validate: files present, hashes match datapackage.json)")]
        missing, differ, same = [], [], 0
        for url, body in _finding_pages(zf, manifest).items():
            try:
                captures = archived_captures(path, url)  # a page fetched again (a re-check) has several
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                return [*out, fail(f"WACZ 无法读取：{exc}", f"the WACZ cannot be read: {exc}")]
            if not captures:
                missing.append(url)
            elif any(c.body == body or _encoded(c) for c in captures):
                same += 1
            else:
                differ.append(url)
    if differ:
        out.append(fail(f"WACZ 中的网页与快照不一致：{', '.join(differ[:3])}",
                        f"pages in the WACZ differ from their snapshots: {', '.join(differ[:3])}"))
    if missing:
        out.append(Check("warn", f"{len(missing)} 个网页不在 WACZ 中：{', '.join(missing[:3])}",
                         f"{len(missing)} pages are not in the WACZ: {', '.join(missing[:3])}"))
    if same and not differ:
        out.append(Check("ok", f"WACZ 回放的 {same} 个网页与快照逐字节一致",
                         f"the {same} pages the WACZ replays are byte for byte the snapshots"))
    return out


def _encoded(page: Any) -> bool:
    """A response kept compressed as the server sent it (its bytes cannot equal the decoded snapshot)."""
    return page.record_type == "response" and page.body[:2] == b"\x1f\x8b"


def _check_record(zf: zipfile.ZipFile, names: list[str], manifest: Mapping[str, Any]) -> list[Check]:
    """The extraction record (DOCX) names each snapshot's SHA-256."""
    name = f"{RECORD}.docx"
    if name not in names:
        return []
    import io

    from docx import Document

    try:
        doc = Document(io.BytesIO(zf.read(name)))
    except Exception as exc:  # a damaged document: python-docx raises several kinds
        return [fail(f"提取笔录无法打开：{exc}", f"the extraction record cannot be opened: {exc}")]
    text = "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    shas = sorted({f["snapshot_sha256"] for f in manifest.get("findings") or [] if f.get("html")})
    absent = [s for s in shas if s not in text]
    if absent:
        return [fail(f"提取笔录未列出 {len(absent)} 个快照的哈希：{', '.join(s[:12] for s in absent[:3])}",
                     f"the extraction record does not list {len(absent)} snapshot hashes: "
                     f"{', '.join(s[:12] for s in absent[:3])}")]
    return [Check("ok", f"提取笔录列出了全部 {len(shas)} 个快照的 SHA-256", f"the extraction record lists the SHA-256 "
                  f"of all {len(shas)} snapshots")]


def fail(zh: str, en: str) -> Check:
    return Check("fail", zh, en)


def _done(check: BundleCheck) -> BundleCheck:
    check.problems = [c.text() for c in check.checks if c.failed]
    check.ok = not check.problems
    return check


def _prefixed(zh: str, en: str, checks: list[Check]) -> list[Check]:
    return [Check(c.status, f"{zh}：{c.zh}", f"{en}: {c.en}") for c in checks]


def _member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        return zf.read(name)
    except KeyError:
        return None


def _check_sums(zf: zipfile.ZipFile, names: list[str], check: BundleCheck) -> dict[str, str] | None:
    """Every file listed in SHA256SUMS present with its hash; None when there is no SHA256SUMS."""
    checks = check.checks
    if len(names) != len(set(names)):
        checks.append(fail("压缩包内有重名文件", "duplicate names in the zip"))
    if SUMS not in names:
        checks.append(fail(f"缺少 {SUMS}", f"{SUMS} missing"))
        return None
    listed: dict[str, str] = {}
    for n, line in enumerate(zf.read(SUMS).decode("utf-8", "replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not is_sha256(digest) or not name:
            checks.append(fail(f"{SUMS} 第 {n} 行格式错误", f"{SUMS} line {n} malformed"))
            continue
        listed[name] = digest
    for name, digest in listed.items():
        if name not in names:
            checks.append(fail(f"缺少文件：{name}", f"missing file: {name}"))
            continue
        got = _hash_member(zf, name)
        check.files_checked += 1
        if got != digest:
            checks.append(fail(f"哈希不符（文件被改动）：{name}", f"hash mismatch (file changed): {name}"))
        if name.startswith("snapshots/") and name != f"snapshots/{got}.html":
            checks.append(fail(f"快照内容与文件名哈希不符：{name}",
                               f"snapshot content does not match its name: {name}"))
        if name.startswith("pictures/") and name.rpartition("/")[2].split(".", 1)[0] != got:
            checks.append(fail(f"图片内容与文件名哈希不符：{name}", f"picture content does not match its name: {name}"))
    checks.extend(fail(f"未登记在 {SUMS} 中的文件：{name}", f"file not in {SUMS}: {name}") for name in names
                  if name != SUMS and name not in listed and name not in SEAL_FILES)
    return listed


def _check_manifest(zf: zipfile.ZipFile, names: list[str],
                    listed: Mapping[str, str]) -> tuple[dict[str, Any], list[Check]]:
    if MANIFEST not in names:
        return {}, [fail(f"缺少 {MANIFEST}", f"{MANIFEST} missing")]
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except ValueError:
        return {}, [fail(f"{MANIFEST} 不是 JSON", f"{MANIFEST} is not JSON")]
    problems = []
    if manifest.get("format") not in FORMATS:
        kind = manifest.get("format")
        problems.append(fail(f"未知格式：{kind!r}", f"unknown bundle format: {kind!r}"))
    for name, meta in (manifest.get("files") or {}).items():
        if listed.get(name) != (meta or {}).get("sha256"):
            problems.append(fail(f"{MANIFEST} 与 {SUMS} 不一致：{name}", f"{MANIFEST} and {SUMS} disagree: {name}"))
    for f in manifest.get("findings") or []:
        for pic in f.get("pictures") or []:
            if pic.get("file") not in listed:
                problems.append(fail(f"问题 {f.get('finding_id')} 的图片证据缺失：{pic.get('file')}",
                                     f"picture of finding {f.get('finding_id')} missing: {pic.get('file')}"))
        for key in ("html", "screenshot"):
            if f.get(key) and f[key] not in listed:
                problems.append(fail(f"问题 {f.get('finding_id')} 的证据文件缺失：{f[key]}",
                                     f"evidence of finding {f.get('finding_id')} missing: {f[key]}"))
    return manifest, problems


def _check_sweep_manifests(zf: zipfile.ZipFile, names: list[str], trust: Trust, carried: Any,
                           checks: list[Check]) -> dict[str, tuple[str, int, dict[str, Any]]]:
    """Each sweep manifest's seal and chain; html sha256 -> (manifest, line, entry) of the pages they list."""
    pages: dict[str, tuple[str, int, dict[str, Any]]] = {}
    for name in sorted(n for n in names if n.startswith("manifests/") and n.endswith(".jsonl")):
        data = zf.read(name)
        base = name.rpartition("/")[2]
        seal = check_seal(base, sha256_bytes(data), {n: _member(zf, f"manifests/{n}") for n in seal_names(base)},
                          trust, carried_key=carried, what_zh="该清单", what_en="the manifest")
        lines = seal.statement.get("lines")
        chain = check_chain(data, base, sealed_lines=lines if isinstance(lines, int) else None,
                            sealed_head=seal.statement.get("chain_head"))
        checks.extend(_prefixed(f"扫描清单 {base}", f"sweep manifest {base}", chain.checks + seal.checks))
        for sha, (line, entry) in chain.pages.items():
            pages.setdefault(sha, (base, line, entry))
    return pages


def _check_snapshots_listed(manifest: Mapping[str, Any], pages: Mapping[str, tuple[str, int, dict[str, Any]]]
                            ) -> list[Check]:
    """Each snapshot of a finding is listed in one of the bundle's sweep manifests (sealed with it)."""
    shas = sorted({f.get("snapshot_sha256") for f in manifest.get("findings") or [] if f.get("html")})
    if not shas:
        return []
    unlisted = [sha for sha in shas if sha not in pages]
    if unlisted:
        named = ", ".join(s[:12] for s in unlisted[:5])
        return [Check("warn", f"{len(unlisted)} 个网页快照不在证据包所带的扫描清单中：{named}",
                      f"{len(unlisted)} page snapshots are not listed in a sweep manifest of the bundle: {named}")]
    return [Check("ok", f"每个网页快照（{len(shas)} 个）都列在证据包所带的扫描清单中，抓取时间以清单为准",
                  f"every page snapshot ({len(shas)}) is listed in a sweep manifest of the bundle, with its "
                  "fetch time")]
