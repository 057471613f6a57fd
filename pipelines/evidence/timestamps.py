"""Trusted timestamps (RFC 3161) from a time-stamping authority, with ``rfc3161-client``.

:func:`request_token` sends a TimeStampReq (SHA-256 of the data, a nonce, "include your
certificate") to the TSA over HTTP (``application/timestamp-query``) and returns the
TimeStampResp it answered, after checking it: granted, our nonce, our hash. That response is
what netsword keeps (``.tsr``); ``openssl ts -reply -in X.tsr -text`` shows it and
``openssl ts -verify -data FILE -in X.tsr -CAfile TSA-CHAIN.pem`` checks it without netsword.

:func:`check_token` checks a kept token offline: the hash it stamps is the file's, the TSA's
signature over it holds and chains to a trusted TSA certificate (the chain file configured as
``tsa_certs``, or given with ``--tsa-certs``), with the TSA certificate's timeStamping key usage;
certificates are checked as of the token's own time (a TSA certificate that expired since does
not spoil old tokens). Without a trusted chain only the hash is checked, and the result says so
(``signature_checked`` False).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from cryptography import x509

from netsword.clock import beijing_time

#: SHA-256's OID, the only hash netsword asks TSAs for
SHA256_OID = "2.16.840.1.101.3.4.2.1"
TIMEOUT = 10.0


class TimestampError(Exception):
    """No token: why, in Chinese and English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def request_token(url: str, data: bytes, *, timeout: float = TIMEOUT) -> bytes:
    """A TimeStampResp (DER) for ``data`` from the TSA at ``url``; TimestampError when there is none."""
    from rfc3161_client import HashAlgorithm, PKIStatus, TimestampRequestBuilder, decode_timestamp_response

    req = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
           .cert_request(cert_request=True).nonce(nonce=True).build())
    http = urllib.request.Request(url, data=req.as_bytes(), method="POST", headers={
        "Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"时间戳服务 {url} 返回 HTTP {exc.code}", f"TSA {url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TimestampError(f"无法连接时间戳服务 {url}（{reason}）", f"TSA {url} unreachable ({reason})") from exc
    try:
        tsr = decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampError(f"时间戳服务 {url} 的应答无法解析", f"TSA {url} sent an unreadable answer "
                             f"({str(exc)[:120]})") from exc
    if tsr.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = "; ".join(tsr.status_string) or f"status {tsr.status}"
        raise TimestampError(f"时间戳服务 {url} 拒绝：{text}", f"TSA {url} refused: {text}")
    if tsr.tst_info.nonce != req.nonce:
        raise TimestampError(f"时间戳服务 {url} 的应答不是对本次请求的（nonce 不符）",
                             f"TSA {url} answered another request (nonce differs)")
    if tsr.tst_info.message_imprint.message != req.message_imprint.message:
        raise TimestampError(f"时间戳服务 {url} 盖戳的哈希与请求不符", f"TSA {url} stamped another hash")
    return body


def load_chain(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM chain file (TSA certificate, intermediates, root), any order."""
    return x509.load_pem_x509_certificates(pem)


@dataclass
class TokenCheck:
    ok: bool
    zh: str = ""  # what is wrong (when not ok)
    en: str = ""
    gen_time: str = ""  # ISO 8601 UTC, the TSA's time
    tsa: str = ""  # the TSA certificate's subject
    #: the TSA's signature checked against a trusted chain (False: no chain given, only the hash was checked)
    signature_checked: bool = False

    @property
    def beijing(self) -> str:
        return beijing_time(self.gen_time)


def check_token(tsr_bytes: bytes, digest_hex: str, roots: list[x509.Certificate] | None) -> TokenCheck:
    """Check a kept TimeStampResp against the SHA-256 (hex) of what it should stamp."""
    from rfc3161_client import PKIStatus, VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        tsr = decode_timestamp_response(tsr_bytes)
        info = tsr.tst_info
    except ValueError as exc:
        return TokenCheck(False, "令牌已损坏，无法解析", f"the token is damaged and cannot be parsed ({str(exc)[:80]})")
    if tsr.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return TokenCheck(False, "令牌状态不是“已批准”", f"the token's status is {tsr.status}, not granted")
    check = TokenCheck(False, gen_time=info.gen_time.isoformat(), tsa=_tsa_name(tsr))
    imprint = info.message_imprint
    if imprint.hash_algorithm.dotted_string != SHA256_OID:
        check.zh = "令牌未使用 SHA-256"
        check.en = f"the token uses hash {imprint.hash_algorithm.dotted_string}, not SHA-256"
        return check
    if imprint.message.hex() != digest_hex:
        check.zh = f"令牌中的哈希 {imprint.message.hex()[:16]}… 与文件的 SHA-256 {digest_hex[:16]}… 不符"
        check.en = (f"the hash in the token, {imprint.message.hex()[:16]}…, is not the file's SHA-256 "
                    f"{digest_hex[:16]}… (a token for other data)")
        return check
    if not roots:  # the hash holds; who signed it cannot be told without a trusted chain
        check.ok = True
        return check
    check.signature_checked = True
    builder = VerifierBuilder()
    for cert in roots:
        builder = builder.add_root_certificate(cert)
    try:
        builder.build().verify(tsr, imprint.message)
    except VerificationError as exc:
        detail = str(exc)
        if "not yet valid" in detail or "has expired" in detail:
            check.zh = f"令牌所称时间 {check.beijing} 不在时间戳服务证书的有效期内（令牌的时间被改动，或证书不对）"
            check.en = (f"the time the token claims, {check.beijing} Beijing time, is outside the TSA certificate's "
                        "validity (the token's time was changed, or the certificate is not the TSA's)")
        elif "local issuer" in detail or "certificate verify error" in detail:
            check.zh = f"令牌不是由可信的时间戳服务签发（签发者 {check.tsa}）"
            check.en = f"the token was not issued by the trusted TSA (issuer {check.tsa}: not in the trusted chain)"
        elif "EKU" in detail or "timeStamping" in detail:
            check.zh = "签发证书不是时间戳服务证书"
            check.en = f"the signing certificate is not a TSA certificate ({detail})"
        else:
            check.zh = "时间戳服务的签名无效（令牌被改动）"
            check.en = "the TSA's signature does not verify (the token was changed)"
        return check
    check.ok = True
    return check


def _tsa_name(tsr: object) -> str:
    """The subject of the certificate that signed the token (else the TSA name in the token)."""
    try:
        signer = next(iter(tsr.signed_data.signer_infos))  # type: ignore[attr-defined]
        for der in tsr.signed_data.certificates:  # type: ignore[attr-defined]
            cert = x509.load_der_x509_certificate(der)
            if cert.issuer == signer.issuer and cert.serial_number == signer.serial_number:
                return cert.subject.rfc4514_string()
        name = tsr.tst_info.name  # type: ignore[attr-defined]
        return name.value.rfc4514_string() if name is not None else ""
    except (StopIteration, ValueError, AttributeError):
        return ""


@dataclass
class TokenInfo:
    """What a record names of a kept token: its serial number, the TSA's time, the TSA."""

    serial: str  # hexadecimal, as ``openssl ts -reply -text`` prints it
    gen_time: str
    tsa: str

    @property
    def beijing(self) -> str:
        return beijing_time(self.gen_time)


def token_info(tsr_bytes: bytes) -> TokenInfo | None:
    """Serial number, time and TSA of a kept TimeStampResp (None when it cannot be parsed)."""
    from rfc3161_client import decode_timestamp_response

    try:
        tsr = decode_timestamp_response(tsr_bytes)
        info = tsr.tst_info
    except ValueError:
        return None
    return TokenInfo(f"0x{info.serial_number:X}", info.gen_time.isoformat(), _tsa_name(tsr))
