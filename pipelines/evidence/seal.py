"""Seals: the unit's signature and a TSA's timestamp over a finished file, and their check.

A sweep's manifest is sealed when the sweep closes; an evidence bundle's ``SHA256SUMS`` when the
bundle is written. Beside the sealed file ``F``:

* ``F.tsr`` -- an RFC 3161 timestamp token (TimeStampResp, DER) over F's SHA-256, from the TSA
  configured as ``tsa_url`` (:mod:`pipelines.evidence.timestamps`);
* ``F.seal.json`` -- the record: ``statement`` (the exact text that was signed, JSON: what F is,
  its SHA-256, the machine's time, the key's fingerprint, the token's SHA-256 or why there is no
  token; for a manifest also its record count and chain head), ``signature`` and ``timestamp``
  (what was done, or why not), ``time_source`` ("TSA <url>" or "machine clock");
* ``F.sig`` -- the unit's signature over the statement (:mod:`pipelines.evidence.signing`).

The token is fetched first and its hash goes into the statement, so the signature also covers
"this token, from this TSA" (a token removed or swapped later is named as such). No key: the
statement is kept unsigned and the record says why. No TSA, or the TSA down: the seal is made
without a token, the record says why, and the time is the machine's own; ``netsword evidence
stamp`` fetches a token later and signs the statement again (the machine's sealing time stays).

:func:`check_seal` checks the three files against the sealed file's current SHA-256, a
:class:`Trust` (the key the signature must verify with; the TSA chain), and for a bundle the key
the bundle carries, to tell "signed by another key" from "signature broken".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from netsword.clock import beijing_time, utc_now
from netsword.digests import sha256_bytes

from .checks import Check, fail, ok, warn
from .signing import KeyFileError, PublicKey, SigningKey, load_public
from .timestamps import TIMEOUT, TimestampError, check_token, load_chain, request_token
from .trust import Trust

FORMAT = "netsword-seal/1"
SEAL, SIG, TSR = ".seal.json", ".sig", ".tsr"


def seal_names(name: str) -> tuple[str, str, str]:
    """The seal record, signature and token names of a sealed file ``name``."""
    return name + SEAL, name + SIG, name + TSR


def canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass
class Sealer:
    """What seals: the unit's key (or why there is none) and the TSA (or none)."""

    key: SigningKey | None = None
    key_problem: str = "没有本单位密钥 / no unit key"
    tsa_url: str = ""
    tsa_chain: bytes | None = None  # PEM: the TSA's chain, carried into bundles
    timeout: float = TIMEOUT

    @classmethod
    def from_config(cls, cfg: Any = None) -> Sealer:
        """The unit's key from the keys folder and the TSA from the configuration (netsword.config)."""
        from netsword import config

        from .keys import load_unit_key

        cfg = cfg or config.current()
        sealer = cls(tsa_url=cfg.tsa_url or "")
        try:
            sealer.key = load_unit_key(cfg.keys_dir)
        except KeyFileError as exc:
            sealer.key_problem = str(exc)
        if cfg.tsa_certs:
            try:
                sealer.tsa_chain = Path(cfg.tsa_certs).read_bytes()
            except OSError:
                sealer.tsa_chain = None
        return sealer


def make_seal(name: str, data: bytes, sealer: Sealer, *, kind: str, extra: Mapping[str, Any] | None = None,
              sealed_at: str = "") -> dict[str, bytes]:
    """Seal ``data`` (the file called ``name``): {file name: content} of its record, signature, token."""
    digest = sha256_bytes(data)
    seal_name, sig_name, tsr_name = seal_names(name)
    out: dict[str, bytes] = {}
    sealed_at = sealed_at or utc_now()
    timestamp: dict[str, Any]
    stamped: dict[str, Any]
    if not sealer.tsa_url:
        stamped = {"none": "no TSA configured"}
        timestamp = {"status": "not configured", "reason_zh": "未配置时间戳服务（tsa_url）",
                     "reason": "no time-stamping authority configured (tsa_url)"}
    else:
        try:
            token = request_token(sealer.tsa_url, data, timeout=sealer.timeout)
        except TimestampError as exc:
            stamped = {"missing": exc.en, "tsa_url": sealer.tsa_url}
            timestamp = {"status": "missing", "tsa_url": sealer.tsa_url, "reason_zh": exc.zh, "reason": exc.en}
        else:
            out[tsr_name] = token
            stamped, timestamp = _stamped(token, digest, sealer, tsr_name)
    statement = {"format": FORMAT, "kind": kind, "file": name, "sha256": digest, "sealed_at": sealed_at,
                 "timestamp": stamped, **(extra or {})}
    record: dict[str, Any] = {"format": FORMAT}
    if sealer.key is not None:
        statement["key"] = sealer.key.public.fingerprint
        statement["algorithm"] = sealer.key.algorithm
        text = canonical(statement)
        out[sig_name] = sealer.key.sign(text.encode("utf-8"))
        record["signature"] = {"status": "signed", "file": sig_name, "algorithm": sealer.key.public.label,
                               "key_fingerprint": sealer.key.public.fingerprint}
    else:
        text = canonical(statement)
        record["signature"] = {"status": "unsigned", "reason": sealer.key_problem}
    record["statement"] = text
    record["timestamp"] = timestamp
    record["time_source"] = f"TSA {sealer.tsa_url}" if tsr_name in out else "machine clock"
    record["time_source_zh"] = f"时间戳服务 {sealer.tsa_url}" if tsr_name in out else "本机时钟"
    record["machine_time"] = sealed_at
    out[seal_name] = (json.dumps(record, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return out


def _stamped(token: bytes, digest: str, sealer: Sealer, tsr_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statement part, record part) of a token just received."""
    roots = _roots(sealer.tsa_chain)
    check = check_token(token, digest, roots)
    stamped = {"token_sha256": sha256_bytes(token), "tsa_url": sealer.tsa_url, "time": check.gen_time}
    record = {"status": "stamped", "file": tsr_name, "tsa_url": sealer.tsa_url, "stamps": f"sha256:{digest}",
              "time": check.gen_time, "time_beijing": check.beijing, "tsa": check.tsa}
    if not check.ok or (roots and not check.signature_checked):
        record["warning"] = f"{check.zh} / {check.en}"  # e.g. tsa_certs is not this TSA's chain
    return stamped, record


def _roots(pem: bytes | None) -> list[x509.Certificate]:
    if not pem:
        return []
    try:
        return load_chain(pem)
    except ValueError:
        return []


def seal_file(path: Path, sealer: Sealer, *, kind: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Seal a file on disk: its ``.seal.json``, ``.sig`` and ``.tsr`` written beside it (old ones
    replaced, a token not got this time removed); returns the record."""
    files = make_seal(path.name, path.read_bytes(), sealer, kind=kind, extra=extra)
    for sidecar in seal_names(path.name)[1:]:
        if sidecar not in files:
            (path.parent / sidecar).unlink(missing_ok=True)
    _write(path.parent, files)
    return json.loads(files[seal_names(path.name)[0]])


def _write(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write the seal's files, the record last (each replaced whole)."""
    for name, content in sorted(files.items(), key=lambda kv: kv[0].endswith(SEAL)):
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(content)
        tmp.replace(folder / name)


class SealError(Exception):
    """A seal that cannot be made again (Chinese / English)."""


def stamp_later(path: Path, sealer: Sealer) -> dict[str, Any]:
    """Fetch the token a sealed file lacks (the TSA was down, or none was configured) and seal it
    again: the same statement plus the token and ``stamped_later`` (the machine's sealing time
    stays). Refuses a file changed since its seal or sealed with another key; TimestampError when
    the TSA still gives no token. Returns the new record."""
    seal_name = seal_names(path.name)[0]
    try:
        record = json.loads((path.parent / seal_name).read_text(encoding="utf-8"))
        statement = json.loads(record["statement"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SealError(f"{path.name} 没有可用的封存记录 / {path.name} has no usable seal "
                        f"({seal_name}): {exc}") from exc
    if not sealer.tsa_url:
        raise SealError("未配置时间戳服务（tsa_url 或 --tsa-url）/ no TSA configured (tsa_url or --tsa-url)")
    if (path.parent / seal_names(path.name)[2]).exists() and (statement.get("timestamp") or {}).get("token_sha256"):
        raise SealError(f"{path.name} 已有时间戳令牌 / {path.name} has its timestamp token already")
    data = path.read_bytes()
    if sha256_bytes(data) != statement.get("sha256"):
        raise SealError(f"{path.name} 在封存后被改动，不能补盖时间戳 / {path.name} changed since it was sealed: "
                        "it will not be stamped (netsword evidence verify says what changed)")
    claimed = statement.get("key")
    if claimed and (sealer.key is None or sealer.key.public.fingerprint != claimed):
        raise SealError(f"{path.name} 由密钥 {claimed} 签名，本机没有该密钥 / "
                        f"{path.name} was signed with key {claimed}, which this machine does not hold")
    if claimed and sealer.key is not None:
        sig = (path.parent / seal_names(path.name)[1]).read_bytes()
        if not sealer.key.public.verify(sig, record["statement"].encode("utf-8")):
            raise SealError(f"{path.name} 的签名无效，不能补盖时间戳 / {path.name}'s signature does not verify: "
                            "it will not be stamped")
    keep = {k: v for k, v in statement.items()
            if k not in ("format", "kind", "file", "sha256", "sealed_at", "timestamp", "key", "algorithm")}
    keep["stamped_later"] = utc_now()
    files = make_seal(path.name, data, sealer, kind=str(statement.get("kind") or ""), extra=keep,
                      sealed_at=str(statement.get("sealed_at") or ""))
    if seal_names(path.name)[2] not in files:
        new = json.loads(files[seal_name])["timestamp"]
        raise TimestampError(str(new.get("reason_zh") or ""), str(new.get("reason") or ""))
    _write(path.parent, files)
    return json.loads(files[seal_name])


# -- checking -----------------------------------------------------------------------------------
@dataclass
class SealCheck:
    checks: list[Check] = field(default_factory=list)
    statement: dict[str, Any] = field(default_factory=dict)
    sealed: bool = False

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)


def check_seal(name: str, digest: str, files: Mapping[str, bytes | None], trust: Trust, *,
               carried_key: PublicKey | None = None, what_zh: str = "", what_en: str = "") -> SealCheck:
    """Check the seal of the file ``name`` whose SHA-256 is now ``digest``.

    ``files``: the seal record, signature and token by name (None or absent: not there);
    ``carried_key``: the public key a bundle carries (to name "signed by another key").
    """
    seal_name, sig_name, tsr_name = seal_names(name)
    result = SealCheck()
    what_zh, what_en = what_zh or name, what_en or name
    raw = files.get(seal_name)
    if raw is None:
        result.checks.append(warn(f"{what_zh} 没有封存记录（{seal_name}）：未签名、无可信时间戳"
                                  "（扫描未正常结束，或封存功能之前的数据）",
                                  f"{what_en} has no seal ({seal_name}): not signed, no trusted time (the sweep did "
                                  "not close, or it predates seals)"))
        return result
    try:
        record = json.loads(raw)
        text = record["statement"]
        statement = json.loads(text)
        assert isinstance(statement, dict) and isinstance(record, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        result.checks.append(fail(f"封存记录 {seal_name} 已损坏", f"the seal record {seal_name} is damaged"))
        return result
    result.sealed, result.statement = True, statement
    if statement.get("sha256") != digest:
        result.checks.append(fail(
            f"{what_zh} 在封存后被改动：SHA-256 现为 {digest[:16]}…，封存时为 {str(statement.get('sha256'))[:16]}…",
            f"{what_en} changed after it was sealed: SHA-256 now {digest[:16]}…, sealed "
            f"{str(statement.get('sha256'))[:16]}…"))
    result.checks.append(_check_signature(text, statement, record, files.get(sig_name), sig_name, trust,
                                          carried_key))
    result.checks.extend(_check_timestamp(statement, record, files.get(tsr_name), tsr_name, digest, trust))
    return result


def _check_signature(text: str, statement: dict[str, Any], record: dict[str, Any], sig: bytes | None,
                     sig_name: str, trust: Trust, carried: PublicKey | None) -> Check:
    claimed = str(statement.get("key") or "")
    if sig is None:
        if not claimed:
            reason = str((record.get("signature") or {}).get("reason") or "")
            if trust.required and trust.key is not None:
                return fail(f"未签名：没有预期密钥 {trust.key.fingerprint} 的签名（{trust.key_source}）",
                            f"not signed: no signature by the expected key {trust.key.fingerprint} "
                            f"({trust.key_source}); the seal says: {reason or 'unsigned'}")
            return warn(f"未签名：{reason}" if reason else "未签名",
                        f"not signed: {reason}" if reason else "not signed")
        return fail(f"签名文件缺失：{sig_name}（封存时已签名，密钥 {claimed}）",
                    f"signature missing: {sig_name} (it was signed when sealed, key {claimed})")
    message = text.encode("utf-8")
    expected = trust.key
    if expected is not None:
        if expected.verify(sig, message):
            return ok(f"签名有效：{expected.label} 密钥 {expected.fingerprint}（{trust.key_source}）",
                      f"signature valid: {expected.label} key {expected.fingerprint} ({trust.key_source})")
        if carried is not None and carried.fingerprint != expected.fingerprint and carried.verify(sig, message):
            return fail(f"由其他密钥签名：签名出自证据包所带的密钥 {carried.fingerprint}，"
                        f"而不是预期的密钥 {expected.fingerprint}（{trust.key_source}）",
                        f"signed by another key: the signature is by the key the bundle carries, "
                        f"{carried.fingerprint}, not by the expected key {expected.fingerprint} ({trust.key_source})")
        if claimed and claimed != expected.fingerprint:
            return fail(f"由其他密钥签名：封存记录写明密钥 {claimed}，签名不能用预期的密钥 {expected.fingerprint} 验证"
                        f"（{trust.key_source}）",
                        f"signed by another key: the seal names key {claimed}; the signature does not verify with "
                        f"the expected key {expected.fingerprint} ({trust.key_source})")
        return fail(f"签名无效：不能用密钥 {expected.fingerprint} 验证（签名或所签内容被改动）",
                    f"signature invalid: does not verify with key {expected.fingerprint} (the signature or what it "
                    "signs was changed)")
    if carried is not None:
        if carried.verify(sig, message):
            return warn(f"签名与证据包所带公钥 {carried.fingerprint} 相符，但未与签发单位的公钥比对："
                        "请用 --public-key 指定，或核对指纹",
                        f"signature valid with the key the bundle carries, {carried.fingerprint}, only: no "
                        "expected key was given (--public-key FILE); compare the fingerprint with the issuing unit's")
        return fail(f"签名无效：不能用证据包所带的公钥 {carried.fingerprint} 验证",
                    f"signature invalid: does not verify with the key the bundle carries, {carried.fingerprint}")
    return warn(f"签名未核验：没有公钥（--public-key 文件）；封存记录写明密钥 {claimed}",
                f"signature not checked: no public key (--public-key FILE); the seal names key {claimed}")


def _check_timestamp(statement: dict[str, Any], record: dict[str, Any], token: bytes | None, tsr_name: str,
                     digest: str, trust: Trust) -> list[Check]:
    stamped = statement.get("timestamp") or {}
    machine = str(statement.get("sealed_at") or "")
    machine_zh = f"封存时本机时间 {beijing_time(machine)}（北京时间）"
    machine_en = f"sealed at {beijing_time(machine)} Beijing time by the machine clock"
    if token is None:
        if stamped.get("token_sha256"):
            return [fail(f"时间戳令牌缺失：{tsr_name}（封存时已取得）", f"timestamp token missing: {tsr_name} (it was "
                         "obtained when sealed)")]
        info = record.get("timestamp") or {}
        reason_zh = str(info.get("reason_zh") or "未配置时间戳服务")
        reason_en = str(info.get("reason") or stamped.get("missing") or "no TSA configured")
        return [warn(f"无可信时间戳：{reason_zh}；时间来源为本机时钟，{machine_zh}",
                     f"no trusted timestamp: {reason_en}; the time source is the machine clock, {machine_en}")]
    out: list[Check] = []
    want = stamped.get("token_sha256")
    if want and sha256_bytes(token) != want:
        out.append(fail(f"时间戳令牌被替换：{tsr_name} 不是封存时取得的令牌",
                        f"timestamp token replaced: {tsr_name} is not the token obtained when sealed"))
    elif not want and statement.get("key"):
        out.append(fail(f"时间戳令牌来历不明：签名的封存内容中没有 {tsr_name}",
                        f"timestamp token not in the signed seal: {tsr_name} was added afterwards"))
    # against the hash that was sealed: a file changed since is named once, above; here, the token
    sealed = str(statement.get("sha256") or digest)
    check = check_token(token, sealed, trust.tsa_roots)
    if not check.ok:
        out.append(fail(f"时间戳令牌无效：{tsr_name}：{check.zh}", f"timestamp token invalid: {tsr_name}: {check.en}"))
    elif not check.signature_checked:
        out.append(warn(f"时间戳令牌与封存的哈希相符，时间 {check.beijing}（北京时间），"
                        "但未核验时间戳服务的签名：没有可信证书链（tsa_certs 或 --tsa-certs）",
                        f"the timestamp token stamps the sealed hash, time {check.beijing} Beijing time, but the TSA's "
                        "signature was not checked: no trusted TSA chain (tsa_certs or --tsa-certs)"))
    else:
        out.append(ok(f"可信时间戳有效：令牌与封存的 SHA-256 相符，由时间戳服务 {check.tsa} 签名"
                      f"（证书链：{trust.tsa_source}），时间 {check.beijing}（北京时间）",
                      f"trusted timestamp valid: the token stamps the sealed SHA-256, signed by TSA {check.tsa} "
                      f"(chain: {trust.tsa_source}), time {check.beijing} Beijing time (UTC {check.gen_time})"))
    return out


def read_public_key_bytes(data: bytes | None) -> PublicKey | None:
    """A carried public key (a bundle's), None when absent or unreadable."""
    if not data:
        return None
    try:
        return load_public(data)
    except KeyFileError:
        return None
