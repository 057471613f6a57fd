"""Trusted evidence (issue 15, items 1, 2, 7): the sweep manifest is a hash chain, sealed when the sweep
closes with the unit's signature and an RFC 3161 token from a real TSA (OpenSSL's `openssl ts -reply`
on 127.0.0.1, a test CA made for the session); bundles carry all of it. `netsword evidence verify`
names each kind of tampering: a page edited, a manifest line dropped, two lines swapped, a timestamp
token changed, a re-signature with another key."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cli_helpers import run_cli
from tsa_server import TestTSA, closed_port_url

from crawler.items import ListingItem
from netsword import config
from pipelines.evidence import (
    EvidencePipeline,
    Manifest,
    Sealer,
    check_chain,
    init_keys,
    load_trust,
    make_seal,
    manifest_path,
    verify_sweep,
)
from pipelines.evidence.chain import line_hash
from pipelines.evidence.signing import SM2, generate, load_public

SWEEP = "demo-e2e"


# -- helpers ----------------------------------------------------------------------------------
def out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def rechain(lines: list[str]) -> list[str]:
    """What a forger who knows the format does: renumber and re-link every line (no secret needed)."""
    out_lines, prev = [], ""
    for n, line in enumerate(lines, 1):
        entry = json.loads(line)
        entry["seq"], entry["prev"] = n, prev
        text = json.dumps(entry, ensure_ascii=False)
        prev = line_hash(text.encode())
        out_lines.append(text + "\n")
    return out_lines


def token_a_year_later(token: bytes) -> bytes:
    """The token with its time (GeneralizedTime YYYYMMDDHHMMSSZ, tag 0x18 length 15) one year later."""
    at = token.find(b"\x18\x0f") + 2
    return token[:at] + str(int(token[at:at + 4]) + 1).encode() + token[at + 4:]


def sweep_with_pages(root: Path, sealer: Sealer | None, n: int = 5, sweep: str = "s1") -> None:
    """A sweep through the real EvidencePipeline: n pages, then close (the seal is made there)."""

    async def main() -> None:
        pipe = EvidencePipeline(root, finding_screenshots=False, sealer=sealer)
        pipe.open_spider(type("Spider", (), {"sweep_id": sweep})())
        for i in range(n):
            html = f"<html><body>商品 {i} 高仿</body></html>".encode()
            await pipe.process_item(ListingItem(url=f"http://shop.test/item/{i}.html", site="shop", listing_id=str(i),
                                                status=200, html=html, sweep_id=sweep,
                                                fetched_at="2026-11-23T19:11:00+00:00"))
        await pipe.close_spider()

    asyncio.run(main())


@pytest.fixture(scope="module")
def unit(demo_sweep):
    """The demo sweep's unit: its home, public key file and fingerprint (from `netsword keys show`)."""
    home = demo_sweep["home"]
    proc = run_cli("keys", "show", home=home)
    assert proc.returncode == 0, out(proc)
    fingerprint = next(x.split()[-1] for x in proc.stdout.splitlines() if x.startswith("指纹 / fingerprint"))
    return {"home": home, "pub": home / "keys" / "unit.pub.pem", "fingerprint": fingerprint,
            "evidence": home / "evidence"}


@pytest.fixture
def forged_evidence(unit, tmp_path):
    """A private copy of the demo sweep's evidence folder, to tamper with."""
    root = tmp_path / "evidence"
    shutil.copytree(unit["evidence"], root)
    return root


def verify_copy(unit, root: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("evidence", "verify", SWEEP, "--evidence-dir", str(root), "--public-key", str(unit["pub"]), *extra,
                   home=unit["home"])


# -- keys -------------------------------------------------------------------------------------
def test_keys_init_show_and_no_overwrite_without_force(tmp_path):
    home = tmp_path / "home"
    proc = run_cli("keys", "init", home=home)
    assert proc.returncode == 0, out(proc)
    key, pub = home / "keys" / "unit.key", home / "keys" / "unit.pub.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    show = run_cli("keys", "show", home=home)
    assert show.returncode == 0 and "Ed25519" in show.stdout and "-----BEGIN PUBLIC KEY-----" in show.stdout
    # the fingerprint is the SHA-256 of the public key's DER, as OpenSSL computes it
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pub), "-outform", "DER"], capture_output=True,
                         check=True).stdout
    assert f"sha256:{hashlib.sha256(der).hexdigest()}" in show.stdout
    before = key.read_bytes()
    again = run_cli("keys", "init", home=home)
    assert again.returncode != 0 and "--force" in again.stderr and key.read_bytes() == before
    forced = run_cli("keys", "init", "--force", home=home)
    assert forced.returncode == 0 and key.read_bytes() != before and key.stat().st_mode & 0o777 == 0o600
    assert run_cli("keys", "show", home=tmp_path / "empty").returncode != 0  # no key: says so


def test_sm2_keys_sign_what_openssl_verifies(tmp_path):
    """The SM2/SM3 option (gmssl): keys in standard encodings, signatures OpenSSL checks too."""
    proc = run_cli("keys", "init", "--algorithm", "sm2", "--keys-dir", str(tmp_path / "k"), home=tmp_path)
    assert proc.returncode == 0 and "SM2/SM3" in proc.stdout, out(proc)
    key = init_keys(tmp_path / "k2", SM2)
    message = b'{"statement":"sm2"}'
    sig = key.sign(message)
    assert key.public.verify(sig, message) and not key.public.verify(sig, message + b" ")
    assert not generate(SM2).public.verify(sig, message)
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "m.sig").write_bytes(sig)
    check = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "k2" / "unit.pub.pem"),
                            "-rawin", "-in", str(tmp_path / "m"), "-sigfile", str(tmp_path / "m.sig"), "-digest", "sm3",
                            "-pkeyopt", "distid:1234567812345678"], capture_output=True, text=True)
    assert check.returncode == 0 and "Verified Successfully" in check.stdout, check.stderr
    assert load_public((tmp_path / "k2" / "unit.pub.pem").read_bytes()) == key.public


def test_config_keys_for_the_tsa_and_the_keys_folder(tmp_path, monkeypatch):
    for var in ("NETSWORD_CONFIG", "NETSWORD_KEYS_DIR", "NETSWORD_TSA_URL", "NETSWORD_TSA_CERTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETSWORD_HOME", str(tmp_path))
    cfg = config.current()
    assert cfg.keys_dir == tmp_path / "keys" and cfg.tsa_url == "" and cfg.tsa_certs is None
    (tmp_path / "netsword.yml").write_text("tsa_url: http://tsa.file/\ntsa_certs: tsa.pem\nkeys_dir: k\n",
                                           encoding="utf-8")
    cfg = config.current()
    assert (cfg.tsa_url, cfg.tsa_certs, cfg.keys_dir) == ("http://tsa.file/", tmp_path / "tsa.pem", tmp_path / "k")
    monkeypatch.setenv("NETSWORD_TSA_URL", "http://tsa.env/")
    assert config.current().tsa_url == "http://tsa.env/"
    assert config.current(tsa_url="http://tsa.cli/").tsa_url == "http://tsa.cli/"


# -- timestamp tokens ---------------------------------------------------------------------------
def test_tokens_from_the_tsa_are_checked_offline_and_each_fault_named(tsa):
    from pipelines.evidence.timestamps import check_token, load_chain, request_token

    data = b"manifest bytes"
    digest = hashlib.sha256(data).hexdigest()
    token = request_token(tsa.url, data)
    roots = load_chain(tsa.chain.read_bytes())
    good = check_token(token, digest, roots)
    assert good.ok and good.signature_checked and good.tsa == "CN=netsword test TSA"
    assert good.beijing.endswith("+08:00")
    assert "not the file's SHA-256" in check_token(token, hashlib.sha256(b"other").hexdigest(), roots).en
    # a year later: still within the test TSA certificate's ten years, but the signature covers the time
    assert "the TSA's signature does not verify" in check_token(token_a_year_later(token), digest, roots).en
    at = token.find(b"\x18\x0f") + 2
    a_year_back = token[:at] + str(int(token[at:at + 4]) - 1).encode() + token[at + 4:]
    assert "outside the TSA certificate's validity" in check_token(a_year_back, digest, roots).en
    with TestTSA("rogue") as rogue:
        assert "not issued by the trusted TSA (issuer CN=rogue TSA" in check_token(
            request_token(rogue.url, data), digest, roots).en
    assert "cannot be parsed" in check_token(token[:100], digest, roots).en
    unchecked = check_token(token, digest, None)  # no chain: the hash only, and it says so
    assert unchecked.ok and not unchecked.signature_checked


# -- the hash chain -----------------------------------------------------------------------------
def test_a_resumed_manifest_goes_on_with_the_chain(tmp_path):
    path = tmp_path / "m.jsonl"
    first = Manifest(path)
    for i in range(3):
        first.write({"url": f"u{i}"})
    first.flush()
    with open(path, "a", encoding="utf-8") as fh:  # a kill in the middle of a line
        fh.write('{"url": "half')
    second = Manifest(path)  # the resumed sweep
    for i in range(3, 5):
        second.write({"url": f"u{i}"})
    second.close()
    entries = [json.loads(x) for x in lines_of(path)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5] and entries[0]["prev"] == ""
    report = check_chain(path.read_bytes(), path.name, sealed_lines=5, sealed_head=second.head)
    assert report.ok and "hash chain intact: 5 records" in report.checks[-1].en


def test_chain_names_each_break(tmp_path):
    path = tmp_path / "m.jsonl"
    m = Manifest(path)
    for i in range(8):
        m.write({"url": f"u{i}"})
    m.close()
    lines = lines_of(path)

    def found(new: list[str], **sealed: object) -> str:
        report = check_chain("".join(new).encode(), "m.jsonl", **sealed)
        assert not report.ok
        return " | ".join(c.text() for c in report.checks if c.failed)

    assert "records removed: m.jsonl lacks record #4 (between lines 3 and 4)" in found(lines[:3] + lines[4:])
    assert "第 4 条记录" in found(lines[:3] + lines[4:])
    swapped = found([*lines[:2], lines[3], lines[2], *lines[4:]])
    assert "records reordered: m.jsonl line 3 holds record #4, line 4 holds record #3" in swapped
    changed = [*lines[:5], lines[5].replace('"u5"', '"u9"'), *lines[6:]]
    assert "record changed: m.jsonl line 6 (record #6)" in found(changed)
    assert "manifest truncated: m.jsonl was sealed with 8 records; records #7–#8 missing at the end" in found(
        lines[:6], sealed_lines=8, sealed_head=m.head)


# -- sweeps -----------------------------------------------------------------------------------
def test_demo_sweep_manifest_is_signed_and_stamped_by_the_tsa(unit, tsa):
    proc = run_cli("evidence", "verify", SWEEP, home=unit["home"])
    text = out(proc)
    assert proc.returncode == 0, text
    assert "✓ 哈希链完整" in text and "hash chain intact" in text
    assert f"signature valid: Ed25519 key {unit['fingerprint']}" in text
    assert "trusted timestamp valid: the token stamps the sealed SHA-256, signed by TSA CN=netsword test TSA" in text
    assert "+08:00（北京时间）" in text and "Beijing time" in text
    mpath = manifest_path(unit["evidence"], SWEEP)
    record = json.loads(Path(f"{mpath}.seal.json").read_text(encoding="utf-8"))
    assert record["time_source"] == f"TSA {tsa.url}" and record["signature"]["key_fingerprint"] == unit["fingerprint"]
    statement = json.loads(record["statement"])
    assert statement["lines"] == len(lines_of(mpath)) and statement["sweep_id"] == SWEEP
    # the same files check without netsword: OpenSSL's own verifiers
    ts = subprocess.run(["openssl", "ts", "-verify", "-data", str(mpath), "-in", f"{mpath}.tsr", "-CAfile",
                         str(tsa.chain)], capture_output=True, text=True)
    assert ts.returncode == 0 and "Verification: OK" in ts.stdout, ts.stderr
    stmt = mpath.parent / "statement.json"
    stmt.write_text(record["statement"], encoding="utf-8")
    sig = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(unit["pub"]), "-rawin", "-in",
                          str(stmt), "-sigfile", f"{mpath}.sig"], capture_output=True, text=True)
    stmt.unlink()
    assert sig.returncode == 0, sig.stderr


def test_tampering_with_a_sweep_is_named(unit, forged_evidence, tsa):
    """Each kind of tampering, planted in a copy of the demo sweep's evidence, and what verify says."""
    root = forged_evidence
    mpath = manifest_path(root, SWEEP)
    original = {p: p.read_bytes() for p in mpath.parent.iterdir()}

    def restore() -> None:
        for p, data in original.items():
            p.write_bytes(data)

    # 1. a page edited
    entries = [json.loads(x) for x in lines_of(mpath)]
    page = next(e for e in entries if e["kind"] == "listing")
    html_file = root / page["html_path"]
    kept = html_file.read_bytes()
    html_file.write_bytes(gzip.compress(gzip.decompress(kept).replace("¥".encode(), b"$") + b"<!-- -->"))
    proc = verify_copy(unit, root)
    assert proc.returncode == 1 and f"✗ 已改动 / CHANGED {page['html_path']}: sha256" in proc.stdout, out(proc)
    html_file.write_bytes(kept)

    # 2. a manifest line dropped
    lines = lines_of(mpath)
    mpath.write_text("".join(lines[:9] + lines[10:]), encoding="utf-8")
    proc = verify_copy(unit, root)
    assert proc.returncode == 1
    assert "记录被删除" in proc.stdout and "records removed: demo-e2e.jsonl lacks record #10 (between lines 9 and 10)" \
        in proc.stdout, out(proc)
    restore()

    # 3. two lines swapped
    mpath.write_text("".join([*lines[:20], lines[21], lines[20], *lines[22:]]), encoding="utf-8")
    proc = verify_copy(unit, root)
    assert proc.returncode == 1
    assert "记录顺序被调换" in proc.stdout and \
        "records reordered: demo-e2e.jsonl line 21 holds record #22, line 22 holds record #21" in proc.stdout, out(proc)
    restore()

    # 4. the timestamp token changed: its time a year later; then a token from another TSA for the same hash
    tsr = Path(f"{mpath}.tsr")
    tsr.write_bytes(token_a_year_later(tsr.read_bytes()))
    proc = verify_copy(unit, root)
    assert proc.returncode == 1
    assert "timestamp token replaced: demo-e2e.jsonl.tsr is not the token obtained when sealed" in proc.stdout
    assert "时间戳令牌无效" in proc.stdout and \
        "timestamp token invalid: demo-e2e.jsonl.tsr: the TSA's signature does not verify (the token was changed)" \
        in proc.stdout, out(proc)
    with TestTSA("rogue") as rogue:
        from pipelines.evidence.timestamps import request_token

        tsr.write_bytes(request_token(rogue.url, mpath.read_bytes()))
    proc = verify_copy(unit, root)
    assert proc.returncode == 1
    assert "the token was not issued by the trusted TSA (issuer CN=rogue TSA" in proc.stdout, out(proc)
    restore()

    # 5. re-signed with another key: a line dropped, the chain rebuilt, the .sha256 and the seal made
    #    again (a fresh token from the real TSA included) -- only the signature gives it away
    forged = rechain(lines[:9] + lines[10:])
    mpath.write_text("".join(forged), encoding="utf-8")
    from netsword.digests import sha256_file

    Path(f"{mpath}.sha256").write_text(f"{sha256_file(mpath)}  {mpath.name}\n", encoding="utf-8")
    other = generate()
    files = make_seal(mpath.name, mpath.read_bytes(), Sealer(key=other, tsa_url=tsa.url), kind="sweep manifest",
                      extra={"sweep_id": SWEEP, "lines": len(forged), "chain_head": line_hash(forged[-1].encode())})
    for name, content in files.items():
        (mpath.parent / name).write_bytes(content)
    proc = verify_copy(unit, root)
    text = proc.stdout
    assert proc.returncode == 1
    assert "hash chain intact" in text and "trusted timestamp valid" in text  # the forgery is consistent ...
    assert "由其他密钥签名" in text and f"signed by another key: the seal names key {other.public.fingerprint}; the " \
        f"signature does not verify with the expected key {unit['fingerprint']}" in text, out(proc)  # ... but not ours
    restore()
    assert verify_copy(unit, root).returncode == 0  # all put back: it verifies again


def test_no_tsa_configured_the_sweep_works_and_says_machine_clock(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("NETSWORD_HOME", str(home))
    for var in ("NETSWORD_CONFIG", "NETSWORD_KEYS_DIR", "NETSWORD_TSA_URL", "NETSWORD_TSA_CERTS"):
        monkeypatch.delenv(var, raising=False)
    init_keys(home / "keys")
    root = home / "evidence"
    sweep_with_pages(root, sealer=None)  # the unit's key and (no) TSA from the configuration
    mpath = manifest_path(root, "s1")
    record = json.loads(Path(f"{mpath}.seal.json").read_text(encoding="utf-8"))
    assert record["time_source"] == "machine clock" and record["timestamp"]["status"] == "not configured"
    assert record["signature"]["status"] == "signed" and not Path(f"{mpath}.tsr").exists()
    proc = run_cli("evidence", "verify", "s1", home=home)
    assert proc.returncode == 0, out(proc)
    assert "无可信时间戳" in proc.stdout and "no trusted timestamp: no time-stamping authority configured (tsa_url); " \
        "the time source is the machine clock" in proc.stdout
    assert "signature valid" in proc.stdout


def test_no_key_and_no_tsa_the_sweep_still_works(tmp_path):
    root = tmp_path / "evidence"
    sweep_with_pages(root, Sealer(key_problem="没有本单位密钥 / no unit key (netsword keys init)"))
    report = verify_sweep(root, "s1", load_trust(cfg=config.current(home=tmp_path)))
    assert report.ok and report.manifest_lines == 5
    assert any("not signed: 没有本单位密钥 / no unit key" in c.en for c in report.checks)


def test_tsa_down_at_sweep_end_the_sweep_finishes_and_stamp_fetches_it_later(tmp_path, tsa):
    home = tmp_path / "home"
    key = init_keys(home / "keys")
    root = home / "evidence"
    down = closed_port_url()
    sweep_with_pages(root, Sealer(key=key, tsa_url=down, tsa_chain=tsa.chain.read_bytes()))
    mpath = manifest_path(root, "s1")
    record = json.loads(Path(f"{mpath}.seal.json").read_text(encoding="utf-8"))
    assert record["timestamp"]["status"] == "missing" and record["time_source"] == "machine clock"
    assert f"TSA {down} unreachable" in record["timestamp"]["reason"]
    assert "无法连接时间戳服务" in record["timestamp"]["reason_zh"]
    proc = run_cli("evidence", "verify", "s1", home=home)
    assert proc.returncode == 0 and f"no trusted timestamp: TSA {down} unreachable" in proc.stdout, out(proc)

    proc = run_cli("evidence", "stamp", "s1", "--tsa-url", tsa.url, home=home)
    assert proc.returncode == 0 and "北京时间 / Beijing time" in proc.stdout, out(proc)
    record = json.loads(Path(f"{mpath}.seal.json").read_text(encoding="utf-8"))
    assert record["time_source"] == f"TSA {tsa.url}" and json.loads(record["statement"])["stamped_later"]
    proc = run_cli("evidence", "verify", "s1", "--tsa-certs", str(tsa.chain), home=home)
    assert proc.returncode == 0 and "trusted timestamp valid" in proc.stdout and "signature valid" in proc.stdout, \
        out(proc)
    again = run_cli("evidence", "stamp", "s1", "--tsa-url", tsa.url, home=home)
    assert again.returncode != 0 and "has its timestamp token already" in again.stderr


# -- bundles ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(unit, tmp_path_factory):
    """An evidence bundle of the demo sweep's counterfeit findings, exported by the unit."""
    path = tmp_path_factory.mktemp("bundle") / "b.zip"
    proc = run_cli("export", "--format", "zip", "-o", str(path), "--category", "网络销售假冒伪劣商品",
                   home=unit["home"])
    assert proc.returncode == 0, out(proc)
    return path


def rewrite(src: Path, dst: Path, changes: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in changes and changes[name] is None:
                continue
            zout.writestr(name, changes.get(name) or zin.read(name))
        for name, data in changes.items():
            if name not in zin.namelist() and data is not None:
                zout.writestr(name, data)
    return dst


def verify_elsewhere(path: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`netsword evidence verify BUNDLE` on "another machine": an empty home (no keys, no config)."""
    return run_cli("evidence", "verify", str(path), *args, home=tmp_path / "elsewhere")


def test_bundle_carries_manifests_seals_and_key_and_verifies_elsewhere(bundle, unit, tmp_path):
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        assert {f"manifests/{SWEEP}.jsonl", f"manifests/{SWEEP}.jsonl.seal.json", f"manifests/{SWEEP}.jsonl.sig",
                f"manifests/{SWEEP}.jsonl.tsr", "keys/unit.pub.pem", "tsa/chain.pem", "SHA256SUMS.seal.json",
                "SHA256SUMS.sig", "SHA256SUMS.tsr"} <= names
        assert zf.read("keys/unit.pub.pem") == unit["pub"].read_bytes()
    proc = verify_elsewhere(bundle, tmp_path, "--public-key", str(unit["pub"]))
    text = out(proc)
    assert proc.returncode == 0, text
    assert "file hashes hold" in text
    assert f"bundle: signature valid: Ed25519 key {unit['fingerprint']}" in text
    assert "bundle: trusted timestamp valid" in text and "(chain: tsa/chain.pem in the bundle)" in text
    assert f"sweep manifest {SWEEP}.jsonl: hash chain intact" in text
    assert f"sweep manifest {SWEEP}.jsonl: signature valid" in text
    assert "every page snapshot" in text and "✗" not in text
    # without the expected key: it says the signer is not confirmed, and whose key it is
    proc = verify_elsewhere(bundle, tmp_path)
    assert proc.returncode == 0 and f"signature valid with the key the bundle carries, {unit['fingerprint']}, only" \
        in proc.stdout, out(proc)


def test_tampering_with_a_bundle_is_named(bundle, unit, tmp_path, tsa):
    with zipfile.ZipFile(bundle) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    pub = ("--public-key", str(unit["pub"]))

    # 1. a page edited
    snap = next(n for n in members if n.startswith("snapshots/"))
    proc = verify_elsewhere(rewrite(bundle, tmp_path / "1.zip", {snap: members[snap].replace(b"</body>", b"x</body>")}),
                            tmp_path, *pub)
    assert proc.returncode == 1 and f"hash mismatch (file changed): {snap}" in proc.stdout, out(proc)

    # 2. a manifest line dropped; 3. two lines swapped
    mname = f"manifests/{SWEEP}.jsonl"
    lines = members[mname].decode().splitlines(keepends=True)
    proc = verify_elsewhere(rewrite(bundle, tmp_path / "2.zip", {mname: "".join(lines[:4] + lines[5:]).encode()}),
                            tmp_path, *pub)
    assert proc.returncode == 1
    assert f"sweep manifest {SWEEP}.jsonl: records removed: {SWEEP}.jsonl lacks record #5 (between lines 4 and 5)" \
        in proc.stdout, out(proc)
    proc = verify_elsewhere(rewrite(bundle, tmp_path / "3.zip",
                                    {mname: "".join([*lines[:7], lines[8], lines[7], *lines[9:]]).encode()}),
                            tmp_path, *pub)
    assert proc.returncode == 1
    assert f"records reordered: {SWEEP}.jsonl line 8 holds record #9, line 9 holds record #8" in proc.stdout, out(proc)

    # 4. the bundle's timestamp token changed
    token = bytearray(members["SHA256SUMS.tsr"])
    token[-3] ^= 0x01  # in the TSA's signature
    proc = verify_elsewhere(rewrite(bundle, tmp_path / "4.zip", {"SHA256SUMS.tsr": bytes(token)}), tmp_path, *pub)
    assert proc.returncode == 1
    assert "bundle: timestamp token replaced: SHA256SUMS.tsr" in proc.stdout
    assert "bundle: timestamp token invalid: SHA256SUMS.tsr: the TSA's signature does not verify" in proc.stdout, \
        out(proc)

    # 5. re-signed with another key: the forger's public key put in, manifest.json and SHA256SUMS made
    #    again to match, the bundle sealed with the forger's key (and a fresh token from the real TSA)
    from netsword.digests import sha256_bytes

    other = generate()
    forged = dict(members)
    forged["keys/unit.pub.pem"] = other.public.pem()
    listing = json.loads(forged["manifest.json"])
    listing["files"]["keys/unit.pub.pem"] = {"sha256": sha256_bytes(other.public.pem()), "size": 0}
    forged["manifest.json"] = json.dumps(listing, ensure_ascii=False).encode()
    sums = "".join(f"{sha256_bytes(data)}  {name}\n" for name, data in sorted(forged.items())
                   if name not in ("SHA256SUMS", "SHA256SUMS.seal.json", "SHA256SUMS.sig", "SHA256SUMS.tsr"))
    forged["SHA256SUMS"] = sums.encode()
    forged.update(make_seal("SHA256SUMS", forged["SHA256SUMS"], Sealer(key=other, tsa_url=tsa.url),
                            kind="evidence bundle", extra={"bundle_format": "netsword-evidence-bundle/2"}))
    path = rewrite(bundle, tmp_path / "5.zip", forged)
    proc = verify_elsewhere(path, tmp_path, *pub)
    assert proc.returncode == 1
    assert "由其他密钥签名" in proc.stdout and f"bundle: signed by another key: the signature is by the key the " \
        f"bundle carries, {other.public.fingerprint}, not by the expected key {unit['fingerprint']}" in proc.stdout, \
        out(proc)
    assert "bundle: trusted timestamp valid" in proc.stdout  # the forger got a real token: time proves nothing here
    # with no expected key: the sweep manifest inside, still signed by the unit, gives the other key away
    proc = verify_elsewhere(path, tmp_path)
    assert proc.returncode == 1 and f"sweep manifest {SWEEP}.jsonl: signature invalid: does not verify with the key " \
        f"the bundle carries, {other.public.fingerprint}" in proc.stdout, out(proc)
    # a forger who seals the manifest again too: only the expected key tells (without it, the report
    # says that the signer is not confirmed, and shows whose key it is)
    statement = json.loads(json.loads(forged[f"{mname}.seal.json"])["statement"])
    forged.update({f"manifests/{n}": data for n, data in make_seal(
        f"{SWEEP}.jsonl", forged[mname], Sealer(key=other, tsa_url=tsa.url), kind="sweep manifest",
        extra={k: statement[k] for k in ("sweep_id", "lines", "chain_head")}).items()})
    listing["files"].update({n: {"sha256": sha256_bytes(forged[n]), "size": 0} for n in listing["files"]
                             if n.startswith("manifests/")})
    forged["manifest.json"] = json.dumps(listing, ensure_ascii=False).encode()
    sums = "".join(f"{sha256_bytes(data)}  {name}\n" for name, data in sorted(forged.items())
                   if name not in ("SHA256SUMS", "SHA256SUMS.seal.json", "SHA256SUMS.sig", "SHA256SUMS.tsr"))
    forged["SHA256SUMS"] = sums.encode()
    forged.update(make_seal("SHA256SUMS", forged["SHA256SUMS"], Sealer(key=other, tsa_url=tsa.url),
                            kind="evidence bundle", extra={"bundle_format": "netsword-evidence-bundle/2"}))
    path = rewrite(bundle, tmp_path / "6.zip", forged)
    proc = verify_elsewhere(path, tmp_path)
    assert proc.returncode == 0 and f"the bundle carries, {other.public.fingerprint}, only" in proc.stdout, out(proc)
    assert "✗" not in proc.stdout
    proc = verify_elsewhere(path, tmp_path, *pub)
    assert proc.returncode == 1, out(proc)
    assert f"bundle: signed by another key: the signature is by the key the bundle carries, " \
        f"{other.public.fingerprint}, not by the expected key {unit['fingerprint']}" in proc.stdout
    assert f"sweep manifest {SWEEP}.jsonl: signed by another key" in proc.stdout

    # 7. the signature stripped (the bundle sealed again, unsigned): with the expected key given, that fails too
    stripped = {n: d for n, d in members.items() if n not in ("SHA256SUMS.sig", "SHA256SUMS.seal.json")}
    stripped.update(make_seal("SHA256SUMS", members["SHA256SUMS"], Sealer(), kind="evidence bundle"))
    stripped["SHA256SUMS.sig"] = None
    proc = verify_elsewhere(rewrite(bundle, tmp_path / "7.zip", stripped), tmp_path, *pub)
    assert proc.returncode == 1 and f"bundle: not signed: no signature by the expected key {unit['fingerprint']}" \
        in proc.stdout, out(proc)
