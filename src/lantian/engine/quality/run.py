"""All quality detectors over one month, as one Ibis event table.

:func:`quality_events` is what ``lantian qc`` runs: it builds the running state, the long
minute frame and the engine's valid hours (:func:`lantian.engine.hours.valid_hours`) once and
unions every detector's events (:data:`DETECTORS` order). It never executes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis import _

from lantian.engine.backends import month_bounds
from lantian.engine.hours import column_of
from lantian.engine.quality import conduct, process, records, statistics, values
from lantian.engine.quality.blocks import (
    block_hours,
    block_seconds,
    constant_block_seconds,
    frozen_blocks,
    minute_blocks,
    suspect_blocks,
)
from lantian.engine.quality.frames import long_minutes, reference_flow, running_minutes
from lantian.engine.quality.suspects import suspect_minutes
from lantian.engine.quality.thresholds import Thresholds, load_thresholds

__all__ = ["DETECTORS", "detector_events", "quality_events"]

DETECTORS: tuple[str, ...] = (
    "constant", "zero", "over_range", "pinned_under_limit", "dilution", "false_stop",
    "level_shift", "spike", "missing", "flag_abuse", "calibration_change", "zs_mismatch",
)


def quality_events(minute: ir.Table, **kwargs: Any) -> ir.Table:
    """Return the events of every requested detector for the month as one table.

    The union of :func:`detector_events` (same arguments).
    """
    from lantian.engine.quality.frames import empty_events

    parts = list(detector_events(minute, **kwargs).values())
    if not parts:
        return empty_events()
    res = parts[0]
    for t in parts[1:]:
        res = res.union(t, distinct=False)
    return res


def detector_events(
    minute: ir.Table,
    *,
    month: str,
    points: ir.Table,
    limits: ir.Table,
    ranges: ir.Table,
    params: ir.Table | None = None,
    maintenance: ir.Table | None = None,
    keys: Sequence[str] = ("pm", "so2", "nox"),
    detectors: Sequence[str] = DETECTORS,
    thresholds: Thresholds | None = None,
    materialize: Callable[[ir.Table], ir.Table] | None = None,
    marks: ir.Table | None = None,
    history_hours: ir.Table | None = None,
    history_minutes: ir.Table | None = None,
    blocks: ir.Table | None = None,
) -> dict[str, ir.Table]:
    """Return one event table per requested detector for ``month`` (``YYYY-MM``, CST).

    Executing the detectors one by one keeps each query small: Ibis compiles a dozen small
    expressions much faster than their union.

    Parameters
    ----------
    minute
        ``flue_minute`` rows of the month.
    points
        (mn, source_type) of the registered points.
    limits
        (mn, pollutant, limit_mg_m3, o2_ref_pct) from the limit catalogue.
    ranges
        (mn, pollutant, range_mg_m3): analyser ranges (reported ``i13001`` or default).
    params, maintenance
        ``value_long`` parameter rows (mn, ts, code, num, text) and maintenance records
        (mn, start_ts, end_ts); without ``params`` ``calibration_change`` is skipped.
    keys
        Pollutant keys to screen (glossary keys).
    month
        ``YYYY-MM`` judged (CST).
    detectors
        Names of the detectors to run (:data:`DETECTORS` by default).
    thresholds
        Threshold table (default: the packaged ``qc_thresholds.csv``).
    marks
        Enterprise condition marks (mn, kind, start_ts, end_ts), every status, for
        ``false_stop`` (stop marks while the source runs); optional.
    history_hours
        Engine hours with ``running`` (:func:`~lantian.engine.quality.process.running_hours`)
        of earlier months, for ``pinned_under_limit``'s history test; optional.
    history_minutes
        Instead of ``history_hours``: ``flue_minute`` rows of earlier months; their hours are
        built only for the points already in the band this month (bounded cost).
    materialize
        Optional hook the caller gives to keep the shared frames (the running minutes and
        the hours) instead of recomputing them in every detector, e.g. ``lambda t:
        t.cache()``; without it everything stays one lazy expression per detector.
    blocks
        :func:`~lantian.engine.quality.blocks.minute_blocks` of ``minute`` for ``keys``
        already built (and kept) by the caller, e.g. the scan shared with the engine's
        assessment (:mod:`lantian.engine.quality.job`); default: built here.

    """
    th = thresholds or load_thresholds()
    start, end = month_bounds(month)
    keys = list(keys)
    want = set(detectors)
    keep = materialize or (lambda x: x)
    wanted = {"mn", "ts", "running"}
    # no temperature: no detector reads it (its flag stays, as every flag does); the re-read
    # of the minutes (_reread_minutes) decoded and kept it for nothing (session 18)
    for k in (*keys, "o2", "flow"):
        wanted |= {column_of(k), f"{k}_flag", f"{k}_zs"}
    # read only the columns used (every flag: the declared state falls back on them)
    narrow = minute.select(*[c for c in minute.columns if c in wanted or c.endswith("_flag")])
    # one scan of the minutes gives every per-block and per-hour frame (blocks.py); the
    # per-point reference flow (running state) is the only other full read
    ref = keep(reference_flow(narrow))
    m = running_minutes(narrow, th, ref=ref)
    m = m.select(*[c for c in m.columns if c in wanted])
    out: dict[str, ir.Table] = {}
    if blocks is None:
        blocks = keep(minute_blocks(narrow, keys, th))
    hours = keep(process.running_hours(block_hours(blocks, keys, th), th))
    hl = keep(statistics.hour_long(hours, keys, limits))
    sus, span_rows = m, narrow
    # spike's candidate runs first: the minutes of their spans come with the re-read below
    cands = (keep(statistics.spike_candidates(hl, th, blocks=blocks, materialize=materialize))
             if "spike" in want else None)
    spans = statistics.spike_span_hours(cands, th) if cands is not None else None
    reread = _reread_minutes(narrow, blocks, ref, keys, want, wanted, limits, ranges, th, keep,
                             spans=spans)
    if reread is not None:
        sus, near_rows, const, span_rows = reread
        if const is not None:  # constant: the runs over the minutes near a frozen block
            chan, near = const
            out["constant"] = values.constant_from_near(near_rows, chan, near,
                                                        [*keys, "o2", "flow"], th)
    # zero's per-channel facts: zero keeps its presence test, level_shift the zero share
    # (with the ranges a forced zero among real readings does not count: qcshift9)
    pres = (keep(values.zero_presence(hours, blocks, keys, ranges=ranges, th=th))
            if want & {"zero", "level_shift"} else None)
    out.update(_long_minute_detectors(sus, hours, pres, keys, want, limits, ranges, th,
                                      blocks=blocks))
    if "false_stop" in want:
        # qc-detect: enterprise stop marks are judged on every running minute (m)
        out["false_stop"] = process.false_stop(sus, th, marks=marks, every_minute=m)
    if "missing" in want:
        gaps = records.missing_from_blocks(blocks, start, end, th, block_seconds(th) // 60)
        out["missing"] = gaps if gaps is not None else records.missing(
            narrow.select("mn", "ts"), start, end, th, by_hours=True)
    if "dilution" in want:
        out["dilution"] = process.dilution(hours, points, th)
    if "pinned_under_limit" in want:
        out["pinned_under_limit"] = conduct.pinned_under_limit(hours, limits, keys, th,
                                                               history=history_hours,
                                                               history_minutes=history_minutes)
    if "level_shift" in want:
        out["level_shift"] = statistics.level_shift(  # qcdetect: the load's co-movement
            hl, th, load=hours.filter(hours.running).select("mn", "ts", load=hours.flow_raw),
            presence=pres,  # qcacc8: a channel at its detection limit is low
            materialize=materialize,  # qcshift11: Spark's analyser needs the windowed hours kept
            calibrations=params)  # qcshift13: a step at a slope/intercept change is low
    if "spike" in want:
        # the span minutes from the one re-read (qcstats' split: same events)
        out["spike"] = statistics.spike(hl, th, minutes=span_rows, candidates=cands)
    if "calibration_change" in want and params is not None and maintenance is not None:
        out["calibration_change"] = records.calibration_change(params, maintenance, start, end,
                                                               th)
    return out


_SUSPECT_DETECTORS = frozenset({"zero", "over_range", "zs_mismatch", "flag_abuse", "false_stop"})


def _reread_minutes(narrow: ir.Table, blocks: ir.Table, ref: ir.Table, keys: list[str],
                    want: set[str], wanted: set[str], limits: ir.Table, ranges: ir.Table,
                    th: Thresholds, keep: Callable[[ir.Table], ir.Table],
                    spans: ir.Table | None = None,
                    ) -> tuple[ir.Table, ir.Table, tuple[ir.Table, ir.Table] | None,
                               ir.Table] | None:
    """One read of the minutes of the suspect blocks, the blocks near a frozen one and spans.

    Returns (suspect minutes, running minutes of the blocks near a frozen block,
    ``constant``'s (chan, near) of :func:`~lantian.engine.quality.values.constant_near` or
    ``None``, the minutes of ``spans``: (mn, ts) clock hours of
    :func:`~lantian.engine.quality.spikes.spike_span_hours`, every minute, flags as sent) — the
    minutes the minute-level detectors (:func:`~lantian.engine.quality.suspects
    .suspect_minutes` of :func:`~lantian.engine.quality.blocks.suspect_blocks`) and
    ``constant`` (:func:`~lantian.engine.quality.values.constant_near`) and ``spike``'s
    minute test read again, from one semi-join of the minute files with the union of the
    block lists; only the suspect, near and span rows are kept (``keep``). ``None`` when
    none is wanted. Running state and suspect condition are the ones each had when read
    apart, so the events are equal.
    """
    sus_wanted = bool(want & _SUSPECT_DETECTORS)
    if not sus_wanted and "constant" not in want and spans is None:
        return None
    bsec = block_seconds(th)
    parts: list[ir.Table] = []
    const = None
    if sus_wanted:
        cand = keep(suspect_blocks(blocks, ref, keys, limits=limits, ranges=ranges, th=th))
        parts.append(cand.select(_nmn=cand.mn, _nb=cand.block))
    if "constant" in want:
        chans = [*keys, "o2", "flow"]
        const = values.constant_near(frozen_blocks(blocks, ref, chans, th), chans, keep)
        near = const[1]
        per = constant_block_seconds(th) // bsec  # scan blocks per constant block
        parts += [near.select(_nmn=near._cmn, _nb=near._cb * per + i) for i in range(per)]
    flags: list[tuple[str, ir.Table, int]] = []  # (flag, (_qmn, _qb) blocks, block [s])
    if const is not None:
        flags.append(("_near", const[1].select(_qmn=const[1]._cmn, _qb=const[1]._cb).distinct(),
                      constant_block_seconds(th)))
    if spans is not None:
        hb = spans.select(_qmn=spans.mn, _qb=spans.ts.epoch_seconds() // 3600)
        flags.append(("_spk", hb, 3600))
        parts += [hb.select(_nmn=hb._qmn, _nb=hb._qb * (3600 // bsec) + i)
                  for i in range(3600 // bsec)]
    # kept: an exact (small) build side, so the join reads the minutes as its probe side
    sel = keep(ibis.union(*parts, distinct=True)) if len(parts) > 1 else parts[0]
    nb = narrow.mutate(_blk=narrow.ts.epoch_seconds() // bsec)
    nb = nb.semi_join(sel, [nb.mn == sel._nmn, nb._blk == sel._nb]).drop("_blk")
    sm = running_minutes(nb, th, ref=ref)
    sm = sm.select(*[c for c in sm.columns if c in wanted])
    for flag, qb, unit in flags:  # which rows lie in those blocks (few rows here)
        sm = sm.mutate(_cb=sm.ts.epoch_seconds() // unit)
        sm = sm.left_join(qb, [sm.mn == qb._qmn, sm._cb == qb._qb])
        sm = sm.mutate(**{flag: sm._qmn.notnull()}).drop("_qmn", "_qb", "_cb")
    for flag in ("_near", "_spk"):
        if flag not in sm.columns:
            sm = sm.mutate(**{flag: ibis.literal(False)})
    sm = sm.mutate(_also=sm._near | sm._spk)
    if sus_wanted:
        # the suspect rows and every row of the near and span blocks, in one filter; a
        # superset of the suspect rows gives the suspect detectors the same events
        # (suspects.py), constant and spike drop every row outside their own blocks
        kept = keep(suspect_minutes(sm, keys, limits=limits, ranges=ranges, th=th,
                                    also="_also"))
    else:
        kept = keep(sm.filter(sm._also))
    sus = kept.drop("_near", "_spk", "_also")
    near_rows = kept.filter(kept._near).drop("_near", "_spk", "_also")
    span_rows = kept.filter(kept._spk).drop("_near", "_spk", "_also")
    return sus, near_rows, const, span_rows


def _long_minute_detectors(sus: ir.Table, hours: ir.Table, pres: ir.Table | None,
                           keys: list[str], want: set[str], limits: ir.Table, ranges: ir.Table,
                           th: Thresholds, blocks: ir.Table | None = None,
                           ) -> dict[str, ir.Table]:
    """``zero``, ``over_range``, ``zs_mismatch``, ``flag_abuse`` on the long suspect minutes.

    ``blocks`` gives ``zs_mismatch`` its mean-bias test over hours (qczs8).

    ``pres`` is :func:`~lantian.engine.quality.values.zero_presence` (needed when ``zero`` is).
    """
    out: dict[str, ir.Table] = {}
    if not want & {"zero", "over_range", "zs_mismatch", "flag_abuse"}:
        return out
    lp = long_minutes(sus, [*keys, "o2"], with_zs=True)
    if "zero" in want and pres is not None:
        out["zero"] = values.zero(lp, pres, th, ranges=ranges)
    lp = lp.filter(_.pollutant != "o2")
    if "over_range" in want:
        out["over_range"] = values.over_range(lp, ranges, th)
    if "zs_mismatch" in want:
        out["zs_mismatch"] = process.zs_mismatch(lp, limits, th, blocks=blocks, keys=keys)
    if "flag_abuse" in want:
        run_h = hours.filter(_.running).group_by("mn").aggregate(hours=_.count())
        out["flag_abuse"] = conduct.flag_abuse(lp, limits, run_h, th)
    return out
