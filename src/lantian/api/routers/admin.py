"""Accounts, audit log (admin only) and corrections (overlays; raw data never changed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lantian.api import queries as q
from lantian.api.auth import Role, add_user, generate_password
from lantian.api.deps import Db, User, audit, require_admin, require_principal, scoped
from lantian.api.export import TableFormat, cell, respond
from lantian.api.params import Fmt
from lantian.api.problems import Problem
from lantian.errors import ConfigurationError

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(require_principal)])
Admin = Annotated[Any, Depends(require_admin)]


class NewUser(BaseModel):
    """An account to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    role: Role
    scope: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=256)


class NewCorrection(BaseModel):
    """A corrected value of one cell of the hour or minute table (an overlay)."""

    model_config = ConfigDict(extra="forbid")
    mn: str = Field(min_length=1, max_length=32, pattern=r"^[\w-]+$")
    table: Literal["hour", "minute"]
    ts: dt.datetime
    column: str = Field(min_length=1, max_length=40, pattern=r"^\w+$")
    new_value: str | None = Field(default=None, max_length=100)
    why: str = Field(min_length=1, max_length=500)


@router.get("/users", summary="Accounts (admin)")
def list_users(db: Db, admin: Admin, fmt: Fmt = TableFormat.json) -> Response:
    """Accounts with role and scope codes (never hashes)."""
    with db.cursor() as cur:
        rows = q.Rows.fetch(cur, "SELECT u.id, u.name, u.role, u.disabled, u.created_at, "
                            "list(s.code ORDER BY s.code) FILTER (WHERE s.code IS NOT NULL) "
                            "AS scope FROM app_user u LEFT JOIN app_user_scope s "
                            "ON s.user_id = u.id GROUP BY ALL ORDER BY u.id", [])
    return respond(rows, fmt, "users", db, admin)


@router.post("/users", status_code=201, summary="Create an account (admin)")
def create_user(body: NewUser, db: Db, admin: Admin) -> dict[str, Any]:
    """Create an account; a generated password is returned once when none is given."""
    password = body.password or generate_password()
    try:
        with db.cursor() as cur:
            uid = add_user(cur, body.name, body.role, password, body.scope)
    except ConfigurationError as exc:
        raise Problem(409 if "exists" in str(exc) else 422, str(exc)) from exc
    audit(db, admin.name, "user.add", body.name, f"role={body.role.value}")
    out: dict[str, Any] = {"id": uid, "name": body.name, "role": body.role.value}
    if body.password is None:
        out["password"] = password
    return out


@router.get("/audit", summary="Audit log (admin): logins, changes, corrections, exports")
def audit_log(db: Db, admin: Admin, limit: Annotated[int, Query(ge=1, le=10000)] = 500,
              fmt: Fmt = TableFormat.json) -> Response:
    """Latest entries first; times CST."""
    with db.cursor() as cur:
        rows = q.Rows.fetch(cur, "SELECT id, made_at, who, action, target, detail FROM audit_log "
                            "ORDER BY id DESC LIMIT ?", [limit])
    return respond(rows, fmt, "audit", db, admin)


@router.get("/corrections", summary="Corrections (overlays) of points in scope")
def list_corrections(db: Db, user: User, fmt: Fmt = TableFormat.json) -> Response:
    """Corrections never overwrite raw data; they are kept beside it."""
    sql, args = scoped(user, "SELECT id, mn, tbl, ts, col, old_value, new_value, who, made_at, "
                       "why FROM correction WHERE mn IN (SELECT mn FROM vis_pt) ORDER BY id")
    with db.cursor() as cur:
        rows = q.Rows.fetch(cur, sql, args)
    return respond(rows, fmt, "corrections", db, user)


@router.post("/corrections", status_code=201, summary="Record a correction (overlay)")
def add_correction(body: NewCorrection, db: Db, user: User) -> dict[str, Any]:
    """Store a corrected value beside the raw one for a point in scope (404 otherwise)."""
    table = q.SERIES_TABLES[body.table]
    if body.column not in db.columns(table) - {"mn", "ts", "packet_id"}:
        raise Problem(422, f"column {body.column!r} is not a column of {table}")
    if not q.point_visible(db, user, body.mn):
        raise Problem(404, "monitoring point not found (or outside your scope)")
    ts = body.ts.replace(tzinfo=None)
    with db.cursor() as cur:
        old = cur.execute(f'SELECT "{body.column}" FROM {table} WHERE mn = ? AND ts = ?',
                          [body.mn, ts]).fetchone()
        if old is None:
            raise Problem(404, f"no {body.table} row of {body.mn} at {ts.isoformat()}")
        row = cur.execute(
            "INSERT INTO correction (mn, tbl, ts, col, old_value, new_value, who, why) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [body.mn, table, ts, body.column, None if old[0] is None else str(old[0]),
             body.new_value, user.name, body.why]).fetchone()
    audit(db, user.name, "correction", f"{body.mn}/{table}/{ts.isoformat()}/{body.column}",
          body.why)
    return {"id": row[0] if row else None, "mn": body.mn, "table": table, "ts": cell(ts),
            "column": body.column, "old_value": None if old[0] is None else str(old[0]),
            "new_value": body.new_value}
