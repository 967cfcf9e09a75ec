"""Isolated ``spike`` hours: rolling median and IQR of the running hours, minute test.

Works on the stacked valid running hours of :func:`~lantian.engine.quality.statistics.hour_long`
(hourly means corrected to the reference O2 of the limit, HJ 75-2017), as the US EIA / Open
Grid Emissions hourly screening does: an hour far above the rolling median of the running
hours around it, reached and left abruptly (read from the minutes where they exist). The
rolling windows are computed only for the hours that pass an exact screen from block
quantiles (:func:`spike_windows`, session 5). Times are China Standard Time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.hours import column_of
from lantian.engine.quality.frames import event_table, evidence
from lantian.engine.quality.spike_minutes import minute_candidates, stacked_blocks
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["minute_candidates", "minute_steps", "spike", "spike_candidates",
           "spike_span_hours", "spike_windows"]

_KEYS = ["mn", "pollutant"]


def spike(hl: ir.Table, th: Thresholds, minutes: ir.Table | None = None,
          materialize: Callable[[ir.Table], ir.Table] | None = None,
          screen: bool = True, candidates: ir.Table | None = None) -> ir.Table:
    """Isolated hours far above the rolling median of the surrounding running hours.

    For each hour: median ``m`` and IQR ``q`` over ``spike.window_h`` running hours each side.
    The hour is high when ``value > m + k·max(q, abs_floor)`` and ``value > (1 + min_rel)·m``.
    Runs of at most ``spike.max_hours`` high hours whose neighbouring hours are ordinary
    (below median + max(2 IQR, ``spike.shoulder_frac`` of the jump)) are spikes; longer
    runs, or runs reached by a ramp, are process episodes (a real exceedance), not spikes.
    Severity ``medium``, ``high`` from ``spike.high_ratio`` times the median; ``low`` when
    another pollutant of the point is at ``spike.common_ratio`` times its own rolling median
    in the same hour and above its own median + 2·max(IQR, ``abs_floor``) (the process
    moved, not one analyser), unless that hour is the other pollutant's own daily schedule
    (the test below, qcspike13), or when in every hour of the run the month's median at its
    clock hour (``clock_hour_median``, over at least ``spike.schedule_days`` days) is above
    the rolling median by at least ``spike.schedule_share`` of the hour's own rise over it:
    a rise that recurs at that time of day on at least half the days is the source's
    schedule, not a fault (session 7).

    With ``minutes`` (``flue_minute`` rows: mn, ts, ``<key>_mg_m3``, ``<key>_flag``) the
    abruptness is read from the minutes of the candidate runs instead of the neighbouring
    hours (:func:`minute_steps`): a glitch rises and falls within a minute or two, a process
    ramp over tens of minutes, and the partial edge hours of a glitch off the clock hour
    (HJ 212-2017 hourly values are clock-hour means) no longer count against it. Only the
    minutes from one hour before the run to one hour after it are read. ``materialize``
    (the caller's hook, e.g. ``lambda t: t.cache()``) keeps the few candidate runs, which the
    minute test reads twice; without it the rolling windows run twice.

    ``screen`` (default): the rolling median and IQR are computed only for the hours that
    pass a screen no spike can fail (:func:`spike_windows`); ``screen=False`` computes
    them for every hour (the same events, slower; kept to prove the equality).
    ``candidates``: the caller's (kept) :func:`spike_candidates` of ``hl``, e.g. to read the
    minutes of their spans (:func:`spike_span_hours`) together with other detectors' minutes;
    then ``minutes`` may hold only those hours' minutes.

    Glitches shorter than an hour (qcspike9, session 9): with candidates built with the
    block scan (``spike_candidates(..., blocks=...)``) the runs of
    :func:`~lantian.engine.quality.spike_minutes.minute_candidates` join, and every run gets
    the channel's minute spread ``s`` (the month's median range of its 30-min blocks, at
    least ``abs_floor``). A run is then also a spike by the glitch test (a minute run only
    by it): the highest ``step_minutes`` mean in its hours (``top5``) stands above the
    median of the span's other minutes (``base``) by ``jump1`` > ``spike.minute_k``·s and is
    above ``(1 + min_rel)``·base; the largest rise and fall between consecutive valid
    minutes are each ≥ ``abrupt_frac``·jump1, rise before fall and ≤ ``max_hours`` apart,
    the ``step_minutes`` before the rise and from the fall lie within ``abrupt_frac``·jump1
    of the base, and the span's edges below top5 − ``abrupt_frac``·jump1. An hourly run's
    own minute test then also needs its jump > ``minute_k``·s. Or (qcspike11) by its steps,
    where the blocks give the channel's usual largest one-minute change ``u`` (``step``: the
    month's median of the block scan's ``dx_k``, at least the readings' resolution): the
    median minute from the rise to the fall (``held1``) exceeds ``spike.step_k``·u above
    the ``step_minutes`` mean before the rise (``pre1``), above the one from the fall
    (``post1``) and above the base (the glitch holds its level: not a recovery from one dip
    and the fall into the next, nor a noise outlier's return), jump1 exceeds it too and is
    at least ``abs_floor`` or doubles the base (an additive glitch on a high baseline), with
    the same abruptness and level tests (qcspike13: the level steps, not the single
    one-minute rise1 and fall1, which carry the noise of two single readings). A minute run
    is ``low`` for the common mode (another pollutant's block of the same 30 minutes a
    candidate, not at that pollutant's own daily schedule), ``info`` when the month's median
    of the largest minute of the clock hour where it begins (``clock_hour_max_median``, ≥
    ``schedule_days`` days) is above that of every hour (``hour_max_median``) by
    ``schedule_share`` of jump1 (a daily puff or step: the source's schedule); ``high`` when
    top5 ≥ ``high_ratio``·base; its event runs from its first raised minute to its last.
    """
    g = candidates if candidates is not None else spike_candidates(hl, th, screen=screen)
    max_h = int(th.get("spike", "max_hours"))
    if minutes is not None and materialize is not None and candidates is None:
        g = materialize(g)  # the candidate runs, read twice by the minute test
    # shoulders below median + max(2 IQR, shoulder_frac of the jump): an abrupt rise
    frac = th.get("spike", "shoulder_frac")
    calm = ibis.greatest(g.calm, g.median + frac * (g.peak - g.median))
    abrupt = (g.before.fill_null(0) <= calm) & (g.after.fill_null(0) <= calm)
    rise = fall = jump = top = base = ibis.null("float64")
    start, end = g.first, g.last + ibis.interval(minutes=59)
    f64 = ibis.null("float64")
    if minutes is not None:
        st = minute_steps(g, minutes, th)
        g = g.left_join(st, [g.mn == st._smn, g.pollutant == st._spol, g.run == st._srun])
        a = th.get("spike", "abrupt_frac")
        mrun = g.minute.fill_null(False)
        # the jump in measured units: the run's raised minutes less the rolling median of the
        # hours, scaled as the hours are (peak and median O2-corrected alike); a minute run
        # (minute_candidates): its highest step_minutes mean less the median of the span's
        # minutes outside its hours
        g = g.mutate(jump=ibis.ifelse(
            mrun, g.top5 - g.base,
            g.top * (1 - g.median / ibis.ifelse(g.peak > 0, g.peak, f64))),
            _jump1=g.top5 - g.base)
        # abrupt both ways, rise before fall, the raised minutes (rise to fall) last at most
        # max_hours (a longer step up and down is a level change), and the span begins and
        # ends at the surrounding level (else the episode is longer than the span)
        by_minutes = ((g.rise >= a * g.jump) & (g.fall >= a * g.jump) & (g.jump > 0)
                      & (g.t_rise < g.t_fall)
                      & (g.t_fall <= g.t_rise + ibis.interval(hours=max_h))
                      & (g.edge <= g.top - a * g.jump)
                      # above the channel's minute spread (where the blocks give it)
                      & (g.jump > th.get("spike", "minute_k") * g.spread).fill_null(True))
        # the glitch test of a minute run (minute_candidates), and of an hourly run where the
        # blocks give the spread (a glitch of minutes raises its hour but not its upper
        # quartile): the jump is the highest step_minutes mean in the run's hours less the
        # median of the span's other minutes; it rises and falls between consecutive valid
        # minutes by half of it (a glitch steps within one; a puff or an overshoot takes
        # several), stands out of the channel's minute spread, and is (1 + min_rel) times
        # the surrounding level
        j1 = g._jump1
        doubled = g.top5 > (1 + th.get("spike", "min_rel")) * g.base
        # the channel's own minute scale: its blocks' median range, or (qcspike11) the
        # steps themselves are step_k times the usual largest one-minute step of its
        # 30-min blocks, as are the jump and the level held between the steps (median), the
        # jump at least abs_floor where it does not double the level (an additive glitch
        # on a high baseline)
        # (qcspike13) the steps as level steps: the held level above the step_minutes mean
        # before the rise and the one from the fall, not the single one-minute changes,
        # which carry the noise of two single readings (a glitch of 40 on a channel whose
        # usual largest step is 10 rose by 29 in its minute: under 3 steps, though it held
        # 37 above both sides); rise1 and fall1 still must each be abrupt_frac of the jump
        sk = th.get("spike", "step_k") * g.step
        scale = ((j1 > th.get("spike", "minute_k") * g.spread) & doubled).fill_null(False) | (
            (g.held1 - g.pre1 > sk) & (g.held1 - g.post1 > sk) & (j1 > sk)
            & (g.held1 - g.base > sk)
            & ((j1 >= th.get("spike", "abs_floor")) | doubled)).fill_null(False)
        by_one = ((g.rise1 >= a * j1) & (g.fall1 >= a * j1) & scale
                  & (g.t_rise1 < g.t_fall1)
                  & (g.t_fall1 <= g.t_rise1 + ibis.interval(hours=max_h))
                  # from the surrounding level and back to it: the step_minutes before the
                  # rise and from the fall lie within abrupt_frac of the jump of the level
                  & (g.pre1 <= g.base + a * j1) & (g.post1 <= g.base + a * j1)
                  & (g.edge <= g.top5 - a * j1)).fill_null(False)
        # the minutes decide where they exist; hours without minutes keep the hourly test
        abrupt = ibis.cases((mrun, by_one),
                            (g.jump.notnull(), by_minutes.fill_null(False) | by_one),
                            else_=abrupt)
        # a minute run recurring at its clock hour: the month's median of that hour's largest
        # minute is above the month's median of every hour's (clock_base) by schedule_share
        # of the jump (a daily puff or step; qcspike11: against the ordinary hour, not the
        # day's own level, which a day running high raises)
        sched_m = mrun & ((g.clock_median - g.clock_base)
                          >= th.get("spike", "schedule_share") * g.jump).fill_null(False)
        # (qcspike11) the source's own daily schedule, not a fault: info, no trust points (a
        # cement kiln's raw mill stopped at 08:00 every day steps SO2 up and down by more
        # than its analyser steps: 20-30 such runs a month were 40-60 trust points as low)
        g = g.mutate(_daily=sched_m)
        rise = ibis.ifelse(mrun, g.rise1, g.rise)
        fall = ibis.ifelse(mrun, g.fall1, g.fall)
        jump = g.jump
        top = ibis.ifelse(g.spread.notnull(), g.top5, f64)
        base = ibis.ifelse(g.spread.notnull(), g.base, f64)
        # a minute run's event: its first raised minute to its last
        start = ibis.ifelse(mrun, g.t_rise1, start)
        end = ibis.ifelse(mrun, g.t_fall1 - ibis.interval(minutes=1), end)
    if "_daily" not in g.columns:
        g = g.mutate(_daily=ibis.literal(False))
    g = g.mutate(_rise=rise, _fall=fall, _jump=jump, _top=top, _base=base, _start=start,
                 _end=end)
    g = g.filter(abrupt)
    common = ((g.other_rel >= th.get("spike", "common_ratio")).fill_null(False)
              | g.other_block.fill_null(False))
    high = th.get("spike", "high_ratio")
    sev = ibis.cases((g._daily, "info"),
                     (common | g.scheduled.fill_null(False), "low"),
                     (g.peak >= high * g.median, "high"),
                     (g.minute.fill_null(False) & (g._top >= high * g._base), "high"),
                     else_="medium")
    return event_table(g, "spike", pollutant=g.pollutant, start=g._start, end=g._end,
                       severity=sev,
                       evid=evidence(hours=g.hours, peak=g.peak, rolling_median=g.median,
                                     rolling_iqr=g.iqr, hour_before=g.before,
                                     hour_after=g.after, other_pollutant_ratio=g.other_rel,
                                     clock_hour_median=ibis.ifelse(
                                         g.minute.fill_null(False), f64, g.clock_median),
                                     clock_hour_max_median=ibis.ifelse(
                                         g.minute.fill_null(False), g.clock_median, f64),
                                     hour_max_median=g.clock_base,
                                     minute_rise=g._rise, minute_fall=g._fall,
                                     minute_jump=g._jump, minute_top=g._top,
                                     minute_level=g._base, minute_spread=g.spread,
                                     minute_step=g.step))


def spike_candidates(hl: ir.Table, th: Thresholds, screen: bool = True,
                     blocks: ir.Table | None = None,
                     materialize: Callable[[ir.Table], ir.Table] | None = None) -> ir.Table:
    """Candidate runs of :func:`spike`: at most ``spike.max_hours`` consecutive high hours.

    Returns (mn, pollutant, run, first, last, hours, peak, median, iqr, before, after, calm,
    other_rel): ``first`` / ``last`` the first and last hour (start, CST) of the run, ``peak``
    its highest value, ``median`` / ``iqr`` the rolling median and IQR (mg/m³, O2-corrected
    as ``hl``), ``before`` / ``after`` the running hours around it, ``other_rel`` the
    highest other-pollutant ratio in its hours (common-mode test). ``screen``: see
    :func:`spike_windows`. Also ``spread`` and ``minute``: with ``blocks``
    (:func:`~lantian.engine.quality.blocks.minute_blocks` of the same minutes) the runs of
    :func:`~lantian.engine.quality.spike_minutes.minute_candidates` that no hourly run lies
    within an hour of are added (``minute`` true, ``spread`` the channel's minute-scale
    spread; their hourly columns null); ``spike`` judges them by their minutes only.
    ``span_before`` / ``span_after``: whether the minute test's span takes the clock hour
    before / after the run (false only next to a stop, for a minute run; qcspike13).
    ``materialize`` (the caller's hook, e.g. ``lambda t: t.cache()``) keeps the channels'
    minute spreads and the candidate blocks as soon as they are found (the job's scan holds
    millions of blocks, the candidates tens of thousands).
    """
    keep = materialize or (lambda x: x)
    floor = th.get("spike", "abs_floor")
    k = th.get("spike", "k_iqr")
    t = spike_windows(hl, th, screen=screen)
    spread = ibis.greatest(t.q, ibis.literal(floor))
    hit = (t.value > t.m + k * spread) & (t.value > (1 + th.get("spike", "min_rel")) * t.m)
    # shoulders: the running hours just before and after are ordinary (m + 2 IQR), so the
    # rise is abrupt (a glitch or a jump), not a ramp of a real process excursion
    t = t.mutate(calm=t.m + 2 * spread)
    # the month's level at each clock hour of every channel: one small aggregate of the
    # hours (points x pollutants x 24 rows), joined to the few raised hours only
    cl = _clock_levels(hl, th)
    share = th.get("spike", "schedule_share")
    # common mode: another pollutant of the point clearly raised in the same hour
    # (qc-detect) the other pollutant counts only when its own rise is outside its ordinary
    # spread (above m + 2 IQR): a widely varying partner reaches 1.3 x its median by chance;
    # (qcspike13) and not when its rise is its own daily schedule (a cement kiln's SO2 with
    # the raw mill stopped at 10:00 every day is no sign that the process moved with a PM
    # glitch in that hour: it rises so on most days without one)
    rel = t.filter((t.value > t.m + 2 * spread) & (t.m != 0))
    rel = _with_clock_level(rel, cl)
    rel = rel.filter(~((rel.clock_median - rel.m) >= share * (rel.value - rel.m))
                     .fill_null(False))
    rel = rel.select(_omn="mn", _ots="ts", _opol="pollutant", _orel=rel.value / rel.m)
    hits = t.filter(hit)
    j = hits.left_join(rel, [hits.mn == rel._omn, hits.ts == rel._ots,
                             hits.pollutant != rel._opol])
    hits = j.group_by([*hits.columns]).aggregate(other_rel=j._orel.max())
    hits = _with_clock_level(hits, cl)
    # scheduled: most of the hour's rise over the rolling median recurs at its clock hour
    sched = (hits.clock_median - hits.m) >= share * (hits.value - hits.m)
    hits = hits.mutate(_sched=sched.fill_null(False))
    r = _runs_idx(hits)
    g = r.group_by([*_KEYS, "run"]).aggregate(
        first=r.ts.min(), last=r.ts.max(), hours=r.count(), peak=r.value.max(),
        median=r.m.max(), iqr=r.q.max(), before=r.before.argmin(r.idx),
        after=r.after.argmax(r.idx), calm=r.calm.max(), other_rel=r.other_rel.max(),
        clock_median=r.clock_median.max(), scheduled=r._sched.all())
    g = g.filter(g.hours <= int(th.get("spike", "max_hours")))
    g = g.mutate(clock_base=ibis.null("float64"), spread=ibis.null("float64"),
                 step=ibis.null("float64"), other_block=ibis.literal(False),
                 minute=ibis.literal(False), span_before=ibis.literal(True),
                 span_after=ibis.literal(True))
    st = stacked_blocks(hl, blocks, th) if blocks is not None else None
    if st is None:
        return g
    # the channel's minute spread: the minute test's jump must stand out of it (spike)
    sp = keep(st[1])
    st = (st[0], sp)
    g = g.left_join(sp, [g.mn == sp._smn, g.pollutant == sp._spol])
    g = g.mutate(spread=g._sp, step=g._st).drop("_smn", "_spol", "_sp", "_st")
    mc = minute_candidates(hl, blocks, th, stacked=st, materialize=materialize)
    if mc is None:
        return g
    # an hourly run within an hour of a minute run judges that episode (one fault, one run)
    hr = g.select(_gmn=g.mn, _gpol=g.pollutant, _gf=g.first, _gl=g.last)
    one = ibis.interval(hours=1)
    mc = mc.anti_join(hr, [mc.mn == hr._gmn, mc.pollutant == hr._gpol,
                           mc.first <= hr._gl + one, hr._gf <= mc.last + one])
    return ibis.union(g, mc.select(*g.columns).cast(g.schema()), distinct=False)


def _clock_levels(hl: ir.Table, th: Thresholds) -> ir.Table:
    """(_lmn, _lpol, _lh, clock_median): the month's median at each clock hour (CST) [mg/m³].

    The median of the series' running hours that start at the clock hour ``_lh``, over
    every day of the month, where at least ``spike.schedule_days`` days have one. A level
    reached at that clock hour on at least half of those days is the source's daily
    schedule (a raw mill stopped in the peak-tariff hours, a shift that starts at 06:00),
    not a fault. One aggregate of ``hl`` with no join (at most 24 rows per channel;
    qcspike14: the join of every hour with the clock hours of the raised hours ran the
    5,000-point job out of memory once the partners' hours were asked too, session 13).
    """
    x = hl.select("mn", "pollutant", "value", _h=hl.ts.hour())
    lv = x.group_by(["mn", "pollutant", "_h"]).aggregate(_cm=x.value.median(), _cn=x.count())
    lv = lv.filter(lv._cn >= int(th.get("spike", "schedule_days")))
    return lv.select(_lmn=lv.mn, _lpol=lv.pollutant, _lh=lv._h, clock_median=lv._cm)


def _with_clock_level(t: ir.Table, cl: ir.Table) -> ir.Table:
    """Add ``clock_median`` of :func:`_clock_levels` ``cl`` at each row's (mn, pollutant, ts).

    The clock hour is a column first: an expression of ``t`` in the predicate may be taken
    for ``cl``'s own column (Ibis join dereferencing, qcspike11).
    """
    t = t.mutate(_th=t.ts.hour())
    j = t.left_join(cl, [t.mn == cl._lmn, t.pollutant == cl._lpol, t._th == cl._lh])
    return j.drop("_lmn", "_lpol", "_lh", "_th")


def minute_steps(runs: ir.Table, minutes: ir.Table, th: Thresholds) -> ir.Table:
    """Largest step up and down around each candidate spike run, from the minutes.

    ``runs`` has (mn, pollutant, run, first, last) with ``first``/``last`` the first and last
    hour (start, CST) of the run. The valid minutes (flag ``N`` or none, HJ 212-2017 §6.6.4)
    of the measured value from one hour before ``first`` to one hour after the run (the
    "span") are read: one equi-join of the minutes on (mn, clock hour) with the few spans'
    hours, so only the spans' minutes are stacked and windowed. With ``k`` =
    ``spike.step_minutes`` valid minutes, returns (_smn, _spol, _srun, rise, fall, t_rise,
    t_fall, top, rise1, fall1, t_rise1, t_fall1, pre1, post1, top5, base, held1, edge) [mg/m³,
    measured, not O2-corrected]:

    * ``rise`` / ``fall``: largest increase / decrease of the mean of ``k`` minutes over the
      mean of the ``k`` minutes just before. A glitch's step (inside one minute) shows whole;
      a process ramp over ``r`` minutes moves only about ``k/r`` of its rise; analyser noise
      is averaged over ``k`` readings.
    * ``t_rise`` / ``t_fall``: first minute (start, CST) after the largest rise / fall.
    * ``top``: upper quartile of the run's minutes (the raised level).
    * ``edge``: the higher of the means of the first and the last ``k`` minutes of the span.
    * ``rise1`` / ``fall1``, ``t_rise1`` / ``t_fall1``: the same between consecutive valid
      minutes (qcspike9: a glitch steps within one minute), ``pre1`` the mean of the ``k``
      minutes before ``t_rise1``, ``post1`` of the ``k`` minutes from ``t_fall1``.
    * ``top5``: the highest mean of ``k`` minutes starting in the run's hours; ``base``: the
      median of the span's minutes outside the run's hours (the surrounding level).
    * ``held1``: the median of the minutes from ``t_rise1`` to before ``t_fall1`` (the level
      a glitch holds between its steps; qcspike11).
    """
    k = int(th.get("spike", "step_minutes"))
    max_h = int(th.get("spike", "max_hours"))
    keys = [k for k in POLLUTANTS if column_of(k) in minutes.columns]
    if not keys:
        return runs.select(_smn=runs.mn, _spol=runs.pollutant, _srun=runs.run,
                           rise=ibis.null("float64"), fall=ibis.null("float64"),
                           t_rise=ibis.null("timestamp"), t_fall=ibis.null("timestamp"),
                           top=ibis.null("float64"), rise1=ibis.null("float64"),
                           fall1=ibis.null("float64"), t_rise1=ibis.null("timestamp"),
                           t_fall1=ibis.null("timestamp"), pre1=ibis.null("float64"),
                           post1=ibis.null("float64"), top5=ibis.null("float64"),
                           base=ibis.null("float64"), held1=ibis.null("float64"),
                           edge=ibis.null("float64")).limit(0)
    # the clock hours of each span (at most max_hours + 2), then one equi-join of the minutes
    # on (mn, hour): a single pass with a small hash table, no per-key or range join
    sp = _span_hours(runs, max_h)
    hrs = sp.select(_hmn=sp._smn, _hh=sp._h).distinct()
    cols = [c for key in keys for c in (column_of(key), f"{key}_flag") if c in minutes.columns]
    m = minutes.select("mn", "ts", *cols)
    m = m.mutate(_h=m.ts.truncate("h"))
    m = m.inner_join(hrs, [m.mn == hrs._hmn, m._h == hrs._hh]).drop("_hmn", "_hh")
    # stack the keys of the few joined minutes only; minutes under any flag but N are left out
    pol = ibis.memtable({"_p": keys})
    x = m.cross_join(pol)
    v = ibis.null("float64")
    for key in keys:
        val = x[column_of(key)].cast("float64")
        flag = f"{key}_flag"
        if flag in x.columns:
            val = ibis.ifelse((x[flag] != "N").fill_null(False), ibis.null("float64"), val)
        v = ibis.ifelse(x._p == key, val, v)
    x = x.select(mn=x.mn, ts=x.ts, _h=x._h, _p=x._p, v=v)
    u = x.inner_join(sp, [x.mn == sp._smn, x._p == sp._spol, x._h == sp._h])
    u = u.select("_smn", "_spol", "_srun", "ts", "v", "inrun")
    u = u.filter(u.v.notnull())
    grp = ["_smn", "_spol", "_srun"]
    w = ibis.window(group_by=grp, order_by="ts")
    ahead = ibis.window(group_by=grp, order_by="ts", preceding=0, following=k - 1)
    u = u.mutate(_a=u.v.mean().over(ahead), _rn=ibis.row_number().over(w),
                 _n=u.v.count().over(ibis.window(group_by=grp)))
    u = u.mutate(_b=u._a.lag(k).over(w), _d1=u.v - u.v.lag().over(w))
    u = u.mutate(_d=u._a - u._b)
    g = u.group_by(grp).aggregate(
        rise=u._d.max(), fall=(-u._d).max(), t_rise=u.ts.argmax(u._d),
        t_fall=u.ts.argmin(u._d), top=u.v.quantile(0.75, where=u.inrun),
        rise1=u._d1.max(), fall1=(-u._d1).max(), t_rise1=u.ts.argmax(u._d1),
        t_fall1=u.ts.argmin(u._d1), pre1=u._b.argmax(u._d1), post1=u._a.argmin(u._d1),
        top5=u._a.max(where=u.inrun),
        base=u.v.quantile(0.5, where=~u.inrun),
        _e0=u.v.mean(where=u._rn < k), _e1=u.v.mean(where=u._rn >= u._n - k))
    # the level held between the one-minute rise and fall (qcspike11): the median of the
    # minutes from t_rise1 to before t_fall1 (a glitch holds it; a recovery from one dip and
    # the fall into the next, or a noise outlier's return, do not)
    tt = g.select(_hmn=g._smn, _hpol=g._spol, _hrun=g._srun, _tr=g.t_rise1, _tf=g.t_fall1)
    h = u.inner_join(tt, [u._smn == tt._hmn, u._spol == tt._hpol, u._srun == tt._hrun])
    h = h.group_by(grp).aggregate(
        held1=h.v.quantile(0.5, where=(h.ts >= h._tr) & (h.ts < h._tf)))
    h = h.select(_kmn=h._smn, _kpol=h._spol, _krun=h._srun, held1=h.held1)
    g = g.left_join(h, [g._smn == h._kmn, g._spol == h._kpol, g._srun == h._krun])
    return g.select(*grp, "rise", "fall", "t_rise", "t_fall", "top", "rise1", "fall1",
                    "t_rise1", "t_fall1", "pre1", "post1", "top5", "base", "held1",
                    edge=ibis.greatest(g._e0, g._e1))


def _span_hours(runs: ir.Table, max_h: int) -> ir.Table:
    """Clock hours of each run's span: (_smn, _spol, _srun, _h, inrun).

    One hour before ``first`` to one hour after ``last`` (starts, CST); ``inrun`` marks the
    run's own hours.
    """
    offs = ibis.memtable({"_off": list(range(max_h + 2))})
    extra = {c: runs[n] for c, n in (("_b", "span_before"), ("_a", "span_after"))
             if n in runs.columns}
    sp = runs.select(_smn=runs.mn, _spol=runs.pollutant, _srun=runs.run, _f=runs.first,
                     _l=runs.last, **extra).cross_join(offs)
    sp = sp.mutate(_h=sp._f - ibis.interval(hours=1) + sp._off.as_interval("h"))
    sp = sp.filter(sp._h <= sp._l + ibis.interval(hours=1))
    if "span_before" in runs.columns:
        # (qcspike13) a minute run next to a stop: its span leaves out the stop's hour
        sp = sp.filter((sp._h >= sp._f) | sp._b)
    if "span_after" in runs.columns:
        sp = sp.filter((sp._h <= sp._l) | sp._a)
    sp = sp.mutate(inrun=(sp._h >= sp._f) & (sp._h <= sp._l))
    return sp.drop(*[c for c in ("_f", "_l", "_off", "_b", "_a") if c in sp.columns])


def spike_span_hours(candidates: ir.Table, th: Thresholds) -> ir.Table:
    """(mn, ts): the clock hours (start, CST) whose minutes :func:`spike`'s minute test reads.

    ``candidates`` from :func:`spike_candidates`; one row per distinct (point, hour). A
    caller that reads only these hours' minutes (e.g. in one join with other detectors'
    minute reads) passes them as ``spike(..., minutes=..., candidates=...)``: the same events.
    """
    sp = _span_hours(candidates, int(th.get("spike", "max_hours")))
    return sp.select(mn=sp._smn, ts=sp._h).distinct()


def _runs_idx(t: ir.Table) -> ir.Table:
    """Add ``run``: runs of consecutive ``idx`` (running-hour numbers) per (mn, pollutant)."""
    w = ibis.window(group_by=_KEYS, order_by="idx")
    t = t.mutate(_prev=t.idx.lag().over(w))
    t = t.mutate(_new=ibis.ifelse(t._prev.isnull() | (t.idx - t._prev > 1), 1, 0))
    wc = ibis.window(group_by=_KEYS, order_by="idx", preceding=None, following=0)
    return t.mutate(run=t._new.sum().over(wc)).drop("_prev", "_new")


def spike_windows(hl: ir.Table, th: Thresholds, screen: bool = True) -> ir.Table:
    """Compute ``spike``'s rolling median ``m`` and IQR ``q`` and the neighbouring values.

    Returns (mn, ts, pollutant, value, idx, m, q, before, after): ``m`` / ``q`` over the
    running hours ``idx - n … idx + n`` (``n`` = ``spike.window_h``, fewer at the month's
    ends), ``before`` / ``after`` the values of the running hours ``idx ∓ 1``.

    With ``screen`` only the hours that may be spikes, and every pollutant of the point in
    those hours (the common-mode test reads them), are returned, computed from their
    ``2n + 1`` neighbours by one equi-join on ``idx`` instead of windows over every hour.
    The screen is a bound, not an estimate: the window of ``2n + 1`` hours lies in two
    adjacent blocks of ``2n`` running hours, and its median is at least the
    ``r``-th smallest of its ``s ≥ n + 1`` values (``r = ⌈s/2⌉ ≥ ⌈(n+1)/2⌉``), hence at
    least the ``⌈r/2⌉``-th smallest value of one of the two blocks (pigeonhole; 4th of 24
    for ``n`` = 12). With ``L`` the lower of the two blocks' values, ``m ≥ L``; since
    ``spread ≥ abs_floor``, a spike needs ``value > L + k·abs_floor`` and
    ``value > (1 + min_rel)·L``. Only hours passing both (and every hour of a series shorter
    than ``n + 1`` running hours) are refined; the others cannot be spikes.
    """
    n = int(th.get("spike", "window_h"))
    if not screen:
        w = ibis.window(group_by=_KEYS, order_by="idx", preceding=n, following=n)
        w1 = ibis.window(group_by=_KEYS, order_by="idx")
        return hl.mutate(
            m=hl.value.median().over(w),
            q=(hl.value.quantile(0.75).over(w) - hl.value.quantile(0.25).over(w)),
            before=hl.value.lag().over(w1), after=hl.value.lead().over(w1))
    order = math.ceil(math.ceil((n + 1) / 2) / 2)
    low = _block_bounds(hl, hl.value, 2 * n, order)
    t = hl.mutate(_blk=(hl.idx - 1) // (2 * n), _pos=(hl.idx - 1) % (2 * n))
    t = t.inner_join(low, [*_KEYS, "_blk"])
    # the window reaches back into the block before (pos < n) or on into the next one
    lb = ibis.ifelse(t._pos < n, t._lo_prev, t._lo_next)
    k = th.get("spike", "k_iqr")
    eps = 1e-9
    may = (((t.value >= lb + k * th.get("spike", "abs_floor") - eps * lb.abs())
            & (t.value >= (1 + th.get("spike", "min_rel")) * lb - eps * lb.abs()))
           .fill_null(True) | (t._nh <= n))
    cand = t.filter(may).select("mn", "ts").distinct()
    # every pollutant of the point in the candidate hours (the common-mode test)
    c = hl.semi_join(cand, [hl.mn == cand.mn, hl.ts == cand.ts])
    offs = ibis.memtable({"_off": list(range(-n, n + 1))})
    c = c.cross_join(offs)
    c = c.mutate(_ridx=c.idx + c._off)
    r = hl.select(_rmn="mn", _rpol="pollutant", _ri="idx", _rv="value")
    j = c.inner_join(r, [c.mn == r._rmn, c.pollutant == r._rpol, c._ridx == r._ri])
    return j.group_by(["mn", "ts", "pollutant", "value", "idx"]).aggregate(
        m=j._rv.median(), q=j._rv.quantile(0.75) - j._rv.quantile(0.25),
        before=j._rv.max(where=j._off == -1), after=j._rv.max(where=j._off == 1))


def _block_bounds(hl: ir.Table, v: ir.Value, size: int, order: int,
                  upper: bool = False) -> ir.Table:
    """Per block of ``size`` running hours: bounds of its ``order``-th smallest value.

    Returns (mn, pollutant, _blk, _lo, _lo_prev, _lo_next, _nh): ``_lo`` ≤ the
    ``order``-th smallest ``v`` of the block (a quantile at position ``(order-1)/(size-1)``:
    never above it, also for a shorter last block), ``_lo_prev`` / ``_lo_next`` the lower of
    ``_lo`` and the previous / next block's (nulls skipped), ``_nh`` the series' hours.
    With ``upper`` also ``_hi`` ≥ the ``order``-th largest (``_hi_prev``, ``_hi_next``
    alike, the higher).
    """
    b = hl.mutate(_v=v, _blk=(hl.idx - 1) // size)
    p = (order - 1) / (size - 1)
    agg = {"_lo": b._v.quantile(p), "_cnt": b.count()}
    if upper:
        agg["_hi"] = b._v.quantile(1 - p)
    g = b.group_by([*_KEYS, "_blk"]).aggregate(**agg)
    w = ibis.window(group_by=_KEYS, order_by="_blk")
    cols = {"_lo_prev": ibis.least(g._lo.lag().over(w), g._lo),
            "_lo_next": ibis.least(g._lo.lead().over(w), g._lo),
            "_nh": g._cnt.sum().over(ibis.window(group_by=_KEYS))}
    if upper:
        cols |= {"_hi_prev": ibis.greatest(g._hi.lag().over(w), g._hi),
                 "_hi_next": ibis.greatest(g._hi.lead().over(w), g._hi)}
    return g.mutate(**cols).drop("_cnt")
