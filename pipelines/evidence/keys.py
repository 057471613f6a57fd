"""The unit's key files: ``<keys folder>/unit.key`` (private, mode 600) and ``unit.pub.pem``.

The keys folder is ``<home>/keys`` unless the config file (``keys_dir``), ``NETSWORD_KEYS_DIR``
or ``--keys-dir`` says otherwise (:mod:`netsword.config`). ``netsword keys init`` makes a key pair
and refuses to replace one without ``--force``; ``netsword keys show`` prints the public key and its
fingerprint, which is what another office needs to check what this unit signed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .signing import ED25519, KeyFileError, PublicKey, SigningKey, generate, load_private, load_public

PRIVATE = "unit.key"
PUBLIC = "unit.pub.pem"


@dataclass(frozen=True)
class KeyFiles:
    folder: Path

    @property
    def private(self) -> Path:
        return self.folder / PRIVATE

    @property
    def public(self) -> Path:
        return self.folder / PUBLIC


def init_keys(folder: Path | str, algorithm: str = ED25519, *, force: bool = False) -> SigningKey:
    """Make the unit's key pair in ``folder``; an existing key is kept unless ``force``."""
    files = KeyFiles(Path(folder))
    if files.private.exists() and not force:
        raise FileExistsError(f"{files.private} 已存在：用 --force 覆盖（旧密钥签过的证据仍需旧公钥核验）/ "
                              f"{files.private} exists: --force replaces it (evidence signed with the old key "
                              "still needs the old public key)")
    key = generate(algorithm)
    files.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(files.folder, 0o700)
    tmp = files.private.with_name(f".{PRIVATE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_pem())
    os.chmod(tmp, 0o600)
    tmp.replace(files.private)
    files.public.write_bytes(key.public.pem())
    return key


def load_unit_key(folder: Path | str) -> SigningKey:
    """The unit's private key; KeyFileError (saying what to do) when there is none or it is unusable."""
    files = KeyFiles(Path(folder))
    try:
        data = files.private.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"没有本单位密钥 {files.private}（netsword keys init）/ no unit key at {files.private} "
                           "(netsword keys init)") from exc
    except OSError as exc:
        raise KeyFileError(f"无法读取 {files.private} / cannot read {files.private}: {exc}") from exc
    mode = files.private.stat().st_mode & 0o077
    if mode:
        raise KeyFileError(f"{files.private} 的权限过宽（应为 600）/ {files.private} is readable by others "
                           f"(mode {files.private.stat().st_mode & 0o777:o}; chmod 600 it)")
    return load_private(data)


def load_unit_public(folder: Path | str) -> PublicKey | None:
    """The unit's public key (None when the folder has none)."""
    files = KeyFiles(Path(folder))
    if files.public.is_file():
        return load_public(files.public.read_bytes())
    if files.private.is_file():
        return load_unit_key(folder).public
    return None


def read_public_key(path: Path | str) -> PublicKey:
    """A public key file given on the command line (PEM or DER); a private key file gives its public half."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY-----" in data:
        return load_private(data).public
    return load_public(data)
