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

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.quality.blocks import decimals_step, reading_decimals
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["minute_candidates", "stacked_blocks"]

_KEYS = ["mn", "pollutant"]

def minute_candidates(hl: ir.Table, blocks: ir.Table, th: Thresholds,
                      stacked: tuple[ir.Table, ir.Table] | None = None,
                      materialize: Callable[[ir.Table], ir.Table] | None = None
                      ) -> ir.Table | None:
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
    smaller than minute noise (qcspike8, session 8). A block is also a candidate when its
    largest one-minute change ``dx_k`` exceeds ``spike.step_k`` times the channel's usual
    largest one (``step``: the month's median ``dx_k``, at least the resolution of its
    readings): an additive glitch on a high baseline neither doubles its block nor spans
    three block ranges, but it steps far beyond the analyser's own minute-to-minute changes
    (qcspike11). A candidate block that touches a stop (in the first half of its hour after
    a clock hour that is not a valid running hour, or in the second half before one) is
    dropped (qcspike13; session 11 dropped its whole hour). Candidate hours less than two
    hours apart form one run (a glitch of up to 90 min rises in one hour and falls two
    later); runs of at most ``spike.max_hours`` hours with a valid running hour just before
    or after them (``span_before`` / ``span_after``: the minute test's span takes only
    those) are returned, with the columns of
    :func:`~lantian.engine.quality.spikes.spike_candidates`
    (``run`` negative, hourly columns null, ``other_block`` true when another pollutant's
    block of the same 30 minutes as one of the run's candidate blocks is a candidate too
    and not at that pollutant's own daily schedule (qcspike13: the month's median of its
    largest minute at that clock hour, :func:`_clock_hour_max`, is above that of every
    hour by at least ``spike.schedule_share`` of the block's highest minute over the
    latter): the process moved; ``other_rel`` the highest ``hi / lo`` of those blocks
    with ``lo`` > 0;
    ``clock_median`` / ``clock_base`` of :func:`_clock_hour_max` at the run's first
    candidate hour; ``minute`` true).
    ``None`` when ``blocks`` holds no pollutant. ``stacked``: :func:`stacked_blocks` of the
    same inputs, when the caller has it. ``materialize`` (the caller's hook, e.g. ``lambda t:
    t.cache()``) keeps the candidate blocks (at 5,000 points ~60 k of 7.2 M blocks) as soon as
    they are found, and their hours, so the common-mode, stop and clock-hour joins read
    them, not the scan.
    """
    keep = materialize or (lambda x: x)
    st = stacked if stacked is not None else stacked_blocks(hl, blocks, th)
    if st is None:
        return None
    b, sp = st
    floor = th.get("spike", "abs_floor")
    k = th.get("spike", "minute_k")
    step_k = th.get("spike", "step_k")
    rel = 1 + th.get("spike", "min_rel")
    max_h = int(th.get("spike", "max_hours"))
    # a block far wider than the channel's blocks (spread >= abs_floor: a bound before the
    # join), or holding a one-minute step far above the channel's usual largest one
    c = b.mutate(_w=(b._r > k * floor) & ((b._rel > rel) | b._rel.isnull()))
    c = c.filter(c._w | c._dx.notnull())
    c = c.inner_join(sp, [c.mn == sp._smn, c.pollutant == sp._spol])
    c = c.mutate(_w=c._w & (c._r > k * c._sp))
    c = c.filter(c._w | (c._dx > step_k * c._st).fill_null(False))
    c = keep(c.select("mn", "_h", "_blk", "pollutant", "hi", "_rel", "_sp", "_st"))
    # a candidate block next to a stop (the clock hour before a block in the first half of
    # its hour, or after one in the second half, not a valid running hour: a start-up's
    # ramp and light-off or a shut-down) cannot be judged, since the span's edges must be
    # the surrounding level; dropped before the hours form runs, so a start-up's transient
    # does not join a glitch an hour later into one unjudgeable run (qcspike11: peaking
    # plants). (qcspike13) Only the block that touches the stop: a glitch falling at 21:05
    # in the last hour before a gas turbine's 22:00 stop keeps its fall in its run
    one = ibis.interval(hours=1)
    e = hl.select(_emn=hl.mn, _ets=hl.ts, _epol=hl.pollutant)
    c = c.mutate(_pb=ibis.ifelse(c._blk % 2 == 0, c._h - one, c._h),
                 _pa=ibis.ifelse(c._blk % 2 == 1, c._h + one, c._h))
    for edge in ("_pb", "_pa"):
        c = c.semi_join(e, [("mn", "_emn"), ("pollutant", "_epol"), (edge, "_ets")])
    c = c.drop("_pb", "_pa")
    # the process moved: another pollutant's block of the same 30 minutes is a candidate too
    # (a process excursion moves the flue gas of every analyser at once; a soot blow twenty
    # minutes before a glitch in the same clock hour does not make the glitch the process)
    # (``other_block``; ``other_rel`` its hi / lo where lo > 0, as evidence)
    # (qcspike13) but not a block at the clock hour of the other pollutant's own daily
    # schedule (its block's highest minute is mostly reached at that clock hour on most
    # days, as a run's own schedule test reads it: a cement kiln's SO2 stepping up when the
    # raw mill stops at 10:00 every day is no sign that the process moved with a PM glitch)
    # the clock hour as a column: an expression of ``c`` in the predicate was taken for
    # ``cm``'s own column of the same value (Ibis join dereferencing: the ON clause
    # compared ``cm._kh`` with itself, so every clock hour joined)
    c = c.mutate(_hh=c._h.hour())
    cm = keep(_clock_hour_max(b, c, th))
    c = c.left_join(cm, [c.mn == cm._kmn, c.pollutant == cm._kpol, c._hh == cm._kh])
    c = c.drop("_kmn", "_kpol", "_kh")
    share = th.get("spike", "schedule_share")
    c = c.mutate(_own=((c._cm - c._om) >= share * (c.hi - c._om)).fill_null(False))
    # the other pollutants' blocks of the same 30 minutes: one row per (mn, block) with each
    # pollutant's candidate block not at its own schedule (a group-by, spilled like any
    # other), joined back one to one (qcspike14: session 13's window per (mn, block), and a
    # self-join of the candidate blocks, which DuckDB reordered below the candidate filter,
    # ran the 5,000-point job out of memory and disk)
    f64 = ibis.null("float64")
    oc = c.filter(~c._own)
    o = oc.group_by(_omn=oc.mn, _ob=oc._blk).aggregate(
        **{f"_n_{k}": (oc.pollutant == k).any() for k in POLLUTANTS},
        **{f"_m_{k}": oc._rel.max(where=oc.pollutant == k) for k in POLLUTANTS})
    c = c.left_join(o, [c.mn == o._omn, c._blk == o._ob])
    ob = ibis.literal(False)
    for k in POLLUTANTS:
        ob = ob | ((c.pollutant != k) & c[f"_n_{k}"].fill_null(False))
    orel = ibis.greatest(*[ibis.ifelse(c.pollutant != k, c[f"_m_{k}"], f64)
                           for k in POLLUTANTS])
    c = c.mutate(_ob=ob, _orel=orel)
    c = c.group_by(["mn", "pollutant", "_h"]).aggregate(spread=c._sp.max(), step=c._st.max(),
                                                        other_rel=c._orel.max(),
                                                        other_block=c._ob.any(),
                                                        _cm=c._cm.max(), _om=c._om.max())
    w = ibis.window(group_by=_KEYS, order_by="_h")
    c = c.mutate(_new=ibis.ifelse(
        c._h.lag().over(w).isnull() | (c._h > c._h.lag().over(w) + ibis.interval(hours=2)),
        1, 0))
    wc = ibis.window(group_by=_KEYS, order_by="_h", preceding=None, following=0)
    c = keep(c.mutate(run=-c._new.sum().over(wc)).drop("_new"))
    g = c.group_by([*_KEYS, "run"]).aggregate(first=c._h.min(), last=c._h.max(),
                                              spread=c.spread.max(), step=c.step.max(),
                                              other_rel=c.other_rel.max(),
                                              other_block=c.other_block.any())
    g = g.mutate(hours=((g.last.epoch_seconds() - g.first.epoch_seconds()) // 3600 + 1))
    g = g.filter(g.hours <= max_h)
    # the span's edges are the surrounding level: the clock hours around the run where they
    # are valid running hours (``span_before`` / ``span_after``), at least one of them
    # (qcspike13: a run that ends in the hour before a stop is judged against the hour
    # before it; its span leaves out the stop)
    eb = e.select(_bmn=e._emn, _bpol=e._epol, _bts=e._ets, _bok=ibis.literal(True))
    ea = e.select(_amn=e._emn, _apol=e._epol, _ats=e._ets, _aok=ibis.literal(True))
    g = g.left_join(eb, [g.mn == eb._bmn, g.pollutant == eb._bpol, g.first - one == eb._bts])
    g = g.left_join(ea, [g.mn == ea._amn, g.pollutant == ea._apol, g.last + one == ea._ats])
    g = g.mutate(span_before=g._bok.fill_null(False), span_after=g._aok.fill_null(False))
    g = g.drop("_bmn", "_bpol", "_bts", "_bok", "_amn", "_apol", "_ats", "_aok")
    g = g.filter(g.span_before | g.span_after)
    # the clock hour where the run's raised minutes begin (its first candidate hour): a
    # level reached there on most days is the schedule (qcspike11: the lowest level of
    # every candidate hour missed a daily step up at 08:00 and down at 10:00, whose last
    # hour holds only the step down)
    sched = c.group_by([*_KEYS, "run"]).aggregate(clock_median=c._cm.argmin(c._h),
                                                  clock_base=c._om.max())
    sched = sched.select(_xmn=sched.mn, _xpol=sched.pollutant, _xrun=sched.run,
                         clock_median=sched.clock_median, clock_base=sched.clock_base)
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
    f64 = ibis.null("float64")
    parts = [blocks.select("mn", _h=blocks.t0.truncate("h"), _blk=blocks.block,
                           pollutant=ibis.literal(key),
                           hi=blocks[f"hi_{key}"].cast("float64"),
                           lo=blocks[f"lo_{key}"].cast("float64"),
                           dx=(blocks[f"dx_{key}"].cast("float64") if f"dx_{key}" in
                               blocks.columns else f64)) for key in keys]
    b = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    b = b.filter(b.hi.notnull() & b.lo.notnull())
    hv = hl.select(_vmn=hl.mn, _vts=hl.ts, _vpol=hl.pollutant)
    b = b.inner_join(hv, [b.mn == hv._vmn, b._h == hv._vts, b.pollutant == hv._vpol])
    # the analyser's resolution: the finest step its readings carry (the most decimals of
    # the blocks' extremes: 0, 1, 2, else 3), so a flat whole-mg/m³ channel's step is 1
    dec = reading_decimals(b.hi)
    b = b.select("mn", "_h", "_blk", "pollutant", "hi", _r=b.hi - b.lo,
                 _rel=b.hi / ibis.greatest(b.lo, 0), _dx=b.dx, _dec=dec)
    sp = b.group_by(["mn", "pollutant"]).aggregate(_sp=ibis.greatest(b._r.median(), floor),
                                                   _dxm=b._dx.median(), _dm=b._dec.max())
    res = decimals_step(sp._dm).fill_null(0.001)
    st = ibis.ifelse(sp._dxm.isnull(), f64, ibis.greatest(sp._dxm, res))
    return b.drop("_dec"), sp.select(_smn=sp.mn, _spol=sp.pollutant, _sp=sp._sp, _st=st)


def _clock_hour_max(b: ir.Table, c: ir.Table, th: Thresholds) -> ir.Table:
    """(_kmn, _kpol, _kh, _cm, _om): the month's median of the hour's largest minute.

    ``b`` the stacked blocks (mn, _h, pollutant, hi) of valid running hours, ``c`` the
    candidate blocks (mn, pollutant): only their channels are read. ``_cm``: at each clock
    hour ``_kh`` (CST) of those channels where at least ``spike.schedule_days`` days have a
    running hour there; ``_om``: over every running hour of the channel (its ordinary hour,
    qcspike11). A puff or a step that recurs at that time on at least half of the days (soot
    blowing, a light-off, a raw mill stopped at 08:00) raises ``_cm`` above ``_om``; a
    glitch does not. At most 24 rows per channel, joined to the candidates afterwards
    (qcspike14: asking it for the candidates' own clock hours read the candidates again
    inside it, session 13's 5,000-point failure); a partner's block is a candidate block
    too, so its clock hours are here.
    """
    ch = c.select(_kmn=c.mn, _kpol=c.pollutant).distinct()
    x = b.inner_join(ch, [b.mn == ch._kmn, b.pollutant == ch._kpol])
    h = x.group_by(["_kmn", "_kpol", "_h"]).aggregate(_hx=x.hi.max())
    h = h.mutate(_hh=h._h.hour())
    om = h.group_by(["_kmn", "_kpol"]).aggregate(_om=h._hx.median())
    lv = h.group_by(["_kmn", "_kpol", "_hh"]).aggregate(_cm=h._hx.median(), _cn=h.count())
    lv = lv.filter(lv._cn >= int(th.get("spike", "schedule_days")))
    om = om.select(_pmn=om._kmn, _ppol=om._kpol, _om=om._om)
    lv = lv.inner_join(om, [lv._kmn == om._pmn, lv._kpol == om._ppol])
    return lv.select("_kmn", "_kpol", _kh=lv._hh, _cm=lv._cm, _om=lv._om)
