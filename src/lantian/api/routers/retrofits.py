"""Retrofit programmes (超低排放改造等): plans with milestones, warnings, progress (issue 8).

Rows come from :func:`lantian.ledger.retrofit.plan_status` and
:mod:`lantian.ledger.retrofit_progress`, kept to the caller's scope. Dates are China
Standard Time calendar days; ``today`` defaults to the current CST date.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from lantian.api.auth import Principal, Role
from lantian.api.deps import Db, User, require_principal, scoped
from lantian.api.export import TableFormat, respond
from lantian.api.params import Fmt, cst_now
from lantian.api.queries import Rows
from lantian.api.routers.ledger_scope import (
    keep_rows,
    ledger_rows,
    run_ledger,
    visible_enterprises,
)

__all__ = ["district_progress", "plans_in_scope", "router"]

router = APIRouter(prefix="/api/retrofits", tags=["ledgers: retrofits"],
                   dependencies=[Depends(require_principal)])
Today = Annotated[dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31),
                                        description="reference day YYYY-MM-DD (CST); "
                                                    "default today")]
AtRisk = Annotated[int, Query(ge=0, le=366, description="days before a due date that count "
                                                       "as at risk [d]")]
State = Annotated[Literal["done", "done_late", "overdue", "at_risk", "pending"] | None, Query()]


def _today(today: dt.date | None) -> dt.date:
    return today or cst_now().date()


def plans_in_scope(db: Db, user: Principal, today: dt.date,
                   at_risk_days: int = 30) -> tuple[list[dict[str, Any]], list[str]]:
    """Milestone rows of the plans of visible enterprises, and any calendar warnings."""
    from lantian.ledger.retrofit import plan_status

    ids = visible_enterprises(db, user)
    rows, warn = run_ledger(db, lambda cur: plan_status(cur, today, at_risk_days=at_risk_days))
    return keep_rows(rows, ids), warn


def district_progress(db: Db, user: Principal, today: dt.date) -> list[dict[str, Any]]:
    """Plans, lines done and overdue per programme and district, in the caller's scope.

    Admins see every district; regulators the districts under their codes; enterprise and
    maintainer accounts get the rows of their own plans only (counted from
    :func:`plans_in_scope`, so no other enterprise is counted).
    """
    from lantian.ledger.retrofit_progress import progress_by_district

    if user.role is Role.admin:
        return run_ledger(db, lambda cur: progress_by_district(cur, today))[0]
    if user.role is Role.regulator:
        rows = run_ledger(db, lambda cur: progress_by_district(cur, today))[0]
        return [r for r in rows if r["district_code"]
                and any(str(r["district_code"]).startswith(c) for c in user.scope)]
    from lantian.ledger.retrofit import programme_targets

    comp = {t.programme: t.completion_milestone for t in programme_targets()}
    acc: dict[tuple[str, str], dict[str, int]] = {}
    for r in plans_in_scope(db, user, today)[0]:
        if r["milestone"] != comp.get(r["programme"]):
            continue
        a = acc.setdefault((r["programme"], r["district_code"] or ""),
                           {"plans": 0, "done": 0, "overdue": 0})
        a["plans"] += 1
        a["done"] += r["done_on"] is not None and r["done_on"] <= today
        a["overdue"] += r["state"] == "overdue"
    return [{"programme": p, "district_code": d, **v} for (p, d), v in sorted(acc.items())]


@router.get("/plans", summary="Retrofit plans with milestone status (overdue/at risk/must stop)")
def plans(db: Db, user: User, today: Today = None, at_risk_days: AtRisk = 30,
          state: State = None, fmt: Fmt = TableFormat.json) -> Response:
    """One row per plan and milestone: due date, done date, ``state``, ``must_stop``."""
    day = _today(today)
    rows, warn = plans_in_scope(db, user, day, at_risk_days)
    if state is not None:
        rows = [r for r in rows if r["state"] == state]
    return respond(ledger_rows(rows), fmt, "retrofit_plans", db, user,
                   {"today": day.isoformat(), "warnings": warn})


@router.get("/progress", summary="Progress of each programme target")
def progress(db: Db, user: User, today: Today = None, fmt: Fmt = TableFormat.json) -> Response:
    """Programme targets (e.g. 30 kiln lines by end-2025) with lines done and status.

    Counts are province-wide, so they are shown to admins and regulators; enterprise and
    maintainer accounts get no rows here (their own plans are under ``/plans``).
    """
    from lantian.ledger.retrofit_progress import programme_progress

    day = _today(today)
    rows: list[dict[str, Any]] = []
    warn: list[str] = []
    if user.role in (Role.admin, Role.regulator):
        rows, warn = run_ledger(db, lambda cur: programme_progress(cur, day))
    return respond(ledger_rows(rows), fmt, "retrofit_progress", db, user,
                   {"today": day.isoformat(), "warnings": warn})


@router.get("/districts", summary="Retrofit progress by district")
def districts(db: Db, user: User, today: Today = None, fmt: Fmt = TableFormat.json) -> Response:
    """Plans, done and overdue per (programme, district code) in scope."""
    day = _today(today)
    return respond(ledger_rows(district_progress(db, user, day)), fmt, "retrofit_districts",
                   db, user, {"today": day.isoformat()})


@router.get("/dynamic-list", summary="Dynamic supervision list (动态管理清单)")
def dynamic_list(db: Db, user: User, fmt: Fmt = TableFormat.json) -> Response:
    """Lines publicly listed as ULE, with removal date and reason when removed."""
    sql, args = scoped(user, "SELECT p.id AS plan_id, p.programme, p.enterprise_id, "
                       "e.name AS enterprise, p.line, d.listed_on, d.removed_on, "
                       "d.removed_reason FROM dynamic_list d JOIN retrofit_plan p "
                       "ON p.id = d.plan_id JOIN enterprise e ON e.id = p.enterprise_id "
                       "WHERE p.enterprise_id IN (SELECT id FROM vis_ent) "
                       "ORDER BY d.listed_on, p.id")
    with db.cursor() as cur:
        rows = Rows.fetch(cur, sql, args)
    return respond(rows, fmt, "dynamic_list", db, user)
