"""Pictures (issue 14): profile image selectors, Scrapy's media pipeline into the evidence, offline OCR
(image_text) with its cache, findings that cite the picture and box, licence pictures, perceptual hashes.

The sweep is the session's demo sweep (tests/conftest.py); the pictures are the demo marketplace's,
drawn with Pillow and the CJK font the set-up installs (crawler/demo/pictures.py)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re

import pytest
from cli_helpers import ROOT, run_cli

from crawler.demo.evaluate import GROUND_TRUTH, predicted_keys
from netsword.digests import sha256_bytes, sha256_file
from netsword.yamlsource import SourceError
from pipelines.store import open_store

CATALOG = json.loads((ROOT / "crawler" / "demo" / "catalog.json").read_text(encoding="utf-8"))
NOTE = re.compile(r"图片文字识别: \S+ sha256:([0-9a-f]{64}) 框 \[(\d+),(\d+),(\d+),(\d+)\] (\S+)")


def _picture(pid: str) -> bytes:
    from crawler.demo.pictures import render

    return render(CATALOG["pictures"][pid], CATALOG["pictures"])


@pytest.fixture(scope="module")
def swept(demo_sweep):
    store = open_store(f"sqlite:///{demo_sweep['db']}")
    yield store, demo_sweep
    store.close()


def test_violations_only_in_pictures_are_found(swept):
    """P and R on the subjects whose violation is only in a picture (detail images, licence pictures)."""
    store, sweep = swept
    truth_doc = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    in_picture = {(v["kind"], v["id"]) for v in truth_doc["violations"] if v.get("in_picture")}
    assert len(in_picture) >= 8
    truth = {(v["kind"], v["id"], c) for v in truth_doc["violations"] if v.get("in_picture") for c in v["categories"]}
    findings = list(store.iter_findings({"sweep_id": sweep["sweep_id"]}))
    picture_subjects = in_picture | {(f["subject_kind"], f["subject_id"].split(":", 1)[1]) for f in findings
                                     if f["field"] == "image_text"}
    predicted = {k for k in predicted_keys(findings) if (k[0], k[1]) in picture_subjects}
    right = truth & predicted
    precision, recall = len(right) / max(1, len(predicted)), len(right) / len(truth)
    print(f"\npictures only: truth {len(truth)}, flagged {len(predicted)}, P {precision:.2f}, R {recall:.2f}")
    print("missed", sorted(truth - predicted), "false alarms", sorted(predicted - truth))
    assert precision >= 0.9 and recall >= 0.9


def test_a_finding_from_a_picture_cites_its_hash_url_and_box(swept):
    store, sweep = swept
    findings = [f for f in store.iter_findings({"sweep_id": sweep["sweep_id"]})
                if f["subject_id"] == "demo:L0467" and f["field"] == "image_text"]
    assert findings, "the detail picture's 治疗糖尿病 was not found"
    notes = [m for f in findings for n in f["deobfuscated"] if (m := NOTE.search(n))]
    assert notes, findings[0]["deobfuscated"]
    sha, x0, y0, x1, y1, url = notes[0].groups()
    assert url.endswith("/img/detail-L0467.jpg")
    kept = next((sweep["home"] / "evidence" / "images").rglob(f"{sha}.*"))
    assert sha256_file(kept) == sha and kept.read_bytes() == _picture("detail-L0467")
    from PIL import Image

    with Image.open(kept) as img:
        assert 0 <= int(x0) < int(x1) <= img.width and 0 <= int(y0) < int(y1) <= img.height
    listing = store.get_listing("demo:L0467")
    box = [int(x0), int(y0), int(x1), int(y1)]
    line = next(ln for img in listing.images for ln in img["lines"] if ln["box"] == box)
    assert any(m in line["text"] for f in findings for m in f["matched"])  # the box holds the words that fired


def test_pictures_are_kept_by_hash_with_manifest_lines_and_warc_records(swept):
    _, sweep = swept
    root = sweep["home"] / "evidence"
    lines = [json.loads(x) for x in (root / "manifests" / f"{sweep['sweep_id']}.jsonl").read_text().splitlines()]
    images = [x for x in lines if x["kind"] == "image"]
    assert len({x["image_sha256"] for x in images}) >= 12
    for x in images:
        assert sha256_file(root / x["image_path"]) == x["image_sha256"]
        assert (x["requested_url"].startswith("http") and "/img/" in x["url"]) or "/static/license/" in x["url"]
    warc = b""
    for path in (root / "warc" / sweep["sweep_id"]).glob("*.warc.gz"):
        with gzip.open(path) as fh:
            warc += fh.read()
    assert b"/img/detail-L0467.jpg" in warc
    proc = run_cli("evidence", "verify", sweep["sweep_id"], home=sweep["home"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_licence_pictures_are_read_and_checked(swept):
    store, sweep = swept
    by_shop: dict[str, set[str]] = {}
    for f in store.iter_findings({"sweep_id": sweep["sweep_id"]}):
        by_shop.setdefault(f["subject_id"], set()).add(f["rule_id"])
    valid, bad, blurred, other = (store.get_shop(f"demo:S04{i}") for i in (3, 4, 5, 6))
    lic = {s["id"]: s["license"] for s in CATALOG["shops"]}
    assert (valid.license_image_status, valid.license_image_number) == ("ok", lic["S043"]["uscc"])
    assert not {r for r in by_shop.get("demo:S043", set()) if r.startswith("lic.")}  # shown as a picture: displayed
    assert bad.license_image_status == "invalid" and "lic.uscc-invalid" in by_shop["demo:S044"]
    assert blurred.license_image_status == "unreadable" and "lic.image-unreadable" in by_shop["demo:S045"]
    assert other.license_image_name == "泉州远航贸易有限公司" and "lic.name-mismatch" in by_shop["demo:S046"]


def test_shops_reusing_photos_share_a_perceptual_hash(swept):
    from pipelines.images import phash_distance

    store, _ = swept
    a, b = store.get_listing("demo:L0475").images[0], store.get_listing("demo:L0477").images[0]
    assert a["sha256"] != b["sha256"]  # scaled and saved again: other bytes
    assert phash_distance(a["phash"], b["phash"]) <= 4
    other = store.get_listing("demo:L0476").images[0]
    assert phash_distance(a["phash"], other["phash"]) > 10


# --------------------------------------------------------------------------- profiles and limits


def test_profile_image_selectors_are_checked_with_file_and_line(tmp_path):
    from crawler.profiles import load_profile

    text = (ROOT / "crawler" / "sites" / "demo.yml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("detail: 'div.detail-images img::attr(src)'", "detail: 'div..x img'"), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_profile(bad)
    line = next(i for i, x in enumerate(bad.read_text().splitlines(), 1) if "div..x" in x)
    assert f"bad.yml:{line}" in str(err.value) and "bad selector" in str(err.value)
    bad.write_text(text.replace("      max_count: 8\n", "      max_cuont: 8\n"), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_profile(bad)
    assert "max_count" in str(err.value)  # did you mean


def test_count_limit_takes_the_first_pictures_in_page_order():
    from crawler.items import ListingItem, ShopItem
    from pipelines.images.media import wanted_pictures

    item = ListingItem(url="http://127.0.0.1/item/1.html", image_urls={
        "main": ["http://127.0.0.1/a.jpg", "http://127.0.0.1/b.jpg"], "detail": ["http://127.0.0.1/c.jpg"]})
    assert wanted_pictures(item, 2) == [("main", "http://127.0.0.1/a.jpg"), ("main", "http://127.0.0.1/b.jpg")]
    shop = ShopItem(url="http://127.0.0.1/shop/1/", license_image="/lic.png", status=200)
    assert wanted_pictures(shop, 5) == [("license", "http://127.0.0.1/lic.png")]
    shop.status = 404
    assert wanted_pictures(shop, 5) == []


def test_byte_and_size_limits_from_the_profile(demo_server, tmp_path):
    """max_kb: a bigger picture is not downloaded, and the item says why; min_side: a smaller one is kept
    but not read (a licence picture that cannot be read is a licence finding)."""
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "pics.yml").write_text(f"""\
site: pics
name: 图片限制
base_url: {demo_server.url}
start_urls: ["{{base_url}}/shop/S047/"]
pages:
  listing:
    type: listing
    match: ['^/item/[^/]+\\.html$']
    fields: {{listing_id: 'body::attr(data-listing-id)', title: 'h1.title'}}
    images: {{main: 'div.gallery img::attr(src)', max_kb: 10}}
  shop:
    type: shop
    match: ['^/shop/[^/]+/$']
    follow: ['a.item-link']
    fields: {{shop_id: 'body::attr(data-shop-id)', name: 'h1.shop-name', operator: 'div.license span.company'}}
    images: {{license: 'div.license img.license-img::attr(src)', min_side: 1000}}
""", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    (home / "netsword.yml").write_text(f"sites_dir: {sites}\n", encoding="utf-8")
    proc = run_cli("crawl", "--site", "pics", "--sweep-id", "pics-1", home=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = open_store(f"sqlite:///{home / 'netsword.db'}")
    try:
        photo = store.get_listing("pics:L0475").images[0]
        shop = store.get_shop("pics:S047")
        rules = {f["rule_id"] for f in store.iter_findings({})}
    finally:
        store.close()
    assert photo["status"] == "failed" and "max_kb" in photo["error"] and not photo.get("sha256")
    assert shop.images[0]["status"] == "too_small" and shop.images[0]["width"] == 900
    assert shop.license_image_status == "unreadable" and "lic.image-unreadable" in rules


# --------------------------------------------------------------------------- OCR, cache, commands


def test_ocr_reads_a_detail_picture_offline():
    from pipelines.images import read_image

    lines = read_image(_picture("detail-L0467"))
    text = "".join(ln.text for ln in lines)
    assert "治疗糖尿病" in text and "无效退款" in text
    assert all(len(ln.box) == 4 and ln.box[0] < ln.box[2] and ln.box[1] < ln.box[3] for ln in lines)


def test_openvino_reads_by_default_and_the_onnxruntime_fallback_reads_the_same(tmp_path, monkeypatch):
    """The set-up installs OpenVINO, which runs the networks; NETSWORD_OCR_RUNTIME=onnxruntime (what a machine
    without OpenVINO gets) reads the same lines, under another engine name (the OCR cache keeps them apart)."""
    pic = tmp_path / "detail.png"
    pic.write_bytes(_picture("detail-L0467"))
    outs = {}
    for runtime in ("auto", "onnxruntime"):
        monkeypatch.setenv("NETSWORD_OCR_RUNTIME", runtime)
        proc = run_cli("ocr", str(pic), "--json", home=tmp_path)
        assert proc.returncode == 0, proc.stderr
        outs[runtime] = json.loads(proc.stdout)
    assert outs["auto"]["engine"].endswith("-ppocrv4-openvino")
    assert outs["onnxruntime"]["engine"].endswith("-ppocrv4")
    fast, fallback = outs["auto"]["lines"], outs["onnxruntime"]["lines"]
    assert [ln["text"] for ln in fast] == [ln["text"] for ln in fallback]
    assert "治疗糖尿病" in "".join(ln["text"] for ln in fast)
    for x, y in zip(fast, fallback, strict=True):  # the same boxes, give or take a few pixels
        assert all(abs(a - b) <= 4 for a, b in zip(x["box"], y["box"], strict=True)), (x, y)


def test_an_unchanged_picture_is_read_once_across_sweeps(tmp_path):
    """The stage's cache is keyed by the picture's SHA-256: the second sweep's item gets the lines from it."""
    from crawler.items import ListingItem
    from pipelines.images import ImageTextPipeline
    from pipelines.store.files import EvidenceStore

    sha, rel = EvidenceStore(tmp_path / "evidence").put_image(_picture("detail-L0468"), "jpg")

    def item() -> ListingItem:
        return ListingItem(url="http://127.0.0.1/item/L0468.html", images=[
            {"role": "detail", "url": "http://127.0.0.1/img/d.jpg", "status": "ok", "sha256": sha, "path": rel}])

    pipe = ImageTextPipeline(tmp_path / "evidence", tmp_path / "cache")
    first = asyncio.run(pipe.process_item(item()))
    second = asyncio.run(ImageTextPipeline(tmp_path / "evidence", tmp_path / "cache").process_item(item()))
    assert first.images[0]["ocr"] == "done" and second.images[0]["ocr"] == "cached"
    assert "全网销量第一" in first.image_text and second.image_text == first.image_text
    assert second.norm["image_text"] and second.images[0]["phash"] == first.images[0]["phash"]
    assert list((tmp_path / "cache" / "ocr").rglob(f"{sha}.json"))


def test_ocr_command_and_rules_explain_with_image_text(tmp_path):
    pic = tmp_path / "licence.png"
    pic.write_bytes(_picture("lic-S044"))
    proc = run_cli("ocr", str(pic), "--json", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    uscc = next(s["license"]["uscc"] for s in CATALOG["shops"] if s["id"] == "S044")
    assert out["license"] == {"status": "invalid", "number": uscc, "name": "深圳声浪电子有限公司"}
    assert all(set(line) == {"text", "box", "score"} for line in out["lines"])
    item = {"kind": "shop", "operator": "深圳声浪电子有限公司",
            "image_text": [{"role": "license", "url": "http://x/l.png", "sha256": out["sha256"],
                            "lines": out["lines"]}]}
    proc = run_cli("rules", "explain", "-", "--json", home=tmp_path, stdin=json.dumps(item, ensure_ascii=False))
    assert proc.returncode == 0, proc.stderr
    found = {f["rule_id"]: f for f in json.loads(proc.stdout)}
    assert "lic.uscc-invalid" in found and "lic.missing" not in found
    assert out["sha256"] in " ".join(found["lic.uscc-invalid"]["deobfuscated"])
    missing = run_cli("ocr", str(tmp_path / "nope.png"), home=tmp_path)
    assert missing.returncode != 0 and "no such file" in missing.stderr


# --------------------------------------------------------------------------- console, clustering


def test_console_shows_the_flagged_picture_with_its_box_and_the_shared_photo(demo_sweep, tmp_path):
    import html
    import io

    from fastapi.testclient import TestClient
    from leads_fixtures import copy_home
    from PIL import Image

    from leads.users import add_user
    from leads.web.app import ConsoleConfig, create_app

    home = copy_home(demo_sweep["home"], tmp_path / "home")
    store = open_store(home / "netsword.db")
    try:
        add_user(store, "analyst1", "correct-horse-1", "analyst")
        store.flush()
        app = create_app(ConsoleConfig(str(home / "netsword.db"), str(home / "evidence"), "s" * 64), store=store)
        c = TestClient(app, follow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        c.post("/login", data={"username": "analyst1", "password": "correct-horse-1", "csrf_token": token, "next": "/"})
        page = c.get("/leads/demo:S043")
        assert page.status_code == 200
        srcs = [html.unescape(s) for s in re.findall(r'<img class="thumb" src="(/pictures/[^"]+)"', page.text)]
        boxed = [s for s in srcs if "box=" in s and not s.endswith("box=")]
        assert boxed, "no picture with its box on the lead page"
        r = c.get(boxed[0])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.headers["content-security-policy"] == "default-src 'none'"
        x0, y0, _, y1 = (int(v) for v in boxed[0].split("box=")[1].split(","))
        img = Image.open(io.BytesIO(r.content)).convert("RGB")
        red = img.getpixel((x0 - 6, (y0 + y1) // 2))  # the outline, just outside the box
        assert red[0] > 180 and red[1] < 60 and red[2] < 60, red
        assert c.get("/pictures/" + "0" * 64 + ".png").status_code == 404
        assert c.get("/pictures/../../etc/passwd.png").status_code == 404
        group = c.get("/leads/demo:S047").text
        assert "商品图片（感知哈希相同）" in group and "demo:S048" in group and 'src="/pictures/' in group
        anon = TestClient(app, follow_redirects=False)
        assert anon.get(boxed[0]).status_code in (303, 401)  # behind the login like every page
    finally:
        store.close()


def test_clustering_links_shops_that_reuse_a_photo(swept):
    from leads.clustering import PICTURE_FIELD, cluster

    store, _ = swept
    groups = cluster(store.iter_shops(), pictures=store.iter_listing_pictures())
    group = groups.group_of("demo:S047")
    assert group is not None and group.members == ["demo:S047", "demo:S048"]
    links = [link for link in group.links if link.field == PICTURE_FIELD]
    assert len(links) == 2 and all(link.image.startswith("images/") for link in links)
    assert groups.group_of("demo:S043") is None or all(
        link.field != PICTURE_FIELD for link in groups.group_of("demo:S043").links)


def test_exports_and_bundles_carry_the_pictures(demo_sweep, tmp_path):
    import zipfile

    from leads.bundle import verify_bundle, write_bundle
    from leads.export import export
    from pipelines.evidence import Sealer

    store = open_store(f"sqlite:///{demo_sweep['db']}")
    try:
        csv_path = tmp_path / "f.csv"
        export(store, csv_path, "csv", {"site": "demo", "shop_id": "S043"})
        text = csv_path.read_text(encoding="utf-8-sig")
        assert "图片证据" in text.splitlines()[0]
        assert re.search(r"详情图 sha256:[0-9a-f]{64} 框\[\d+,\d+,\d+,\d+\]", text)
        bundle = tmp_path / "b.zip"
        write_bundle(store, bundle, {"site": "demo", "shop_id": "S043"},
                     evidence_dir=demo_sweep["home"] / "evidence", sealer=Sealer())
    finally:
        store.close()
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        pictures = [n for n in names if n.startswith("pictures/")]
        manifest = json.loads(zf.read("manifest.json"))
        assert pictures and all(n in zf.read("SHA256SUMS").decode() for n in pictures)
        cited = [p for f in manifest["findings"] for p in f["pictures"]]
        assert cited and all(p["file"] in pictures and p["box"] for p in cited)
    check = verify_bundle(bundle)
    assert not check.problems, check.problems


def test_a_hostile_picture_is_refused_before_it_is_decoded():
    """A small PNG claiming 100 000 x 100 000 pixels (a decompression bomb): refused, no memory spent."""
    import struct
    import zlib

    from pipelines.images import analyse, read_image

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    with pytest.raises(ValueError, match="pixels"):
        read_image(bomb)
    result = analyse(bomb)
    assert result["ocr"] == "failed" and result["phash"] == "" and "pixels" in result["error"]
    with pytest.raises(ValueError, match="not a picture"):
        read_image(b"<html>not a picture</html>")


# --------------------------------------------------------------------------- a picture that is gone


def _static_site(root):
    """A real HTTP server on 127.0.0.1 serving the files under ``root`` (404 for the rest)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the sweep's log is what the test reads
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_missing_picture_is_one_warning_line_and_the_sweep_goes_on(tmp_path):
    """Two listings show a picture that is gone (404) and one that is there: the log says the gone
    picture once (its URL, the status, the page), with no traceback; both listings are stored, the
    present picture kept, the gone one marked failed with its status, and the sweep counts the failures."""
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "item").mkdir()
    (site / "img" / "ok.jpg").write_bytes(_picture("detail-L0467"))
    for n, nxt in ((1, 2), (2, None)):
        link = f'<a class="next" href="/item/L{nxt}.html">下一件</a>' if nxt else ""
        (site / "item" / f"L{n}.html").write_text(
            f'<html><body data-listing-id="L{n}"><h1 class="title">商品{n}</h1><div class="gallery">'
            f'<img src="/img/ok.jpg"><img src="/img/gone.jpg"></div>{link}</body></html>', encoding="utf-8")
    server = _static_site(site)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "gone.yml").write_text(f"""\
site: gone
name: 缺图
base_url: {url}
start_urls: ["{{base_url}}/item/L1.html"]
pages:
  listing:
    type: listing
    match: ['^/item/[^/]+\\.html$']
    follow: ['a.next']
    fields: {{listing_id: 'body::attr(data-listing-id)', title: 'h1.title'}}
    images: {{main: 'div.gallery img::attr(src)', min_side: 10}}
""", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    (home / "netsword.yml").write_text(f"sites_dir: {sites}\n", encoding="utf-8")
    try:
        proc = run_cli("crawl", "--site", "gone", "--sweep-id", "gone-1", home=home)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stderr
    assert "Traceback" not in log and "FileException" not in log, log[-3000:]
    said = [line for line in log.splitlines() if "/img/gone.jpg" in line]
    assert len(said) == 1, said
    assert "WARNING" in said[0] and "HTTP 404" in said[0] and f"{url}/item/L1.html" in said[0]
    store = open_store(f"sqlite:///{home / 'netsword.db'}")
    try:
        listings = [store.get_listing(f"gone:L{n}") for n in (1, 2)]
        stats = next(s for s in store.sweeps() if s.sweep_id == "gone-1").stats
    finally:
        store.close()
    for listing in listings:
        ok, gone = listing.images
        assert ok["status"] == "ok" and ok["sha256"] == sha256_bytes(_picture("detail-L0467"))
        assert gone["status"] == "failed" and gone["error"] == "HTTP 404" and not gone.get("sha256")
    assert stats["images/failed"] == 2 and stats["images/stored"] == 2
