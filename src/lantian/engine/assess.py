"""Monthly ULE assessment of stored minute data: the pipeline the CLI, API and reports use.

``minute → valid hours → complete month grid → production hours → O2 conversion and hourly
verdicts → monthly verdict``; every step is an Ibis expression, so the same run goes to
DuckDB (default) or Spark (:mod:`lantian.engine.backends`). Nothing here executes a query;
callers execute the returned expressions and shape rows with :func:`monthly_record` /
:func:`hour_record`. Times are China Standard Time wall-clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.backends import (
    cache_table,
    minute_table,
    month_bounds,
    registry_table,
    table_names,
)
from lantian.engine.compliance import hourly_verdict, monthly_verdict, point_limits_daily
from lantian.engine.hours import column_of, complete_month, hours_from_blocks, valid_hours
from lantian.engine.production import production_hours

__all__ = [
    "HOUR_FIELDS",
    "assess_hours",
    "assess_month",
    "hour_record",
    "month_keys",
    "monthly_record",
    "monthly_results",
    "of_points",
]


def _pollutants_in(minute: ibis.Table) -> list[str]:
    return [
        k for k in POLLUTANTS if column_of(k) in minute.columns and f"{k}_flag" in minute.columns
    ]


def month_keys(minute: ibis.Table) -> list[str]:
    """Pollutant keys the assessment aggregates: those with a value and a flag column."""
    return _pollutants_in(minute)


def of_points(t: ibis.Table, mn: str | Sequence[str] | None) -> ibis.Table:
    """Rows of ``t`` for one point (``mn`` a string), several (a sequence) or all (``None``)."""
    if mn is None:
        return t
    if isinstance(mn, str):
        return t.filter(t.mn == mn)
    return t.filter(t.mn.isin(list(mn)))


def assess_hours(
    con: Any,
    month: str,
    *,
    mn: str | Sequence[str] | None = None,
    blocks: ibis.Table | None = None,
) -> ibis.Table:
    """Hourly verdicts of month ``YYYY-MM`` (one row per point and clock hour, CST).

    ``mn``: one point, a list of points, or ``None`` for every point.
    ``blocks``: per-(mn, block) partials of the month's minutes
    (:func:`lantian.engine.hours.block_partials` of every pollutant of :func:`month_keys`)
    already built by the caller, e.g. in a scan shared with remote quality control; the
    valid hours then come from them (:func:`~lantian.engine.hours.hours_from_blocks`)
    instead of a scan of the minutes of their own.
    See :func:`lantian.engine.compliance.hourly_verdict` for the columns.
    """
    start, end = month_bounds(month)
    n_hours = int((end - start).total_seconds() // 3600)
    minute = of_points(minute_table(con, month), mn)
    keys = _pollutants_in(minute)
    if blocks is None:
        valid = valid_hours(minute, keys)
    else:
        valid = hours_from_blocks(of_points(blocks, mn), keys)
    hours = complete_month(valid, start, n_hours)
    if con.name == "pyspark":
        # Spark inlines common table expressions: without this the minute aggregation would
        # run once per use of the hour table. DuckDB shares the CTE by itself.
        hours = cache_table(con, hours)
    mp = registry_table(con, "monitoring_point")
    outlet = registry_table(con, "outlet")
    hours = production_hours(
        hours,
        _points(con),
        registry_table(con, "enterprise_mark"),
        registry_table(con, "status_item"),
    )
    cat = con.table("limit_catalogue") if "limit_catalogue" in table_names(con) else None
    # limits in force on each day of the month (CST), joined to the hours by date
    limits = point_limits_daily(
        mp, outlet, registry_table(con, "permit_limit"), start.date(), n_hours // 24, catalogue=cat
    )
    return hourly_verdict(hours, limits, keys)


def _points(con: Any) -> ibis.Table:
    mp = registry_table(con, "monitoring_point")
    o = registry_table(con, "outlet").select(
        o_id="id", stop_flow_threshold="stop_flow_threshold", o_type="source_type"
    )
    pts = mp.left_join(o, mp.outlet_id == o.o_id)
    return pts.select(
        "mn",
        "outlet_id",
        "stop_flow_threshold",
        source_type=ibis.coalesce(pts.source_type, pts.o_type),
    ).view()


def monthly_results(con: Any, verdicts: ibis.Table, month: str) -> ibis.Table:
    """Monthly verdict per point from hourly verdicts, with ``source_type`` and ``month``."""
    keys = [k for k in POLLUTANTS if f"{k}_exceed" in verdicts.columns]
    monthly = monthly_verdict(verdicts, keys)
    st = _points(con).select(st_mn="mn", source_type="source_type")
    out = monthly.left_join(st, monthly.mn == st.st_mn).drop("st_mn")
    return out.mutate(month=ibis.literal(month)).order_by("mn")


def assess_month(
    con: Any,
    month: str,
    *,
    detail: bool = False,
    mn: str | None = None,
    blocks: ibis.Table | None = None,
) -> ibis.Table:
    """Assess month ``YYYY-MM``.

    Parameters
    ----------
    con
        Backend from :func:`lantian.engine.backends.connect`.
    month
        ``YYYY-MM`` (hours ``[first day 00:00, next month 00:00)`` CST).
    detail
        False: one row per monitoring point (:func:`~lantian.engine.compliance.monthly_verdict`
        plus ``source_type`` and ``month``). True: one row per point and hour
        (:func:`~lantian.engine.compliance.hourly_verdict`), ordered by ``mn, ts``.
    mn
        Restrict to one monitoring point.
    blocks
        Per-block partials of the month's minutes built by the caller (see
        :func:`assess_hours`); ``None`` (default): the minutes are scanned here.

    """
    verdicts = assess_hours(con, month, mn=mn, blocks=blocks)
    if detail:
        return verdicts.order_by(["mn", "ts"])
    return monthly_results(con, verdicts, month)


def _num(v: Any) -> Any:
    try:
        import math

        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
    except TypeError:
        return v
    return v


def monthly_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """Shape one monthly row into the CLI/API contract object (issue 3)."""
    keys = [k for k in POLLUTANTS if row.get(f"{k}_limited")]
    ratio = _num(row.get("compliance_ratio"))
    ule = _num(row.get("ule_pass"))
    return {
        "mn": row["mn"],
        "source_type": _num(row.get("source_type")),
        "month": row["month"],
        "production_hours": int(row["production_hours"]),
        "valid_hours": int(row["valid_hours"]),
        "compliant_hours": int(row["compliant_hours"]),
        "compliance_ratio": None if ratio is None else float(ratio),
        "ule_pass": None if ule is None else bool(ule),
        "exceedance_hours": {k: int(row[f"exceed_{k}"]) for k in keys},
        "invalid_hours": {k: int(row[f"invalid_{k}"]) for k in keys},
    }


#: Hour-detail fields besides the per-pollutant ones.
HOUR_FIELDS = (
    "mn",
    "ts",
    "o2_pct",
    "o2_valid",
    "flow_m3_s",
    "temp_c",
    "production",
    "stop_reason",
    "compliant",
)


def hour_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """Shape one hourly detail row: means, converted values, validity, production, compliant."""
    out: dict[str, Any] = {f: _num(row.get(f)) for f in HOUR_FIELDS}
    for k in POLLUTANTS:
        col = column_of(k)
        if col not in row:
            continue
        out[col] = _num(row[col])
        out[f"{k}_ref_mg_m3"] = _num(row.get(f"{k}_ref_mg_m3"))
        out[f"{k}_valid_minutes"] = int(row[f"{k}_n"])
        out[f"{k}_valid"] = bool(row[f"{k}_hour_valid"])
        out[f"{k}_limit_mg_m3"] = _num(row.get(f"{k}_limit_mg_m3"))
        out[f"{k}_exceed"] = bool(row[f"{k}_exceed"])
        out[f"{k}_zs_mg_m3"] = _num(row.get(f"{k}_zs_mg_m3"))
    return out
