"""HJ 75-2017 substitution (修约) of emission loads for invalid production hours.

Only **loads** are substituted, never concentrations (reference notes §1.2). For each point
and pollutant, over the period given (normally a quarter):

* capture rate ``α = valid production hours / production hours`` [%] (the formula is
  recalled, [U]; reported per point by :func:`capture_rate`);
* a *run* is a maximal sequence of consecutive invalid production hours (hours without a
  measured load); ``N`` = its length [h];
* each hour of the run gets the **maximum** hourly load of the valid hours before the run:

  ========================  ===========  ==========================================
  α                         N            window (valid hours before the failure)
  ========================  ===========  ==========================================
  α ≥ 90 %                  N ≤ 24       180
  α ≥ 90 %                  N > 24       720
  75 % ≤ α < 90 %           any          2160
  α < 75 %                  any          none (the authority decides; left null)
  ========================  ===========  ==========================================

  (window sizes, boundaries and N from ``assessment_rules.csv``). The vendor code the notes
  cite uses the maximum also for the maintenance table ([U] max vs mean); the out-of-control
  table's "before the last calibration" is approximated by "before the failure".
"""

from __future__ import annotations

import datetime as dt

import ibis

from lantian.catalog.rules import rule

__all__ = ["capture_rate", "substitute_loads"]


def capture_rate(hours: ibis.Table, load_col: str) -> ibis.Table:
    """Capture rate per point: ``mn, production_hours, valid_hours, alpha_pct`` [%].

    ``hours`` needs ``mn``, ``production`` and the hourly load column ``load_col``
    (null = no valid measurement).
    """
    prod = hours.production
    agg = hours.group_by("mn").aggregate(
        production_hours=prod.cast("int64").sum(),
        valid_hours=(prod & hours[load_col].notnull()).cast("int64").sum(),
    )
    return agg.mutate(
        alpha_pct=ibis.cases(
            (
                agg.production_hours > 0,
                agg.valid_hours.cast("float64") * 100.0 / agg.production_hours.cast("float64"),
            ),
            else_=ibis.null("float64"),
        )
    )


def substitute_loads(
    hours: ibis.Table, load_col: str, *, capture_from: dt.datetime | None = None
) -> ibis.Table:
    """Add ``<load_col>_sub`` (substitute load, same unit) and ``<load_col>_filled``.

    Parameters
    ----------
    hours
        ``mn``, ``ts`` [CST hour start], ``production`` (bool) and ``load_col`` [kg/h].
        Non-production hours are neither valid nor substituted.
    load_col
        Name of the hourly load column (e.g. ``so2_load_kg_h``).
    capture_from
        First hour (CST) of the period over which α is counted (normally the quarter's
        first hour, :func:`lantian.engine.capture.load_span`); hours before it only serve
        as the "valid hours before the failure". Default: all of ``hours``.

    Returns
    -------
    ibis.Table
        ``hours`` plus ``run_hours`` (N of the invalid run, null on valid hours),
        ``alpha_pct``, ``<load_col>_sub`` and ``<load_col>_filled`` (measured load where
        valid, otherwise the substitute).

    """
    hi, lo = rule("substitution_alpha_high_pct"), rule("substitution_alpha_low_pct")
    short_n = rule("substitution_short_run_h")
    w_short = int(rule("substitution_window_short_h"))
    w_long = int(rule("substitution_window_long_h"))
    w_low = int(rule("substitution_window_low_h"))
    h = hours.filter(hours.production)
    valid = h[load_col].notnull()
    order = ibis.window(group_by="mn", order_by="ts", preceding=None, following=0)
    h = h.mutate(is_valid=valid, grp=valid.cast("int64").sum().over(order))
    # rolling maxima over the last k valid hours, at each valid hour
    v = h.filter(h.is_valid)
    rows = {}
    for name, k in (("m_short", w_short), ("m_long", w_long), ("m_low", w_low)):
        w = ibis.window(group_by="mn", order_by="ts", preceding=k - 1, following=0)
        rows[name] = v[load_col].max().over(w)
    maxima = v.select(x_mn="mn", x_grp="grp", **rows)
    inv = h.filter(~h.is_valid)
    runs = inv.group_by(r_mn=inv.mn, r_grp=inv.grp).aggregate(run_hours=inv.count())
    counted = hours if capture_from is None else hours.filter(hours.ts >= capture_from)
    alpha = capture_rate(counted, load_col).select(a_mn="mn", alpha_pct="alpha_pct")
    j = h.left_join(runs, [h.mn == runs.r_mn, h.grp == runs.r_grp]).drop("r_mn", "r_grp")
    j = j.left_join(maxima, [j.mn == maxima.x_mn, j.grp == maxima.x_grp]).drop("x_mn", "x_grp")
    j = j.left_join(alpha, j.mn == alpha.a_mn).drop("a_mn").view()
    sub = ibis.cases(
        (j.is_valid, ibis.null("float64")),
        ((j.alpha_pct >= hi) & (j.run_hours <= short_n), j.m_short),
        (j.alpha_pct >= hi, j.m_long),
        (j.alpha_pct >= lo, j.m_low),
        else_=ibis.null("float64"),
    )
    out = j.mutate(
        run_hours=ibis.cases((j.is_valid, ibis.null("int64")), else_=j.run_hours),
        **{f"{load_col}_sub": sub},
    )
    out = out.mutate(**{f"{load_col}_filled": ibis.coalesce(out[load_col], out[f"{load_col}_sub"])})
    return out.drop("is_valid", "grp", "m_short", "m_long", "m_low")
