"""Glitches shorter than an hour: ``spike``'s minute candidates from the 30-min block scan.

An hourly mean dilutes a glitch of ``d`` minutes ``60/d`` times; the block scan
(:func:`~lantian.engine.quality.blocks.minute_blocks`) keeps its extremes whole.
:func:`minute_candidates` turns blocks far wider than the channel's own minute spread into
candidate runs of :func:`~lantian.engine.quality.spikes.spike_candidates`, which joins them
to the hourly runs; :func:`~lantian.engine.quality.spikes.spike` judges them by their
minutes (qcspike9, session 9; split out of ``spikes.py`` in session 10). Times are China
Standard Time.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["minute_candidates", "stacked_blocks"]

_KEYS = ["mn", "pollutant"]

def minute_candidates(hl: ir.Table, blocks: ir.Table, th: Thresholds,
                      stacked: tuple[ir.Table, ir.Table] | None = None) -> ir.Table | None:
    """Candidate runs of a glitch shorter than the hour mean shows, from the block extremes.

    An hourly mean dilutes a glitch of ``d`` minutes ``60/d`` times, but the block scan
    (:func:`~lantian.engine.quality.blocks.minute_blocks`: smallest ``lo_k`` and largest
    ``hi_k`` valid value per aligned block) keeps it whole. A glitch's rise and fall lie
    inside blocks (unless both fall exactly on block edges), so those blocks span far more
    than the channel's ordinary blocks do. A block of a valid running hour (``hl``) is a
    candidate when ``hi − lo > spike.minute_k · spread`` and ``hi > (1 + spike.min_rel) ·
    lo``: ``spread`` is the channel's own minute scale, the month's median of ``hi − lo`` over
    its blocks in valid running hours, at least ``spike.abs_floor`` (a whole-mg/m³ analyser
    at a flat level spans 0-1 mg/m³) — not the IQR of hourly means, which is about √60 times
    smaller than minute noise (qcspike8, session 8). Candidate hours less than two hours
    apart form one run (a glitch of up to 90 min rises in one hour and falls two later);
    runs of at most ``spike.max_hours`` hours whose clock hours just before and after are
    valid running hours are returned, with the columns of
    :func:`~lantian.engine.quality.spikes.spike_candidates`
    (``run`` negative, hourly columns null, ``other_rel`` the highest ``hi / lo`` of another
    pollutant's candidate block that is one of the run's candidate blocks, the same 30
    minutes: the process moved, ``minute`` true).
    ``None`` when ``blocks`` holds no pollutant. ``stacked``: :func:`stacked_blocks` of the
    same inputs, when the caller has it.
    """
    st = stacked if stacked is not None else stacked_blocks(hl, blocks, th)
    if st is None:
        return None
    b, sp = st
    floor = th.get("spike", "abs_floor")
    k = th.get("spike", "minute_k")
    rel = 1 + th.get("spike", "min_rel")
    max_h = int(th.get("spike", "max_hours"))
    # spread >= abs_floor: a bound every candidate passes, before the join with the spreads
    c = b.filter((b._r > k * floor) & ((b._rel > rel) | b._rel.isnull()))
    c = c.inner_join(sp, [c.mn == sp._smn, c.pollutant == sp._spol])
    c = c.filter(c._r > k * c._sp)
    # the process moved: another pollutant's block of the same 30 minutes is a candidate too
    # (a process excursion moves the flue gas of every analyser at once; a soot blow twenty
    # minutes before a glitch in the same clock hour does not make the glitch the process)
    o = c.select(_omn=c.mn, _opol=c.pollutant, _ob=c._blk, _ov=c._rel.fill_null(math.inf))
    j = c.left_join(o, [c.mn == o._omn, c._blk == o._ob, c.pollutant != o._opol])
    c = j.group_by(["mn", "pollutant", "_h"]).aggregate(spread=j._sp.max(),
                                                        other_rel=j._ov.max())
    w = ibis.window(group_by=_KEYS, order_by="_h")
    c = c.mutate(_new=ibis.ifelse(
        c._h.lag().over(w).isnull() | (c._h > c._h.lag().over(w) + ibis.interval(hours=2)),
        1, 0))
    wc = ibis.window(group_by=_KEYS, order_by="_h", preceding=None, following=0)
    c = c.mutate(run=-c._new.sum().over(wc))
    g = c.group_by([*_KEYS, "run"]).aggregate(first=c._h.min(), last=c._h.max(),
                                              spread=c.spread.max(),
                                              other_rel=c.other_rel.max())
    g = g.mutate(hours=((g.last.epoch_seconds() - g.first.epoch_seconds()) // 3600 + 1))
    g = g.filter(g.hours <= max_h)
    # the hours around the run run too: the span's edges are the surrounding level
    one = ibis.interval(hours=1)
    g = g.mutate(_pb=g.first - one, _pa=g.last + one)
    for edge in ("_pb", "_pa"):
        e = hl.select(_emn=hl.mn, _ets=hl.ts, _epol=hl.pollutant)
        g = g.semi_join(e, [("mn", "_emn"), ("pollutant", "_epol"), (edge, "_ets")])
    g = g.drop("_pb", "_pa")
    cm = _clock_hour_max(b, c, th)
    j = c.left_join(cm, [c.mn == cm._kmn, c.pollutant == cm._kpol, c._h.hour() == cm._kh])
    # a run is the schedule only if every candidate hour is: the lowest clock-hour level
    sched = j.group_by([*_KEYS, "run"]).aggregate(
        clock_median=ibis.ifelse(j._cm.count() == j.count(), j._cm.min(),
                                 ibis.null("float64")))
    sched = sched.select(_xmn=sched.mn, _xpol=sched.pollutant, _xrun=sched.run,
                         clock_median=sched.clock_median)
    g = g.left_join(sched, [g.mn == sched._xmn, g.pollutant == sched._xpol,
                            g.run == sched._xrun]).drop("_xmn", "_xpol", "_xrun")
    f64 = ibis.null("float64")
    return g.mutate(peak=f64, median=f64, iqr=f64, before=f64, after=f64, calm=f64,
                    scheduled=ibis.literal(False), minute=ibis.literal(True))


def stacked_blocks(hl: ir.Table, blocks: ir.Table,
                    th: Thresholds) -> tuple[ir.Table, ir.Table] | None:
    """Stack the blocks of valid running hours per pollutant; each channel's minute spread.

    Returns ((mn, _h, _blk, pollutant, hi, _r, _rel): ``_h`` the clock hour, ``_blk`` the
    block (:func:`~lantian.engine.quality.blocks.minute_blocks`), ``_r`` = ``hi − lo``,
    ``_rel`` = ``hi / max(lo, 0)``; (_smn, _spol, _sp): the month's median of ``_r``, at least
    ``spike.abs_floor``), or ``None`` when ``blocks`` holds no pollutant.
    """
    keys = [k for k in POLLUTANTS if f"hi_{k}" in blocks.columns and f"lo_{k}" in blocks.columns]
    if not keys:
        return None
    floor = th.get("spike", "abs_floor")
    parts = [blocks.select("mn", _h=blocks.t0.truncate("h"), _blk=blocks.block,
                           pollutant=ibis.literal(key),
                           hi=blocks[f"hi_{key}"].cast("float64"),
                           lo=blocks[f"lo_{key}"].cast("float64")) for key in keys]
    b = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    b = b.filter(b.hi.notnull() & b.lo.notnull())
    hv = hl.select(_vmn=hl.mn, _vts=hl.ts, _vpol=hl.pollutant)
    b = b.inner_join(hv, [b.mn == hv._vmn, b._h == hv._vts, b.pollutant == hv._vpol])
    b = b.select("mn", "_h", "_blk", "pollutant", "hi", _r=b.hi - b.lo,
                 _rel=b.hi / ibis.greatest(b.lo, 0))
    sp = b.group_by(["mn", "pollutant"]).aggregate(_sp=ibis.greatest(b._r.median(), floor))
    return b, sp.select(_smn=sp.mn, _spol=sp.pollutant, _sp=sp._sp)


def _clock_hour_max(b: ir.Table, c: ir.Table, th: Thresholds) -> ir.Table:
    """(_kmn, _kpol, _kh, _cm): the month's median of the hour's largest minute at a clock hour.

    ``b`` the stacked blocks (mn, _h, pollutant, hi) of valid running hours, ``c`` the
    candidate hours; only their clock hours (CST) are read. Null unless at least
    ``spike.schedule_days`` days have a running hour there. A puff that recurs at that time
    on at least half of the days (soot blowing, a light-off) raises it; a glitch does not.
    """
    hk = c.select(_kmn=c.mn, _kpol=c.pollutant, _kh=c._h.hour()).distinct()
    x = b.mutate(_hh=b._h.hour())
    x = x.inner_join(hk, [x.mn == hk._kmn, x.pollutant == hk._kpol, x._hh == hk._kh])
    h = x.group_by(["_kmn", "_kpol", "_kh", "_h"]).aggregate(_hx=x.hi.max())
    lv = h.group_by(["_kmn", "_kpol", "_kh"]).aggregate(_cm=h._hx.median(), _cn=h.count())
    lv = lv.filter(lv._cn >= int(th.get("spike", "schedule_days")))
    return lv.select("_kmn", "_kpol", "_kh", "_cm")
