"""Transport ledgers (运输台账) over HTTP: clean-transport ratio, gate records, fleet (issue 8).

The monthly verdict is :func:`lantian.ledger.transport.clean_transport_month` (an Ibis
expression) on the gate records and enterprises in the caller's scope: clean share
= tonnes by rail, water, pipe or belt / all tonnes (fraction 0–1), passing at the catalogue
share (0.8) or when every road trip used an allowed (China VI / new-energy) vehicle. Times
are China Standard Time wall-clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from lantian.api.deps import Database, Db, User, require_principal, scoped
from lantian.api.export import TableFormat, respond
from lantian.api.params import Fmt, Month, this_month
from lantian.api.queries import Rows
from lantian.api.routers.ledger_scope import (
    ibis_of,
    keep_expr,
    ledger_rows,
    run_ledger,
    visible_enterprises,
)

__all__ = ["clean_transport_in_scope", "fleet_in_scope", "gate_records_in_scope", "router"]

router = APIRouter(prefix="/api/transport", tags=["ledgers: transport"],
                   dependencies=[Depends(require_principal)])
Mode = Annotated[Literal["road", "rail", "water", "pipe", "belt"] | None, Query()]


def clean_transport_in_scope(db: Database, user: Any, month: str) -> list[dict[str, Any]]:
    """Clean-transport verdict of each visible enterprise with gate records in ``month``.

    Each row: ``enterprise_id``, ``enterprise``, ``month``, ``clean_ratio`` [0–1],
    ``road_tonnes`` [t], ``clean_tonnes`` [t], ``non_compliant_road_trips``, ``pass``.
    """
    from lantian.ledger.transport import clean_transport_month

    ids = visible_enterprises(db, user)

    def go(cur: Any) -> list[dict[str, Any]]:
        ib = ibis_of(cur)
        ent = keep_expr(ib.table("enterprise"), ids, "id")
        gate = keep_expr(ib.table("gate_record"), ids)
        rows = clean_transport_month(gate, ent, month).to_pyarrow().to_pylist()
        names = dict(cur.execute("SELECT name, id FROM enterprise").fetchall())
        return [{"enterprise_id": names.get(r["enterprise"]), **r} for r in rows]

    return run_ledger(db, go)[0]


def fleet_in_scope(db: Database, user: Any, on: dt.date) -> list[dict[str, Any]]:
    """In-plant vehicles and non-road machinery of visible enterprises with stage findings."""
    from lantian.ledger.fleet import FleetItem, fleet_findings

    sql, args = scoped(user, "SELECT v.enterprise_id, e.name AS enterprise, v.category, "
                       "v.ident, v.kind, v.emission_stage, v.fuel, v.power_kw, v.made_on "
                       "FROM plant_vehicle v JOIN enterprise e ON e.id = v.enterprise_id "
                       "WHERE v.enterprise_id IN (SELECT id FROM vis_ent) "
                       "ORDER BY e.name, v.category, v.ident")
    with db.cursor() as cur:
        rows = Rows.fetch(cur, sql, args).rows
    for r in rows:
        item = FleetItem(r["enterprise"], r["category"], r["ident"], r["kind"],
                         r["emission_stage"], r["fuel"], r["power_kw"], r["made_on"])
        found = fleet_findings(item, on)
        r["compliant"] = not found
        r["findings"] = "; ".join(found)
    return rows


@router.get("", summary="Monthly clean-transport ratio per enterprise (清洁运输比例)")
def clean_transport(db: Db, user: User, month: Month = None,
                    fmt: Fmt = TableFormat.json) -> Response:
    """One row per visible enterprise with gate records in the month (CST), with pass/fail."""
    m = this_month(month)
    return respond(ledger_rows(clean_transport_in_scope(db, user, m)), fmt,
                   f"clean_transport_{m}", db, user, {"month": m})


def gate_records_in_scope(db: Database, user: Any, month: str, *, mode: str | None = None,
                          non_compliant: bool = False, limit: int = 500,
                          offset: int = 0) -> Rows:
    """Gate records of visible enterprises in ``month`` (CST), newest first, with ``total``.

    ``non_compliant``: only road trips by vehicles not allowed for road haulage on the 1st
    of the month (catalogue ``clean_road_haulage``, e.g. China VI or new-energy from 2022).
    """
    from lantian.ledger.transport import month_bounds
    from lantian.ledger.vehicles import allowed_stages

    start, end = month_bounds(month)
    where = "g.enterprise_id IN (SELECT id FROM vis_ent) AND g.ts >= ? AND g.ts < ?"
    params: list[Any] = [start, end]
    if mode is not None:
        where += " AND g.mode = ?"
        params.append(mode)
    if non_compliant:
        ok = allowed_stages("clean_road_haulage", start.date())
        marks = ", ".join("?" for _ in ok) or "NULL"
        where += f" AND g.mode = 'road' AND coalesce(g.emission_stage, '') NOT IN ({marks})"
        params.extend(ok)
    base = f"FROM gate_record g JOIN enterprise e ON e.id = g.enterprise_id WHERE {where}"
    sql, args = scoped(user, "SELECT g.id, g.enterprise_id, e.name AS enterprise, g.ts, "
                       "g.plate, g.direction, g.mode, g.material, "
                       f"CAST(g.tonnes AS DOUBLE) AS tonnes, g.emission_stage, g.fuel {base} "
                       "ORDER BY g.ts DESC, g.id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
    csql, cargs = scoped(user, f"SELECT count(*) {base}", params)
    with db.cursor() as cur:
        rows = Rows.fetch(cur, sql, args)
        total = cur.execute(csql, cargs).fetchone()
    rows.total = int(total[0]) if total else 0
    return rows


@router.get("/gate-records", summary="Gate records (门禁记录), paged")
def gate_records(db: Db, user: User, month: Month = None, mode: Mode = None,
                 non_compliant: Annotated[bool, Query(description="only road trips by "
                                                      "vehicles not allowed for haulage")] = False,
                 limit: Annotated[int, Query(ge=1, le=10000)] = 500,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                 fmt: Fmt = TableFormat.json) -> Response:
    """Gate records of visible enterprises in the month (CST), newest first, ``total`` given."""
    m = this_month(month)
    rows = gate_records_in_scope(db, user, m, mode=mode, non_compliant=non_compliant,
                                 limit=limit, offset=offset)
    return respond(rows, fmt, f"gate_records_{m}", db, user, {"month": m})


@router.get("/fleet", summary="In-plant vehicles and non-road machinery with stage findings")
def fleet(db: Db, user: User,
          on: Annotated[dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31),
                                              description="day the rules are checked on "
                                                          "(CST); default today")] = None,
          fmt: Fmt = TableFormat.json) -> Response:
    """Registry of in-plant vehicles (厂内车辆) and non-road machinery (非道路移动机械)."""
    from lantian.api.params import cst_now

    day = on or cst_now().date()
    return respond(ledger_rows(fleet_in_scope(db, user, day)), fmt, "plant_vehicles", db, user,
                   {"on": day.isoformat()})
