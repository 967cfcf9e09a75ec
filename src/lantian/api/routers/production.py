"""Production control, heavy-pollution alerts, grades, emissions and carbon (issue 9).

Each route runs the ledger's Ibis expression or function (:mod:`lantian.ledger`) and keeps
the rows of enterprises in the caller's scope. Loads in tonnes [t], intensities per tonne
of product, times China Standard Time wall-clock.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from lantian.api.deps import Database, Db, User, require_principal
from lantian.api.export import TableFormat, respond
from lantian.api.params import MONTH_RE, Fmt, Month, cst_now, this_month
from lantian.api.problems import Problem
from lantian.api.routers.ledger_scope import (
    ibis_of,
    keep_expr,
    keep_rows,
    ledger_rows,
    run_ledger,
    visible_enterprises,
)
from lantian.errors import LantianError

__all__ = ["alert_actions_in_scope", "alert_violations_in_scope", "grades_in_scope",
           "intensity_in_scope", "loads_in_scope", "offsets_in_scope", "retrofit_credit_in_scope",
           "router", "violations_in_scope", "yoy_in_scope"]

router = APIRouter(prefix="/api", tags=["ledgers: production, alerts, emissions"],
                   dependencies=[Depends(require_principal)])
Year = Annotated[int | None, Query(ge=2000, le=2100, description="year (CST); default this "
                                                                 "year")]


def _rows(db: Database, user: Any, build: Any) -> list[dict[str, Any]]:
    """Run ``build(ibis_backend) -> Ibis table`` and keep rows of visible enterprises."""
    ids = visible_enterprises(db, user)

    def go(cur: Any) -> list[dict[str, Any]]:
        return list(keep_expr(build(ibis_of(cur)), ids).to_pyarrow().to_pylist())

    try:
        return run_ledger(db, go)[0]
    except LantianError as exc:
        raise Problem(422, str(exc)) from exc


def _named(ib: Any, expr: Any, order: list[str]) -> Any:
    """Add the enterprise name (column ``enterprise``) beside ``enterprise_id``."""
    from lantian.ledger.production_control import with_enterprise_names

    return with_enterprise_names(expr, ib.table("enterprise")).order_by(order)


def _alerts(ib: Any, month: str | None) -> Any:
    """Alert periods, or those overlapping ``month`` (``YYYY-MM``, CST) when given."""
    from lantian.ledger.transport import month_bounds

    a = ib.table("alert_period")
    if month is None:
        return a
    lo, hi = month_bounds(month)
    return a.filter((a.start_ts < hi) & (a.end_ts > lo))


def violations_in_scope(db: Database, user: Any, month: str | None = None
                        ) -> list[dict[str, Any]]:
    """Staggered-production agreement violations with their evidence (flow, status, power).

    ``month`` (``YYYY-MM``) keeps the violations of that month (days, or the month itself).
    """
    from lantian.ledger.production_control import agreement_violations, operating_evidence

    def build(ib: Any) -> Any:
        v = agreement_violations(operating_evidence(ib), ib.table("production_agreement"))
        if month is not None:
            v = v.filter(v.period.startswith(month))
        return _named(ib, v, ["enterprise_id", "line", "period", "rule"])

    return _rows(db, user, build)


def alert_actions_in_scope(db: Database, user: Any, month: str | None = None,
                           baseline_days: int = 7) -> list[dict[str, Any]]:
    """Measure per line and alert by the grade (绩效分级) at the alert's start, and compliance.

    Running hours during the alert and ``complied`` from ``alert_compliance``; ``month``
    keeps the alerts overlapping that month (CST).
    """
    from lantian.ledger.alerts import alert_compliance, alert_reduction, required_actions_of
    from lantian.ledger.emissions import hourly_enterprise_loads
    from lantian.ledger.production_control import operating_evidence

    def build(ib: Any) -> Any:
        t = ib.table
        alerts = _alerts(ib, month)
        loads = hourly_enterprise_loads(t("flue_hour"), t("monitoring_point"), t("outlet"))
        red = alert_reduction(loads, alerts, t("enterprise"), baseline_days=baseline_days)
        return _named(ib, alert_compliance(operating_evidence(ib),
                                           required_actions_of(ib, alerts), red),
                      ["alert_id", "enterprise_id", "line"])

    return _rows(db, user, build)


def alert_violations_in_scope(db: Database, user: Any, month: str | None = None
                              ) -> list[dict[str, Any]]:
    """Lines that had to stop but ran during an alert, with hours and evidence."""
    from lantian.ledger.alerts import alert_violations, required_actions_of
    from lantian.ledger.production_control import operating_evidence

    return _rows(db, user, lambda ib: _named(
        ib, alert_violations(operating_evidence(ib), required_actions_of(ib, _alerts(ib, month))),
        ["alert_id", "enterprise_id", "line"]))


def alert_reduction_in_scope(db: Database, user: Any, baseline_days: int,
                             month: str | None = None) -> list[dict[str, Any]]:
    """Load reduction during each alert against the days before, vs the 10/20/30 % target."""
    from lantian.ledger.alerts import alert_reduction
    from lantian.ledger.emissions import hourly_enterprise_loads

    def build(ib: Any) -> Any:
        t = ib.table
        loads = hourly_enterprise_loads(t("flue_hour"), t("monitoring_point"), t("outlet"))
        return _named(ib, alert_reduction(loads, _alerts(ib, month), t("enterprise"),
                                          baseline_days=baseline_days),
                      ["alert_id", "enterprise_id", "pollutant"])

    return _rows(db, user, build)


def _monthly_loads(ib: Any) -> Any:
    """Return monthly loads per point and pollutant [t] (ledger ``monthly_loads``)."""
    from lantian.ledger.emissions import monthly_loads

    t = ib.table
    return monthly_loads(t("flue_hour"), t("monitoring_point"), t("outlet"), t("enterprise"))


def loads_in_scope(db: Database, user: Any, by: str, period: str) -> list[dict[str, Any]]:
    """Return loads [t] per unit ``by`` and month or year, flagged (substituted) hours beside.

    ``load_t`` = ``measured_t`` + ``substituted_t`` [t]; ``substituted_t`` and
    ``substituted_hours`` are the HJ 75-2017 substitutes of invalid production hours from
    ``lantian assess --loads`` (``month_load``), null for months summed from the logger's
    ``-Cou`` values. Substitution applies to loads only, never to concentrations.
    """

    def build(ib: Any) -> Any:
        m = _monthly_loads(ib)
        m = m.mutate(period=m.month if period == "month" else m.month.substr(0, 4))
        keys = list(dict.fromkeys(["enterprise_id", by, "period", "pollutant"]))
        return m.group_by(keys).aggregate(
            load_t=m.load_t.sum(), measured_t=m.measured_t.sum(),
            substituted_t=m.substituted_t.sum(), hours=m.hours.sum(),
            flagged_hours=m.flagged_hours.sum(), substituted_hours=m.substituted_hours.sum(),
        ).order_by([by, "period", "pollutant"])

    rows = _rows(db, user, build)
    if by == "enterprise_id":
        return rows
    acc: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:  # several enterprises per district: sum what is in scope
        key = (r[by], r["period"], r["pollutant"])
        a = acc.setdefault(key, {by: key[0], "period": key[1], "pollutant": key[2],
                                 "load_t": 0.0, "measured_t": 0.0, "substituted_t": None,
                                 "hours": 0, "flagged_hours": 0, "substituted_hours": None})
        for c in ("load_t", "measured_t", "hours", "flagged_hours"):
            a[c] += r[c] or 0
        for c in ("substituted_t", "substituted_hours"):  # null: no engine month in the sum
            if r[c] is not None:
                a[c] = (a[c] or 0) + r[c]
    return list(acc.values())


def yoy_in_scope(db: Database, user: Any, year: int, by: str) -> list[dict[str, Any]]:
    """Annual load of ``year`` vs ``year − 1`` against the reduction targets (e.g. −2 %)."""
    from lantian.ledger.emissions import yoy_vs_target

    ids = visible_enterprises(db, user)

    def go(cur: Any) -> list[dict[str, Any]]:
        loads = keep_expr(_monthly_loads(ibis_of(cur)), ids)
        return list(yoy_vs_target(loads, year, by).to_pyarrow().to_pylist())

    return run_ledger(db, go)[0]


def retrofit_credit_in_scope(db: Database, user: Any, months: int = 3) -> list[dict[str, Any]]:
    """Return the annual reduction credited to each retrofit of a visible enterprise [t/a].

    Mean monthly load ``months`` before construction vs after the stable month, × 12.
    """
    from lantian.ledger.emissions import (
        line_monthly_loads,
        retrofit_credit,
        retrofit_plan_dates,
    )

    ids = visible_enterprises(db, user)

    def go(cur: Any) -> list[dict[str, Any]]:
        ib = ibis_of(cur)
        t = ib.table
        loads = line_monthly_loads(_monthly_loads(ib), t("production_line_outlet"),
                                   t("production_line"))
        plans = retrofit_plan_dates(t("retrofit_plan"), t("retrofit_milestone"))
        rows = list(retrofit_credit(loads, plans, months).to_pyarrow().to_pylist())
        owner = dict(cur.execute("SELECT id, enterprise_id FROM retrofit_plan").fetchall())
        return [{"enterprise_id": owner.get(r["plan_id"]), **r} for r in rows]

    return keep_rows(run_ledger(db, go)[0], ids)


def intensity_in_scope(db: Database, user: Any) -> list[dict[str, Any]]:
    """CO2, energy and power intensity per tonne of product against the sector norms."""
    from lantian.ledger.carbon import intensity_check

    return _rows(db, user, lambda ib: intensity_check(ib.table("production_record")))


def offsets_in_scope(db: Database, user: Any) -> list[dict[str, Any]]:
    """Offsets ledger (倍量削减) rows of projects of visible enterprises."""
    from lantian.ledger.carbon import offset_balance

    ids = visible_enterprises(db, user)
    rows, _ = run_ledger(db, offset_balance)
    with db.cursor() as cur:
        owner = dict(cur.execute("SELECT id, enterprise_id FROM offset_project").fetchall())
    for r in rows:
        r["enterprise_id"] = owner.get(r["project_id"])
    return keep_rows(rows, ids)


def grades_in_scope(db: Database, user: Any, month: str) -> list[dict[str, Any]]:
    """A-grade eligibility and downgrade warnings of visible enterprises (window to ``month``).

    ULE verdicts come from the engine's ``month_ule_verdict`` table; months without rows
    there count as not assessed.
    """
    from lantian.ledger.grades import gather_grade_evidence

    ids = visible_enterprises(db, user)
    try:
        rows, _ = run_ledger(db, lambda cur: gather_grade_evidence(cur, month))
    except LantianError as exc:
        raise Problem(422, str(exc)) from exc
    return keep_rows(rows, ids)


def _send(rows: list[dict[str, Any]], fmt: TableFormat, name: str, db: Database, user: Any,
          **extra: Any) -> Response:
    return respond(ledger_rows(rows), fmt, name, db, user, extra or None)


AnyMonth = Annotated[str | None, Query(pattern=MONTH_RE,
                                       description="YYYY-MM (CST); default: all periods")]


@router.get("/production/violations", summary="Production-control agreement violations")
def production_violations(db: Db, user: User, month: AnyMonth = None,
                          fmt: Fmt = TableFormat.json) -> Response:
    """Violations of staggered-production agreements (错峰生产) with running hours and evidence.

    Each row has ``enterprise_id`` and the enterprise's name ``enterprise``.
    """
    return _send(violations_in_scope(db, user, month), fmt, "production_violations", db, user)


@router.get("/alerts/actions", summary="Required measures per line in each heavy-pollution alert")
def alert_actions(db: Db, user: User, month: AnyMonth = None,
                  fmt: Fmt = TableFormat.json) -> Response:
    """Strictest measure per line and alert by the performance grade in force at its start.

    With ``running_hours`` during the alert, the ``evidence`` kinds and ``complied`` (stop:
    did not run; reduce: the enterprise reached the level's target over the 7 days before;
    null: self-reduction or no load data).
    """
    return _send(alert_actions_in_scope(db, user, month), fmt, "alert_actions", db, user)


@router.get("/alerts/violations", summary="Lines that ran when an alert required a stop")
def alert_violation_rows(db: Db, user: User, month: AnyMonth = None,
                         fmt: Fmt = TableFormat.json) -> Response:
    """Alert, line, running hours, first and last running hour (CST), evidence."""
    return _send(alert_violations_in_scope(db, user, month), fmt, "alert_violations", db, user)


@router.get("/alerts/reduction", summary="Reduction achieved during alerts vs 10/20/30 %")
def alert_reduction_rows(db: Db, user: User,
                         baseline_days: Annotated[int, Query(ge=1, le=60)] = 7,
                         month: AnyMonth = None,
                         fmt: Fmt = TableFormat.json) -> Response:
    """Reduction of the mean hourly load during each alert against the days before it [%]."""
    return _send(alert_reduction_in_scope(db, user, baseline_days, month), fmt,
                 "alert_reduction", db, user)


@router.get("/grades", summary="A-grade eligibility and downgrade warnings")
def grades(db: Db, user: User, month: Month = None, fmt: Fmt = TableFormat.json) -> Response:
    """ULE passed in the recent months, clean transport, no alarms (window ending ``month``)."""
    m = this_month(month)
    return _send(grades_in_scope(db, user, m), fmt, f"grades_{m}", db, user, month=m)


@router.get("/emissions/loads", summary="Monthly or annual loads [t]")
def loads(db: Db, user: User,
          by: Annotated[Literal["mn", "outlet_id", "enterprise_id", "district_code"],
                        Query()] = "enterprise_id",
          period: Annotated[Literal["month", "year"], Query()] = "month",
          fmt: Fmt = TableFormat.json) -> Response:
    """Send loads from hourly -Cou amounts per point/outlet/enterprise/district [t]."""
    return _send(loads_in_scope(db, user, by, period), fmt, "loads", db, user)


@router.get("/emissions/yoy", summary="Year-on-year load change against targets")
def yoy(db: Db, user: User, year: Year = None,
        by: Annotated[Literal["enterprise_id", "district_code", "outlet_id"],
                      Query()] = "enterprise_id",
        fmt: Fmt = TableFormat.json) -> Response:
    """Change of the annual load [%] against the target (e.g. −2 % SO2, NOx, VOCs)."""
    y = year or cst_now().year
    return _send(yoy_in_scope(db, user, y, by), fmt, f"yoy_{y}", db, user, year=y)


@router.get("/emissions/retrofit-credit", summary="Reduction credited to each retrofit [t/a]")
def retrofit_credit_rows(db: Db, user: User,
                         months: Annotated[int, Query(ge=1, le=12)] = 3,
                         fmt: Fmt = TableFormat.json) -> Response:
    """Before/after mean monthly load of the retrofitted line and the credit × 12 [t/a]."""
    return _send(retrofit_credit_in_scope(db, user, months), fmt, "retrofit_credit", db, user)


@router.get("/carbon/intensity", summary="CO2 and energy intensity vs sector norms")
def intensity(db: Db, user: User, fmt: Fmt = TableFormat.json) -> Response:
    """Per enterprise, month and product: value, norm and whether it is over."""
    return _send(intensity_in_scope(db, user), fmt, "intensity", db, user)


@router.get("/offsets", summary="Offsets ledger (倍量削减)")
def offsets(db: Db, user: User, fmt: Fmt = TableFormat.json) -> Response:
    """Reduction required (new load × ratio), credited (verified) and the gap [t/a]."""
    return _send(offsets_in_scope(db, user), fmt, "offsets", db, user)
