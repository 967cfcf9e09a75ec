"""Accounts, password hashes and sessions of the API and web pages.

Passwords are kept only as argon2id hashes (argon2-cffi); a session token is 32 random bytes
(URL-safe base64) given once to the client and kept in ``app_session`` only as its SHA-256.
Pages receive it in an HttpOnly cookie, API clients as ``Authorization: Bearer``. Times are
China Standard Time wall-clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lantian.errors import ConfigurationError, NotFoundError

__all__ = [
    "SESSION_HOURS",
    "Principal",
    "Role",
    "add_user",
    "authenticate",
    "create_session",
    "drop_session",
    "generate_password",
    "hash_password",
    "principal_for_token",
    "verify_password",
]

SESSION_HOURS = 12
"""Lifetime of a session [h]."""

_HASHER = PasswordHasher()
_DISTRICT = re.compile(r"^\d{2,12}$")
_NAME = re.compile(r"^[\w.@-]{1,64}$")


class Role(StrEnum):
    """Roles of DESIGN.md capability 10."""

    admin = "admin"
    regulator = "regulator"  # 监管部门, scoped to district code prefixes
    enterprise = "enterprise"  # 排污单位, scoped to its enterprises
    maintainer = "maintainer"  # 运维单位, scoped to assigned monitoring points


@dataclass(frozen=True)
class Principal:
    """Who is calling, and the codes that bound what they may see."""

    user_id: int
    name: str
    role: Role
    scope: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        """Whether the principal sees and changes everything."""
        return self.role is Role.admin


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check ``password`` against an argon2 hash; never raises on a mismatch."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Return a random password (about 128 bits)."""
    return secrets.token_urlsafe(16)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=8)


def _validate_scope(role: Role, scope: list[str]) -> list[str]:
    codes = [c.strip() for c in scope if c.strip()]
    if role is Role.admin:
        if codes:
            raise ConfigurationError("role admin takes no --scope (admins see everything)")
        return []
    if not codes:
        raise ConfigurationError(f"role {role.value} needs at least one --scope code")
    if role is Role.regulator:
        bad = [c for c in codes if not _DISTRICT.match(c)]
        if bad:
            raise ConfigurationError(
                f"regulator scope must be administrative district codes (digits), got {bad[0]!r}"
            )
    return codes


def add_user(
    con: duckdb.DuckDBPyConnection,
    name: str,
    role: Role | str,
    password: str,
    scope: list[str] | None = None,
) -> int:
    """Create an account; return its id.

    Raises
    ------
    ConfigurationError
        Bad name, role or scope, an empty password, or a name already taken.

    """
    try:
        role = Role(role)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role)
        raise ConfigurationError(f"unknown role {role!r} (one of {roles})") from exc
    if not _NAME.match(name):
        raise ConfigurationError(f"user name {name!r}: use 1-64 letters, digits, . _ @ -")
    if len(password) < 8:
        raise ConfigurationError("password must have at least 8 characters")
    codes = _validate_scope(role, list(scope or []))
    if con.execute("SELECT 1 FROM app_user WHERE name = ?", [name]).fetchone():
        raise ConfigurationError(f"user {name!r} already exists")
    row = con.execute(
        "INSERT INTO app_user (name, password_hash, role) VALUES (?, ?, ?) RETURNING id",
        [name, hash_password(password), role.value],
    ).fetchone()
    assert row is not None
    user_id = int(row[0])
    for code in dict.fromkeys(codes):
        con.execute("INSERT INTO app_user_scope VALUES (?, ?)", [user_id, code])
    con.execute(
        "INSERT INTO audit_log (who, action, target, detail) VALUES ('system', 'user.add', ?, ?)",
        [name, f"role={role.value} scope={','.join(codes)}"],
    )
    return user_id


def _principal(con: duckdb.DuckDBPyConnection, user_id: int) -> Principal:
    row = con.execute(
        "SELECT id, name, role FROM app_user WHERE id = ? AND NOT disabled", [user_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"user {user_id} not found or disabled")
    codes = con.execute(
        "SELECT code FROM app_user_scope WHERE user_id = ? ORDER BY code", [user_id]
    ).fetchall()
    return Principal(int(row[0]), str(row[1]), Role(row[2]), tuple(c[0] for c in codes))


def authenticate(con: duckdb.DuckDBPyConnection, name: str, password: str) -> Principal | None:
    """Return the principal when ``name``/``password`` match an enabled account."""
    row = con.execute(
        "SELECT id, password_hash FROM app_user WHERE name = ? AND NOT disabled", [name]
    ).fetchone()
    if row is None:
        _HASHER.hash(password)  # same cost whether or not the name exists
        return None
    if not verify_password(str(row[1]), password):
        return None
    return _principal(con, int(row[0]))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    con: duckdb.DuckDBPyConnection, principal: Principal, client: str
) -> tuple[str, dt.datetime]:
    """Open a session; return the token (shown once) and its expiry (CST)."""
    token = secrets.token_urlsafe(32)
    expires = _now() + dt.timedelta(hours=SESSION_HOURS)
    con.execute(
        "INSERT INTO app_session (token_sha256, user_id, expires_at, client) VALUES (?, ?, ?, ?)",
        [_digest(token), principal.user_id, expires, client],
    )
    return token, expires


def principal_for_token(con: duckdb.DuckDBPyConnection, token: str) -> Principal | None:
    """Return the principal of a live session token, or ``None``."""
    if not token or len(token) > 200:
        return None
    row = con.execute(
        "SELECT user_id FROM app_session WHERE token_sha256 = ? AND expires_at > ?",
        [_digest(token), _now()],
    ).fetchone()
    if row is None:
        return None
    try:
        return _principal(con, int(row[0]))
    except NotFoundError:
        return None


def drop_session(con: duckdb.DuckDBPyConnection, token: str) -> None:
    """End a session (logout)."""
    con.execute("DELETE FROM app_session WHERE token_sha256 = ?", [_digest(token)])
