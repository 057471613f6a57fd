"""Evidence of the demo sweep: content-addressed HTML, screenshots, one WARC, the manifest, and
`netsword evidence verify` finding every changed or missing file."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3

import pytest
from cli_helpers import run_cli
from warcio.archiveiterator import ArchiveIterator

from pipelines.evidence import MANIFEST_FIELDS, EvidenceStore, Manifest, manifest_path
from pipelines.evidence.verify import verify_sweep


@pytest.fixture(scope="module")
def evidence(demo_sweep):
    root = demo_sweep["home"] / "evidence"
    sweep = demo_sweep["sweep_id"]
    lines = [json.loads(x) for x in manifest_path(root, sweep).read_text(encoding="utf-8").splitlines()]
    return {"root": root, "sweep": sweep, "lines": lines, "db": demo_sweep["db"], "home": demo_sweep["home"]}


def test_verify_passes_on_an_untouched_sweep(evidence):
    proc = run_cli("evidence", "verify", evidence["sweep"], home=evidence["home"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "— ok" in proc.stdout


def test_manifest_has_one_line_per_page_with_hashes(evidence):
    pictures = [e for e in evidence["lines"] if e["kind"] == "image"]  # a page's pictures follow its line
    lines = [e for e in evidence["lines"] if e["kind"] != "image"]
    for e in pictures:
        assert set(e) == set(MANIFEST_FIELDS) and e["requested_url"] and not e["html_path"]
        assert (evidence["root"] / e["image_path"]).is_file() and len(e["image_sha256"]) == 64
    db = sqlite3.connect(evidence["db"])
    urls = {r[0] for r in db.execute("select url from snapshots where sweep_id=?", (evidence["sweep"],))}
    flagged = {r[0] for r in db.execute("select distinct url from findings where subject_kind='listing'")}
    db.close()
    assert {e["url"] for e in lines} == urls
    for e in lines:
        assert set(e) == set(MANIFEST_FIELDS)
        assert e["sweep_id"] == evidence["sweep"] and e["status"] == 200 and e["fetched_at"].endswith("+00:00")
        assert len(e["html_sha256"]) == 64 and (evidence["root"] / e["html_path"]).is_file()
    # a screenshot of every browser page and of every listing with a finding
    shot = {e["url"]: e for e in lines if e["screenshot_sha256"]}
    assert {e["url"] for e in lines if e["rendered"]} <= set(shot)
    assert flagged and flagged <= set(shot)
    for e in shot.values():
        assert (evidence["root"] / e["screenshot_path"]).read_bytes()[:4] == b"\x89PNG"


def test_one_warc_with_request_response_conversion_and_screenshot_records(evidence):
    folder = evidence["root"] / "warc" / evidence["sweep"]
    segments = sorted(folder.glob("*.warc.gz"))
    assert len(segments) == 1
    types: dict[str, int] = {}
    targets = set()
    with open(segments[0], "rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            kind = record.rec_type
            types[kind] = types.get(kind, 0) + 1
            record.content_stream().read()
            if kind in ("response", "conversion"):
                targets.add(record.rec_headers.get_header("WARC-Target-URI"))
                assert record.rec_headers.get_header("WARC-Date")
    lines = evidence["lines"]
    rendered = sum(1 for e in lines if e["rendered"])
    assert types["warcinfo"] == 1
    assert types["conversion"] == rendered
    assert types["request"] == types["response"] + types["conversion"]
    assert types["resource"] == sum(1 for e in lines if e["screenshot_sha256"])
    assert {e["url"] for e in lines} <= targets
    assert any(t.endswith("/robots.txt") for t in targets)  # also what yields no item


def test_verify_reports_changed_and_missing_files(evidence, tmp_path):
    root = tmp_path / "evidence"
    shutil.copytree(evidence["root"], root)
    lines = evidence["lines"]
    html = next(e for e in lines if e["kind"] == "listing")
    shot = next(e for e in lines if e["screenshot_path"])
    (root / html["html_path"]).write_bytes(gzip.compress(b"<html>forged</html>"))
    (root / shot["screenshot_path"]).unlink()
    warc = next((root / "warc" / evidence["sweep"]).glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))

    report = verify_sweep(root, evidence["sweep"])
    assert not report.ok
    assert any(html["html_path"] in c for c in report.changed)
    assert any(shot["screenshot_path"] in m for m in report.missing)
    assert any(".warc.gz" in c for c in report.changed)

    manifest = manifest_path(root, evidence["sweep"])
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"status": 200', '"status": 404', 1))
    assert any(manifest.name in c for c in verify_sweep(root, evidence["sweep"]).changed)


def test_verify_hands_zip_bundles_to_the_analyst_tools(evidence, tmp_path):
    pytest.importorskip("leads.bundle")
    bad = tmp_path / "bundle.zip"
    bad.write_bytes(b"not a zip")
    proc = run_cli("evidence", "verify", str(bad), home=evidence["home"])
    assert proc.returncode == 1
    assert "zip" in proc.stdout


def test_store_files_are_content_addressed_and_never_rewritten(tmp_path):
    store = EvidenceStore(tmp_path)
    a = store.put_html(b"<html>1</html>")
    assert store.put_html(b"<html>1</html>") == a
    assert (tmp_path / a[1]).read_bytes() == gzip.compress(b"<html>1</html>", compresslevel=5, mtime=0)
    first = store.put_screenshot(b"\x89PNG first", a[0])
    assert store.put_screenshot(b"\x89PNG second", a[0]) == first  # the first picture of an HTML stays


def test_manifest_drops_a_half_written_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "a"}\n{"url": "b', encoding="utf-8")
    manifest = Manifest(path)
    manifest.write({"url": "c"})
    manifest.close()
    urls = [json.loads(x)["url"] for x in path.read_text(encoding="utf-8").splitlines()]
    assert urls == ["a", "c"]
    assert (tmp_path / "m.jsonl.sha256").is_file()
