"""Emission load (排放量) per hour, day and month from valid hours, HJ 75-2017.

``G [kg/h] = C [mg/m³, dry standard, measured — not O2-converted] × Q_sn [m³/h] × 10⁻⁶``

``Q_sn`` is the dry standard flow (标干流量). The HJ 212-2017 code table gives ``a00000`` in
m³/s (dry standard); the unit a logger actually sends is registered per point in
``monitoring_point.flow_unit`` (``m3/s`` or ``m3/h``) and converted here:
``Q [m³/h] = flow × 3600`` for ``m3/s``, ``× 1`` for ``m3/h``. A load needs a valid
pollutant hour and a valid flow hour; other hours have no measured load. For the
pollutants HJ 75-2017 names (:data:`SUBSTITUTED`: PM, SO2, NOx) the invalid *production*
hours get a substitute load chosen by the quarter-to-date capture rate
(:mod:`lantian.engine.substitution`, :mod:`lantian.engine.capture`); concentrations are
never substituted.

Daily load [kg] = Σ hourly loads of the natural day (CST); monthly = Σ daily (reference
notes §1.1). The monthly *measured* load is Σ of the measured hourly loads of the month
[kg]; the monthly *substituted* load is Σ of the substitute hourly loads [kg]; both are
kept apart (never mixed into one number without saying so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import ibis

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.assess import assess_hours, of_points
from lantian.engine.backends import month_bounds, registry_table
from lantian.engine.capture import load_span
from lantian.engine.hours import column_of, valid_hours
from lantian.engine.substitution import substitute_loads

__all__ = [
    "FLOW_TO_M3_H",
    "SUBSTITUTED",
    "daily_loads",
    "hour_load_record",
    "hourly_loads",
    "load_hours",
    "month_load_record",
    "month_load_totals",
]

#: Pollutants whose loads HJ 75-2017 substitutes for invalid periods (reference notes §1.2:
#: "only the emission amounts of SO2, NOx and PM are substituted").
SUBSTITUTED: tuple[str, ...] = ("pm", "so2", "nox")

#: Factor from the unit the logger sends ``a00000`` in to m³/h.
FLOW_TO_M3_H: dict[str, float] = {"m3/s": 3600.0, "m3/h": 1.0}


def hourly_loads(hours: ibis.Table, points: ibis.Table, keys: Sequence[str]) -> ibis.Table:
    """Add ``flow_m3_h`` [m³/h] and ``<k>_load_kg_h`` [kg/h] to valid hours.

    Parameters
    ----------
    hours
        Output of :func:`lantian.engine.hours.valid_hours` (measured hourly means).
    points
        ``mn``, ``flow_unit`` (``m3/s`` default where unknown).
    keys
        Pollutant keys.

    """
    unit = points.select(u_mn="mn", u="flow_unit")
    h = hours.left_join(unit, hours.mn == unit.u_mn).drop("u_mn")
    factor = ibis.cases(
        *[(h.u.fill_null("m3/s") == k, v) for k, v in FLOW_TO_M3_H.items()],
        else_=ibis.null("float64"),
    )
    flow_h = ibis.cases((h.flow_valid, h[column_of("flow")] * factor), else_=ibis.null("float64"))
    h = h.mutate(flow_m3_h=flow_h).drop("u")
    return h.mutate(
        **{
            f"{k}_load_kg_h": ibis.cases(
                (h[f"{k}_valid"], h[column_of(k)] * h.flow_m3_h * 1e-6),
                else_=ibis.null("float64"),
            )
            for k in keys
        }
    )


def daily_loads(loads: ibis.Table, keys: Sequence[str]) -> ibis.Table:
    """Daily measured loads [kg] per point: Σ of the hourly loads of the CST day."""
    d = loads.mutate(day=loads.ts.date())
    return d.group_by(["mn", "day"]).aggregate(
        **{f"{k}_load_kg": d[f"{k}_load_kg_h"].sum() for k in keys},
        **{f"{k}_load_hours": d[f"{k}_load_kg_h"].count() for k in keys},
    )


def load_hours(
    con: Any,
    month: str,
    *,
    mn: str | Sequence[str] | None = None,
    lookback: int = 3,
    month_hours: ibis.Table | None = None,
    kept: list[ibis.Table] | None = None,
) -> ibis.Table:
    """Hourly measured and substitute loads of the hours month ``YYYY-MM`` needs.

    The hours are those of :func:`lantian.engine.capture.load_span` (``lookback`` months
    before the quarter, then the quarter up to ``month``), each month of the quarter through
    :func:`lantian.engine.assess.assess_hours` (valid hours, complete month grid,
    production hours); a point with data in any month of the quarter gets every hour of the
    quarter to date (an hour with no data at all is a production hour without valid data).
    ``month_hours``: the caller's own ``assess_hours(con, month, mn=mn)`` (e.g. cached for
    the verdicts), used for ``month`` instead of computing it again. ``kept``: a list that
    receives the tables materialised on the way (temporary tables), so that the caller can
    ``release()`` them once the result is executed and before the connection closes —
    otherwise they are dropped whenever Python collects them, which may be after the
    connection is gone.

    Returns
    -------
    ibis.Table
        ``mn``, ``ts`` [CST hour start], ``production``, ``flow_m3_h`` [m³/h], per pollutant
        key present ``<k>_mg_m3`` [mg/m³], ``<k>_valid``, ``<k>_present`` [minutes],
        ``<k>_load_kg_h`` [kg/h, measured; null when invalid]; per key of
        :data:`SUBSTITUTED` also ``<k>_sub_load_kg_h`` [kg/h, null unless substituted],
        ``<k>_run_hours`` (N of the invalid run) and ``<k>_capture_pct`` (α [%] from the
        quarter's first hour to the end of ``month``, on production hours).

    """
    months, capture_from = load_span(month, lookback)
    quarter = [m for m in months if month_bounds(m)[0] >= capture_from]
    parts = []
    keys: list[str] = []
    for m in quarter:
        v = month_hours if (m == month and month_hours is not None) else assess_hours(con, m, mn=mn)
        keys = [k for k in POLLUTANTS if f"{k}_valid" in v.columns]
        cols = [c for k in keys for c in (column_of(k), f"{k}_valid", f"{k}_present")]
        # each month materialised on its own (a temporary table): the month pipelines are
        # large expressions, and several of them in one query repeat their named parts
        parts.append(
            v.select(
                "mn",
                "ts",
                "flow_m3_s",
                "flow_valid",
                *cols,
                production=v.production.fill_null(False),
            ).cache()
        )
        if kept is not None:
            kept.append(parts[-1])
    # a point silent for a whole month of the quarter still has those hours: production
    # hours without valid data (no stop evidence), as within a month
    parts = [_quarter_grid(parts, capture_from, month)]
    if len(months) > len(quarter):
        # before the quarter the hours only serve as "valid hours before the failure": one
        # scan of their minutes, every hour with data taken as a production hour
        first = month_bounds(months[0])[0]
        minute = con.table("flue_minute")
        if "month" in minute.columns:
            minute = minute.drop("month")
        minute = of_points(minute.filter((minute.ts >= first) & (minute.ts < capture_from)), mn)
        before = valid_hours(minute, keys)
        before = before.select(*parts[0].columns[:-1], production=ibis.literal(True))
        parts.insert(0, before.cast(parts[0].schema()))
    h = ibis.union(*parts) if len(parts) > 1 else parts[0]
    # materialised once (a temporary table, as assess_hours does on Spark): the substitution
    # reads these hours several times per pollutant, and re-running the minute aggregation
    # for each read costs minutes instead of seconds
    base = hourly_loads(h, registry_table(con, "monitoring_point"), keys).cache()
    if kept is not None:
        kept.append(base)
    # each pollutant's substitution reads the materialised hours, never the previous
    # pollutant's join: chained, every step repeated the whole tree below it several times
    # and Spark's planner ran out of heap on inlining the copies (CTEs are inlined there)
    h = base
    for k in (k for k in SUBSTITUTED if k in keys):
        col = f"{k}_load_kg_h"
        s = substitute_loads(
            base.select("mn", "ts", "production", col), col, capture_from=capture_from
        )
        s = s.select(
            s_mn="mn",
            s_ts="ts",
            **{
                f"{k}_sub_load_kg_h": s[f"{col}_sub"],
                f"{k}_run_hours": s.run_hours,
                f"{k}_capture_pct": s.alpha_pct,
            },
        )
        h = h.left_join(s, [h.mn == s.s_mn, h.ts == s.s_ts]).drop("s_mn", "s_ts").view()
    return h


def _quarter_grid(parts: list[ibis.Table], capture_from: Any, month: str) -> ibis.Table:
    """Every hour from ``capture_from`` to the end of ``month`` for each point in ``parts``."""
    q = ibis.union(*parts) if len(parts) > 1 else parts[0]
    n = int((month_bounds(month)[1] - capture_from).total_seconds() // 3600)
    grid = q.select("mn").distinct()
    grid = grid.select("mn", i=ibis.range(0, n).unnest())
    grid = grid.select("mn", ts=ibis.literal(capture_from) + grid.i.as_interval("h"))
    j = grid.left_join(q, ["mn", "ts"]).drop("mn_right", "ts_right")
    fills: dict[str, ibis.Value] = {"production": j.production.fill_null(True)}
    for c in j.columns:
        if c.endswith("_valid"):
            fills[c] = j[c].fill_null(False)
        elif c.endswith("_present"):
            fills[c] = j[c].fill_null(0)
    return j.mutate(**fills).select(*q.columns)


def month_load_totals(hours: ibis.Table, month: str) -> ibis.Table:
    """Monthly load figures per point from :func:`load_hours` (hours of ``month``).

    Per key ``k``: ``<k>_present`` (minutes with a value in the quarter to date: the point
    measures ``k``), ``<k>_load_kg`` (Σ measured hourly loads of the month [kg]),
    ``<k>_load_hours``; per substituted key also ``<k>_sub_kg`` (Σ substitute loads [kg]),
    ``<k>_sub_hours`` (hours substituted), ``<k>_unsub_hours`` (invalid production hours
    left without a substitute: α < 75 % or no valid hour before the failure) and
    ``<k>_capture_pct`` (quarter to date [%]). Points with no hour in the quarter to date
    are left out.
    """
    start, end = month_bounds(month)
    q_start = load_span(month, 0)[1]
    h = hours.filter((hours.ts >= q_start) & (hours.ts < end))
    m = h.ts >= start
    keys = [k for k in POLLUTANTS if f"{k}_load_kg_h" in h.columns]
    aggs: dict[str, ibis.Value] = {"production_hours": (h.production & m).cast("int64").sum()}
    for k in keys:
        load = h[f"{k}_load_kg_h"]
        aggs[f"{k}_present"] = h[f"{k}_present"].sum()
        aggs[f"{k}_load_kg"] = load.sum(where=m).fill_null(0.0)
        aggs[f"{k}_load_hours"] = load.count(where=m)
        if f"{k}_sub_load_kg_h" in h.columns:
            sub = h[f"{k}_sub_load_kg_h"]
            aggs[f"{k}_sub_kg"] = sub.sum(where=m).fill_null(0.0)
            aggs[f"{k}_sub_hours"] = sub.count(where=m)
            aggs[f"{k}_unsub_hours"] = (
                (m & h.production & load.isnull() & sub.isnull()).cast("int64").sum()
            )
            aggs[f"{k}_capture_pct"] = h[f"{k}_capture_pct"].max()
    return h.group_by("mn").aggregate(**aggs).order_by("mn")


def _num(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def month_load_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """Shape one :func:`month_load_totals` row into the ``assess --loads`` keys.

    ``load_kg`` and ``substituted_load_kg`` [kg] (unrounded), ``load_hours`` (hours with a
    measured load), ``substituted_hours`` and
    ``unsubstituted_hours`` [h], ``capture_rate`` (fraction 0–1 of the quarter's production
    hours to date, like ``compliance_ratio``; null without production hours). Only the
    pollutants the point measured in the quarter to date (any minute with a value) appear.
    """
    keys = [k for k in POLLUTANTS if int(_num(row.get(f"{k}_present")) or 0) > 0]
    subs = [k for k in keys if f"{k}_sub_kg" in row]
    cap = {k: _num(row.get(f"{k}_capture_pct")) for k in subs}
    return {
        "load_kg": {k: float(row[f"{k}_load_kg"]) for k in keys},
        "load_hours": {k: int(row[f"{k}_load_hours"]) for k in keys},
        "substituted_load_kg": {k: float(row[f"{k}_sub_kg"]) for k in subs},
        "substituted_hours": {k: int(row[f"{k}_sub_hours"]) for k in subs},
        "unsubstituted_hours": {k: int(row[f"{k}_unsub_hours"]) for k in subs},
        "capture_rate": {k: None if v is None else float(v) / 100.0 for k, v in cap.items()},
    }


def hour_load_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """Per-hour load fields of ``assess --detail hours --loads``.

    ``flow_m3_h`` [m³/h], per key ``<k>_load_kg_h`` [kg/h, measured, null when invalid];
    per substituted key ``<k>_substituted`` (bool) and ``<k>_sub_load_kg_h`` [kg/h].
    """
    out: dict[str, Any] = {"flow_m3_h": _num(row.get("flow_m3_h"))}
    for k in POLLUTANTS:
        if f"{k}_load_kg_h" not in row:
            continue
        out[f"{k}_load_kg_h"] = _num(row[f"{k}_load_kg_h"])
        if f"{k}_sub_load_kg_h" in row:
            sub = _num(row[f"{k}_sub_load_kg_h"])
            out[f"{k}_substituted"] = sub is not None
            out[f"{k}_sub_load_kg_h"] = sub
    return out
