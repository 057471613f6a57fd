"""The console's own state, kept beside ``console-secret`` in the console's home (mode 600 files): API tokens,
units and their regions, TOTP secrets, the login log. Not scraped data, so not in the Store: the same for the
SQLite and the Elasticsearch store.

* ``api-tokens.json``: [{token_id, name, username, sha256, created_at, created_by, revoked_at, last_used}]
  -- only the SHA-256 of a token is kept; the token itself is shown once, when an admin makes it.
* ``units.json``: {username: {"unit": "...", "regions": ["广东", ...]}} -- an account with regions sees the
  leads whose shop address is in them (``leads.dashboard.region_of``); without, everything.
* ``totp.json``: {username: {"secret": base32, "enabled_at": ...}} -- the second factor (pyotp).
* ``login-log.jsonl``: one line per login attempt: time, name, address, result.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from netsword.clock import utc_now

_LOCK = threading.RLock()
TOKEN_PREFIX = "nsw_"


def _read(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    tmp.replace(path)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class ApiToken:
    token_id: str
    name: str
    username: str  # the console user whose rights (role, regions) the token has
    sha256: str
    created_at: str
    created_by: str
    revoked_at: str = ""
    last_used: str = ""


@dataclass
class Unit:
    unit: str = ""
    regions: tuple[str, ...] = ()


class ConsoleState:
    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)

    # ----------------------------------------------------------------- API tokens
    @property
    def _tokens_path(self) -> Path:
        return self.home / "api-tokens.json"

    def tokens(self) -> list[ApiToken]:
        return [ApiToken(**d) for d in _read(self._tokens_path, [])]

    def create_token(self, name: str, username: str, created_by: str) -> tuple[ApiToken, str]:
        """A new token for ``username``: (its record, the token -- shown this once, only its hash is kept)."""
        name = " ".join(name.split())[:60]
        if not name:
            raise ValueError("请给令牌起个名字 / name the token")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with _LOCK:
            items = self.tokens()
            rec = ApiToken(secrets.token_hex(6), name, username, token_digest(token), utc_now(), created_by)
            items.append(rec)
            _write(self._tokens_path, [asdict(t) for t in items])
        return rec, token

    def revoke_token(self, token_id: str) -> bool:
        with _LOCK:
            items = self.tokens()
            hit = [t for t in items if t.token_id == token_id and not t.revoked_at]
            for t in hit:
                t.revoked_at = utc_now()
            _write(self._tokens_path, [asdict(t) for t in items])
        return bool(hit)

    def check_token(self, token: str) -> ApiToken | None:
        """The live token record for ``token`` (None if unknown or revoked); its last use is noted."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        with _LOCK:
            items = self.tokens()
            found = next((t for t in items if hmac.compare_digest(t.sha256, digest)), None)
            if found is None or found.revoked_at:
                return None
            found.last_used = utc_now()
            _write(self._tokens_path, [asdict(t) for t in items])
        return found

    # ----------------------------------------------------------------- units
    @property
    def _units_path(self) -> Path:
        return self.home / "units.json"

    def units(self) -> dict[str, Unit]:
        return {k: Unit(v.get("unit", ""), tuple(v.get("regions", ()))) for k, v in _read(self._units_path, {}).items()}

    def unit_of(self, username: str) -> Unit:
        return self.units().get(username, Unit())

    def set_unit(self, username: str, unit: str, regions: list[str]) -> None:
        with _LOCK:
            data = _read(self._units_path, {})
            regions = [r for r in dict.fromkeys(x.strip() for x in regions) if r]
            if unit.strip() or regions:
                data[username] = {"unit": " ".join(unit.split())[:100], "regions": regions}
            else:
                data.pop(username, None)
            _write(self._units_path, data)

    # ----------------------------------------------------------------- TOTP
    @property
    def _totp_path(self) -> Path:
        return self.home / "totp.json"

    def totp_secret(self, username: str, *, enabled_only: bool = True) -> str | None:
        rec = _read(self._totp_path, {}).get(username)
        if rec is None or (enabled_only and not rec.get("enabled_at")):
            return None
        return str(rec["secret"])

    def start_totp(self, username: str) -> str:
        """A new secret for the user, not yet in force (``enable_totp`` after a right code)."""
        import pyotp

        with _LOCK:
            data = _read(self._totp_path, {})
            rec = data.get(username) or {}
            if not rec.get("enabled_at"):
                rec = {"secret": pyotp.random_base32(), "enabled_at": ""}
                data[username] = rec
                _write(self._totp_path, data)
            return str(rec["secret"])

    def enable_totp(self, username: str, code: str) -> bool:
        with _LOCK:
            data = _read(self._totp_path, {})
            rec = data.get(username)
            if rec is None or not totp_ok(rec["secret"], code):
                return False
            rec["enabled_at"] = utc_now()
            _write(self._totp_path, data)
        return True

    def disable_totp(self, username: str) -> None:
        with _LOCK:
            data = _read(self._totp_path, {})
            data.pop(username, None)
            _write(self._totp_path, data)

    # ----------------------------------------------------------------- login log
    @property
    def _log_path(self) -> Path:
        return self.home / "login-log.jsonl"

    def log_login(self, username: str, address: str, result: str) -> None:
        line = json.dumps({"at": utc_now(), "username": username[:64], "address": address[:64], "result": result},
                          ensure_ascii=False)
        with _LOCK:
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def logins(self, limit: int = 500) -> list[dict[str, str]]:
        """The latest login attempts, newest first."""
        try:
            lines = self._log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in reversed(lines[-limit:]):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def totp_ok(secret: str, code: str) -> bool:
    import pyotp

    code = "".join(code.split())
    return bool(code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1))
