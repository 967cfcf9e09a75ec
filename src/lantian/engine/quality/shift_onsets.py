"""How suddenly a ``level_shift`` segment's level came: the onset in the channel's own jumps.

An analyser's fault (a slope or zero changed, a probe fouled or swapped) moves the reading
from one minute to the next and its repair moves it back; the plant's wander (fuel, load,
weather) builds up over hours. Issue 4 asks for *sudden* level shifts. Split from
:mod:`~lantian.engine.quality.shifts` (session 17, qcshift17): the residuals and the spread
the test uses, the onset itself (:func:`sharpness`, qcshift15–16), and the same onset for the
segments of the two-window threshold (:func:`strong_sharpness`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from lantian.engine.quality.thresholds import Thresholds

__all__ = ["residuals", "sharpness", "spread", "strong_sharpness"]

_KEYS = ["mn", "pollutant"]


def spread(t: ir.Table, x: ir.Column, name: str) -> ir.Table:
    """(mn, pollutant, ``name``): the median absolute deviation of ``x`` from its median."""
    m = t.group_by(_KEYS).aggregate(_m=x.median())
    j = t.mutate(_x=x).inner_join(m, _KEYS)
    return j.group_by(_KEYS).aggregate(**{name: (j._x - j._m).abs().median()})


def residuals(t: ir.Table) -> ir.Table:
    """Add ``r``: the level ``lv`` less the channel's month median at the same clock hour (CST).

    The channel's own daily profile removed, what is left of an hour is noise (analyser,
    load) plus any fault: the means of ``r`` over a segment are compared with the spread
    of the channel's own means over as many hours (``shifts._long_evidence``), its 3-h
    jumps with the spread of its own jumps (:func:`sharpness`).
    """
    t = t.mutate(_hod=t.ts.hour())
    p = t.group_by([*_KEYS, "_hod"]).aggregate(_pm=t.lv.median())
    p = p.select(_pmn="mn", _ppol="pollutant", _phod="_hod", _pm="_pm")
    t = t.left_join(p, [t.mn == p._pmn, t.pollutant == p._ppol, t._hod == p._phod])
    return t.mutate(r=t.lv - t._pm).drop("_pmn", "_ppol", "_phod", "_pm", "_hod")


def sharpness(g: ir.Table, t: ir.Table, th: Thresholds, up: ir.Column) -> ir.Table:
    """Add ``sharp``: how suddenly the segment's level came and went, in the channel's own sigmas.

    ``jump(i)`` = the mean residual ``r`` of the ``K`` = ``level_shift.sharp_window_h``
    running hours from ``i`` on less that of the ``K`` before (an hourly mean splits a step
    that falls mid-hour, so one hour is not enough); its spread is 1.4826 × the month MAD of
    the channel's ``jump`` (its own hour-to-hour noise and wander over ``K`` hours). The
    onset is the largest ``jump`` in the segment's direction (``up``: boolean column of
    ``g``, the segment lies above the rest of the month) within ``W / 2`` running hours of
    its first hour (``W`` = ``level_shift.window_h``: the change point of the ``W``-hour
    median test is placed only to within half its window), the end the largest opposite
    ``jump`` as near the hour after its last; ``sharp`` = the onset in spreads, or the end
    where the month does not show the onset (null when it shows neither). The onset, not
    the smaller edge (session 16): the shift is sudden where it begins, while the segment's
    end is only where the median test placed it, and a day of low wander inside a fault
    ends the segment early on a gradual fall (a ×1.45 step over 72 h: onset 6.1 sigmas,
    segment end 2.1, the fault's own repair 36 h later 5.2). ``t``: the candidate
    channels' hours with ``idx`` and ``r``; ``g``: segments with ``seg``, ``i0``/``i1``
    (first/last running hour) and ``nh``.
    """
    k = int(th.get("level_shift", "sharp_window_h"))
    near = int(th.get("level_shift", "window_h")) // 2
    nul = ibis.null("float64")
    w1 = ibis.window(group_by=_KEYS, order_by="idx")
    ahead = ibis.window(group_by=_KEYS, order_by="idx", preceding=0, following=k - 1)
    q = t.select(*_KEYS, "idx", "r")
    q = q.mutate(_ja=q.r.mean().over(ahead), _jn=q.r.count().over(ahead))
    # the K hours before hour i are the K hours ahead of hour i - K
    q = q.mutate(_jb=q._ja.lag(k).over(w1), _jbn=q._jn.lag(k).over(w1))
    q = q.mutate(jump=ibis.ifelse((q._jn == k) & (q._jbn == k), q._ja - q._jb, nul))
    sd = spread(q, q.jump, "_sdj")
    g = g.mutate(_up=up)
    e = g.select(_emn="mn", _epol="pollutant", _eseg="seg", _i0="i0", _i1="i1",
                 _sg=ibis.ifelse(g._up, 1.0, -1.0))
    qj = q.select(_qmn="mn", _qpol="pollutant", _qi="idx", _qj="jump")
    for name, at, sign in (("_on", e._i0, 1.0), ("_off", e._i1 + 1, -1.0)):
        j = e.inner_join(qj, [e._emn == qj._qmn, e._epol == qj._qpol,
                              qj._qi >= at - near, qj._qi <= at + near])
        m = j.group_by(["_emn", "_epol", "_eseg"]).aggregate(
            **{name: (sign * j._sg * j._qj).max()})
        g = g.left_join(m, [g.mn == m._emn, g.pollutant == m._epol, g.seg == m._eseg])
        g = g.drop("_emn", "_epol", "_eseg")
    sd = sd.select(_jmn="mn", _jpol="pollutant", _sdj="_sdj")
    g = g.left_join(sd, [g.mn == sd._jmn, g.pollutant == sd._jpol]).drop("_jmn", "_jpol")
    # the onset where the month shows it (the segment's first hour is not the month's), else
    # the end where it shows that (its last hour is not the month's)
    on = ibis.ifelse(g.seg > 0, g._on, nul)
    off = ibis.ifelse(g.i1 < g.nh, g._off, nul)
    sharp = ibis.ifelse(g._sdj > 0, on.fill_null(off) / (1.4826 * g._sdj), nul)
    return g.mutate(sharp=sharp).drop("_on", "_off", "_sdj", "_up")


def strong_sharpness(g: ir.Table, t: ir.Table, th: Thresholds) -> ir.Table:
    """Add ``sharp`` to the segments of the two-window threshold (``level_shift.k_mad``).

    The same onset as the weak path's (:func:`sharpness`, session 17, qcshift17): a segment
    the 24-h median test cuts out of a slow drift (a day of the plant's wander, a level
    near the analyser's resolution creeping by a few readings) has no sudden onset, while
    an analyser's step of any size has one. ``g``: segments with ``seg``, ``i0``, ``i1``,
    ``nh``, ``slv`` and ``olv`` (median level of the segment and of the other hours);
    ``t``: the hours with ``mn``, ``pollutant``, ``ts``, ``idx``, ``lv``.
    """
    r = residuals(t.semi_join(g, _KEYS).select(*_KEYS, "ts", "idx", "lv"))
    return sharpness(g, r, th, g.slv > g.olv)

