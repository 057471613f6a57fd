"""The unit's signing key: Ed25519 (default, with ``cryptography``) or SM2 with SM3 (``gmssl``, optional).

Keys are kept in standard encodings, so that tools other than netsword can read them:

* public key: X.509 SubjectPublicKeyInfo, PEM (``-----BEGIN PUBLIC KEY-----``) for both
  algorithms (SM2: ``id-ecPublicKey`` on curve ``1.2.156.10197.1.301``, as OpenSSL writes it);
* private key: PKCS#8 PEM (Ed25519), SEC 1 ``EC PRIVATE KEY`` PEM (SM2);
* fingerprint: ``sha256:`` + the SHA-256 of the public key's DER -- the same as
  ``openssl pkey -pubin -in KEY.pem -outform DER | sha256sum``.

Signatures: Ed25519 (RFC 8032, 64 bytes) over the message; SM2 (GB/T 32918.2) over SM3(Z || message)
with the default signer ID ``1234567812345678`` (GB/T 35276), DER-encoded (r, s).

SM2 needs ``pip install 'netsword[sm2]'`` (gmssl: pure Python, not constant-time -- a unit that is
free to choose should keep Ed25519). gmssl's own random numbers come from ``random``; we pass
``secrets`` numbers instead, and set the public key ourselves (its constructor strips leading
"04" characters from some keys).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from netsword.digests import sha256_bytes

ED25519, SM2 = "ed25519", "sm2"
ALGORITHMS = (ED25519, SM2)
LABELS = {ED25519: "Ed25519", SM2: "SM2/SM3"}

# SubjectPublicKeyInfo of an SM2 key up to the point (04 || X || Y): id-ecPublicKey, curve SM2, BIT STRING
_SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004")
# SEC 1 ECPrivateKey up to the scalar, and between the scalar and the point
_SM2_SEC1_HEAD = bytes.fromhex("30770201010420")
_SM2_SEC1_MID = bytes.fromhex("a00a06082a811ccf5501822da14403420004")
_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


class KeyFileError(ValueError):
    """A key file that cannot be used (the message says why, in Chinese and English)."""


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def _unpem(data: bytes, label: str) -> bytes | None:
    text = data.decode("ascii", "replace")
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        return None
    body = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except ValueError:
        return None


def _gmssl() -> Any:
    try:
        from gmssl import sm2
    except ImportError as exc:
        raise KeyFileError("SM2/SM3 需要 gmssl：pip install 'netsword[sm2]' / SM2/SM3 needs gmssl: "
                        "pip install 'netsword[sm2]'") from exc
    return sm2


def _sm2(private_hex: str, point_hex: str) -> Any:
    crypt = _gmssl().CryptSM2(private_key=private_hex, public_key="", asn1=True)
    crypt.public_key = point_hex  # X || Y, 128 hex digits (see the module docstring)
    return crypt


@dataclass(frozen=True)
class PublicKey:
    """A public key that checks signatures; ``der`` is its SubjectPublicKeyInfo."""

    algorithm: str
    der: bytes

    @property
    def fingerprint(self) -> str:
        return f"sha256:{sha256_bytes(self.der)}"

    @property
    def label(self) -> str:
        return LABELS[self.algorithm]

    def pem(self) -> bytes:
        return _pem("PUBLIC KEY", self.der)

    def verify(self, signature: bytes, message: bytes) -> bool:
        if self.algorithm == ED25519:
            key = serialization.load_der_public_key(self.der)
            assert isinstance(key, Ed25519PublicKey)
            try:
                key.verify(signature, message)
            except InvalidSignature:
                return False
            return True
        point = self.der[len(_SM2_SPKI_PREFIX):].hex()
        try:
            return bool(_sm2("", point).verify_with_sm3(signature.hex(), message))
        except (ValueError, IndexError, TypeError):  # not a DER (r, s) at all
            return False


@dataclass(frozen=True)
class SigningKey:
    """The unit's private key (never leaves the keys folder) with its public half."""

    algorithm: str
    secret: bytes  # Ed25519: the 32-byte seed; SM2: the 32-byte scalar
    public: PublicKey

    def sign(self, message: bytes) -> bytes:
        if self.algorithm == ED25519:
            return Ed25519PrivateKey.from_private_bytes(self.secret).sign(message)
        crypt = _sm2(self.secret.hex(), self.public.der[len(_SM2_SPKI_PREFIX):].hex())
        while True:  # a k that gives r = 0 or s = 0 is drawn again (gmssl returns None)
            k = secrets.randbelow(_SM2_N - 1) + 1
            sig = crypt.sign_with_sm3(message, f"{k:064x}")
            if sig:
                return bytes.fromhex(sig)

    def private_pem(self) -> bytes:
        if self.algorithm == ED25519:
            return Ed25519PrivateKey.from_private_bytes(self.secret).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        point = self.public.der[len(_SM2_SPKI_PREFIX):]
        return _pem("EC PRIVATE KEY", _SM2_SEC1_HEAD + self.secret + _SM2_SEC1_MID + point)


def generate(algorithm: str = ED25519) -> SigningKey:
    if algorithm == ED25519:
        return _ed25519(Ed25519PrivateKey.generate())
    if algorithm == SM2:
        return _sm2_key(secrets.randbelow(_SM2_N - 2) + 1)
    raise KeyFileError(f"未知算法 {algorithm!r} / unknown algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")


def _ed25519(key: Ed25519PrivateKey) -> SigningKey:
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKey(ED25519, seed, PublicKey(ED25519, der))


def _sm2_key(d: int) -> SigningKey:
    sm2 = _gmssl()
    point = _sm2(f"{d:064x}", "")._kg(d, sm2.default_ecc_table["g"])
    return SigningKey(SM2, d.to_bytes(32, "big"), PublicKey(SM2, _SM2_SPKI_PREFIX + bytes.fromhex(point)))


def load_private(data: bytes) -> SigningKey:
    """A private key from its PEM (Ed25519 PKCS#8 or SM2 SEC 1)."""
    sec1 = _unpem(data, "EC PRIVATE KEY")
    if sec1 is not None:
        if len(sec1) != 121 or not sec1.startswith(_SM2_SEC1_HEAD) or sec1[39:57] != _SM2_SEC1_MID:
            raise KeyFileError("不是 SM2 私钥 / not an SM2 private key")
        key = _sm2_key(int.from_bytes(sec1[7:39], "big"))
        if key.public.der[len(_SM2_SPKI_PREFIX):] != sec1[57:]:
            raise KeyFileError("SM2 私钥与其公钥不符 / the SM2 private key does not match its public point")
        return key
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"无法读取私钥 / cannot read the private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"不支持的私钥类型 / unsupported private key type: {type(key).__name__}")
    return _ed25519(key)


def load_public(data: bytes) -> PublicKey:
    """A public key from its PEM (or DER) SubjectPublicKeyInfo: Ed25519 or SM2."""
    der = _unpem(data, "PUBLIC KEY")
    if der is None:
        if b"-----BEGIN" in data:
            raise KeyFileError("不是公钥文件（应为 BEGIN PUBLIC KEY）/ not a public key file (want BEGIN PUBLIC KEY)")
        der = data
    if der.startswith(_SM2_SPKI_PREFIX) and len(der) == len(_SM2_SPKI_PREFIX) + 64:
        return PublicKey(SM2, der)
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"无法读取公钥 / cannot read the public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"不支持的公钥类型 / unsupported public key type: {type(key).__name__}")
    return PublicKey(ED25519, der)
