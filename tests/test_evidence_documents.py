"""Issue 15, items 3-5 and 7: live captioned screenshots, WACZ, the extraction record, the handover notice,
and bundles that carry them.

Data: the session's demo sweep (conftest ``demo_sweep``: the demo marketplace on 127.0.0.1, the unit's key,
the test TSA), copied where a test changes it. PDFs are read back with pypdfium2 (text extraction, and a
render to PNG); DOCX files with python-docx; WACZ files with Webrecorder's own validator (``wacz``).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
import socket
import zipfile
from datetime import date
from pathlib import Path

import httpx
import pytest
from cli_helpers import run_cli
from leads_fixtures import ConsoleServer, copy_home

from crawler.browser import launch_options
from leads.leads import build_leads, get_lead
from leads.records import handover_notice, write_notice_docx, write_notice_pdf
from leads.users import add_user
from leads.web.app import ConsoleConfig, create_app
from pipelines.evidence import EvidencePipeline, read_archived, read_manifest, validate_wacz
from pipelines.store import open_store

SWEEP = "demo-e2e"
PHOTO_FILL = (0x2F, 0x6F, 0xDF)  # crawler/demo/templates.PHOTO_FILL: every product picture's colour
PASSWORD = "correct-horse-2"


def out(proc) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def pdf_png(path: Path, png: Path) -> tuple[int, int, int]:
    """Page 1 rendered to ``png``; (width, height, dark pixels)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        image = doc[0].render(scale=1.5).to_pil().convert("L")
    finally:
        doc.close()
    image.save(png)
    dark = sum(image.histogram()[:100])
    return image.width, image.height, dark


def docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    return "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])


def squeeze(text: str) -> str:
    """Text without whitespace: a hash broken over two lines of a table cell reads whole again."""
    return "".join(text.split())


def photo_pixels(png: bytes) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24) or []
    return sum(n for n, p in colours if all(abs(a - b) <= 6 for a, b in zip(p, PHOTO_FILL, strict=True)))


def png_text(png: bytes) -> dict[str, str]:
    from PIL import Image

    return dict(Image.open(io.BytesIO(png)).text)


@pytest.fixture(scope="module")
def home(demo_sweep, tmp_path_factory):
    """A private copy of the demo sweep's home (keys, TSA config, store, evidence)."""
    dst = copy_home(demo_sweep["home"], tmp_path_factory.mktemp("docs-home"))
    for name in ("netsword.yml", "keys"):
        src = demo_sweep["home"] / name
        if src.is_dir():
            import shutil

            shutil.copytree(src, dst / name, dirs_exist_ok=True)
        elif src.is_file():
            (dst / name).write_bytes(src.read_bytes())
    return dst


@pytest.fixture(scope="module")
def lead_id(home):
    """A lead whose listings were flagged (a shop with listing findings)."""
    store = open_store(home / "netsword.db")
    try:
        leads = [x for x in build_leads(store) if any(f["subject_kind"] == "listing" for f in x.findings)]
    finally:
        store.close()
    return leads[0].lead_id


# -- item 4: live captures with a caption --------------------------------------------------------
def test_flagged_listings_are_screenshot_live_with_a_caption_and_server_ip(home):
    entries = read_manifest(home / "evidence" / "manifests" / f"{SWEEP}.jsonl")
    shots = [e for e in entries if e.get("kind") == "screenshot"]
    assert shots, "no flagged listing was screenshot"
    assert {e["capture"] for e in shots} == {"live"}, [(e["url"], e["capture"]) for e in shots
                                                       if e["capture"] != "live"]
    pages = [e for e in entries if e.get("kind") == "listing" and not e.get("unchanged")]
    assert pages and all(e["server_ip"] == "127.0.0.1" for e in pages)
    assert all(e["cert_sha256"] in ("", None) for e in pages)  # plain http: no certificate
    shot = shots[0]
    png = (home / "evidence" / shot["screenshot_path"]).read_bytes()
    facts = png_text(png)
    assert facts["netsword:capture"] == "live" and facts["netsword:url"] == shot["url"]
    assert facts["netsword:sweep"] == SWEEP and facts["netsword:html_sha256"] == shot["html_sha256"]
    assert facts["netsword:server_ip"] == "127.0.0.1"
    assert photo_pixels(png) > 20_000, "the live picture shows the listing's product photo"
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.getpixel((600, 10)) == (24, 32, 48)  # the caption bar above the page
    assert image.getpixel((2, 10)) == (34, 139, 34)  # its tag: live
    # the WARC names the server's address of every response
    from warcio.archiveiterator import ArchiveIterator

    warc = next((home / "evidence" / "warc" / SWEEP).glob("*.warc.gz"))
    with open(warc, "rb") as fh:
        ips = {r.rec_headers.get_header("WARC-IP-Address") for r in ArchiveIterator(fh) if r.rec_type == "response"}
    assert ips == {"127.0.0.1"}


def test_the_offline_re_render_is_the_fallback_and_says_so(tmp_path):
    """The live page cannot be loaded (nothing listens on its port): the stored HTML is drawn again, captioned
    as an offline re-render; its picture (on that dead server) is missing."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    url = f"http://127.0.0.1:{dead}/item/L1.html"
    html = (f'<html><body><h1>高仿耐克运动鞋</h1><img src="http://127.0.0.1:{dead}/static/item/L1.svg" width="240" '
            'height="160"></body></html>').encode()
    pipe = EvidencePipeline(tmp_path / "ev", warc=False, launch_options=launch_options())
    sha, rel = pipe.store.put_html(html)
    pipe.sweep_id = "t1"

    async def main() -> None:
        try:
            await pipe._screenshot(url, sha, rel, 200, "2026-12-01T02:00:00+00:00")
        finally:
            if pipe.renderer is not None:
                await pipe.renderer.close()

    asyncio.run(main())
    png = (tmp_path / "ev" / "screenshots" / f"{sha}.png").read_bytes()
    facts = png_text(png)
    assert facts["netsword:capture"] == "offline" and facts["netsword:html_sha256"] == sha
    from PIL import Image

    assert Image.open(io.BytesIO(png)).convert("RGB").getpixel((2, 10)) == (200, 90, 0)  # the offline tag
    assert photo_pixels(png) == 0


# -- item 3: WACZ ----------------------------------------------------------------------------------
def test_wacz_of_a_sweep_and_of_a_lead_validate_and_replay_the_kept_pages(home, lead_id, tmp_path):
    proc = run_cli("evidence", "wacz", SWEEP, "-o", str(tmp_path / "sweep.wacz"), home=home)
    assert proc.returncode == 0 and "valid WACZ" in proc.stdout, out(proc)
    assert validate_wacz(tmp_path / "sweep.wacz")[0]
    with zipfile.ZipFile(tmp_path / "sweep.wacz") as zf:
        names = set(zf.namelist())
        package = json.loads(zf.read("datapackage.json"))
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert {"datapackage.json", "datapackage-digest.json", "indexes/index.cdx.gz", "pages/pages.jsonl"} <= names
    assert {r["path"] for r in package["resources"]} >= {"indexes/index.cdx.gz", "pages/pages.jsonl"}
    assert all(r["hash"].startswith("sha256:") for r in package["resources"])
    assert len(pages) > 300 and all(p["url"].startswith("http://127.0.0.1:") for p in pages)

    proc = run_cli("evidence", "wacz", lead_id, "-o", str(tmp_path / "lead.wacz"), home=home)
    assert proc.returncode == 0 and "valid WACZ" in proc.stdout, out(proc)
    store = open_store(home / "netsword.db")
    try:
        lead = get_lead(store, lead_id)
        snapshots = {f["url"]: f["snapshot_sha256"] for f in lead.findings if f["snapshot_sha256"]}
        from leads.evidence_files import evidence_files

        for url, sha in snapshots.items():
            page = read_archived(tmp_path / "lead.wacz", url)
            assert page is not None and page.status == 200, url
            assert page.body == evidence_files(store, home / "evidence", sha).read_html()
    finally:
        store.close()
    with zipfile.ZipFile(tmp_path / "lead.wacz") as zf:
        lead_pages = [json.loads(line)["url"] for line in zf.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert set(lead_pages) == set(snapshots)
    # a WACZ changed afterwards does not validate
    with zipfile.ZipFile(tmp_path / "lead.wacz") as zin, zipfile.ZipFile(tmp_path / "bad.wacz", "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b"127.0.0.1", b"127.0.0.2")
            zout.writestr(info, data)
    assert not validate_wacz(tmp_path / "bad.wacz")[0]
    unknown = run_cli("evidence", "wacz", "demo:NOPE", "-o", str(tmp_path / "x.wacz"), home=home)
    assert unknown.returncode != 0 and "no such lead: demo:NOPE" in unknown.stderr


# -- item 5: the extraction record and the handover notice -------------------------------------------
def test_extraction_record_docx_and_pdf_name_pages_hashes_token_serials_and_environment(home, lead_id, tmp_path):
    proc = run_cli("evidence", "record", lead_id, "--operator", "王分析", "--witness", "李见证", "-o",
                   str(tmp_path / "rec"), home=home)
    assert proc.returncode == 0, out(proc)
    store = open_store(home / "netsword.db")
    try:
        lead = get_lead(store, lead_id)
    finally:
        store.close()
    shas = {f["snapshot_sha256"] for f in lead.findings if f["snapshot_sha256"]}
    seal = json.loads((home / "evidence" / "manifests" / f"{SWEEP}.jsonl.seal.json").read_text(encoding="utf-8"))
    serial = token_serial(home / "evidence" / "manifests" / f"{SWEEP}.jsonl.tsr")
    environment = json.loads(seal["statement"])["environment"]
    assert environment["browser"].lower().startswith(("chromium", "google chrome")) and environment["netsword"]

    text = docx_text((tmp_path / "rec" / "电子数据提取笔录.docx").read_bytes())
    for needle in ("电子数据提取笔录", "王分析", "李见证", "提取人（签名）", "见证人（签名）", "提取环境", serial,
                   environment["browser"], lead_id, f"netsword {environment['netsword']}"):
        assert needle in text, needle
    assert all(sha in text for sha in shas)

    pdf = tmp_path / "rec" / "电子数据提取笔录.pdf"
    raw = pdf_text(pdf)
    flat = squeeze(raw)
    for needle in ("电子数据提取笔录", "提取人", "见证人", "王分析", "李见证", "出口IP", "时间来源", "时间戳服务",
                   serial, squeeze(environment["browser"])):
        assert needle in flat, needle
    assert all(sha in flat for sha in shas)
    assert all(url in flat for url in {f["url"] for f in lead.findings})
    width, height, dark = pdf_png(pdf, tmp_path / "record-page1.png")
    assert (width, height) == (893, 1263) and dark > 5_000  # A4 at 1.5 x 72 dpi, with text on it


def token_serial(tsr: Path) -> str:
    from pipelines.evidence import token_info

    info = token_info(tsr.read_bytes())
    assert info is not None
    return info.serial


def test_handover_notice_for_a_receiving_unit_with_its_due_date(home, lead_id, tmp_path):
    store = open_store(home / "netsword.db")
    try:
        leads = [get_lead(store, lead_id)]
    finally:
        store.close()
    notice = handover_notice(leads, "成都市武侯区市场监督管理局", date(2026, 12, 31), "王分析",
                             issuing_unit="四川省市场监管局")
    assert notice.number.startswith("NS-JB-") and notice.due_zh == "2026年12月31日"
    flat = squeeze(pdf_text(write_notice_pdf(notice, tmp_path / "n.pdf")))
    for needle in ("线索交办通知书", "成都市武侯区市场监督管理局", "2026年12月31日", "王分析", "四川省市场监管局",
                   lead_id, notice.number):
        assert needle in flat, needle
    text = docx_text(write_notice_docx(notice, tmp_path / "n.docx").read_bytes())
    assert "成都市武侯区市场监督管理局" in text and "2026年12月31日" in text and lead_id in text
    with pytest.raises(ValueError, match="receiving unit"):
        handover_notice(leads, " ", date(2026, 12, 31), "王分析")
    proc = run_cli("evidence", "notice", lead_id, "--unit", "武侯区局", "--due", "2026-12-31", "--issuer", "王分析",
                   "-o", str(tmp_path / "cli"), home=home)
    assert proc.returncode == 0 and (tmp_path / "cli" / "线索交办通知书.pdf").is_file(), out(proc)
    # what the console's handover workflow does: the notice into the lead's evidence bundle
    from leads.bundle import verify_bundle, write_bundle
    from pipelines.evidence import Sealer, Trust

    site, shop = lead_id.split(":")
    store = open_store(home / "netsword.db")
    try:
        write_bundle(store, tmp_path / "handover.zip", {"site": site, "shop_id": shop},
                     evidence_dir=home / "evidence", sealer=Sealer(), handover=notice, operator="王分析")
    finally:
        store.close()
    with zipfile.ZipFile(tmp_path / "handover.zip") as zf:
        assert {"records/线索交办通知书.docx", "records/线索交办通知书.pdf", "archive.wacz"} <= set(zf.namelist())
        described = json.loads(zf.read("manifest.json"))["handover_notice"]
    assert described["receiving_unit"] == "成都市武侯区市场监督管理局" and described["due_date"] == "2026-12-31"
    check = verify_bundle(tmp_path / "handover.zip", Trust())
    assert check.ok, check.problems


# -- item 7: bundles carry them; verify checks them -------------------------------------------------
def test_bundle_carries_wacz_and_record_and_verify_checks_them(home, tmp_path):
    bundle = tmp_path / "b.zip"
    proc = run_cli("export", "--format", "zip", "-o", str(bundle), "--category", "网络销售假冒伪劣商品",
                   "--operator", "王分析", home=home)
    assert proc.returncode == 0 and "archive.wacz" in proc.stdout, out(proc)
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        members = {n: zf.read(n) for n in names}
    assert {"archive.wacz", "records/电子数据提取笔录.docx", "records/电子数据提取笔录.pdf"} <= names
    assert manifest["extraction_record"]["pdf"] == "records/电子数据提取笔录.pdf"
    shas = {f["snapshot_sha256"] for f in manifest["findings"] if f["html"]}
    assert all(sha in squeeze(pdf_text(_write(tmp_path / "r.pdf", members["records/电子数据提取笔录.pdf"])))
               for sha in shas)
    public = home / "keys" / "unit.pub.pem"
    elsewhere = run_cli("evidence", "verify", str(bundle), "--public-key", str(public), home=tmp_path / "elsewhere")
    assert elsewhere.returncode == 0, out(elsewhere)
    assert "✓ WACZ 归档通过校验" in elsewhere.stdout and "the WACZ validates" in elsewhere.stdout
    assert f"the {len(shas)} pages the WACZ replays are byte for byte the snapshots" in elsewhere.stdout
    assert f"the extraction record lists the SHA-256 of all {len(shas)} snapshots" in elsewhere.stdout

    # an edited page inside the WACZ: its own hashes and the bundle's catch it
    with zipfile.ZipFile(io.BytesIO(members["archive.wacz"])) as zin:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename.startswith("pages/"):
                    data = data.replace(b'"title"', b'"Title"')
                zout.writestr(info, data)
    tampered = _rewrite(bundle, tmp_path / "t.zip", {"archive.wacz": buf.getvalue()})
    proc = run_cli("evidence", "verify", str(tampered), "--public-key", str(public), home=tmp_path / "elsewhere")
    assert proc.returncode == 1
    assert "hash mismatch (file changed): archive.wacz" in proc.stdout
    assert "the WACZ does not validate" in proc.stdout
    # a record that leaves a page out
    from docx import Document

    doc = Document(io.BytesIO(members["records/电子数据提取笔录.docx"]))
    first = sorted(shas)[0]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                if first in cell.text:
                    cell.text = cell.text.replace(first, "0" * 64)
    edited = io.BytesIO()
    doc.save(edited)
    tampered = _rewrite(bundle, tmp_path / "r.zip", {"records/电子数据提取笔录.docx": edited.getvalue()})
    proc = run_cli("evidence", "verify", str(tampered), "--public-key", str(public), home=tmp_path / "elsewhere")
    assert proc.returncode == 1 and "the extraction record does not list 1 snapshot hashes" in proc.stdout, out(proc)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _rewrite(src: Path, dst: Path, changes: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, changes.get(name) or zin.read(name))
    return dst


# -- the console: links on the lead page, documents, replay from the WACZ ----------------------------
@pytest.fixture(scope="module")
def console(home):
    store = open_store(home / "netsword.db")
    add_user(store, "docs1", PASSWORD, "analyst")
    store.flush()
    app = create_app(ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), secrets.token_urlsafe(48)),
                     store=store)
    with ConsoleServer(app) as server:
        yield server
    store.close()


def login(client: httpx.Client) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": "docs1", "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code in (200, 303), r.text[:500]


def test_the_lead_page_links_record_notice_wacz_and_replays_from_the_wacz(console, home, lead_id):
    from urllib.parse import quote

    with httpx.Client(base_url=console.url, follow_redirects=True, timeout=120) as client:
        login(client)
        page = client.get(f"/leads/{quote(lead_id, safe=':')}").text
        q = quote(lead_id, safe=":")
        for link in (f"/lead-docs/record.docx?lead={q}", f"/lead-docs/record.pdf?lead={q}",
                     f"/lead-docs/archive.wacz?lead={q}", f"/lead-docs/replay?lead={q}",
                     'action="/lead-docs/notice.pdf"'):
            assert link in page, link
        pdf = client.get(f"/lead-docs/record.pdf?lead={q}")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert "docs1" in squeeze(pdf_text(_write(home / "console-record.pdf", pdf.content)))  # the analyst, 提取人
        notice = client.get(f"/lead-docs/notice.pdf?lead={q}&unit={quote('武侯区局')}&due=2026-12-31")
        assert notice.status_code == 200 and "武侯区局" in pdf_text(_write(home / "console-notice.pdf", notice.content))
        wacz = client.get(f"/lead-docs/archive.wacz?lead={q}")
        assert wacz.status_code == 200 and validate_wacz(_write(home / "console.wacz", wacz.content))[0]
        replay = client.get(f"/lead-docs/replay?lead={q}").text
        url = re.search(r'<iframe class="snapshot" sandbox src="([^"]+)"', replay).group(1).replace("&amp;", "&")
        archived = client.get(url)
        assert archived.status_code == 200
        assert archived.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
        target = re.search(r"url=([^&]+)", url).group(1)
        from urllib.parse import unquote

        page = read_archived(home / "console.wacz", unquote(target))
        assert page is not None and archived.content == page.body
        assert client.get(f"/lead-docs/replay/page?lead={q}&url=http://elsewhere.test/").status_code == 404


# -- item 6: re-checks after referral ------------------------------------------------------------
def test_recheck_finds_removed_changed_and_online_listings_and_the_form_counts_removals(tmp_path):
    """A demo marketplace of its own: a sweep of the search results for 高仿, two leads confirmed and referred,
    then one listing taken down and one edited; ``netsword recheck`` fetches them again."""
    import copy

    from crawler.demo.server import CATALOG_PATH, DemoServer
    from leads import triage
    from leads.recheck import ACTION, latest
    from leads.report import REMOVED, build_form
    from scheduling.recheck import scheduled_recheck

    home = tmp_path / "home"
    catalog = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    with DemoServer(catalog=copy.deepcopy(catalog)) as server:
        proc = run_cli("crawl", "--site", "demo", "--base-url", server.url, "--search", "高仿", home=home)
        assert proc.returncode == 0, out(proc)
        store = open_store(home / "netsword.db")
        try:
            flagged = [x for x in build_leads(store) if any(f["subject_kind"] == "listing" for f in x.findings)]
            assert len(flagged) >= 2
            confirmed, referred = flagged[0], flagged[1]
            triage.set_status(store, confirmed.lead_id, "confirmed", "wang")
            triage.set_status(store, referred.lead_id, "referred", "wang")
            store.flush()
            listings = {f["subject_id"]: f["url"] for lead in (confirmed, referred) for f in lead.findings
                        if f["subject_kind"] == "listing"}
        finally:
            store.close()
        removed = next(f["subject_id"] for f in confirmed.findings if f["subject_kind"] == "listing")
        changed = next(f["subject_id"] for f in referred.findings if f["subject_kind"] == "listing")
        server.catalog.listing_by_id.pop(removed.split(":")[1])
        server.catalog.listing_by_id[changed.split(":")[1]]["title"] += " 已整改"

        proc = run_cli("recheck", home=home)
        assert proc.returncode == 0, out(proc)
        assert "已删除/下架" in proc.stdout and "仍在线（页面已变化）" in proc.stdout
        store = open_store(home / "netsword.db")
        try:
            events = store.triage_events()
            results = latest(e for e in events if e.action == ACTION)
            assert set(results) == set(listings)
            assert results[removed].outcome == "removed" and results[removed].http_status == 404
            assert results[changed].outcome == "changed" and results[changed].html_sha256
            assert {r.outcome for s, r in results.items() if s not in (removed, changed)} <= {"online"}
            sweep = results[removed].sweep_id
            assert sweep.startswith("demo-recheck-")
            form = build_form(store, "x", known=set())
            rows = {r.label: r for _dept, rs in form.departments for r in rs}
            assert rows[REMOVED].value == 1 and "复查" in rows[REMOVED].note
        finally:
            store.close()
        # fresh evidence: the 404 is in the re-check's WARC; the outcomes are sealed
        evidence = home / "evidence"
        record = json.loads((evidence / "rechecks" / f"{sweep}.json").read_text(encoding="utf-8"))
        gone = next(r for r in record["results"] if r["subject_id"] == removed)
        assert gone["answer"]["status"] == 404 and gone["answer"]["warc"].startswith(f"{sweep}/")
        seal = json.loads((evidence / "rechecks" / f"{sweep}.json.seal.json").read_text(encoding="utf-8"))
        assert json.loads(seal["statement"])["kind"] == "recheck"
        assert (evidence / "manifests" / f"{sweep}.jsonl").is_file()

        # the lead page shows it
        store = open_store(home / "netsword.db")
        add_user(store, "docs2", PASSWORD, "analyst")
        store.flush()
        app = create_app(ConsoleConfig(str(home / "netsword.db"), str(evidence), secrets.token_urlsafe(48)),
                         store=store)
        try:
            with ConsoleServer(app) as console, httpx.Client(base_url=console.url, follow_redirects=True) as client:
                token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
                client.post("/login", data={"username": "docs2", "password": PASSWORD, "csrf_token": token})
                page = client.get(f"/leads/{confirmed.lead_id}").text
                assert 'id="rechecks"' in page and "已删除/下架" in page and listings[removed] in page
        finally:
            store.close()

        # the evidence bundle of the confirmed lead carries the sealed re-check record; verify checks its seal
        site, shop = confirmed.lead_id.split(":")
        bundle = tmp_path / "rechecked.zip"
        proc = run_cli("export", "--format", "zip", "-o", str(bundle), "--shop", shop, "--site", site, home=home)
        assert proc.returncode == 0, out(proc)
        with zipfile.ZipFile(bundle) as zf:
            assert f"rechecks/{sweep}.json" in zf.namelist()
            assert json.loads(zf.read("manifest.json"))["rechecks"] == [f"rechecks/{sweep}.json"]
        proc = run_cli("evidence", "verify", str(bundle), home=tmp_path / "elsewhere")
        assert proc.returncode == 0 and f"re-check record {sweep}.json" in proc.stdout, out(proc)

        # the scheduler's daily job runs the same command
        assert scheduled_recheck(str(home)) == 0
        assert list((home / "logs").glob("recheck-*.log"))
        store = open_store(home / "netsword.db")
        try:
            again = [e for e in store.triage_events() if e.action == ACTION]
        finally:
            store.close()
        assert len(again) == 2 * len(listings)
