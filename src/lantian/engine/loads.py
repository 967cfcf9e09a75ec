"""Emission load (排放量) per hour, day and month from valid hours, HJ 75-2017.

``G [kg/h] = C [mg/m³, dry standard, measured — not O2-converted] × Q_sn [m³/h] × 10⁻⁶``

``Q_sn`` is the dry standard flow (标干流量). The HJ 212-2017 code table gives ``a00000`` in
m³/s (dry standard); the unit a logger actually sends is registered per point in
``monitoring_point.flow_unit`` (``m3/s`` or ``m3/h``) and converted here:
``Q [m³/h] = flow × 3600`` for ``m3/s``, ``× 1`` for ``m3/h``. A load needs a valid
pollutant hour and a valid flow hour; other hours have no measured load (they are the
periods HJ 75 substitution fills — not implemented yet, see ``docs/engine.md``).

Daily load [kg] = Σ hourly loads of the natural day (CST); monthly = Σ daily.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from lantian.engine.hours import column_of

__all__ = ["FLOW_TO_M3_H", "daily_loads", "hourly_loads"]

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
