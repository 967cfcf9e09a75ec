"""Detectors of how data are presented against the limit: ``pinned_under_limit``, ``flag_abuse``.

Both need the limit of each (point, pollutant) and its reference O2, which the caller takes
from the limit catalogue (:func:`lantian.catalog.limits.applicable_limits`) as a table
(mn, pollutant, limit_mg_m3, o2_ref_pct). Concentrations are compared with the limit after
the platform's reference-O2 correction (HJ 75-2017; the limits are hourly means at reference
O2).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis import _

from lantian.catalog.rules import rule
from lantian.engine.hours import column_of
from lantian.engine.oxygen import reference_concentration
from lantian.engine.quality.frames import event_table, evidence, runs
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["flag_abuse", "history_hours", "pinned_under_limit"]

_INVALID = ("M", "C", "D")


def _limits(limits: ir.Table) -> ir.Table:
    return limits.select(_lmn=limits.mn, _lpol=limits.pollutant, lim=limits.limit_mg_m3,
                         o2_ref=limits.o2_ref_pct)


def _production(hours: ir.Table, limits: ir.Table, keys: Sequence[str]) -> ir.Table:
    """Stack the valid running hours per pollutant, corrected: (mn, ts, pollutant, c, lim)."""
    o2 = column_of("o2")
    parts = []
    for key in keys:
        col = column_of(key)
        parts.append(hours.filter(hours.running & hours[f"{key}_valid"]).select(
            "mn", "ts", pollutant=ibis.literal(key), value=hours[col].cast("float64"),
            o2=hours[o2]))
    t = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    lim = _limits(limits)
    t = t.inner_join(lim, [t.mn == lim._lmn, t.pollutant == lim._lpol]).drop("_lmn", "_lpol")
    t = t.mutate(c=reference_concentration(t.value, t.o2, t.o2_ref)).filter(_.c.notnull())
    return t.select("mn", "ts", "pollutant", "c", "lim")


def pinned_under_limit(hours: ir.Table, limits: ir.Table, keys: Sequence[str],
                       th: Thresholds, history: ir.Table | None = None,
                       history_minutes: ir.Table | None = None) -> ir.Table:
    """Most production hours of the month in a narrow band just below the limit.

    Over the valid running hours of the month (production hours) of each (mn, pollutant):
    ``share`` = fraction of corrected hourly means [mg/m³ at reference O2] in
    ``[band_low·L, L)`` and ``cv`` = standard deviation / mean. With at least ``min_hours``
    hours and ``share ≥ min_share`` the month is an event: ``high`` when ``cv ≤ max_cv`` (too
    steady to be a real process under load changes); otherwise ``medium`` when the outlet has
    history and the month's standard deviation is at most ``hist_sd_ratio`` times that of its
    earlier production hours (a variance far below its own past), else ``low`` (close to the
    limit but moving like a process). Works on a first month: without ``history`` (or with
    fewer than ``min_hours`` earlier hours) only the month itself is judged.

    ``history`` has the layout of ``hours`` (engine hours with ``running``) for earlier
    months of the same points (the caller chooses how many; three is usual). Or
    ``history_minutes``: ``flue_minute`` rows of those months, whose hours
    (:func:`history_hours`) are built only for the points already in the band this month.
    """
    t = _production(hours, limits, keys)
    low = th.get("pinned_under_limit", "band_low")
    min_h = int(th.get("pinned_under_limit", "min_hours"))
    in_band = ((t.c >= low * t.lim) & (t.c < t.lim)).cast("float64")
    g = t.group_by(["mn", "pollutant"]).aggregate(
        first=t.ts.min(), last=t.ts.max(), hours=t.count(), share=in_band.mean(),
        mean=t.c.mean(), sd=t.c.std(), lim=t.lim.max())
    g = g.mutate(cv=g.sd / ibis.ifelse(g.mean == 0, ibis.null("float64"), g.mean))
    g = g.filter((g.hours >= min_h) & (g.share >= th.get("pinned_under_limit", "min_share")))
    if history is None and history_minutes is not None:
        band = g.select(_bmn=g.mn).distinct()
        hm = history_minutes.semi_join(band, history_minutes.mn == band._bmn)
        history = history_hours(hm, keys, th)
    if history is not None:
        # only the (point, pollutant) pairs already in the band need their history
        want = g.select(_wmn=g.mn, _wpol=g.pollutant)
        h = _production(history, limits, keys)
        h = h.semi_join(want, [h.mn == want._wmn, h.pollutant == want._wpol])
        hs = h.group_by(["mn", "pollutant"]).aggregate(_hh=h.count(), _hsd=h.c.std())
        hs = hs.filter(hs._hh >= min_h).rename(_hmn="mn", _hpol="pollutant")
        g = g.left_join(hs, [g.mn == hs._hmn, g.pollutant == hs._hpol]).drop("_hmn", "_hpol")
        hist_hours, hist_sd = g._hh, g._hsd
    else:
        hist_hours, hist_sd = ibis.null("int64"), ibis.null("float64")
    g = g.mutate(hist_hours=hist_hours, hist_sd=hist_sd)
    ratio = g.sd / ibis.ifelse(g.hist_sd == 0, ibis.null("float64"), g.hist_sd)
    far_below = (ratio <= th.get("pinned_under_limit", "hist_sd_ratio")).fill_null(False)
    sev = ibis.cases((g.cv <= th.get("pinned_under_limit", "max_cv"), "high"),
                     (far_below, "medium"), else_="low")
    return event_table(g, "pinned_under_limit", pollutant=g.pollutant, start=g.first,
                       end=g.last + ibis.interval(minutes=59), severity=sev.fill_null("low"),
                       evid=evidence(hours=g.hours, share_in_band=g.share, mean_mg_m3=g.mean,
                                     cv=g.cv, limit_mg_m3=g.lim, band_low=low,
                                     history_hours=g.hist_hours, history_sd_mg_m3=g.hist_sd,
                                     sd_vs_history=ratio))


def history_hours(minutes_before: ir.Table, keys: Sequence[str], th: Thresholds) -> ir.Table:
    """Engine hours with ``running`` of earlier months, for :func:`pinned_under_limit`.

    ``minutes_before`` are ``flue_minute`` rows of the months before the judged one (the
    caller picks the span, e.g. three months; CST). Same hours and running rule as the month
    itself (:func:`lantian.engine.hours.valid_hours`, ``running.flow_fraction`` of the
    span's 90th-percentile flow).
    """
    from lantian.engine.hours import valid_hours
    from lantian.engine.quality.process import running_hours

    return running_hours(valid_hours(minutes_before, list(keys)), th)


def flag_abuse(long: ir.Table, limits: ir.Table, running_hours: ir.Table,
               th: Thresholds) -> ir.Table:
    """Unusual use of the invalidating flags M (maintenance), C (calibration), D (fault).

    Per (mn, pollutant, clock hour) of the long minute frame: an hour is *flagged* when enough
    of its running minutes carry M/C/D to invalidate it (more than 60 − 45 minutes, HJ
    75-2017 valid-hour rule). Two findings:

    * runs of at least ``flag_abuse.min_exceed_hours`` flagged hours whose flagged readings,
      corrected to reference O2, exceed the limit: maintenance placed where exceedances
      would be (``high``);
    * a month share of flagged running hours above ``flag_abuse.max_share`` (``medium``);
      ``running_hours`` gives (mn, hours): running hours of the month per point.
    """
    need = int(rule("min_valid_minutes"))
    t = long.filter(_.running & _.flag.isin(_INVALID)).mutate(hour=_.ts.truncate("h"))
    lim = _limits(limits)
    t = t.left_join(lim, [t.mn == lim._lmn, t.pollutant == lim._lpol]).drop("_lmn", "_lpol")
    t = t.mutate(c=reference_concentration(t.value, t.o2, t.o2_ref))
    h = t.group_by(["mn", "pollutant", "hour"]).aggregate(
        bad_n=t.count(), bad_c=t.c.mean(), lim=t.lim.max())
    h = h.filter(h.bad_n > 60 - need).mutate(flagged=True)
    ex = h.filter(h.flagged & (h.bad_c > h.lim).fill_null(False)).rename(ts="hour")
    r = runs(ex, ["mn", "pollutant"], step_s=3600)
    g = r.group_by(["mn", "pollutant", "run"]).aggregate(
        first=r.ts.min(), last=r.ts.max(), hours=r.count(), flagged_mean=r.bad_c.mean(),
        lim=r.lim.max())
    g = g.filter(g.hours >= int(th.get("flag_abuse", "min_exceed_hours")))
    clustered = event_table(
        g, "flag_abuse", pollutant=g.pollutant, start=g.first,
        end=g.last + ibis.interval(minutes=59), severity=ibis.literal("high"),
        evid=evidence(finding="flagged_hours_over_limit", hours=g.hours,
                      flagged_mean_mg_m3=g.flagged_mean, limit_mg_m3=g.lim))
    s = h.group_by(["mn", "pollutant"]).aggregate(
        flagged=h.count(), first=h.hour.min(), last=h.hour.max())
    s = s.inner_join(running_hours, "mn").mutate(share=_.flagged / _.hours)
    s = s.filter(s.share > th.get("flag_abuse", "max_share"))
    many = event_table(
        s, "flag_abuse", pollutant=s.pollutant, start=s.first,
        end=s.last + ibis.interval(minutes=59), severity=ibis.literal("medium"),
        evid=evidence(finding="many_flagged_hours", flagged_hours=s.flagged,
                      running_hours=s.hours, share=s.share))
    return clustered.union(many, distinct=False)
