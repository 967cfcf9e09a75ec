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
from lantian.engine.quality.blocks import decimals_step, reading_decimals
from lantian.engine.quality.frames import event_table, evidence, run_summary, runs
from lantian.engine.quality.thresholds import Thresholds

__all__ = [
    "STOP_MARK_KINDS", "dilution", "false_stop", "false_stop_marks", "firing_flow",
    "running_hours", "zs_minute_tolerance", "zs_mismatch",
]


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
    O2, else ``low`` (high all month: a band that may not fit this plant). A run within
    ``dilution.transition_h`` hours of a stopped hour whose mean flow is below the month
    median is a start-up or shut-down (excess air of a furnace at low firing; letting air in
    raises the flow instead): ``low`` whatever the O2. A run whose dry flue gas at zero
    excess air ``Q × (21 − O2)`` (:func:`firing_flow`, proportional to the fuel burnt) is
    below ``dilution.firing_ratio_min`` × the point's month median of it is excess air of
    low firing, not air let in (dilution leaves that product unchanged): ``low`` too.
    Evidence: O2, band edge, month median O2, flow and firing flow against their month
    medians, whether the run is next to a stop.

    References
    ----------
    HJ 75-2017 (reference-O2 correction ``C × (21 − O2_ref)/(21 − O2)``: the same
    air-ratio algebra); issue 4 ("O2 far above the source type's normal band … while flow
    and temperature say the source runs").

    """
    o2 = column_of("o2")
    default = th.get("dilution", "o2_max_pct")
    cases = [(points.source_type == st, v) for st, v in th.scoped("dilution", "o2_max_pct").items()]
    band = ibis.cases(*cases, else_=default) if cases else ibis.literal(default)
    pts = points.select(_pmn=points.mn, band=band)
    hours = hours.mutate(_fire=ibis.ifelse(hours["o2_valid"], firing_flow(hours.flow_raw,
                                                                           hours[o2]), None))
    med = hours.filter(_.running).group_by("mn").aggregate(
        _flow_med=_.flow_raw.approx_median(), _o2_med=_[o2].approx_median(),
        _fire_med=_._fire.approx_median())
    n = int(th.get("dilution", "transition_h"))
    near = ibis.window(group_by="mn", order_by="ts", preceding=ibis.interval(hours=n),
                       following=ibis.interval(hours=n))
    hours = hours.mutate(_near_stop=(~hours.running).cast("int64").max().over(near))
    h = hours.filter(_.running & _["o2_valid"])
    h = h.left_join(pts, h.mn == pts._pmn).drop("_pmn")
    h = h.mutate(band=h.band.fill_null(default))
    h = h.inner_join(med, "mn")
    delta = th.get("dilution", "self_delta_pct")
    # air let in by the mass balance, whatever the band: O2 well above the point's own,
    # more flue gas than usual and the fuel burnt (firing flow) as usual
    air = ((h[o2] > h._o2_med + delta) & (h.flow_raw >= h._flow_med)
           & (h._fire >= th.get("dilution", "firing_ratio_min") * h._fire_med)).fill_null(False)
    h = h.filter((h[o2] > h.band) | air)
    r = runs(h, ["mn"], step_s=3600)
    g = r.group_by(["mn", "run"]).aggregate(
        first=r.ts.min(), last=r.ts.max(), hours=r.count(), o2_mean=r[o2].mean(),
        o2_max=r[o2].max(), band=r.band.max(), flow_ratio=(r.flow_raw / r._flow_med).mean(),
        o2_month_median=r._o2_med.max(), near_stop=r._near_stop.max(),
        fire_ratio=(r._fire / r._fire_med).mean(),
        above_band=(r[o2] > r.band).cast("int64").sum())
    g = g.filter(g.hours >= int(th.get("dilution", "min_hours")))
    own = g.o2_mean > g.o2_month_median + th.get("dilution", "self_delta_pct")
    transition = (g.near_stop == 1) & (g.flow_ratio < 1.0)
    low_fire = (g.fire_ratio < th.get("dilution", "firing_ratio_min")).fill_null(False)
    ambient = g.o2_max >= th.get("dilution", "ambient_pct")
    sev = ibis.cases((transition | low_fire, "low"), (ambient, "high"), (own, "medium"),
                     else_="low")
    end = g.last + ibis.interval(minutes=59)
    return event_table(g, "dilution", pollutant=None, start=g.first, end=end, severity=sev,
                       evid=evidence(hours=g.hours, o2_mean_pct=g.o2_mean, o2_max_pct=g.o2_max,
                                     o2_band_max_pct=g.band, o2_month_median_pct=g.o2_month_median,
                                     flow_vs_month_median=g.flow_ratio,
                                     firing_vs_month_median=g.fire_ratio,
                                     next_to_stop=g.near_stop, above_band_hours=g.above_band))


def firing_flow(flow: ir.NumericValue, o2_pct: ir.NumericValue) -> ir.NumericValue:
    """Flue-gas flow at zero excess air ``Q × (21 − O2) / 21`` [flow unit].

    Parameters
    ----------
    flow
        Measured flue-gas flow (any unit; the result has the same) [m³/s or m³/h].
    o2_pct
        Measured O2, dry basis [%].

    Air let into the duct (flow ``A`` at 21 % O2) gives ``Q' = Q + A`` and
    ``O2' = (Q·O2 + 21·A)/(Q + A)``, hence ``Q'·(21 − O2') = Q·(21 − O2)``: the product is
    unchanged by dilution, whereas it falls with the fuel burnt (the stoichiometric flue
    gas is proportional to the fuel). The air ratio ``21/(21 − O2)`` is the one of the
    reference-O2 correction.

    References
    ----------
    HJ 75-2017 (reference-O2 correction, air ratio ``α = 21/(21 − O2)``); GB/T 16157-1996
    (excess-air coefficient).

    """
    return flow * (21.0 - o2_pct) / 21.0


#: Enterprise mark kinds (``enterprise_mark.kind``, lantian.ledger.marks) that declare the
#: source stopped. Start-up, shut-down, fault and maintenance marks concern periods in which
#: the source may run, so they are not a declared stop.
STOP_MARK_KINDS: tuple[str, ...] = ("stopped",)


def _stop_marks(marks: ir.Table) -> ir.Table:
    k = marks.filter(marks.kind.isin(list(STOP_MARK_KINDS)))
    return k.select(_kmn=k.mn.cast("string"), _ks=k.start_ts.cast("timestamp"),
                    _ke=k.end_ts.cast("timestamp"))


def _false_stop_events(g: ir.Table, th: Thresholds) -> ir.Table:
    sev = ibis.cases(
        (g.kind == "running_marked_while_stopped", "low"),
        (g.minutes >= th.get("false_stop", "high_minutes"), "high"),
        else_="medium",
    )
    return event_table(g, "false_stop", pollutant=None, start=g.first, end=g.last, severity=sev,
                       evid=evidence(kind=g.kind, minutes=g.minutes))


def false_stop(minute: ir.Table, th: Thresholds, marks: ir.Table | None = None,
               every_minute: ir.Table | None = None) -> ir.Table:
    """Stop marks (flag ``F``, enterprise marks) while flow says the source runs; the opposite.

    ``minute`` carries ``running``. A minute is *declared stopped* when any parameter flag is
    ``F``, *declared running* when flags are present and none is ``F``. Runs of at least
    ``false_stop.min_minutes`` of declared-stopped running minutes are ``high`` (from
    ``false_stop.high_minutes``) or ``medium`` (evidence ``kind``
    ``stop_marked_while_running``); runs of declared-running stopped minutes are ``low``
    (``running_marked_while_stopped``: many loggers do not mark stops at all).

    ``marks`` (mn, kind, start_ts, end_ts) are the enterprise's condition marks (every
    status: a regulator judges pending marks too); running minutes inside a mark of a kind in
    :data:`STOP_MARK_KINDS` are judged the same way (:func:`false_stop_marks`, evidence kind
    ``stop_mark_while_running``), and stopped minutes under such a mark are declared stopped
    (no ``running_marked_while_stopped`` for them). When ``minute`` is a filtered subset
    (the suspect minutes of ``run.py``), ``every_minute`` gives all running minutes for the
    marks.

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
    if marks is not None:
        # a stopped minute under an enterprise stop mark is declared stopped after all
        k = _stop_marks(marks)
        idle = mismatch.filter(~mismatch.running)
        idle = idle.anti_join(k, [idle.mn == k._kmn, idle.ts >= k._ks, idle.ts < k._ke])
        mismatch = mismatch.filter(mismatch.running).union(idle, distinct=False)
    kind = ibis.ifelse(mismatch.running, "stop_marked_while_running",
                       "running_marked_while_stopped")
    g = run_summary(mismatch.mutate(kind=kind), ["mn", "kind"], gap_s=300,
                    min_minutes=th.get("false_stop", "min_minutes"))
    out = _false_stop_events(g, th)
    if marks is not None:
        whole = minute if every_minute is None else every_minute
        out = out.union(false_stop_marks(whole, marks, th), distinct=False)
    return out


def false_stop_marks(minute: ir.Table, marks: ir.Table, th: Thresholds) -> ir.Table:
    """Enterprise ``stopped`` marks over minutes in which flow says the source runs.

    ``minute`` carries ``running`` and must hold every minute of the month (not a filtered
    subset: the running minutes inside a mark are what is counted). ``marks`` has (mn, kind,
    start_ts, end_ts), ``end_ts`` exclusive, CST. Runs (gaps up to 5 min) of at least
    ``false_stop.min_minutes`` running minutes inside marks of :data:`STOP_MARK_KINDS` are
    events, ``high`` from ``false_stop.high_minutes``, else ``medium``; evidence kind
    ``stop_mark_while_running``.

    References
    ----------
    MEE Announcement 2022 No. 21 ("1+N" marking: a stop mark must match the real
    operating condition); HJ 75-2017 (running judged from flow).

    """
    k = _stop_marks(marks)
    run = minute.filter(minute.running).select("mn", "ts")
    inside = run.semi_join(k, [run.mn == k._kmn, run.ts >= k._ks, run.ts < k._ke])
    g = run_summary(inside.mutate(kind=ibis.literal("stop_mark_while_running")),
                    ["mn", "kind"], gap_s=300, min_minutes=th.get("false_stop", "min_minutes"))
    return _false_stop_events(g, th)


def zs_mismatch(long: ir.Table, limits: ir.Table, th: Thresholds,
                blocks: ir.Table | None = None, keys: list[str] | None = None) -> ir.Table:
    """Logger ``Zs`` values that disagree with the platform's own O2 correction.

    ``long`` is the long minute frame with ``zs``; ``limits`` gives (mn, pollutant,
    o2_ref_pct). Where the reference O2 is known, the platform computes
    ``C × (21 − O2_ref)/(21 − O2)`` (HJ 75-2017) per valid running minute below
    ``zs_mismatch.o2_max_pct`` and compares. A minute disagrees when
    ``|Zs − own| > max(abs_tol, rel_tol × own) + rounding_share × step``, where ``step`` is
    the logger's own rounding of ``Zs`` (1, 0.1, 0.01 or 0.001 mg/m³: the coarsest step of
    which every disagreeing Zs of the point and pollutant in the month is a multiple; HJ
    212-2017 sends up to 3 decimals): a logger that rounds Zs to whole mg/m³ is off by up to
    0.5 mg/m³ from an exact correction at every minute, which at PM or gas-boiler SO2 of a few
    mg/m³ exceeds any relative tolerance (session 6, blind set). Runs of at least
    ``min_minutes`` are events. With ``blocks`` (:func:`~lantian.engine.quality.blocks
    .minute_blocks`) and ``keys``, the events of :func:`zs_mean_bias` are added where no
    per-minute event of the same channel overlaps them (one fault, one event).
    """
    t = long.filter(_.running & (_.flag == "N") & _.zs.notnull() & _.o2.notnull()
                    & (_.o2 < th.get("zs_mismatch", "o2_max_pct")))
    t = _with_reference_o2(t, limits)
    t = t.mutate(own=reference_concentration(t.value, t.o2, t.o2_ref_pct))
    tol = ibis.greatest(ibis.literal(th.get("zs_mismatch", "abs_tol")),
                        t.own.abs() * th.get("zs_mismatch", "rel_tol"))
    t = t.filter((t.zs - t.own).abs() > tol)
    t = _beyond_rounding(t, tol, th)
    g = run_summary(t, ["mn", "pollutant"], gap_s=600,
                    min_minutes=th.get("zs_mismatch", "min_minutes"),
                    zs_mean=lambda r: r.zs.mean(), own_mean=lambda r: r.own.mean(),
                    o2_ref=lambda r: r.o2_ref_pct.max())
    sev = ibis.ifelse(g.minutes >= th.get("zs_mismatch", "high_minutes"), "high", "medium")
    ev = event_table(g, "zs_mismatch", pollutant=g.pollutant, start=g.first, end=g.last,
                     severity=sev, evid=evidence(minutes=g.minutes, logger_zs_mean=g.zs_mean,
                                                 platform_mean=g.own_mean, o2_ref_pct=g.o2_ref))
    mean = zs_mean_bias(blocks, limits, keys, th) if blocks is not None and keys else None
    return ev if mean is None else _one_event_per_fault(ev, mean)


def zs_minute_tolerance(own, step, th: Thresholds):
    """Return the per-minute tolerance of :func:`zs_mismatch` for numpy values [mg/m³].

    ``max(abs_tol, rel_tol × |own|) + rounding_share × step`` for the platform's correction
    ``own`` and the logger's Zs rounding ``step`` (the two tests of :func:`zs_mismatch` and
    :func:`_beyond_rounding` in one). For the evaluation sets' label trace (how many minutes
    a fault moved beyond what the detector tolerates), so they read the detector's rule
    instead of restating it.
    """
    import numpy as np

    rel = np.abs(np.asarray(own, dtype=float)) * th.get("zs_mismatch", "rel_tol")
    return (np.maximum(th.get("zs_mismatch", "abs_tol"), rel)
            + th.get("zs_mismatch", "rounding_share") * step)


def _one_event_per_fault(ev: ir.Table, mean: ir.Table) -> ir.Table:
    """Union of per-minute ``ev`` and mean-bias ``mean`` events, without double reports.

    A mean run that overlaps a per-minute run of the same channel is the same fault: it is
    dropped (the trust score counts each event). Found with two windows over the union
    (the latest per-minute end before it, the earliest per-minute start after it) rather
    than a join of ``ev`` with itself, which doubled the plan and ran PySpark's driver out
    of heap.
    """
    u = ibis.union(ev.mutate(_m=ibis.literal(True)), mean.mutate(_m=ibis.literal(False)),
                   distinct=False)
    keys = [u.mn, u.pollutant]
    before = ibis.window(group_by=keys, order_by=u.start, preceding=None, following=0)
    after = ibis.window(group_by=keys, order_by=u.start, preceding=0, following=None)
    none = ibis.null("timestamp")
    end_before = ibis.ifelse(u._m, u.end, none).max().over(before)
    start_after = ibis.ifelse(u._m, u.start, none).min().over(after)
    u = u.mutate(_hit=((end_before >= u.start) | (start_after <= u.end)).fill_null(False))
    return u.filter(u._m | ~u._hit).drop("_m", "_hit")


def _with_reference_o2(t: ir.Table, limits: ir.Table) -> ir.Table:
    """Rows of ``t`` (mn, pollutant, …) whose limit has a reference O2, with ``o2_ref_pct``."""
    lim = limits.filter(limits.o2_ref_pct.notnull()).select(
        _lmn=limits.mn, _lpol=limits.pollutant, o2_ref_pct=limits.o2_ref_pct)
    return t.inner_join(lim, [t.mn == lim._lmn, t.pollutant == lim._lpol]).drop("_lmn", "_lpol")


def zs_mean_bias(blocks: ir.Table, limits: ir.Table, keys: list[str],
                 th: Thresholds) -> ir.Table | None:
    """Find runs of clock hours whose mean logger ``Zs`` is biased against the own correction.

    Per (mn, pollutant, clock hour) with at least ``min_valid_minutes`` (HJ 75-2017: 45)
    compared minutes (valid ``C``, O2 below ``zs_mismatch.o2_max_pct``, ``Zs`` sent; the
    ``zq/zz/cq/zn/zd`` partials of :func:`~lantian.engine.quality.blocks.minute_blocks`), the
    hour is a candidate when ``|Σ Zs − Σ own|`` exceeds what an honest logger's rounding can
    explain (:func:`_rounding_hour_allowance`): its own rounding of Zs
    (:func:`_rounding_allowance`) and the rounding of the ``C`` and O2 the platform receives
    (the logger computed Zs from values before they were rounded for sending);
    ``own = C × (21 − O2_ref)/(21 − O2)`` (HJ 75-2017). A run of consecutive candidate hours
    with at least ``min_minutes`` compared minutes is an event when its ``|Σ Zs − Σ own|``
    also exceeds the sum of its hours' allowances plus a misalignment of
    ``zs_mismatch.shift_minutes`` between ``Zs`` and ``C``/O2 (:func:`_shift_allowance`); so
    is a run of hours each beyond its allowance + the misalignment within it (one event per
    fault where both hold, :func:`_one_event_per_fault`). Every term is bounded from the data
    (the steps of Zs, ``C`` and O2 read from their decimals, the ranges of ``C`` and O2 in
    the blocks), so no relative tolerance is needed: a bias of a few per cent is found where
    the readings are fine enough to show it, and none where they are not (session 17;
    sessions 8–16 allowed ``rel_tol`` 10 % of ``Σ own``). Events are ``high`` from
    ``high_minutes``; evidence kind ``mean``. ``None`` when no key has Zs partials.
    """
    from lantian.catalog.rules import rule
    from lantian.engine.quality.blocks import block_seconds

    per = 3600 // block_seconds(th)
    parts = [blocks.select(mn=blocks.mn, pollutant=ibis.literal(k), _h=blocks.block // per,
                           t0=blocks.t0, t1=blocks.t1, zq=blocks[f"zq_{k}"],
                           zz=blocks[f"zz_{k}"], cq=blocks[f"cq_{k}"], zn=blocks[f"zn_{k}"],
                           zd=blocks[f"zd_{k}"], clo=blocks[f"lo_{k}"], chi=blocks[f"hi_{k}"],
                           olo=blocks.lo_o2, ohi=blocks.hi_o2)
             for k in keys if f"zq_{k}" in blocks.columns]
    if not parts:
        return None
    u = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    u = _block_bounds(u.filter(u.zn > 0), th)
    h = u.group_by(["mn", "pollutant", "_h"]).aggregate(
        ts=u.t0.min().truncate("h"), t0=u.t0.min(), t1=u.t1.max(), z=u.zq.sum(),
        zz=u.zz.sum(), c=u.cq.sum(), n=u.zn.sum(), d=u.zd.max(), inv=u._inv.sum(),
        inv2=u._inv2.sum(), khi=u._khi.max(), klo=u._klo.min())
    h = _with_reference_o2(_with_reading_steps(h, u), limits)
    h = h.mutate(own=h.c * (21.0 - h.o2_ref_pct))
    step = decimals_step(h.d).fill_null(0.001)
    h = h.mutate(_tol=_rounding_hour_allowance(h, step, th))
    h = h.filter((h.n >= int(rule("min_valid_minutes"))) & ((h.z - h.own).abs() > h._tol))
    # the hours biased by themselves (the misalignment allowed within the hour) and the runs
    # of hours biased together (allowed once for the run): either is beyond an honest logger
    alone = h.filter((h.z - h.own).abs() > h._tol + _shift_allowance(
        h.o2_ref_pct, h.khi, h.klo, 60 - h.n, th))
    return _one_event_per_fault(_mean_events(alone, th, shift=False),
                                _mean_events(h, th, shift=True))


def _mean_events(h: ir.Table, th: Thresholds, *, shift: bool) -> ir.Table:
    """Events of the runs of consecutive biased hours ``h`` (:func:`zs_mean_bias`).

    A run needs ``min_minutes`` compared minutes; with ``shift`` its ``|Σ Zs − Σ own|`` must
    also exceed its hours' allowances ``_tol`` + the misalignment (:func:`_shift_allowance`).
    """
    r = runs(h, ["mn", "pollutant"], step_s=3600)
    g = r.group_by(["mn", "pollutant", "run"]).aggregate(
        first=r.t0.min(), last=r.t1.max(), minutes=r.n.sum(), z=r.z.sum(), own=r.own.sum(),
        o2_ref=r.o2_ref_pct.max(), tol=r._tol.sum(), khi=r.khi.max(), klo=r.klo.min(),
        lost=(60 - r.n).sum())
    keep = g.minutes >= int(th.get("zs_mismatch", "min_minutes"))
    if shift:
        keep = keep & ((g.z - g.own).abs()
                       > g.tol + _shift_allowance(g.o2_ref, g.khi, g.klo, g.lost, th))
    g = g.filter(keep)
    sev = ibis.ifelse(g.minutes >= th.get("zs_mismatch", "high_minutes"), "high", "medium")
    return event_table(g, "zs_mismatch", pollutant=g.pollutant, start=g.first, end=g.last,
                       severity=sev, evid=evidence(kind=ibis.literal("mean"), minutes=g.minutes,
                                                   logger_zs_mean=g.z / g.minutes,
                                                   platform_mean=g.own / g.minutes,
                                                   o2_ref_pct=g.o2_ref))


def _block_bounds(u: ir.Table, th: Thresholds) -> ir.Table:
    """Per block, bounds over its compared minutes from the block's ranges of ``C`` and O2.

    ``clo``/``chi`` and ``olo``/``ohi`` are the smallest and largest valid ``C`` [mg/m³] and
    O2 [%] of the block; the compared minutes have O2 below ``zs_mismatch.o2_max_pct``, so
    ``21 − O2 ≥ 21 − min(ohi, o2_max)`` = ``_w``. Adds ``_inv`` ≥ Σ 1/(21 − O2) and
    ``_inv2`` ≥ Σ |C|/(21 − O2)² over the ``zn`` compared minutes (equal to ``cq / _w`` when
    no ``C`` is negative, since then Σ |C|/(21 − O2) = ``cq``), ``_khi`` ≥ and ``_klo`` ≤
    every ``C/(21 − O2)`` of the block, and the decimals ``_cd``/``_od`` of ``C`` and O2
    (:func:`~lantian.engine.quality.blocks.reading_decimals` of the block's extremes).
    """
    w = 21.0 - ibis.least(u.ohi, ibis.literal(th.get("zs_mismatch", "o2_max_pct")))
    wide = 21.0 - u.olo  # the largest 21 − O2 of the block
    top = ibis.greatest(u.clo.abs(), u.chi.abs())
    return u.mutate(
        _inv=u.zn / w,
        _inv2=ibis.ifelse(u.clo >= 0, u.cq, u.zn * top / w) / w,
        _khi=ibis.ifelse(u.chi >= 0, u.chi / w, u.chi / wide),
        _klo=ibis.ifelse(u.clo >= 0, u.clo / wide, u.clo / w),
        _cd=ibis.greatest(reading_decimals(u.clo), reading_decimals(u.chi)),
        _od=ibis.greatest(reading_decimals(u.olo), reading_decimals(u.ohi)))


def _with_reading_steps(h: ir.Table, u: ir.Table) -> ir.Table:
    """Add ``cstep`` and ``ostep``: the month's rounding steps of ``C`` and O2 of a channel.

    The coarsest of 1, 0.1, 0.01, 0.001 of which every block extreme of ``C`` (O2) of the
    (mn, pollutant) in the month is a multiple (most decimals seen): as the Zs step of the
    per-minute test, read from the data over the month because an hour's few extremes can
    all fall on a coarser step by chance.
    """
    s = u.group_by(["mn", "pollutant"]).aggregate(_scd=u._cd.max(), _sod=u._od.max())
    s = s.select(_smn=s.mn, _spol=s.pollutant,
                 cstep=decimals_step(s._scd).fill_null(0.001),
                 ostep=decimals_step(s._sod).fill_null(0.001))
    return h.inner_join(s, [h.mn == s._smn, h.pollutant == s._spol]).drop("_smn", "_spol")


def _rounding_hour_allowance(h: ir.Table, step: ir.FloatingValue,
                             th: Thresholds) -> ir.FloatingValue:
    """How far an honest logger's rounding takes ``Σ Zs`` of an hour from ``Σ own``.

    With ``b = 21 − O2_ref`` and ``own = b × C/(21 − O2)`` (HJ 75-2017), the sum of:

    * the logger's rounding of Zs (:func:`_rounding_allowance`, ``step``);
    * the rounding of the ``C`` it sends: each within half its step ``cstep`` of the value the
      logger used (GB/T 8170), moving ``own`` by ``b/(21 − O2)`` per mg/m³:
      ``rounding_share × cstep × b × Σ 1/(21 − O2)``;
    * the rounding of the O2 it sends (step ``ostep``), ``∂own/∂O2 = own/(21 − O2)``:
      ``rounding_share × ostep × b × Σ |C|/(21 − O2)²``.

    The ``C`` and O2 terms take the worst case (half a step at every minute); their sums
    over the hour are the block bounds of :func:`_block_bounds`.
    """
    share = th.get("zs_mismatch", "rounding_share")
    b = (21.0 - h.o2_ref_pct)
    c_round = share * h.cstep * b * h.inv
    o2_round = share * h.ostep * b * h.inv2
    return _rounding_allowance(h.z, h.zz, h.n, step, th) + c_round + o2_round


def _shift_allowance(o2_ref: ir.FloatingValue, khi: ir.FloatingValue, klo: ir.FloatingValue,
                     lost: ir.IntegerValue, th: Thresholds) -> ir.FloatingValue:
    """How far a misaligned honest logger's ``Σ Zs`` can be from ``Σ own`` over clock hours.

    A logger that computes Zs from the ``C``/O2 of ``zs_mismatch.shift_minutes`` (``s``)
    earlier sends ``Σ own(t − s)`` for ``Σ own(t)``: over consecutive compared minutes the two
    sums differ only by the ``own`` of ``s`` minutes at each end (a telescoping sum), each
    within the range ``b × (khi − klo)`` of the hours (``b = 21 − O2_ref``; ``khi``/``klo`` of
    :func:`_block_bounds`). Their compared minutes, with ``lost`` minutes of the clock hours
    not compared, form at most ``1 + lost`` stretches: ``s × b × (khi − klo) × (1 + lost)``.
    For a run of hours it is allowed once: the ends of consecutive hours cancel, so a
    misalignment cannot bias hour after hour.
    """
    b = 21.0 - o2_ref
    shift = th.get("zs_mismatch", "shift_minutes") * b * (khi - klo) * (1 + lost)
    return shift.fill_null(0.0)


def _rounding_allowance(z: ir.FloatingValue, zz: ir.FloatingValue, n: ir.IntegerValue,
                        step: ir.FloatingValue, th: Thresholds) -> ir.FloatingValue:
    """How far the logger's rounding alone can take ``Σ Zs`` of ``n`` minutes from ``Σ own``.

    ``z``/``zz`` are Σ Zs and Σ Zs² of the minutes, ``step`` the logger's rounding. Where
    the Zs of the minutes spread by at least ``zs_mismatch.spread_steps`` steps (standard
    deviation), the rounding errors are taken as independent and uniform on ±step/2
    (Sheppard: a value spread over more than a step falls anywhere within its rounding
    step), so their sum has standard deviation ``step × √(n/12)``: the allowance is
    ``zs_mismatch.rounding_sigmas`` of those. A channel spread less (all minutes round the
    same way) keeps the worst case, ``rounding_share × step × n`` (half a step per minute,
    GB/T 8170). The smaller of the two is used.
    """
    worst = th.get("zs_mismatch", "rounding_share") * step * n
    spread = th.get("zs_mismatch", "spread_steps") * step
    # (n − 1) × variance of the minutes' Zs against (n − 1) × spread²
    spread_out = (zz - z * z / n) >= spread * spread * (n - 1)
    stat = th.get("zs_mismatch", "rounding_sigmas") * step * (n / 12.0).sqrt()
    return ibis.ifelse(spread_out & (stat < worst), stat, worst)


def _beyond_rounding(t: ir.Table, tol: ir.Value, th: Thresholds) -> ir.Table:
    """Keep the minutes of ``t`` whose difference also exceeds the logger's Zs rounding.

    The step of a (mn, pollutant) is the coarsest of 1, 0.1, 0.01 mg/m³ that every Zs of
    ``t`` (the minutes already beyond ``tol``) is a multiple of, else 0.001 (HJ 212-2017
    values carry at most 3 decimals). Only minutes beyond ``tol`` enter, so the screened and
    the full path of :mod:`~lantian.engine.quality.suspects` see the same set.
    """
    eps = 1e-6
    on = [((t.zs - t.zs.round(d)).abs() <= eps).all().name(f"_z{d}") for d in (0, 1, 2)]
    st = t.group_by(["mn", "pollutant"]).aggregate(on)
    st = st.select(_smn=st.mn, _spol=st.pollutant,
                   _step=ibis.ifelse(st._z0, 1.0, ibis.ifelse(st._z1, 0.1,
                                                              ibis.ifelse(st._z2, 0.01, 0.001))))
    j = t.mutate(_tol=tol)
    j = j.inner_join(st, [j.mn == st._smn, j.pollutant == st._spol]).drop("_smn", "_spol")
    share = th.get("zs_mismatch", "rounding_share")
    return j.filter((j.zs - j.own).abs() > j._tol + share * j._step).drop("_tol", "_step")
