"""Detectors on single minute values: frozen (``constant``), ``zero``, ``over_range``.

Input is the long minute frame of :func:`lantian.engine.quality.frames.long_minutes`
(mn, ts [CST minute start], running, pollutant, value, flag). Only minutes flagged ``N``
(HJ 212-2017 §6.6.4, instrument normal) count for ``constant`` and ``zero``: minutes already
marked invalid are not data a regulator is misled by. ``over_range`` also reads ``T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
from ibis import _

from lantian.engine.quality.blocks import constant_block_seconds as _block_s
from lantian.engine.quality.blocks import decimals_step, reading_decimals
from lantian.engine.quality.frames import event_table, evidence, run_summary
from lantian.engine.quality.thresholds import Thresholds, load_thresholds

__all__ = ["constant", "constant_blocks", "constant_from_near", "constant_near", "over_range",
           "zero", "zero_presence"]

_KEYS = ("mn", "pollutant")


def _frozen_runs(t: ir.Table, th: Thresholds, chan: ir.Table) -> ir.Table:
    """Turn the long rows ``t`` (with rounded ``v``, epoch ``e``, ``ok``) into frozen-run events.

    ``t`` holds every minute row of the channel near its frozen blocks; ``ok`` marks the
    minutes that count (running, flag ``N``, above ``constant.min_level``). A counted minute
    *repeats* when it equals the previous row, that row counts too and at most
    ``constant.gap_minutes`` minutes are absent between them: a packet the logger lost
    (HJ 212-2017 transmission; no row at all) is no new reading, so it does not split a
    frozen run, whereas a minute that is present but does not count (calibration ``C``, a
    stop, a zero) does. ``minutes`` is the run's span, first to last minute.
    ``chan`` has (mn, pollutant, full, frozen): the channel's aligned blocks of the month
    whose every minute counts, and how many of them hold one value (:func:`_natural`).
    """
    min_run = int(th.get("constant", "min_minutes"))
    gap_s = 60 * (1 + int(th.get("constant", "gap_minutes")))
    w = ibis.window(group_by=list(_KEYS), order_by="ts")
    t = t.mutate(pv=t.v.lag().over(w), pe=t.e.lag().over(w), pok=t.ok.lag().over(w),
                 pts=t.ts.lag().over(w))
    rep = (t.ok & t.pok & (t.v == t.pv) & (t.e - t.pe <= gap_s)).fill_null(False)
    cum = ibis.window(group_by=list(_KEYS), order_by="ts", preceding=None, following=0)
    t = t.mutate(rep=rep)
    t = t.mutate(run=ibis.ifelse(t.rep, 0, 1).sum().over(cum))
    same = t.filter(t.rep)
    # the first repeated minute equals the row before it: the run starts there
    g = same.group_by([*_KEYS, "run"]).aggregate(
        start=same.pts.min(), last=same.ts.max(), value=same.v.max())
    g = g.mutate(minutes=(g.last.epoch_seconds() - g.start.epoch_seconds()) // 60 + 1)
    # runs under half min_run can never raise the alarm lengths (medium from >= min_run)
    g = g.filter(2 * g.minutes >= min_run)
    g = _own_history(_natural(g, chan, th), th)
    g = g.filter(g.minutes >= min_run)
    g = g.filter(g.minutes >= g.natural)  # runs no longer than the channel's usual: nothing
    sev = ibis.cases((g.minutes >= g.high_at, "high"), (g.minutes >= g.medium_at, "medium"),
                     else_="info")
    return event_table(g, "constant", pollutant=g.pollutant, start=g.start, end=g.last,
                       severity=sev, evid=evidence(value=g.value, minutes=g.minutes,
                                                   natural_run_minutes=g.natural,
                                                   medium_from_minutes=g.medium_at))


def _natural(g: ir.Table, chan: ir.Table, th: Thresholds) -> ir.Table:
    """Add the channel's natural longest run and the run lengths that alarm to runs ``g``.

    Readings sent with few decimals whose minute noise is below the last digit repeat
    naturally (a quiet 1-decimal channel: runs of 40-200 minutes in a month). The share
    ``q`` of the channel's fully counted aligned blocks of ``b`` minutes that hold one value,
    leaving out the blocks inside the judged run, gives the chance ``p = q^(1/(b-1))`` that
    a minute repeats the one before; with ``N`` counted minutes the expected longest run of
    repeats is ``ln(N·(1-p)) / ln(1/p)`` (+1 minute) [longest run of a geometric sequence].
    A run is ``medium`` from ``max(min_minutes, natural_factor × natural)`` minutes and
    ``high`` from ``max(high_minutes, 2 × that)``, both capped at ``constant.shift_minutes``
    (a working shift of one value is an alarm on any channel); shorter runs are ``info`` and
    runs not longer than the natural one are not reported.
    A channel that changes every minute has ``q = 0``: an hour of identical readings alarms.
    ``natural`` is unrounded here; :func:`_own_history` may raise it.
    """
    block_s = _block_s(th)
    b = block_s // 60
    c = chan.select(_cmn=chan.mn, _cpol=chan.pollutant, _full=chan.full, _frozen=chan.frozen)
    g = g.left_join(c, [g.mn == c._cmn, g.pollutant == c._cpol]).drop("_cmn", "_cpol")
    s0 = g.start.epoch_seconds()
    e1 = g.last.epoch_seconds() + 60
    own = ibis.greatest(e1 // block_s - (s0 + block_s - 1) // block_s, 0)
    full = g._full.fill_null(0).cast("float64")
    other = ibis.greatest(g._frozen.fill_null(0) - own, 0).cast("float64")
    q = ibis.ifelse(full > 0, other / ibis.greatest(full, 1), 0.0)
    p = q.pow(1.0 / (b - 1))
    n_min = ibis.greatest(full * b * (1 - p), 1.0)
    shift = th.get("constant", "shift_minutes")
    nat = ibis.cases((q <= 0, 0.0), (q >= 1, shift),
                     else_=n_min.ln() / (1.0 / p).ln() + 1)
    return _alarm_lengths(g.mutate(natural=nat).drop("_full", "_frozen"), th)


def _alarm_lengths(g: ir.Table, th: Thresholds) -> ir.Table:
    """Add ``medium_at`` and ``high_at`` [min] from the runs' ``natural`` (:func:`_natural`)."""
    shift = th.get("constant", "shift_minutes")
    med = ibis.least(ibis.greatest(th.get("constant", "min_minutes"),
                                   th.get("constant", "natural_factor") * g.natural), shift)
    high = ibis.least(ibis.greatest(th.get("constant", "high_minutes"), 2 * med), shift)
    return g.mutate(medium_at=med.ceil().cast("int64"), high_at=high.ceil().cast("int64"))


def _own_history(g: ir.Table, th: Thresholds) -> ir.Table:
    """Raise each run's ``natural`` to the channel's longest *other* quiet run at its value.

    A quiet run is one shorter than its own ``medium_at`` (no alarm by the run-length model
    of :func:`_natural`). The model takes minute repeats as independent; a coarse analyser
    (1 mg/m³ steps) at a steady 2–4 mg/m³ drifts slowly around its usual step, so its
    repeats come in long spells and it sits on that same step for 3–5 h time and again
    where the model expects 1.5–4 h (blind seeds 21, 23, 24, clean points). A value the
    channel has held that long elsewhere in the month without alarming is natural for it;
    a frozen lively channel holds an arbitrary value it shows nowhere else for long. Runs
    that alarm by the model do not count, so a second freeze does not excuse the first, and
    neither do runs of the same episode (one value resumed within
    ``constant.episode_gap_minutes``, e.g. across the daily calibration). ``medium`` then
    starts at ``natural_factor`` × that run even beyond ``constant.shift_minutes``: the cap
    bounds the model, while a 1 mg/m³ PM analyser that sat 6 h on one step in a clean month
    sits there 8-9 h too (blind seeds 4 and 20 once lost packets no longer split its runs).
    """
    by = [*_KEYS, "value"]
    wc = ibis.window(group_by=by)
    # runs of one value at most episode_gap_minutes apart are one episode (a freeze that
    # the daily calibration interrupts and that resumes at its value): never "other"
    wo = ibis.window(group_by=by, order_by="start")
    g = g.mutate(_plast=g.last.lag().over(wo))
    gap = (g.start.epoch_seconds() - g._plast.epoch_seconds()).fill_null(10**9)
    g = g.mutate(_new=ibis.ifelse(gap > 60 * th.get("constant", "episode_gap_minutes"), 1, 0))
    g = g.mutate(_ep=g._new.sum().over(ibis.window(group_by=by, order_by="start",
                                                   preceding=None, following=0)))
    quiet = ibis.ifelse(g.minutes < g.medium_at, g.minutes, ibis.null("int64"))
    g = g.mutate(_eq=quiet.max().over(ibis.window(group_by=[*by, "_ep"])))
    g = g.mutate(_top=g._eq.max().over(wc))
    top_ep = ibis.ifelse(g._eq == g._top, g._ep, ibis.null("int64"))
    g = g.mutate(_elo=top_ep.min().over(wc), _ehi=top_ep.max().over(wc),
                 _second=ibis.ifelse(g._eq < g._top, g._eq, ibis.null("int64")).max().over(wc))
    own_top = (g._ep == g._elo) & (g._elo == g._ehi)  # its episode is the one longest
    other = ibis.ifelse(own_top, g._second, g._top).fill_null(0).cast("float64")
    g = g.mutate(natural=ibis.greatest(g.natural, other), _other=other)
    g = _alarm_lengths(g.drop("_plast", "_new", "_ep", "_eq", "_top", "_elo", "_ehi",
                              "_second", "medium_at", "high_at"), th)
    # the shift cap bounds the model's estimate, not what the channel has shown itself
    own = (th.get("constant", "natural_factor") * g._other).ceil().cast("int64")
    med = ibis.greatest(g.medium_at, own)
    return g.mutate(natural=g.natural.round(1), medium_at=med,
                    high_at=ibis.greatest(g.high_at, med)).drop("_other")


def constant_blocks(minute: ir.Table, frozen: ir.Table, ref: ir.Table, keys: Sequence[str],
                    th: Thresholds,
                    materialize: Callable[[ir.Table], ir.Table] | None = None) -> ir.Table:
    """Find the events of :func:`constant` from a ready table of frozen blocks.

    ``frozen`` is :func:`lantian.engine.quality.blocks.frozen_blocks` (mn, block, ``u<i>``,
    ``z<i>`` per channel of ``keys``) from the one scan of the minutes; ``minute`` the wide
    minute rows of the month *without* ``running`` and ``ref`` the per-point reference flow
    (:func:`~lantian.engine.quality.frames.reference_flow`): only the minutes near a frozen
    block are read again, given their running state and ordered. Same events as
    :func:`constant` on the long frame of every running minute.
    """
    from lantian.engine.quality.frames import running_minutes

    block_s = _block_s(th)
    m = minute.mutate(block=minute.ts.epoch_seconds() // block_s)

    def near_minutes(near_mn: ir.Table) -> ir.Table:
        sub = m.semi_join(near_mn, [m.mn == near_mn._nmn, m.block == near_mn._nb])
        return running_minutes(sub, th, ref=ref)

    return _constant_from_blocks(near_minutes, frozen, keys, th, materialize)


def _constant_from_blocks(near_minutes: Callable[[ir.Table], ir.Table], bs: ir.Table,
                          keys: Sequence[str], th: Thresholds,
                          materialize: Callable[[ir.Table], ir.Table] | None) -> ir.Table:
    """Frozen-run events from the block flags ``bs`` and the minutes near frozen blocks.

    ``near_minutes`` gives the wide minutes (with ``running`` and ``block``) of the
    (``_nmn``, ``_nb``) blocks it is passed.
    """
    chan, near = constant_near(bs, keys, materialize)
    near_mn = near.select(_nmn=near._cmn, _nb=near._cb).distinct()
    return constant_from_near(near_minutes(near_mn).drop("block"), chan, near, keys, th)


def constant_near(frozen: ir.Table, keys: Sequence[str],
                  materialize: Callable[[ir.Table], ir.Table] | None = None,
                  ) -> tuple[ir.Table, ir.Table]:
    """Return (``chan``, ``near``) of ``constant`` from the frozen-block table.

    ``frozen``: :func:`lantian.engine.quality.blocks.frozen_blocks`. ``chan``: per point and
    channel the counts of fully counted (``full``) and frozen (``frozen``) blocks; ``near``:
    (``_cmn``, ``_cpol``, ``_cb``) the blocks [:func:`constant_block_seconds` units] next to
    or at a frozen block of the channel — the only minutes a frozen run can cover.
    """
    bs = frozen if materialize is None else materialize(frozen)
    agg = bs.group_by("mn").aggregate(**{
        f"{c}{i}": bs[f"{c}{i}"].cast("int64").sum() for i in range(len(keys)) for c in "uz"})
    chan = ibis.union(*[agg.select("mn", pollutant=ibis.literal(key), full=agg[f"u{i}"],
                                   frozen=agg[f"z{i}"]) for i, key in enumerate(keys)],
                      distinct=False)
    # frozen with at most constant.gap_minutes lost (``g<i>``): a superset of ``z<i>``
    frz = ibis.union(*[bs.filter(bs[f"g{i}"]).select(
        _cmn=bs.mn, _cpol=ibis.literal(key), _cb0=bs.block) for i, key in enumerate(keys)],
        distinct=False)
    # _near_blocks asks whether the blocks next to a frozen one are fully counted: only
    # those rows of ``bs`` (a semi-join probing ``bs`` once with the few neighbours) make
    # the anti-joins' build side, not every fully counted block of the month (qcframes13)
    nbs = ibis.union(*[frz.select(_qmn=frz._cmn, _qb=frz._cb0 + k) for k in (-1, 1)],
                     distinct=False)
    hit = bs.semi_join(nbs, [bs.mn == nbs._qmn, bs.block == nbs._qb])
    full = ibis.union(*[hit.filter(hit[f"u{i}"]).select(
        _fmn=hit.mn, _fpol=ibis.literal(key), _fb=hit.block) for i, key in enumerate(keys)],
        distinct=False)
    near = _near_blocks(frz, full)
    if materialize is not None:
        near = materialize(near)
    return chan, near


def _near_blocks(frz: ir.Table, full: ir.Table) -> ir.Table:
    """(``_cmn``, ``_cpol``, ``_cb``): the blocks a frozen run through ``frz`` can cover.

    ``frz`` (``_cmn``, ``_cpol``, ``_cb0``) are the frozen blocks, ``full`` (``_fmn``,
    ``_fpol``, ``_fb``) the fully counted ones. A run of identical minutes reaches at most
    into the blocks next to a frozen block, unless a neighbour is not fully counted: a
    lost packet (``constant.gap_minutes``) keeps a frozen block from being ``full``, and the
    run may go on through it into the block beyond, which is then read too.
    """
    parts = [frz.select("_cmn", "_cpol", _cb=frz._cb0 + k) for k in (-1, 0, 1)]
    for k in (-1, 1):
        nb = frz.mutate(_nb=frz._cb0 + k)
        open_nb = nb.anti_join(full, [nb._cmn == full._fmn, nb._cpol == full._fpol,
                                      nb._nb == full._fb])
        parts.append(open_nb.select("_cmn", "_cpol", _cb=open_nb._cb0 + 2 * k))
    return ibis.union(*parts, distinct=True)


def constant_from_near(minutes: ir.Table, chan: ir.Table, near: ir.Table,
                       keys: Sequence[str], th: Thresholds) -> ir.Table:
    """``constant``'s events from wide running minutes that include every ``near`` block.

    ``minutes``: wide minute rows with ``running`` (any superset of the minutes of the
    ``near`` blocks; the others are dropped here); ``chan``, ``near``: :func:`constant_near`.
    """
    from lantian.engine.quality.frames import long_minutes

    dec = int(th.get("constant", "decimals"))
    lo_level = th.get("constant", "min_level")
    block_s = _block_s(th)
    t = long_minutes(minutes, keys)
    t = t.mutate(ok=_counts(t, lo_level), v=t.value.round(dec), e=t.ts.epoch_seconds())
    t = t.mutate(block=t.e // block_s)
    t = t.semi_join(near, [t.mn == near._cmn, t.pollutant == near._cpol, t.block == near._cb])
    return _frozen_runs(t, th, chan)


def _counts(t: ir.Table, lo_level: float) -> ir.BooleanValue:
    """Whether a long minute row counts for ``constant``: running, flag ``N``, above the level."""
    return (t.running & (t.flag == "N") & (t.value > lo_level)).fill_null(False)


def constant(long: ir.Table, th: Thresholds) -> ir.Table:
    """Find runs of identical minute values while the source runs.

    A minute is *repeated* when its value, rounded to ``constant.decimals``, equals the
    previous minute's and at most ``constant.gap_minutes`` minutes are absent between the
    two (lost packets; a present minute that does not count splits the run, see
    :func:`_frozen_runs`). A run of repeats spanning at least
    ``constant.min_minutes`` is an event (``medium``; ``high`` from ``constant.high_minutes``).
    Values at or below ``constant.min_level`` are left to :func:`zero`.

    References
    ----------
    Issue 4 (an hour of identical three-decimal readings is already suspicious).

    """
    dec = int(th.get("constant", "decimals"))
    every = long.mutate(ok=_counts(long, th.get("constant", "min_level")),
                        v=long.value.round(dec), e=long.ts.epoch_seconds())
    # Any run of at least min_run minutes covers a whole aligned block of half that length:
    # find frozen blocks with one hash aggregation, then order only the rows near them.
    block_s = _block_s(th)
    every = every.mutate(block=every.e // block_s)
    t = every.filter(every.ok)
    blocks = t.group_by([*_KEYS, "block"]).aggregate(n=t.count(), lo=t.v.min(), hi=t.v.max())
    full = blocks.n == block_s // 60
    # frozen with at most gap_minutes lost (blocks.frozen_blocks' g<i>): the prefilter
    gap = int(th.get("constant", "gap_minutes"))
    frozen = blocks.filter((blocks.n >= block_s // 60 - gap) & (blocks.lo == blocks.hi))
    chan = blocks.group_by(list(_KEYS)).aggregate(
        full=full.cast("int64").sum(), frozen=(full & (blocks.lo == blocks.hi)).cast("int64").sum())
    counted = blocks.filter(full)
    near = _near_blocks(frozen.select(_cmn=frozen.mn, _cpol=frozen.pollutant, _cb0=frozen.block),
                        counted.select(_fmn=counted.mn, _fpol=counted.pollutant,
                                       _fb=counted.block))
    t = every.semi_join(near, [every.mn == near._cmn, every.pollutant == near._cpol,
                               every.block == near._cb])
    return _frozen_runs(t, th, chan)


def zero_presence(hours: ir.Table, blocks: ir.Table, keys: Sequence[str],
                  ranges: ir.Table | None = None,
                  th: Thresholds | None = None) -> ir.Table:
    """``zero``'s per-channel facts of the month: (mn, pollutant, month_median, zero_share, step).

    ``month_median`` [mg/m³ or %]: median of the valid running hourly means
    (:func:`lantian.engine.quality.statistics.hour_long`). ``zero_share`` [fraction]: of the
    channel's scan blocks (:func:`lantian.engine.quality.blocks.minute_blocks`, 30 min) in
    running hours that hold a valid value (flag ``N``, HJ 212-2017 §6.6.4), the share whose
    valid readings *cross* zero (smallest ≤ 0 < largest): how often the channel's own noise
    reaches zero. A frozen or forced zero run is ≤ 0 throughout, so only the blocks at its
    two ends cross; a channel at its detection limit (gas-boiler SO2 of 1 mg/m³ with ±1
    mg/m³ of analyser noise) crosses in a large share of its half-hours. ``hours`` are
    :func:`~lantian.engine.quality.process.running_hours`; ``blocks`` carries ``t0``,
    ``n_<k>``, ``lo_<k>``, ``hi_<k>``.

    With ``ranges`` (mn, pollutant, range_mg_m3: :func:`~lantian.engine.quality.inputs
    .analyser_ranges`) a crossing block counts only when it looks like noise: its readings
    stay within ``zero.cross_band`` × the range of zero (the analyser's drift), or their mean
    lies at most ``zero.cross_mean_pos`` of the way from the smallest to the largest reading
    (noise around the level puts the mean near the middle; a few forced zeros among real
    readings leave it near the top). Without that, a plant that put a forced zero minute into
    every half-hour of its real readings would make every block cross, and so silence
    ``zero`` (info) and ``level_shift`` (low) on its channel (qcshift9, session 9). Channels
    without a known range (O2, or ``ranges`` not given) keep the plain crossing test.

    ``step`` [unit of the value]: the readings' rounding step of a pollutant of ``keys``,
    the coarsest of 1, 0.1 and 0.01 of which every counted block's largest valid reading is
    a multiple, else 0.001 (for :func:`zero`'s limit of quantification; session 14); null for
    O2.
    """
    from lantian.engine.quality.statistics import hour_long

    chans = [*keys, "o2"]
    hl = hour_long(hours, chans)
    med = hl.group_by(["mn", "pollutant"]).aggregate(month_median=hl.value.median())
    run = hours.filter(hours.running).select(_hmn=hours.mn, _hts=hours.ts)
    b = blocks.mutate(_bh=blocks.t0.truncate("h"))
    b = b.inner_join(run, [b.mn == run._hmn, b._bh == run._hts])
    banded = [k for k in keys if ranges is not None]
    th = th or load_thresholds()
    if banded:
        frac = th.get("zero", "cross_band")
        rg = ranges.group_by(_gmn=ranges.mn).aggregate(**{
            f"_band_{k}": (frac * ranges.range_mg_m3).max(where=ranges.pollutant == k)
            for k in banded})
        b = b.left_join(rg, b.mn == rg._gmn).drop("_gmn")
    aggs: dict[str, ir.Value] = {}
    for i, k in enumerate(chans):
        counted = (b[f"n_{k}"] > 0).fill_null(False)
        if k in keys:  # the readings' decimals (largest reading of each block): 0 to 3
            aggs[f"_d{i}"] = ibis.ifelse(counted, reading_decimals(b[f"hi_{k}"]), None).max()
        cross = counted & (b[f"lo_{k}"] <= 0) & (b[f"hi_{k}"] > 0)
        if k in banded:  # noise-like: within the drift band, or the mean mid-range
            lo, hi, band = b[f"lo_{k}"], b[f"hi_{k}"], b[f"_band_{k}"]
            pos = th.get("zero", "cross_mean_pos")
            mid = b[f"s_{k}"] / b[f"n_{k}"] - lo <= pos * (hi - lo)
            noise = band.isnull() | ((hi <= band) & (lo >= -band)) | mid
            cross = cross & noise.fill_null(False)
        aggs[f"_n{i}"] = counted.cast("int64").sum()
        aggs[f"_x{i}"] = cross.cast("int64").sum()
    # one aggregation of the joined blocks for every channel, then one row per channel
    g = b.group_by(_smn=b.mn).aggregate(**aggs)
    none = ibis.null("int64")
    sh = ibis.union(*[g.select("_smn", _spol=ibis.literal(k), _n=g[f"_n{i}"], _x=g[f"_x{i}"],
                               _d=g[f"_d{i}"].cast("int64") if k in keys else none)
                      for i, k in enumerate(chans)], distinct=False)
    j = med.left_join(sh, [med.mn == sh._smn, med.pollutant == sh._spol])
    share = ibis.ifelse(j._n > 0, j._x.cast("float64") / j._n, None)
    step = decimals_step(j._d)
    return j.select("mn", "pollutant", "month_median", zero_share=share, step=step)


def zero(long: ir.Table, presence: ir.Table, th: Thresholds,
         ranges: ir.Table | None = None) -> ir.Table:
    """Zero or negative values of a pollutant that is normally present, while running.

    ``presence`` has (mn, pollutant, month_median[, zero_share]) (:func:`zero_presence`):
    the median of the valid running hourly means of the month. The pollutant is *present*
    when that median is at least ``zero.presence_median`` (gas-boiler SO2 near zero is not a
    fault). Runs of at least ``zero.min_minutes`` minutes flagged ``N`` and ≤ 0 are events
    (``medium``; ``high`` from ``zero.high_minutes``); minutes of a run may be up to
    ``zero.gap_minutes`` apart (the analyser's daily zero/span check, flagged ``C``, or lost
    packets do not split one zero episode; session 7) when at least ``zero.min_density`` of
    the run's span reads ≤ 0 (noise touching zero now and then is no episode). On a channel
    whose own readings cross zero in at least ``zero.cross_share`` of its running half-hours
    (``zero_share``, a channel at its detection limit) a zero run is not evidence: ``info``
    (evidence ``zero_share``; session 7, blind set).

    With ``ranges`` (mn, pollutant, range_mg_m3, :func:`~lantian.engine.quality.inputs
    .analyser_ranges`) a channel whose month median is at least ``zero.clear_frac`` × its
    range reads far above any zero the analyser may drift to (HJ 75-2017 accepts ±2–2.5 % of
    full scale a day): there runs of ``zero.clear_minutes`` (longer than the daily zero
    check) are events already (session 8), and a run needs only ``zero.clear_density`` of its
    span ≤ 0 (session 14): an analyser reading its zero (zero gas left on, a failed cell)
    scatters about 0 with its noise, so about half its readings are ≤ 0, whereas
    ``zero.min_density`` took a failed reading as pinned ≤ 0; on a channel near zero such
    half-zero spans are its own level touching zero, so ``min_density`` stays there.

    With ``step`` in ``presence`` (the readings' rounding step, :func:`zero_presence`) a
    channel whose month median is below the limit of quantification of its readings,
    ``zero.loq_sigmas`` × step/√12 (10 s.d. of the rounding, IUPAC), is read at its floor: a
    reading of 0 there is a legitimate result (below half a step), so its runs are ``info``
    (evidence ``quantification_limit``; session 14).
    """
    pres = presence.filter(presence.month_median >= th.get("zero", "presence_median"))
    share = pres.zero_share if "zero_share" in pres.columns else ibis.null("float64")
    step = pres.step if "step" in pres.columns else ibis.null("float64")
    need = ibis.literal(th.get("zero", "min_minutes"))
    density = ibis.literal(th.get("zero", "min_density"))
    if ranges is not None:
        r = ranges.select(_rmn=ranges.mn, _rpol=ranges.pollutant, _rng=ranges.range_mg_m3)
        pres = pres.left_join(r, [pres.mn == r._rmn, pres.pollutant == r._rpol])
        clear = (pres.month_median >= th.get("zero", "clear_frac") * pres._rng).fill_null(False)
        need = ibis.ifelse(clear, th.get("zero", "clear_minutes"), need)
        density = ibis.ifelse(clear, th.get("zero", "clear_density"), density)
    # limit of quantification of the readings: loq_sigmas x the s.d. of their rounding
    loq = th.get("zero", "loq_sigmas") * step.cast("float64") / math.sqrt(12.0)
    pres = pres.select(_pmn=pres.mn, _ppol=pres.pollutant, month_median=pres.month_median,
                       zero_share=share.cast("float64"), _need=need.cast("float64"),
                       _dens=density.cast("float64"), _loq=loq)
    t = long.filter(_.running & (_.flag == "N") & (_.value <= 0))
    t = t.inner_join(pres, [t.mn == pres._pmn, t.pollutant == pres._ppol]).drop("_pmn", "_ppol")
    gap_s = int(60 * th.get("zero", "gap_minutes"))
    shortest = min(th.get("zero", "min_minutes"), th.get("zero", "clear_minutes"))
    g = run_summary(t, _KEYS, gap_s=gap_s, min_minutes=shortest,
                    low=lambda r: r.value.min(), month_median=lambda r: r.month_median.max(),
                    zero_share=lambda r: r.zero_share.max(), need=lambda r: r._need.max(),
                    dens=lambda r: r._dens.max(), loq=lambda r: r._loq.max())
    span = (g.last.epoch_seconds() - g.first.epoch_seconds()) / 60 + 1
    g = g.filter((g.minutes >= g.dens * span) & (g.minutes >= g.need))
    noisy = (g.zero_share >= th.get("zero", "cross_share")).fill_null(False)
    unquantified = (g.month_median < g.loq).fill_null(False)
    sev = ibis.cases((noisy | unquantified, "info"),
                     (g.minutes >= th.get("zero", "high_minutes"), "high"), else_="medium")
    return event_table(g, "zero", pollutant=g.pollutant, start=g.first, end=g.last,
                       severity=sev, evid=evidence(minutes=g.minutes, lowest=g.low,
                                                   month_median=g.month_median,
                                                   zero_share=g.zero_share,
                                                   quantification_limit=g.loq))


def over_range(long: ir.Table, ranges: ir.Table, th: Thresholds) -> ir.Table:
    """Minutes above the analyser range or flagged ``T`` (HJ 212-2017 §6.6.4).

    ``ranges`` has (mn, pollutant, range_mg_m3): the range the point reported (``i13001``)
    or ``over_range.default_range_factor`` × the limit. Runs of at least
    ``over_range.min_minutes`` are events (``medium``; ``high`` from ``high_minutes``).
    """
    rg = ranges.select(_rmn=ranges.mn, _rpol=ranges.pollutant, range_mg_m3=ranges.range_mg_m3)
    t = long.left_join(rg, [long.mn == rg._rmn, long.pollutant == rg._rpol]).drop("_rmn", "_rpol")
    hit = (t.flag == "T") | (t.value > t.range_mg_m3).fill_null(False)
    t = t.filter(hit)
    g = run_summary(t, _KEYS, gap_s=300, min_minutes=th.get("over_range", "min_minutes"),
                    highest=lambda r: r.value.max(), range_mg_m3=lambda r: r.range_mg_m3.max(),
                    t_flags=lambda r: (r.flag == "T").cast("int64").sum())
    sev = ibis.ifelse(g.minutes >= th.get("over_range", "high_minutes"), "high", "medium")
    return event_table(g, "over_range", pollutant=g.pollutant, start=g.first, end=g.last,
                       severity=sev, evid=evidence(minutes=g.minutes, highest=g.highest,
                                                   range_mg_m3=g.range_mg_m3,
                                                   t_flag_minutes=g.t_flags))
