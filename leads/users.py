"""Console users: names, roles and argon2id password hashes (argon2-cffi), kept in the Store.

Roles: ``analyst`` searches, triages and exports; ``admin`` also manages users.

Sessions: a console session is good while the user's ``session_epoch`` is the one it was made
in. :func:`end_sessions` raises it (logout); a password reset and disabling raise it too, so
every session of that user ends, also cookies copied elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.store.base import Store, User

ROLES: tuple[str, ...] = ("analyst", "admin")
ROLE_LABELS = {"analyst": "分析员", "admin": "管理员"}
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,32}$")
_hasher = PasswordHasher()
# verifying against this keeps unknown names as slow as known ones (no user enumeration by timing)
_DUMMY_HASH = _hasher.hash("netsword-no-such-user")


class UserError(ValueError):
    """A user cannot be created or changed as asked."""


def add_user(store: Store, username: str, password: str, role: str = "analyst", *, replace_existing: bool = False
             ) -> User:
    """Create a user (or, with ``replace_existing``, set a new password and role)."""
    username = username.strip()
    if not _NAME.match(username):
        raise UserError("用户名为 2–32 个字母、数字、汉字或 _ . - / a user name is 2-32 letters, digits, _ . -")
    if role not in ROLES:
        raise UserError(f"未知角色 / unknown role {role!r}; use one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 位 / a password has at least {MIN_PASSWORD} characters")
    existing = store.get_user(username)
    if existing is not None and not replace_existing:
        raise UserError(f"用户已存在 / user {username!r} exists (use --reset to set a new password)")
    user = User(username, _hasher.hash(password), role)
    if existing is not None:  # a password reset: the old sessions end with the old password
        user = replace(existing, password_hash=user.password_hash, role=role, disabled=False,
                       session_epoch=existing.session_epoch + 1)
    store.put_user(user)
    store.flush()
    return user


def set_disabled(store: Store, username: str, disabled: bool = True) -> User:
    user = store.get_user(username)
    if user is None:
        raise UserError(f"没有这个用户 / no such user: {username!r}")
    user = replace(user, disabled=disabled, session_epoch=user.session_epoch + 1)
    store.put_user(user)
    store.flush()
    return user


def end_sessions(store: Store, username: str) -> User | None:
    """End every console session of ``username`` (logout: copied cookies stop working too)."""
    user = store.get_user(username)
    if user is None:
        return None
    user = replace(user, session_epoch=user.session_epoch + 1)
    store.put_user(user)
    store.flush()
    return user


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user when the name and password match and the user is enabled; None otherwise."""
    user = store.get_user(username.strip()) if username else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        store.put_user(replace(user, password_hash=_hasher.hash(password)))
    return user
