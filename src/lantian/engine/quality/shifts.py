"""Persistent ``level_shift``: change points of a two-window median test, log scale.

Works on the stacked valid running hours of :func:`~lantian.engine.quality.statistics.hour_long`
(hourly means corrected to the reference O2 of the limit, HJ 75-2017): change points of the
24 h median test, each segment compared with the rest of the month (qcdetect, session 4);
series that cannot have a change point are left out by an exact screen from block quantiles
(:func:`shift_screen`, session 5). Times are China Standard Time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from lantian.engine.quality.frames import event_table, evidence
from lantian.engine.quality.shift_onsets import (
    residuals,
    sharpness,
    spread,
    strong_sharpness,
)
from lantian.engine.quality.spikes import _block_bounds
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["calibration_steps", "level_shift", "shift_screen"]

_KEYS = ["mn", "pollutant"]


def shift_screen(hl: ir.Table, th: Thresholds) -> ir.Table:
    """(mn, pollutant) series in which ``level_shift`` can find a change point.

    A change point needs ``|d(i)| > ln(1 + level_shift.min_rel)``, ``d`` the difference of
    the medians (log scale) of the ``W`` running hours from ``i`` on and the ``W`` before.
    Each window lies in two adjacent blocks of ``W`` running hours, both in three, and the
    median of ``W`` values lies between the ``⌈r/2⌉``-th smallest and largest value of
    one of its two blocks (``r = ⌈W/2⌉``, pigeonhole; 6th of 24). So
    ``|d| ≤ max(hi) − min(lo)`` over any three adjacent blocks; a series where that bound
    stays at or below the step has no change point, hence no segment and no event, and is
    left out (a bound, not an estimate: the same events).
    """
    w_h = int(th.get("level_shift", "window_h"))
    lv = _log_level(hl.value, th.get("level_shift", "abs_floor"))
    g = _block_bounds(hl, lv, w_h, math.ceil(math.ceil(w_h / 2) / 2), upper=True)
    # three adjacent blocks: the previous pair and the next pair around block j
    span = (ibis.greatest(g._hi_prev, g._hi_next) - ibis.least(g._lo_prev, g._lo_next))
    step = math.log1p(th.get("level_shift", "min_rel"))
    g = g.group_by(_KEYS).aggregate(_span=span.max())
    return g.filter(g._span > step * (1 - 1e-9)).select(*_KEYS)


def level_shift(hl: ir.Table, th: Thresholds, load: ir.Table | None = None,
                materialize: Callable[[ir.Table], ir.Table] | None = None,
                screen: bool = True, presence: ir.Table | None = None,
                calibrations: ir.Table | None = None) -> ir.Table:
    """Find persistent changes of level: a two-window median change-point test, log scale.

    An analyser's level shift (a slope or zero changed, a probe fouled) changes the level at
    one moment and the level stays; a halving at 2 mg/m³ and at 20 mg/m³ are the same fault,
    so levels are compared as logarithms, of ``max(value, r) + r`` with ``r`` =
    ``level_shift.abs_floor``, the analyser's resolution (below it a ratio means nothing, and
    near it the error is additive: :func:`_log_level`). For each running hour
    ``i`` (``hl.idx``), with ``W`` = ``level_shift.window_h`` running hours (a whole daily
    load cycle, so daily swings cancel):

    * ``d(i)`` = median of the ``W`` hours from ``i`` on − median of the ``W`` hours before
      ``i`` (both windows full);
    * threshold ``T = max(ln(1 + min_rel), k_mad · 1.4826 · MAD(d))``: the month's own
      robust spread of ``d`` (a series that wanders a lot needs a larger step);
    * change points: ``|d| > T`` and ``d`` the largest rise (or fall) within ``W`` hours
      either side: a rise and a fall are peaks of their own sign, so the fall that ends a
      fault of a day or so is not hidden by the rise that began it (session 10); a run of
      hours with the same peak ``d`` (the medians tie) is one change point, its middle hour
      (:func:`_plateau_middle`, session 15);
    * ``T`` again with the MAD of ``d`` over the hours ``W`` or more from every change
      point so found, the smaller of the two ``T`` kept (faults must not set the spread
      they are judged by: several in a month, or a plant running half-days, put ``d`` near
      a full step for 40–50 % of the hours), and the change points again with it.

    The change points cut the month into segments. A segment of at least
    ``level_shift.min_hours`` hours and less than half of the month's running hours whose
    median differs from the median of all the other hours of the month by more than ``T``
    is an event (``medium``; ``high`` when the level halves or doubles). It is ``low`` (a
    process change, worth a look) when every change point bounding it is a process one: the
    load (``load``: mn, ts, load, e.g. the hourly flow) steps by ``level_shift.load_rel``
    or more at the same hour with the same windows, or another pollutant of the point steps
    past its own threshold at the same hour. An analyser fault moves one channel alone.
    Times are China Standard Time (hour starts); no scan of the minutes. ``materialize``
    (the caller's hook, e.g. ``lambda t: t.cache()``) keeps the windowed hours once: four
    branches read them (segments, the other hours, change points, other pollutants). On
    Spark give it (``lantian qc`` does): Spark's analyser re-analyses the unkept plan for
    every branch and runs out of driver heap.
    ``screen`` (default) first leaves out the series that cannot have a change point
    (:func:`shift_screen`, from block quantiles); ``screen=False`` tests every series (the
    same events, slower; kept to prove the equality).

    ``presence`` (mn, pollutant, zero_share: :func:`~lantian.engine.quality.values
    .zero_presence`) marks channels at their detection limit: where the channel's own valid
    readings cross zero in at least ``level_shift.cross_share`` of its running half-hours,
    its noise is as large as its level and a ratio of two levels is no evidence of a fault:
    such a segment is ``low`` (evidence ``at_detection_limit``; :func:`_at_detection_limit`).
    Without ``presence`` every channel is judged.

    A borderline step that lasts days (session 11, qcshift11): the same segments are also
    cut at change points of the materiality step alone (``ln(1 + min_rel)``), and such a
    segment of at most ``2 · level_shift.seg_window_max_h`` hours is an event when the mean
    of its residuals (level less the channel's month median at the clock hour) differs from
    the median of the other hours' by more than that step and by ``level_shift.seg_k``
    spreads of the channel's own means over as many hours (:func:`_long_evidence`; evidence
    ``step_sigmas``, ``sigma_window_h``); ``low`` also when the load or another pollutant
    moved over its hours (:func:`_process_segments`). Segments the two-window threshold
    reports are not reported again.

    Suddenness (sessions 15–17): a segment of either path whose level did not come
    suddenly — its onset under ``level_shift.sudden_k`` spreads of the channel's own 3-h
    jumps (:func:`~lantian.engine.quality.shift_onsets.sharpness`, evidence
    ``sudden_sigmas``) — is ``low``: the process's wander, not an analyser's step. The
    two-window path's segments are judged so since session 17
    (:func:`~lantian.engine.quality.shift_onsets.strong_sharpness`).

    ``calibrations`` (the analyser parameter reports, mn, ts, code, num, text: HJ 212-2017
    B.10, as :func:`~lantian.engine.quality.records.calibration_change` reads them): a
    change point whose two windows hold a change of the channel's slope or intercept
    (:func:`calibration_steps`) is that calibration's step: the reading moves by the new
    coefficient from that minute on, and ``calibration_change`` judges the change (with or
    without its maintenance record). A segment every bounding change point of which is so
    explained, or a process one, at least one a calibration, is ``low`` (evidence
    ``calibration``; qcshift13). Without ``calibrations`` no change point is.
    """
    w_h = int(th.get("level_shift", "window_h"))
    floor = th.get("level_shift", "abs_floor")
    cal = calibration_steps(calibrations, th) if calibrations is not None else None
    if screen:
        hl = hl.semi_join(shift_screen(hl, th), _KEYS)
    t = hl.mutate(lv=_log_level(hl.value, floor))
    if load is not None:
        ld = load.filter(load.load > 0).select(_lmn="mn", _lts="ts", ld=load.load.ln())
        t = t.left_join(ld, [t.mn == ld._lmn, t.ts == ld._lts]).drop("_lmn", "_lts")
    else:
        t = t.mutate(ld=ibis.null("float64"))
    ahead = ibis.window(group_by=_KEYS, order_by="idx", preceding=0, following=w_h - 1)
    w1 = ibis.window(group_by=_KEYS, order_by="idx")
    upto = ibis.window(group_by=_KEYS, order_by="idx", preceding=None, following=0)
    t = t.mutate(_a=t.lv.median().over(ahead),
                 nh=t.idx.max().over(ibis.window(group_by=_KEYS)))
    # the window before hour i is the window ahead of hour i - W
    t = t.mutate(_b=t._a.lag(w_h).over(w1))
    full = (t.idx > w_h) & (t.idx + w_h - 1 <= t.nh)
    t = t.mutate(d=ibis.ifelse(full, t._a - t._b, ibis.null("float64")))
    floor_t = ibis.literal(math.log1p(th.get("level_shift", "min_rel")))
    k_sd = th.get("level_shift", "k_mad") * 1.4826
    t = t.inner_join(spread(t, t.d, "_mad"), _KEYS)
    t = t.mutate(thr=ibis.greatest(floor_t, k_sd * t._mad), ad=t.d.abs())
    # a rise and a fall are peaks of their own sign: the fall that ends a short fault is
    # not hidden by the rise that began it (their 24 h plateaus of d overlap)
    around = ibis.window(group_by=_KEYS, order_by="idx", preceding=w_h, following=w_h)
    t = t.mutate(_hi=t.d.max().over(around), _lo=t.d.min().over(around))
    t = t.mutate(_pk=(((t.d > 0) & (t.d >= t._hi)) | ((t.d < 0) & (t.d <= t._lo)))
                 .fill_null(False))
    t = _plateau_middle(t)
    peak = t._pk
    t = t.mutate(_cp=ibis.ifelse(((t.ad > t.thr) & peak).fill_null(False), 1, 0))
    # the month's spread of d without the hours whose windows straddle a change point
    # found so far: a month with faults is not judged by a spread its faults inflate
    near = ibis.window(group_by=_KEYS, order_by="idx", preceding=w_h - 1, following=w_h - 1)
    t = t.mutate(_dc=ibis.ifelse(t._cp.max().over(near) == 0, t.d, ibis.null("float64")))
    t = t.inner_join(spread(t, t._dc, "_mad2"), _KEYS)  # null where every hour is near
    t = t.mutate(thr=ibis.least(t.thr, ibis.greatest(floor_t, k_sd * t._mad2)
                                .fill_null(t.thr)))
    t = t.mutate(_cp=ibis.ifelse(((t.ad > t.thr) & peak).fill_null(False), 1, 0),
                 _cpw=ibis.ifelse(((t.ad > floor_t) & peak).fill_null(False), 1, 0))
    t = t.mutate(seg=t._cp.sum().over(upto), segw=t._cpw.sum().over(upto))
    if materialize is not None:
        t = materialize(t.drop("value", "_a", "_b", "_mad", "_mad2", "_dc", "_hi", "_lo",
                               "_pk"))
    load_step = math.log1p(th.get("level_shift", "load_rel"))
    strong = _segments(t, th, load_step, w_h, cal)
    # the two-window path's segments judged for suddenness as well (session 17)
    strong = strong_sharpness(strong, t, th)
    # the same segments with change points at the materiality step alone, each judged by
    # the spread of the channel's own means over as many hours (qcshift11, session 11)
    tw = t.mutate(_cp=t._cpw, seg=t.segw, thr=floor_t)
    weak = _segments(tw, th, load_step, w_h, cal)
    weak = _long_evidence(weak, tw, th)
    weak = _process_segments(weak, tw, load_step)
    s = strong.select(_smn="mn", _spol="pollutant", _sf="first", _sl="last")
    weak = weak.anti_join(s, [weak.mn == s._smn, weak.pollutant == s._spol,
                              weak.first <= s._sl, weak.last >= s._sf])
    nul = ibis.null("float64")
    strong = strong.mutate(z=nul, win=nul, pseg=ibis.literal(False))
    weak = weak.mutate(win=weak.win.cast("float64")).select(*strong.columns)
    g = ibis.union(strong, weak, distinct=False)
    common = ((g.p0.fill_null(True) & g.p1.fill_null(True) & (g.p0.notnull() | g.p1.notnull()))
              | g.pseg)
    # every bounding change point a calibration's or the process's, at least one a calibration
    calib = ((g.p0.fill_null(True) | g.c0.fill_null(False))
             & (g.p1.fill_null(True) | g.c1.fill_null(False))
             & (g.c0.fill_null(False) | g.c1.fill_null(False)))
    g = _at_detection_limit(g, presence, th)
    # the levels themselves (the medians commute with the log); the ratio of the levels
    level, base = g.slv.exp() - floor, g.olv.exp() - floor
    ratio = level / base
    high = th.get("level_shift", "high_ratio")
    # a step (either path) that did not come suddenly: the process's wander
    gradual = (g.sharp < th.get("level_shift", "sudden_k")).fill_null(False)
    sev = ibis.cases((common | g.at_dl | calib | gradual, "low"),
                     ((ratio >= high) | (ratio <= 1 / high), "high"), else_="medium")
    return event_table(g, "level_shift", pollutant=g.pollutant, start=g.first,
                       end=g.last + ibis.interval(minutes=59), severity=sev,
                       evid=evidence(hours=g.hours, level=level, baseline=base,
                                     ratio=ratio, threshold_ratio=g.thr.exp(),
                                     process_change=common, calibration=calib,
                                     at_detection_limit=g.at_dl,
                                     step_sigmas=g.z, sigma_window_h=g.win,
                                     sudden_sigmas=g.sharp))


def _plateau_middle(t: ir.Table) -> ir.Table:
    """``_pk`` (the peaks of ``d``) kept only at the middle hour of each run of tied ones.

    ``d`` moves only when an hour entering or leaving one of its windows crosses that
    window's median, so around a step it often stays on the same value for hours (with
    quantised readings for up to half a window), and every hour of such a run is a peak.
    Each was a change point, and the 1-h segments between them (under
    ``level_shift.min_hours``, never judged) took those hours off the fault. The run of a
    median test is centred on the step (its first hour puts the onset's cut early and the
    end's inside the fault), so its middle hour (the earlier of two) is the change point.
    Needs ``_pk`` (boolean, no nulls), ``d`` and ``idx``.
    """
    w1 = ibis.window(group_by=_KEYS, order_by="idx")
    t = t.mutate(_tb=(t._pk.lag(1).over(w1) & (t.d.lag(1).over(w1) == t.d)).fill_null(False),
                 _ta=(t._pk.lead(1).over(w1) & (t.d.lead(1).over(w1) == t.d)).fill_null(False))
    nul = ibis.null("int64")
    upto = ibis.window(group_by=_KEYS, order_by="idx", preceding=None, following=0)
    after = ibis.window(group_by=_KEYS, order_by="idx", preceding=0, following=None)
    # the first and the last hour of the run an hour belongs to (of the runs so far / after)
    t = t.mutate(_r0=ibis.ifelse(t._pk & ~t._tb, t.idx, nul).max().over(upto),
                 _r1=ibis.ifelse(t._pk & ~t._ta, t.idx, nul).min().over(after))
    t = t.mutate(_pk=t._pk & (t.idx == (t._r0 + t._r1) // 2))
    return t.drop("_tb", "_ta", "_r0", "_r1")


def _segments(t: ir.Table, th: Thresholds, load_step: float, w_h: int,
              cal: ir.Table | None = None) -> ir.Table:
    """Segments between the change points ``_cp`` (numbered ``seg``) that differ by ``thr``.

    One row per segment of at least ``level_shift.min_hours`` and less than half the
    month's running hours whose median level (``slv``) differs from the median of the
    month's other hours (``olv``) by more than ``thr``; ``p0``/``p1``: its bounding change
    points are process changes, ``c0``/``c1`` calibrations' (:func:`_process_steps`).
    """
    proc = _process_steps(t, load_step, w_h, cal)
    seg = t.group_by([*_KEYS, "seg"]).aggregate(
        first=t.ts.min(), last=t.ts.max(), i0=t.idx.min(), i1=t.idx.max(), hours=t.count(),
        slv=t.lv.median(), nh=t.nh.max(), thr=t.thr.max())
    seg = seg.filter((seg.hours >= int(th.get("level_shift", "min_hours")))
                     & (2 * seg.hours < seg.nh))
    # the level of the month's other hours (only the few candidate segments are joined)
    o = t.select(_omn="mn", _opol="pollutant", _oseg="seg", _olv="lv")
    j = seg.inner_join(o, [seg.mn == o._omn, seg.pollutant == o._opol, seg.seg != o._oseg])
    g = j.group_by([*seg.columns]).aggregate(olv=j._olv.median())
    g = g.mutate(dlv=g.slv - g.olv)
    g = g.filter(g.dlv.abs() > g.thr)
    # edges: the segment's own change point (seg > 0) and the next one (none at month ends)
    for name, cname, off in (("p0", "c0", 0), ("p1", "c1", 1)):
        c = proc.view()
        g = g.left_join(c, [g.mn == c._cmn, g.pollutant == c._cpol, g.seg + off == c._cseg])
        g = g.mutate(**{name: g._proc, cname: g._ccal}).drop("_cmn", "_cpol", "_cseg",
                                                              "_proc", "_ccal")
    return g


def _process_segments(g: ir.Table, t: ir.Table, load_step: float) -> ir.Table:
    """Add ``pseg``: the process moved over the segment's own hours, not only at its edges.

    The change points of the materiality step alone may cut a fault in pieces, so a
    segment's edges need not be the fault's. Over the segment's hours: the median of the
    load (ln) differs from the channel's month median by ``load_step`` or more, or another
    pollutant of the point has a mean residual (``r``) beyond the segment's ``thr``.
    """
    pts = g.select(_pmn2="mn").distinct()
    tp = t.inner_join(pts, t.mn == pts._pmn2).drop("_pmn2")
    tp = residuals(tp.select(*_KEYS, "ts", "lv"))
    o = tp.select(_omn="mn", _opol="pollutant", _ots="ts", _or="r")
    j = g.select(*_KEYS, "seg", "first", "last", "thr").inner_join(
        o, [g.mn == o._omn, g.pollutant != o._opol, o._ots >= g.first, o._ots <= g.last])
    j = j.group_by([*_KEYS, "seg", "thr", "_opol"]).aggregate(_m=j._or.mean())
    oth = j.group_by([*_KEYS, "seg"]).aggregate(_oth=(j._m.abs() > j.thr).any())
    own = t.group_by([*_KEYS, "seg"]).aggregate(_sld=t.ld.median())
    mon = t.group_by(_KEYS).aggregate(_mld=t.ld.median())
    q = oth.select(_qmn="mn", _qpol="pollutant", _qseg="seg", _oth="_oth")
    g = g.left_join(q, [g.mn == q._qmn, g.pollutant == q._qpol, g.seg == q._qseg])
    g = g.drop("_qmn", "_qpol", "_qseg")
    own = own.select(_wmn="mn", _wpol="pollutant", _wseg="seg", _sld="_sld")
    g = g.left_join(own, [g.mn == own._wmn, g.pollutant == own._wpol, g.seg == own._wseg])
    g = g.drop("_wmn", "_wpol", "_wseg")
    mon = mon.select(_vmn="mn", _vpol="pollutant", _mld="_mld")
    g = g.left_join(mon, [g.mn == mon._vmn, g.pollutant == mon._vpol]).drop("_vmn", "_vpol")
    moved = ((g._sld - g._mld).abs() >= load_step).fill_null(False) | g._oth.fill_null(False)
    return g.mutate(pseg=moved).drop("_oth", "_sld", "_mld")


def _long_evidence(g: ir.Table, t: ir.Table, th: Thresholds) -> ir.Table:
    """Keep the segments ``g`` whose mean residual step is ``seg_k`` of their own spread.

    ``g`` are the segments of :func:`_segments` at the materiality threshold alone; ``t``
    the hours with their residuals ``r`` and segment ``seg``. For windows of ``L`` =
    ``min_hours``, doubled up to ``level_shift.seg_window_max_h`` running hours, the spread
    ``σ_L`` is 1.4826 × the MAD of the rolling ``L``-hour means of ``r`` over the windows
    that touch none of the segments ``g`` (all full windows when fewer than ``2L`` are
    left): the channel's own noise of a mean over ``L`` hours, its autocorrelation and
    day-to-day wander included, estimated from the month without the steps it is to judge.
    A segment of ``n`` hours is judged with the largest ``L ≤ n``: kept when
    ``|srm − orr| ≥ seg_k · σ_L`` (``z``, ``win``) and ``n ≤ 2 · seg_window_max_h`` (no
    spread of longer means is measured in a month).
    """
    lo = int(th.get("level_shift", "min_hours"))
    top = int(th.get("level_shift", "seg_window_max_h"))
    wins = [lo]
    while wins[-1] * 2 <= top:
        wins.append(wins[-1] * 2)
    # only the channels with a candidate segment get residuals and windowed means
    t = residuals(t.semi_join(g, _KEYS).select(*_KEYS, "ts", "idx", "seg", "lv"))
    sm = t.group_by([*_KEYS, "seg"]).aggregate(srm=t.r.mean())
    o = t.select(_omn="mn", _opol="pollutant", _oseg="seg", _or="r")
    j = g.select(*_KEYS, "seg").inner_join(
        o, [g.mn == o._omn, g.pollutant == o._opol, g.seg != o._oseg])
    om = j.group_by([*_KEYS, "seg"]).aggregate(orr=j._or.median())
    sm = sm.inner_join(om, [*_KEYS, "seg"])
    sm = sm.select(_gmn="mn", _gpol="pollutant", _gseg="seg", srm="srm", orr="orr")
    g = g.inner_join(sm, [g.mn == sm._gmn, g.pollutant == sm._gpol, g.seg == sm._gseg])
    g = g.drop("_gmn", "_gpol", "_gseg")
    inc = g.select(_imn="mn", _ipol="pollutant", _iseg="seg", _inc=ibis.literal(1))
    u = t.left_join(inc, [t.mn == inc._imn, t.pollutant == inc._ipol, t.seg == inc._iseg])
    u = u.mutate(_inc=u._inc.fill_null(0)).drop("_imn", "_ipol", "_iseg")
    nul = ibis.null("float64")
    cols = {}
    for L in wins:
        w = ibis.window(group_by=_KEYS, order_by="idx", preceding=L - 1, following=0)
        cols[f"_m{L}"] = u.r.mean().over(w)
        cols[f"_n{L}"] = u.r.count().over(w)
        cols[f"_x{L}"] = u._inc.max().over(w)
    u = u.mutate(**cols)
    u = u.mutate(**{c: v for L in wins for c, v in (
        (f"_a{L}", ibis.ifelse(u[f"_n{L}"] == L, u[f"_m{L}"], nul)),
        (f"_c{L}", ibis.ifelse((u[f"_n{L}"] == L) & (u[f"_x{L}"] == 0), u[f"_m{L}"], nul)))})
    u = u.select(*_KEYS, *[f"_{k}{L}" for L in wins for k in "ac"])
    med = u.group_by(_KEYS).aggregate(**{f"_q{k}{L}": u[f"_{k}{L}"].median()
                                         for L in wins for k in "ac"},
                                      **{f"_k{L}": u[f"_c{L}"].count() for L in wins})
    u = u.inner_join(med, _KEYS)
    mad = u.group_by(_KEYS).aggregate(**{
        f"_s{k}{L}": (u[f"_{k}{L}"] - u[f"_q{k}{L}"]).abs().median()
        for L in wins for k in "ac"}, **{f"_k{L}": u[f"_k{L}"].max() for L in wins})
    sd = mad.select(_dmn="mn", _dpol="pollutant", **{
        f"_sd{L}": 1.4826 * ibis.ifelse(mad[f"_k{L}"] >= 2 * L, mad[f"_sc{L}"], mad[f"_sa{L}"])
        for L in wins})
    g = g.inner_join(sd, [g.mn == sd._dmn, g.pollutant == sd._dpol]).drop("_dmn", "_dpol")
    cases = [(g.hours >= L, L) for L in reversed(wins)]
    win = ibis.cases(*cases, else_=wins[0])
    sig = ibis.cases(*[(g.hours >= L, g[f"_sd{L}"]) for L in reversed(wins)],
                     else_=g[f"_sd{wins[0]}"])
    step = (g.srm - g.orr).abs()
    z = step / sig
    g = g.mutate(z=ibis.ifelse(sig > 0, z, ibis.null("float64")), win=win)
    g = g.drop(*[f"_sd{L}" for L in wins])
    keep = ((g.z >= th.get("level_shift", "seg_k")) & (step > g.thr)
            & (g.hours <= 2 * top))
    g = g.filter(keep.fill_null(False))
    return sharpness(g, t.semi_join(g, _KEYS), th, g.srm > g.orr)


def _log_level(value: ir.Column, floor: float) -> ir.Column:
    """``ln(max(value, floor) + floor)``: the level on the log scale, with the resolution added.

    Readings under the analyser's resolution (``level_shift.abs_floor``) are taken as the
    floor (a ratio of two readings under it means nothing), and the floor is added to every
    level: the analyser's error is additive near its resolution and proportional above it,
    so a step from 2.4 to 1.7 mg/m³ (×0.7, a resolution-sized change) counts as ln(2.7/3.4)
    = −0.23 while ×0.7 at 20 mg/m³ stays −0.34 (qcshift10, session 10).
    """
    return (ibis.greatest(value, ibis.literal(floor)) + floor).ln()


def _at_detection_limit(g: ir.Table, presence: ir.Table | None, th: Thresholds) -> ir.Table:
    """Add ``at_dl``: the channel of the segment sits at its detection limit.

    True when the channel's ``zero_share`` (``presence``: mn, pollutant, zero_share — the
    share of its running 30-min blocks whose valid readings cross zero, smallest ≤ 0 <
    largest) is at least ``level_shift.cross_share``: analyser noise of the order of the
    level itself (gas-fired SO2 or PM of 1 mg/m³ with a zero drift of ±2–2.5 % of full scale
    allowed by HJ 75-2017). False where the share is unknown.
    """
    if presence is None or "zero_share" not in presence.columns:
        return g.mutate(at_dl=ibis.literal(False))
    r = presence.select(_rmn=presence.mn, _rpol=presence.pollutant, _zs=presence.zero_share)
    g = g.left_join(r, [g.mn == r._rmn, g.pollutant == r._rpol]).drop("_rmn", "_rpol")
    noisy = g._zs >= th.get("level_shift", "cross_share")
    return g.mutate(at_dl=noisy.fill_null(False)).drop("_zs")


def calibration_steps(params: ir.Table, th: Thresholds) -> ir.Table:
    """(_kmn, _kpol, _kts): changes of an analyser's slope or intercept, per channel.

    ``params`` (mn, ts, code, num, text: the pollutant code in ``text``) as read for
    :func:`~lantian.engine.quality.records.calibration_change`; a report of ``i13007``
    (intercept) or ``i13008`` (slope) that differs from the previous one of the same channel
    by more than ``calibration_change.min_rel_change`` × max(|previous|, 1)
    (:func:`~lantian.engine.quality.records.parameter_changes`, the same test).
    The range (``i13001``) is left out: switching it does not move the reading.
    """
    from lantian.engine.quality.records import _pollutant_of, parameter_changes

    p = parameter_changes(params, ("i13007", "i13008"), th)
    return p.select(_kmn=p.mn, _kpol=_pollutant_of(p.text), _kts=p.ts).distinct()


def _process_steps(t: ir.Table, load_step: float, w_h: int,
                   cal: ir.Table | None = None) -> ir.Table:
    """Per change point (_cmn, _cpol, _cseg): ``_proc`` when the process moved at that hour.

    The load's two-window step (median of ln load over the same ``w_h`` running hours from
    the change point on, less the ``w_h`` before) is at least ``load_step``, or another
    pollutant of the point steps past its own threshold at the same hour. Only the change
    points' windows are read (an equi-join on the running-hour number), not a rolling median
    of the load over every hour. ``_ccal``: a change of the channel's slope or intercept
    (``cal``: :func:`calibration_steps`) lies within the same two windows (from the first
    hour of the one before to the end of the last hour of the one from it); null without
    ``cal``.
    """
    cps = t.filter(t._cp == 1)
    offs = ibis.memtable({"_off": list(range(-w_h, w_h))})
    c = cps.select(_cmn="mn", _cpol="pollutant", _cseg="seg", _cidx="idx").cross_join(offs)
    c = c.mutate(_ridx=c._cidx + c._off)
    r = t.select(_rmn="mn", _rpol="pollutant", _ri="idx", _rld="ld", _rts="ts")
    j = c.inner_join(r, [c._cmn == r._rmn, c._cpol == r._rpol, c._ridx == r._ri])
    # (median of the masked column, not median(where=): Spark needs a constant percentage)
    nul = ibis.null("float64")
    j = j.mutate(_ah=ibis.ifelse(j._off >= 0, j._rld, nul),
                 _bh=ibis.ifelse(j._off < 0, j._rld, nul))
    steps = j.group_by(["_cmn", "_cpol", "_cseg"]).aggregate(
        dl=j._ah.median() - j._bh.median(), _t0=j._rts.min(), _t1=j._rts.max())
    oth = t.select(_omn="mn", _ots="ts", _opol="pollutant",
                   _ostep=(t.ad > t.thr).fill_null(False))
    o = cps.left_join(oth, [cps.mn == oth._omn, cps.ts == oth._ots,
                            cps.pollutant != oth._opol])
    o = o.group_by(["mn", "pollutant", "seg"]).aggregate(_other=o._ostep.any())
    o = o.left_join(steps, [o.mn == steps._cmn, o.pollutant == steps._cpol,
                            o.seg == steps._cseg])
    moved = (o.dl.abs() >= load_step).fill_null(False) | o._other.fill_null(False)
    o = o.select(_cmn="mn", _cpol="pollutant", _cseg="seg", _proc=moved)
    if cal is None:
        return o.mutate(_ccal=ibis.null("boolean"))
    # the few change points of channels whose slope or intercept changed, their windows' span
    k = steps.inner_join(cal, [steps._cmn == cal._kmn, steps._cpol == cal._kpol,
                               cal._kts >= steps._t0,
                               cal._kts < steps._t1 + ibis.interval(hours=1)])
    k = k.select(_xmn="_cmn", _xpol="_cpol", _xseg="_cseg").distinct()
    o = o.left_join(k, [o._cmn == k._xmn, o._cpol == k._xpol, o._cseg == k._xseg])
    return o.mutate(_ccal=o._xmn.notnull()).drop("_xmn", "_xpol", "_xseg")
