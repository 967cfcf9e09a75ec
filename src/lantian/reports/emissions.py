"""Report section "排放量与碳排放 Emissions and carbon" of the monthly report (issue 9).

:func:`gather_emissions` collects, for one enterprise and month (CST):

* ``loads``: per monitoring point and pollutant the measured load, the load substituted for
  invalid production hours (HJ 75-2017 修约, chosen by the quarter-to-date capture rate;
  PM, SO2, NOx only) and the substituted share = substituted / (measured + substituted)
  [kg]. Read from the engine's stored ``month_load`` rows (``lantian assess --loads``);
  where the month is not stored they are computed from the minute data
  (:mod:`lantian.engine.loads`) — a report never requires an earlier ``assess``;
* ``yoy``: year-to-date load (January to the month) against the same months a year before,
  and the year's reduction target (``reduction_targets.csv``, e.g. −2 %):
  :func:`lantian.ledger.emissions.yoy_vs_target` on
  :func:`~lantian.ledger.emissions.monthly_loads` [t];
* ``credit``: reductions credited to the enterprise's retrofits [t/a]
  (:func:`~lantian.ledger.emissions.retrofit_credit`);
* ``offsets``: the enterprise's new projects in the double-offset ledger (倍量削减,
  :func:`lantian.ledger.carbon.offset_balance`) [t/a];
* ``intensity``: CO2 and energy intensity of the month's production records against the
  catalogue norms (:func:`lantian.ledger.carbon.intensity_check`).
"""

from __future__ import annotations

from typing import Any

import duckdb
import ibis

from lantian.engine.loads import load_hours, month_load_record, month_load_totals
from lantian.ledger.carbon import intensity_check, offset_balance
from lantian.ledger.emissions import (
    line_monthly_loads,
    monthly_loads,
    retrofit_credit,
    retrofit_plan_dates,
    yoy_vs_target,
)

__all__ = ["gather_emissions", "point_month_loads"]

_STORED = ("mn", "month", "pollutant", "load_kg", "load_hours", "substituted_load_kg",
           "substituted_hours", "unsubstituted_hours", "capture_rate")


def _pylist(expr: Any) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


def _computed_rows(ib: Any, month: str, mns: list[str]) -> list[dict[str, Any]]:
    """``month_load``-shaped rows of the points ``mns`` computed by the engine now (one query)."""
    kept: list[Any] = []
    try:
        totals = month_load_totals(load_hours(ib, month, mn=mns, kept=kept), month).execute()
    finally:
        for t in kept:  # temporary tables dropped now, while the connection is open
            t.release()
    out = []
    for row in totals.to_dict("records"):
        rec = month_load_record(row)
        for k, kg in rec["load_kg"].items():
            out.append({"mn": row["mn"], "month": month, "pollutant": k, "load_kg": kg,
                        "load_hours": rec["load_hours"][k],
                        "substituted_load_kg": rec["substituted_load_kg"].get(k),
                        "substituted_hours": rec["substituted_hours"].get(k),
                        "unsubstituted_hours": rec["unsubstituted_hours"].get(k),
                        "capture_rate": rec["capture_rate"].get(k)})
    return out


def point_month_loads(ib: Any, con: duckdb.DuckDBPyConnection, month: str,
                      points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Return stored or freshly computed month loads of ``points``, and whether any was computed.

    ``points``: dicts with ``mn`` and ``outlet``. Rows carry the ``month_load`` columns
    (``load_kg`` measured, ``substituted_load_kg``, ``substituted_hours``,
    ``unsubstituted_hours``, ``capture_rate``; kg, h, 0–1) plus ``outlet``, ``source``
    (``stored`` or ``computed``), ``total_kg`` and ``substituted_share``. Points without stored
    rows are computed together, in one engine query.
    """
    stored: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        cur = con.execute(f"SELECT {', '.join(_STORED)} FROM month_load WHERE mn = ? AND "
                          "month = ? ORDER BY pollutant", [p["mn"], month])
        stored[p["mn"]] = [dict(zip(_STORED, r, strict=True)) for r in cur.fetchall()]
    missing = [p["mn"] for p in points if not stored[p["mn"]]]
    fresh: dict[str, list[dict[str, Any]]] = {}
    for r in _computed_rows(ib, month, missing) if missing else []:
        fresh.setdefault(r["mn"], []).append(r)
    rows: list[dict[str, Any]] = []
    for p in points:
        source = "stored" if stored[p["mn"]] else "computed"
        got = stored[p["mn"]] or fresh.get(p["mn"], [])
        rows += [{**r, "outlet": p["outlet"], "source": source} for r in got]
    for r in rows:
        sub = r["substituted_load_kg"]
        total = r["load_kg"] + (sub or 0.0)
        r["total_kg"] = total
        r["substituted_share"] = None if sub is None or total <= 0 else sub / total
    return rows, bool(fresh)


def _stored_table(ib: Any, extra: list[dict[str, Any]]) -> Any:
    """``month_load`` plus the rows computed for the report (same columns)."""
    t = ib.table("month_load").select(*_STORED)
    if not extra:
        return t
    schema = ibis.schema({n: d.copy(nullable=True) for n, d in t.schema().items()})
    mem = ibis.memtable([{c: r[c] for c in _STORED} for r in extra], schema=schema)
    keys = mem.select(k_mn="mn", k_month="month").distinct()
    t = t.anti_join(keys, [t.mn == keys.k_mn, t.month == keys.k_month])
    return ibis.union(t.cast(schema), mem)


def gather_emissions(con: duckdb.DuckDBPyConnection, ib: Any, month: str,
                     enterprise_id: int, points: list[dict[str, Any]]) -> dict[str, Any]:
    """Gather the emissions and carbon section (see the module docstring).

    Parameters
    ----------
    con
        Open DuckDB connection (read-only is enough).
    ib
        Ibis backend on ``con`` (:func:`lantian.reports.monthly.ibis_backend`).
    month
        ``YYYY-MM`` (CST).
    enterprise_id
        ``enterprise.id``.
    points
        The enterprise's monitoring points: dicts with ``mn`` and ``outlet`` (name).

    """
    year, mm = int(month[:4]), month[5:]
    loads, computed = point_month_loads(ib, con, month, points)
    t = ib.table
    stored = _stored_table(ib, [r for r in loads if r["source"] == "computed"])
    ml = monthly_loads(t("flue_hour"), t("monitoring_point"), t("outlet"), t("enterprise"),
                       stored=stored)
    ml = ml.filter(ml.enterprise_id == enterprise_id)
    ytd = ml.filter(ml.month.substr(5, 2) <= mm)
    yoy = _pylist(yoy_vs_target(ytd, year))
    plans = retrofit_plan_dates(t("retrofit_plan"), t("retrofit_milestone"))
    lines = line_monthly_loads(ml, t("production_line_outlet"), t("production_line"))
    credit = _pylist(retrofit_credit(lines, plans.filter(plans.enterprise_id == enterprise_id)))
    own = {r[0] for r in con.execute("SELECT id FROM offset_project WHERE enterprise_id = ?",
                                     [enterprise_id]).fetchall()}
    offsets = [r for r in offset_balance(con) if r["project_id"] in own]
    rec = t("production_record")
    rec = rec.filter((rec.enterprise_id == enterprise_id) & (rec.month == month))
    intensity = _pylist(intensity_check(rec))
    return {"month": month, "year": year, "loads": loads, "computed": computed, "yoy": yoy,
            "credit": credit, "offsets": offsets, "intensity": intensity}
