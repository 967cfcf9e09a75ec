"""Detectors that compare declared state with the physics of the flue gas.

``dilution`` (air let into the stack), ``false_stop`` (stop marks while the source runs, and
the opposite) and ``zs_mismatch`` (the logger's converted ``Zs`` values against the
platform's own reference-O2 correction, HJ 75-2017).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis import _

from lantian.engine.hours import column_of
from lantian.engine.oxygen import reference_concentration
from lantian.engine.quality.frames import event_table, evidence, run_summary, runs
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["dilution", "false_stop", "running_hours", "zs_mismatch"]


def running_hours(hours: ir.Table, th: Thresholds) -> ir.Table:
    """Add ``running`` to engine hours: mean flow of all minutes ≥ fraction × month p90."""
    ref = hours.group_by("mn").aggregate(_p90=hours.flow_raw.approx_quantile(0.9))
    j = hours.inner_join(ref, "mn")
    frac = th.get("running", "flow_fraction")
    return j.mutate(running=(j.flow_raw >= j._p90 * frac).fill_null(False)).drop("_p90")


def dilution(hours: ir.Table, points: ir.Table, th: Thresholds) -> ir.Table:
    """Find running hours with O2 above the source type's normal band (air dilution).

    ``hours`` are engine hours with ``running`` (:func:`running_hours`); ``points`` gives
    (mn, source_type). The band edge is ``dilution.o2_max_pct`` for the source type (``*``
    for unknown types). Runs of at least ``dilution.min_hours`` consecutive running hours are
    events: ``high`` when the O2 reaches ``dilution.ambient_pct`` (near ambient air),
    ``medium`` when it is also ``dilution.self_delta_pct`` above the point's own month median
    O2, else ``low`` (high all month: a band that may not fit this plant). Evidence: O2, band
    edge, month median O2, flow against the month median flow.
    """
    o2 = column_of("o2")
    default = th.get("dilution", "o2_max_pct")
    cases = [(points.source_type == st, v) for st, v in th.scoped("dilution", "o2_max_pct").items()]
    band = ibis.cases(*cases, else_=default) if cases else ibis.literal(default)
    pts = points.select(_pmn=points.mn, band=band)
    med = hours.filter(_.running).group_by("mn").aggregate(
        _flow_med=_.flow_raw.approx_median(), _o2_med=_[o2].approx_median())
    h = hours.filter(_.running & _["o2_valid"])
    h = h.left_join(pts, h.mn == pts._pmn).drop("_pmn")
    h = h.mutate(band=h.band.fill_null(default))
    h = h.filter(h[o2] > h.band)
    h = h.inner_join(med, "mn")
    r = runs(h, ["mn"], step_s=3600)
    g = r.group_by(["mn", "run"]).aggregate(
        first=r.ts.min(), last=r.ts.max(), hours=r.count(), o2_mean=r[o2].mean(),
        o2_max=r[o2].max(), band=r.band.max(), flow_ratio=(r.flow_raw / r._flow_med).mean(),
        o2_month_median=r._o2_med.max())
    g = g.filter(g.hours >= int(th.get("dilution", "min_hours")))
    own = g.o2_mean > g.o2_month_median + th.get("dilution", "self_delta_pct")
    sev = ibis.cases((g.o2_max >= th.get("dilution", "ambient_pct"), "high"),
                     (own, "medium"), else_="low")
    end = g.last + ibis.interval(minutes=59)
    return event_table(g, "dilution", pollutant=None, start=g.first, end=end, severity=sev,
                       evid=evidence(hours=g.hours, o2_mean_pct=g.o2_mean, o2_max_pct=g.o2_max,
                                     o2_band_max_pct=g.band, o2_month_median_pct=g.o2_month_median,
                                     flow_vs_month_median=g.flow_ratio))


def false_stop(minute: ir.Table, th: Thresholds) -> ir.Table:
    """Stop marks (flag ``F``) while flow says the source runs; and the opposite.

    ``minute`` carries ``running``. A minute is *declared stopped* when any parameter flag is
    ``F``, *declared running* when flags are present and none is ``F``. Runs of at least
    ``false_stop.min_minutes`` of declared-stopped running minutes are ``high`` (from
    ``false_stop.high_minutes``) or ``medium``; runs of declared-running stopped minutes
    are ``low`` (many loggers do not mark stops at all).

    References
    ----------
    MEE Announcement 2022 No. 21 (marks must match the real operating condition);
    HJ 212-2017 §6.6.4 flag F.

    """
    flags = [c for c in minute.columns if c.endswith("_flag")]
    any_f = ibis.literal(False)
    any_flag = ibis.literal(False)
    for c in flags:
        any_f = any_f | (minute[c] == "F").fill_null(False)
        any_flag = any_flag | minute[c].notnull()
    t = minute.select("mn", "ts", "running", declared_stop=any_f, flagged=any_flag)
    mismatch = t.filter(t.flagged & (t.declared_stop == t.running))
    kind = ibis.ifelse(mismatch.running, "stop_marked_while_running",
                       "running_marked_while_stopped")
    g = run_summary(mismatch.mutate(kind=kind), ["mn", "kind"], gap_s=300,
                    min_minutes=th.get("false_stop", "min_minutes"))
    sev = ibis.cases(
        (g.kind == "running_marked_while_stopped", "low"),
        (g.minutes >= th.get("false_stop", "high_minutes"), "high"),
        else_="medium",
    )
    return event_table(g, "false_stop", pollutant=None, start=g.first, end=g.last, severity=sev,
                       evid=evidence(kind=g.kind, minutes=g.minutes))


def zs_mismatch(long: ir.Table, limits: ir.Table, th: Thresholds) -> ir.Table:
    """Logger ``Zs`` values that disagree with the platform's own O2 correction.

    ``long`` is the long minute frame with ``zs``; ``limits`` gives (mn, pollutant,
    o2_ref_pct). Where the reference O2 is known, the platform computes
    ``C × (21 − O2_ref)/(21 − O2)`` (HJ 75-2017) per valid running minute below
    ``zs_mismatch.o2_max_pct`` and compares. A minute disagrees when
    ``|Zs − own| > max(abs_tol, rel_tol × own)``; runs of at least ``min_minutes`` are events.
    """
    lim = limits.filter(limits.o2_ref_pct.notnull()).select(
        _lmn=limits.mn, _lpol=limits.pollutant, o2_ref_pct=limits.o2_ref_pct)
    t = long.filter(_.running & (_.flag == "N") & _.zs.notnull() & _.o2.notnull()
                    & (_.o2 < th.get("zs_mismatch", "o2_max_pct")))
    t = t.inner_join(lim, [t.mn == lim._lmn, t.pollutant == lim._lpol]).drop("_lmn", "_lpol")
    t = t.mutate(own=reference_concentration(t.value, t.o2, t.o2_ref_pct))
    tol = ibis.greatest(ibis.literal(th.get("zs_mismatch", "abs_tol")),
                        t.own.abs() * th.get("zs_mismatch", "rel_tol"))
    t = t.filter((t.zs - t.own).abs() > tol)
    g = run_summary(t, ["mn", "pollutant"], gap_s=600,
                    min_minutes=th.get("zs_mismatch", "min_minutes"),
                    zs_mean=lambda r: r.zs.mean(), own_mean=lambda r: r.own.mean(),
                    o2_ref=lambda r: r.o2_ref_pct.max())
    sev = ibis.ifelse(g.minutes >= th.get("zs_mismatch", "high_minutes"), "high", "medium")
    return event_table(g, "zs_mismatch", pollutant=g.pollutant, start=g.first, end=g.last,
                       severity=sev, evid=evidence(minutes=g.minutes, logger_zs_mean=g.zs_mean,
                                                   platform_mean=g.own_mean,
                                                   o2_ref_pct=g.o2_ref))
