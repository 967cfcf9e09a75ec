"""Ledgers (台账) of the ledger part, read in the caller's scope.

Retrofit plans, marks, gate records, in-plant vehicles, permits, notifications, production
agreements.

A ledger table is served when it exists and links to the registry by ``enterprise_id``,
``outlet_id`` or ``mn``; rows are filtered by the same scope views as every other route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from lantian.api.deps import Database, Db, User, require_principal, scoped
from lantian.api.export import TableFormat, respond
from lantian.api.params import Fmt
from lantian.api.problems import Problem
from lantian.api.queries import Rows

__all__ = ["LEDGERS", "router"]

router = APIRouter(prefix="/api/ledgers", tags=["ledgers"],
                   dependencies=[Depends(require_principal)])

LEDGERS = ("retrofit_plan", "enterprise_mark", "gate_record", "plant_vehicle", "permit_limit",
           "permit_allowance", "notification", "production_line", "production_agreement",
           "dynamic_list", "offset_project")
"""Ledger tables that may be served (when present)."""

_LINKS = (("enterprise_id", "t.enterprise_id IN (SELECT id FROM vis_ent)"),
          ("outlet_id", "t.outlet_id IN (SELECT id FROM vis_out)"),
          ("mn", "t.mn IN (SELECT mn FROM vis_pt)"))


def _link(db: Database, table: str) -> str | None:
    cols = db.columns(table)
    return next((cond for col, cond in _LINKS if col in cols), None)


@router.get("", summary="Ledger tables available")
def list_ledgers(db: Db, user: User) -> dict[str, Any]:
    """Names of the ledger tables present and linked to the registry."""
    return {"items": [t for t in LEDGERS if _link(db, t)]}


@router.get("/{table}", summary="Rows of one ledger in scope")
def ledger_rows(table: Annotated[str, Path(max_length=40, pattern=r"^\w+$")], db: Db,
                user: User, limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                fmt: Fmt = TableFormat.json) -> Response:
    """Rows of ledger ``table`` that belong to enterprises, outlets or points in scope."""
    cond = _link(db, table) if table in LEDGERS else None
    if cond is None:
        raise Problem(404, f"ledger {table!r} not found")
    sql, args = scoped(user, f"SELECT t.* FROM {table} t WHERE {cond} LIMIT ? OFFSET ?",
                       [limit, offset])
    with db.cursor() as cur:
        rows = Rows.fetch(cur, sql, args)
    return respond(rows, fmt, f"ledger_{table}", db, user)
