"""What a verifier trusts: the key a signature must verify with, and the TSA's certificate chain.

For ``netsword evidence verify``, in order:

* the key: ``--public-key FILE``, else the unit's own public key (``<keys folder>/unit.pub.pem``,
  on the machine that signed), else none (a bundle's own key is then only reported, never
  trusted: a bundle re-signed with another key carries that other key). With ``--public-key``,
  a seal that is not signed fails too (a signature stripped is not a weaker pass); with the
  unit's own key it is a warning (sweeps sealed before the unit had a key);
* the TSA chain: ``--tsa-certs FILE``, else ``tsa_certs`` from the configuration, else (bundles)
  the chain the bundle carries -- which the unit's signature over the bundle vouches for when
  that signature verifies with the expected key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from .keys import KeyFiles, load_unit_public, read_public_key
from .signing import KeyFileError, PublicKey
from .timestamps import load_chain


class TrustError(ValueError):
    """A key or chain file given to the verifier cannot be used (Chinese / English)."""


@dataclass
class Trust:
    key: PublicKey | None = None
    key_source: str = ""  # "--public-key FILE", "unit key <path>"
    tsa_roots: list[x509.Certificate] = field(default_factory=list)
    tsa_source: str = ""
    #: the key was asked for (``--public-key``): what is not signed with it fails, unsigned included
    required: bool = False

    def with_tsa_chain(self, pem: bytes | None, source: str) -> Trust:
        """This trust, with ``pem`` as the TSA chain when it has none yet."""
        if self.tsa_roots or not pem:
            return self
        try:
            roots = load_chain(pem)
        except ValueError:
            return self
        return Trust(self.key, self.key_source, roots, source, self.required) if roots else self


def load_trust(public_key: str | Path | None = None, tsa_certs: str | Path | None = None, cfg: Any = None) -> Trust:
    """The verifier's trust from the command line (``public_key``, ``tsa_certs``) and the configuration."""
    from netsword import config

    cfg = cfg or config.current()
    trust = Trust()
    if public_key:
        try:
            trust.key = read_public_key(public_key)
        except (OSError, KeyFileError) as exc:
            raise TrustError(f"无法使用公钥文件 {public_key} / cannot use the public key file {public_key}: "
                             f"{exc}") from exc
        trust.key_source = f"--public-key {public_key}"
        trust.required = True
    else:
        try:
            trust.key = load_unit_public(cfg.keys_dir)
        except (OSError, KeyFileError):
            trust.key = None
        if trust.key is not None:
            trust.key_source = f"unit key {KeyFiles(Path(cfg.keys_dir)).public}"
    chain = tsa_certs or cfg.tsa_certs
    if chain:
        try:
            trust.tsa_roots = load_chain(Path(chain).read_bytes())
        except (OSError, ValueError) as exc:
            raise TrustError(f"无法使用时间戳服务证书链 {chain} / cannot use the TSA chain {chain}: {exc}") from exc
        trust.tsa_source = f"--tsa-certs {chain}" if tsa_certs else f"tsa_certs {chain}"
    return trust
