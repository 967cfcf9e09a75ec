"""Database access and access control of the API, in one place.

:class:`Database` hands out one DuckDB cursor per request, either on a connection given by
``lantian serve`` (which owns the single writer) or on a file it opens itself.
:func:`current_principal` resolves who is calling (bearer token or session cookie) and
:func:`scoped` prefixes every query with the views ``vis_ent``, ``vis_out`` and ``vis_pt``
(the enterprises, outlets and monitoring points the principal may see). Every router reads
registry and time-series tables only through these views, so scope is enforced here and
nowhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import duckdb
from fastapi import Depends, Request

from lantian.api.auth import Principal, Role, principal_for_token
from lantian.api.problems import Problem
from lantian.store.db import connect, migrate

__all__ = [
    "COOKIE",
    "Database",
    "Db",
    "OptionalUser",
    "User",
    "audit",
    "current_principal",
    "require_admin",
    "require_principal",
    "scoped",
    "table_columns",
]

COOKIE = "lantian_session"
PRINCIPAL_TTL = 5.0
"""Seconds a resolved session is remembered in memory (logout forgets it at once) [s]."""


class Database:
    """Hands out cursors on one DuckDB connection (shared with the gateway when given)."""

    def __init__(self, db_path: Path | str, con: duckdb.DuckDBPyConnection | None = None):
        self.path = Path(db_path)
        self._owned = con is None
        self._con: duckdb.DuckDBPyConnection | None = connect(self.path) if con is None else con
        # own cursor: a shared connection may be in use by the gateway's writer thread
        setup = self._con.cursor()
        try:
            if con is not None:
                migrate(setup)
            # cursors do not inherit session settings: CST for current_localtimestamp()
            setup.execute("SET GLOBAL TimeZone = 'Asia/Shanghai'")
        finally:
            setup.close()
        self._columns: dict[str, frozenset[str]] = {}
        self._principals: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yield a fresh cursor (its own transaction context) and close it afterwards."""
        with self._lock:
            if self._con is None:  # closed at an earlier shutdown: reopen our own file
                self._con = connect(self.path)
            con = self._con
        cur = con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def columns(self, table: str) -> frozenset[str]:
        """Columns of ``table`` (empty when the table does not exist yet); cached briefly."""
        with self._lock:
            cached = self._columns.get(table)
        if cached:
            return cached
        with self.cursor() as cur:
            rows = cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                [table],
            ).fetchall()
        cols = frozenset(r[0] for r in rows)
        if cols:
            with self._lock:
                self._columns[table] = cols
        return cols

    def principal(self, token: str) -> Principal | None:
        """Return the principal of a session token, remembered for ``PRINCIPAL_TTL`` seconds."""
        now = time.monotonic()
        with self._lock:
            hit = self._principals.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.cursor() as cur:
            principal = principal_for_token(cur, token)
        with self._lock:
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[token] = (now + PRINCIPAL_TTL, principal)
        return principal

    def forget(self, token: str) -> None:
        """Drop a token from the principal cache (logout)."""
        with self._lock:
            self._principals.pop(token, None)

    def close(self) -> None:
        """Close the connection when this object opened it."""
        with self._lock:
            if self._owned and self._con is not None:
                self._con.close()
                self._con = None


def table_columns(db: Database, table: str) -> frozenset[str]:
    """Columns of ``table`` or an empty set when another part has not created it yet."""
    return db.columns(table)


def get_db(request: Request) -> Database:
    """Return the app's :class:`Database`."""
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(get_db)]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def current_principal(request: Request, db: Db) -> Principal | None:
    """Resolve the caller from the bearer token or session cookie (``None``: anonymous)."""
    cached = getattr(request.state, "principal", False)
    if cached is not False:
        return cached
    token = _token(request)
    principal = db.principal(token) if token else None
    request.state.principal = principal
    return principal


def require_principal(
    principal: Annotated[Principal | None, Depends(current_principal)],
) -> Principal:
    """Return the caller; anonymous callers get 401."""
    if principal is None:
        raise Problem(401, "authentication required: log in at /api/auth/login")
    return principal


def require_admin(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """Return the caller when an admin; others get 403."""
    if not principal.is_admin:
        raise Problem(403, "only an admin may do this")
    return principal


User = Annotated[Principal, Depends(require_principal)]
OptionalUser = Annotated[Principal | None, Depends(current_principal)]

_BASE = """
_all_pt AS (
    SELECT mp.mn, mp.outlet_id, o.enterprise_id, e.district_code, e.credit_code
    FROM monitoring_point mp
    LEFT JOIN outlet o ON o.id = mp.outlet_id
    LEFT JOIN enterprise e ON e.id = o.enterprise_id
)"""


def _scope_sql(p: Principal) -> tuple[str, str, str, list[Any]]:
    """Return SQL bodies of (vis_ent, vis_out, vis_pt) and their parameters."""
    codes = list(p.scope)
    marks = ", ".join("?" for _ in codes) or "NULL"
    if p.role is Role.admin:
        return ("SELECT id FROM enterprise", "SELECT id FROM outlet",
                "SELECT mn FROM monitoring_point", [])
    if p.role is Role.regulator:
        cond = " OR ".join("starts_with(district_code, ?)" for _ in codes) or "FALSE"
        ent = f"SELECT id FROM enterprise WHERE {cond}"
        return (ent, "SELECT id FROM outlet WHERE enterprise_id IN (SELECT id FROM vis_ent)",
                "SELECT mn FROM _all_pt WHERE enterprise_id IN (SELECT id FROM vis_ent)", codes)
    if p.role is Role.enterprise:
        ent = (f"SELECT id FROM enterprise WHERE CAST(id AS VARCHAR) IN ({marks}) "
               f"OR credit_code IN ({marks})")
        return (ent, "SELECT id FROM outlet WHERE enterprise_id IN (SELECT id FROM vis_ent)",
                "SELECT mn FROM _all_pt WHERE enterprise_id IN (SELECT id FROM vis_ent)",
                codes + codes)
    # maintainer: only the assigned points, and the outlets/enterprises they belong to
    pt = f"SELECT mn FROM monitoring_point WHERE mn IN ({marks})"
    return ("SELECT DISTINCT enterprise_id AS id FROM _all_pt WHERE mn IN (SELECT mn FROM vis_pt)",
            "SELECT DISTINCT outlet_id AS id FROM _all_pt WHERE mn IN (SELECT mn FROM vis_pt)",
            pt, codes)


def scoped(
    principal: Principal, sql: str, params: list[Any] | None = None
) -> tuple[str, list[Any]]:
    """Prefix ``sql`` with the principal's visibility views; return SQL and parameters.

    ``sql`` may reference ``vis_ent(id)``, ``vis_out(id)`` and ``vis_pt(mn)``; it must not
    start with its own ``WITH`` (add further CTEs after a comma is not supported).
    """
    ent, out, pt, sparams = _scope_sql(principal)
    if principal.role is Role.maintainer:
        order = f"vis_pt AS ({pt}), vis_ent AS ({ent}), vis_out AS ({out})"
    else:
        order = f"vis_ent AS ({ent}), vis_out AS ({out}), vis_pt AS ({pt})"
    return f"WITH {_BASE}, {order}\n{sql}", sparams + list(params or [])


def audit(db: Database, who: str, action: str, target: str | None, detail: str | None) -> None:
    """Write one row of the audit log (who, when (CST), what)."""
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO audit_log (who, action, target, detail) VALUES (?, ?, ?, ?)",
            [who, action, target, detail],
        )
