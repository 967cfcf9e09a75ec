"""Emission loads by month and year, year-on-year targets, and reductions credited to retrofits.

- :func:`monthly_loads`: loads per point, outlet, enterprise and district. Where the engine
  has computed a month (``lantian assess --loads``, table ``month_load``, HJ 75-2017) those
  stored loads are read: ``load_t`` = measured + substituted load, with
  ``substituted_t`` and ``substituted_hours`` beside it and ``flagged_hours`` = invalid
  production hours (substituted or left open). Other months fall back to the hourly
  ``<key>_cou`` amounts the loggers report (HJ 212 ``-Cou``, [kg] per hour), with the hours
  whose flag is not ``N`` counted as ``flagged_hours``; ``source`` says which
  (``engine`` / ``logger_cou``).
- :func:`yoy_vs_target`: annual load change against ``reduction_targets.csv`` (e.g. −2 %
  SO2, NOx, VOCs as NMHC): ``met`` when change_pct ≤ target (rounded to 1e-6 %).
- :func:`retrofit_credit`: mean monthly load of a retrofitted line over ``n`` months before
  construction against ``n`` months after the stable month; the difference ×12 is the
  annual reduction credited [t/a].

Functions return Ibis expressions. Months ``YYYY-MM``, CST.
"""

from __future__ import annotations

from functools import cache

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import TableNotFound

from lantian.ledger._data import read_rule_csv

__all__ = ["POLLUTANTS", "hourly_enterprise_loads", "line_monthly_loads", "monthly_loads",
           "reduction_targets", "retrofit_credit", "retrofit_plan_dates", "yoy_vs_target"]

POLLUTANTS = ("so2", "nox", "pm", "nmhc")


def _melt(hours: ir.Table) -> ir.Table:
    """(mn, ts, pollutant, kg, flagged) rows from the ``<key>_cou`` columns present."""
    parts = []
    for key in POLLUTANTS:
        cou, flag = f"{key}_cou", f"{key}_flag"
        if cou not in hours.columns:
            continue
        h = hours.filter(hours[cou].notnull())
        flagged = (h[flag].notnull() & (h[flag] != "N")) if flag in h.columns else \
            ibis.literal(False)
        parts.append(h.select(mn=h.mn, ts=h.ts, pollutant=ibis.literal(key),
                              kg=h[cou].cast("float64"), flagged=flagged))
    return ibis.union(*parts)


def _with_units(t: ir.Table, points: ir.Table, outlets: ir.Table) -> ir.Table:
    p = points.select(p_mn="mn", outlet_id="outlet_id")
    o = outlets.select(o_id="id", enterprise_id="enterprise_id")
    return t.join(p, t.mn == p.p_mn).join(o, p.outlet_id == o.o_id)


def hourly_enterprise_loads(hours: ir.Table, points: ir.Table, outlets: ir.Table) -> ir.Table:
    """Hourly loads per enterprise and pollutant.

    Returns ``enterprise_id``, ``ts``, ``pollutant``, ``load_kg`` [kg in the hour], the input
    of :func:`lantian.ledger.alerts.alert_reduction`.
    """
    j = _with_units(_melt(hours), points, outlets)
    return j.group_by(["enterprise_id", "ts", "pollutant"]).aggregate(load_kg=j.kg.sum())


def _stored_table(hours: ir.Table) -> ir.Table | None:
    """``month_load`` of the backend ``hours`` comes from, or None where it has none."""
    try:
        return ibis.get_backend(hours).table("month_load")
    except (TableNotFound, AttributeError, NotImplementedError):
        return None


def monthly_loads(hours: ir.Table, points: ir.Table, outlets: ir.Table,
                  enterprises: ir.Table, stored: ir.Table | None = None) -> ir.Table:
    """Monthly loads per point and pollutant [t] with the unit columns for grouping.

    ``hours``: ``flue_hour`` (``mn``, ``ts``, ``<key>_cou`` [kg], ``<key>_flag``).
    ``stored``: the engine's ``month_load`` (default: that table of the same backend, when
    it exists); its (point, month) pairs replace the ``-Cou`` sums. Returns ``mn``,
    ``outlet_id``, ``enterprise_id``, ``district_code``, ``month``, ``pollutant``,
    ``load_t`` (measured + substituted), ``measured_t``, ``substituted_t`` (null for
    ``-Cou`` months), ``hours`` (hours with a measured load / with a ``-Cou`` amount),
    ``flagged_hours``, ``substituted_hours`` (null for ``-Cou`` months), ``source``.
    """
    u = _melt(hours)
    u = u.mutate(month=u.ts.strftime("%Y-%m"))
    agg = u.group_by(["mn", "month", "pollutant"]).aggregate(
        load_t=u.kg.sum() / 1000, hours=u.count(), flagged_hours=u.flagged.sum())
    agg = agg.select("mn", "month", "pollutant", "load_t", measured_t=agg.load_t,
                     substituted_t=ibis.null("float64"), hours=agg.hours.cast("int64"),
                     flagged_hours=agg.flagged_hours.cast("int64"),
                     substituted_hours=ibis.null("int64"), source=ibis.literal("logger_cou"))
    stored = _stored_table(hours) if stored is None else stored
    if stored is not None:
        s = stored.filter(stored.pollutant.isin(POLLUTANTS))
        sub_kg = s.substituted_load_kg.fill_null(0.0)
        s = s.select("mn", "month", "pollutant", load_t=(s.load_kg + sub_kg) / 1000,
                     measured_t=s.load_kg / 1000, substituted_t=s.substituted_load_kg / 1000,
                     hours=s.load_hours.cast("int64"),
                     flagged_hours=(s.substituted_hours.fill_null(0)
                                    + s.unsubstituted_hours.fill_null(0)).cast("int64"),
                     substituted_hours=s.substituted_hours.cast("int64"),
                     source=ibis.literal("engine"))
        done = s.select(d_mn="mn", d_month="month").distinct()
        agg = agg.anti_join(done, [agg.mn == done.d_mn, agg.month == done.d_month])
        agg = ibis.union(agg, s.cast(agg.schema()))
    e = enterprises.select(e_id="id", district_code="district_code")
    j = _with_units(agg, points, outlets)
    j = j.left_join(e, j.enterprise_id == e.e_id)
    return j.select("mn", "outlet_id", "enterprise_id", "district_code", "month", "pollutant",
                    "load_t", "measured_t", "substituted_t", "hours", "flagged_hours",
                    "substituted_hours", "source")


def line_monthly_loads(loads: ir.Table, links: ir.Table, lines: ir.Table) -> ir.Table:
    """Monthly loads per production line from :func:`monthly_loads` and the line links.

    Returns ``enterprise_id``, ``line``, ``month``, ``pollutant``, ``load_t`` [t].
    """
    lk = links.select(l_line="line_id", l_outlet="outlet_id")
    ln = lines.select(ln_id="id", line="name")
    j = loads.join(lk, loads.outlet_id == lk.l_outlet).join(ln, lk.l_line == ln.ln_id)
    return j.group_by(["enterprise_id", "line", "month", "pollutant"]).aggregate(
        load_t=j.load_t.sum())


@cache
def reduction_targets() -> tuple[tuple[str, str, int, float, str], ...]:
    """Return (jurisdiction, pollutant, year, target_change_pct, source) rows."""
    rows = read_rule_csv("reduction_targets.csv", {"jurisdiction", "pollutant", "year",
                                                    "target_change_pct", "source"})
    return tuple((r["jurisdiction"], r["pollutant"], int(r["year"]),
                  float(r["target_change_pct"]), r["source"]) for r in rows)


def yoy_vs_target(loads: ir.Table, year: int, by: str = "enterprise_id") -> ir.Table:
    """Annual load of ``year`` against ``year − 1`` per unit ``by`` and pollutant.

    ``loads``: :func:`monthly_loads` output (or any table with ``by``, ``month``,
    ``pollutant``, ``load_t``). change_pct = (this − last) / last × 100, rounded to 1e-6;
    the target is the catalogue row for the pollutant and year whose jurisdiction is ``*``
    or a prefix of ``district_code`` (the longest prefix wins) when grouping by district.
    """
    yr = loads.month.substr(0, 4).cast("int64")
    t = loads.filter(yr.isin([year - 1, year])).mutate(yr=yr)
    agg = t.group_by([by, "pollutant"]).aggregate(
        last_t=t.load_t.sum(where=t.yr == year - 1), this_t=t.load_t.sum(where=t.yr == year))
    agg = agg.filter(agg.last_t.notnull() & (agg.last_t > 0) & agg.this_t.notnull())
    change = ((agg.this_t - agg.last_t) / agg.last_t * 100).round(6)
    rows = [r for r in reduction_targets() if r[2] == year]
    tg = ibis.memtable({"jur": [r[0] for r in rows], "t_pollutant": [r[1] for r in rows],
                        "target_pct": [r[3] for r in rows], "source": [r[4] for r in rows]},
                       schema={"jur": "string", "t_pollutant": "string", "target_pct": "float64",
                               "source": "string"})  # typed even when the year has no target
    a = agg.mutate(change_pct=change)
    unit = a[by].cast("string")
    match = (tg.jur == "*") | (unit.startswith(tg.jur) if by == "district_code"
                                else ibis.literal(False))
    j = a.join(tg, [a.pollutant == tg.t_pollutant, match])
    w = ibis.window(group_by=[j[by], j.pollutant], order_by=[ibis.desc(j.jur.length())])
    j = j.mutate(rn=ibis.row_number().over(w))
    j = j.filter(j.rn == 0)
    return j.select(by, "pollutant", "last_t", "this_t", "change_pct", "target_pct",
                    met=j.change_pct <= j.target_pct, source=j.source).order_by([by, "pollutant"])


def retrofit_credit(line_loads: ir.Table, plans: ir.Table, months: int = 3) -> ir.Table:
    """Annual reduction credited to each retrofit [t/a].

    ``line_loads``: ``enterprise_id``, ``line``, ``month`` (``YYYY-MM``), ``pollutant``,
    ``load_t``. ``plans``: ``plan_id``, ``enterprise_id``, ``line``, ``construction_done``,
    ``stable_month`` (dates). Before = the ``months`` months ending before the month of
    construction; after = the ``months`` months from the month after the stable month.
    credit_t_a = (mean before − mean after) × 12; needs at least one month on each side.
    """
    d = line_loads.mutate(md=(line_loads.month + "-01").cast("date"))
    p = plans.select(plan_id="plan_id", p_ent="enterprise_id", p_line="line",
                     c0=plans.construction_done.truncate("M").cast("date"),
                     s0=(plans.stable_month.truncate("M") + ibis.interval(months=1)).cast("date"))
    j = d.join(p, [d.enterprise_id == p.p_ent, d.line == p.p_line])
    before = (j.md < j.c0) & (j.md >= j.c0 - ibis.interval(months=months))
    after = (j.md >= j.s0) & (j.md < j.s0 + ibis.interval(months=months))
    agg = j.group_by(["plan_id", "enterprise_id", "line", "pollutant"]).aggregate(
        before_t_month=j.load_t.mean(where=before), after_t_month=j.load_t.mean(where=after))
    agg = agg.filter(agg.before_t_month.notnull() & agg.after_t_month.notnull())
    return agg.mutate(credit_t_a=((agg.before_t_month - agg.after_t_month) * 12).round(6)
                      ).order_by(["plan_id", "pollutant"])


def retrofit_plan_dates(plans: ir.Table, milestones: ir.Table) -> ir.Table:
    """Plans with the dates of construction done and of the stable month (both reached).

    ``plans``: ``retrofit_plan``; ``milestones``: ``retrofit_milestone``. The input of
    :func:`retrofit_credit`.
    """
    m = milestones
    d = m.group_by("plan_id").aggregate(
        construction_done=m.done_on.max(where=m.milestone == "construction_done"),
        stable_month=m.done_on.max(where=m.milestone == "stable_month"))
    j = plans.join(d, plans.id == d.plan_id)
    j = j.filter(j.construction_done.notnull() & j.stable_month.notnull())
    return j.select(plan_id=j.id, enterprise_id=j.enterprise_id, line=j.line,
                    construction_done=j.construction_done, stable_month=j.stable_month)
