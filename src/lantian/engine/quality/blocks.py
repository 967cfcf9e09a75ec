"""One scan of the minutes for every block-level frame of ``lantian qc``.

:func:`minute_blocks` reads the wide minute rows once and keeps one row per point and
aligned block of minutes (30 minutes with the default thresholds; the block divides both the
clock hour and ``constant``'s block) with plain aggregates. Everything the detectors need
per hour or per block is derived from that small table instead of a scan of its own:

* :func:`block_hours` — the engine's valid hours (HJ 75-2017: mean of the ≥ 45 valid minutes
  of the clock hour, :func:`lantian.engine.hours.valid_hours`) of the pollutants and O2, and
  ``flow_raw``, from the blocks' sums and counts;
* :func:`frozen_blocks` — ``constant``'s fully counted and frozen blocks per channel,
  with the running state of every minute of the block decided from the block's smallest flow
  and its declared-stop minutes (no join of the minutes with the reference flow);
* :func:`suspect_blocks` — the blocks that can hold a minute any of ``zero``,
  ``over_range``, ``zs_mismatch``, ``flag_abuse`` or ``false_stop`` keeps, told from
  per-flag partials (a block whose only flags are S, B, a 15-minute calibration or a
  declared real stop is not read again);
* ``missing`` from the blocks' minute counts and first/last minutes
  (:func:`lantian.engine.quality.records.missing_from_blocks`).

No function executes anything. Times are China Standard Time wall-clock; ``ts`` is the
period start (HJ 212-2017 §6.6); ``block`` is ``epoch_seconds(ts) // block_s`` of the
naive CST timestamp, so blocks are aligned to the clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from lantian.engine.hours import block_partials, column_of
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["block_hours", "block_seconds", "decimals_step", "frozen_blocks", "minute_blocks",
           "reading_decimals", "suspect_blocks"]

_RATIO_EPS = 1e-9  # relative widening of the Zs ratio band (float rounding; superset)


def constant_block_seconds(th: Thresholds) -> int:
    """``constant``'s aligned block [s]: any run of ``min_minutes`` covers a whole one."""
    return 60 * max(1, (int(th.get("constant", "min_minutes")) + 1) // 2)


def block_seconds(th: Thresholds) -> int:
    """Return the length of the scan's blocks [s].

    The greatest common divisor of the clock hour and ``constant``'s block
    (:func:`constant_block_seconds`), so both are whole numbers of blocks.
    """
    return 60 * math.gcd(60, constant_block_seconds(th) // 60)


def reading_decimals(v: ir.FloatingValue) -> ir.IntegerValue:
    """Return the decimals of a reading: 0, 1 or 2 where it is a multiple of 1, 0.1 or 0.01, else 3.

    HJ 212-2017 values carry at most 3 decimals: the reading in thousandths is an integer
    (one rounding per reading; its remainders modulo 1000, 100 and 10 tell the decimals).
    """
    m = (v * 1000.0).round().cast("int64")
    return ibis.cases((m % 1000 == 0, 0), (m % 100 == 0, 1), (m % 10 == 0, 2), else_=3)


def decimals_step(d: ir.IntegerValue) -> ir.FloatingValue:
    """Return the rounding step [unit of the value] of readings with ``d`` decimals (0–3).

    1, 0.1, 0.01 or 0.001 for ``d`` = 0, 1, 2 or 3 (:func:`reading_decimals`); null otherwise.
    """
    return ibis.cases((d == 0, 1.0), (d == 1, 0.1), (d == 2, 0.01), (d == 3, 0.001),
                      else_=ibis.null("float64"))


def _valid(t: ir.Table, key: str) -> ir.Value:
    """Return the minute value where it is valid (flag ``N`` or no flag, HJ 212-2017 §6.6.4)."""
    value = t[column_of(key)].cast("float64")
    flag = f"{key}_flag"
    if flag not in t.columns:
        return value
    # the same form as valid_hours: null flag compares null and keeps the value
    return ibis.cases((t[flag] != "N", ibis.null("float64")), else_=value)


def minute_blocks(minute: ir.Table, keys: Sequence[str], th: Thresholds,
                  engine_keys: Sequence[str] | None = None) -> ir.Table:
    """Aggregate wide minute rows into one row per (mn, block) of :func:`block_seconds`.

    Parameters
    ----------
    minute
        Wide minute rows (``flue_minute`` layout): ``mn``, ``ts`` [CST minute start], the
        value columns of ``keys``, ``o2_pct`` [%], ``flow_m3_s`` [logger unit], their flags
        and any other ``*_flag`` columns (every flag counts for the declared state), and
        ``<k>_zs`` [mg/m³] where sent.
    keys
        Pollutant keys screened (glossary keys).
    th
        Thresholds (``zs_mismatch.o2_max_pct``).
    engine_keys
        With the pollutant keys of the engine's assessment
        (:func:`lantian.engine.assess.month_keys`), the same scan also keeps the engine's
        per-block partials (:func:`lantian.engine.hours.block_partials`: ``fm``, ``p_k``,
        ``zs_s_k``, ``zs_n_k`` and ``s_k``/``n_k`` of those keys and temperature), so the
        engine's valid hours come from this table
        (:func:`lantian.engine.hours.hours_from_blocks`) and the month's minutes are read
        once for both; ``minute`` must then hold the columns ``valid_hours`` reads.

    Returns
    -------
    ibis.Table
        ``mn``, ``block`` (int), ``n`` (rows), ``t0``/``t1`` (first/last minute),
        ``fs``/``fn``/``fmin`` (sum, count and smallest of every flow reading), ``nd``
        (minutes without flow with an ``F`` flag), ``fxf`` (largest flow of the minutes with
        an ``F`` flag), ``fmf`` (smallest flow of the minutes without one); per
        channel ``k`` of ``keys`` + ``o2`` + ``flow``: ``s_k``, ``n_k``,
        ``lo_k``, ``hi_k`` (sum, count, smallest and largest valid value); per pollutant
        ``dx_k``, the largest absolute change of the valid value between a minute row of the
        block and the point's row before it (``spike``'s one-minute step scale), and,
        where ``<k>_zs`` is sent, ``rlo_k``/``rhi_k``, the range of ``Zs × (21 − O2) / C`` over
        the valid minutes with ``C`` > 0 and O2 below ``zs_mismatch.o2_max_pct``,
        ``zq_k``/``zz_k``/``cq_k``/``zn_k``/``zd_k`` of :func:`_zs_sums` over the same minutes, and
        ``xhi_k`` / ``nb_k`` of :func:`_flag_partials` (largest value of any flag, ``T`` as
        +inf; values flagged M/C/D).

    """
    flow = column_of("flow")
    o2 = column_of("o2")
    bs = block_seconds(th)
    any_f: ir.BooleanValue = ibis.literal(False)
    for c in (c for c in minute.columns if c.endswith("_flag")):
        any_f = any_f | (minute[c] == "F")
    # the declared stop (any F flag) once per row, projected: three aggregates filter on it
    m = minute.mutate(block=minute.ts.epoch_seconds() // bs, _f=any_f.fill_null(False))
    stream = bool(keys) and _streams(minute)
    if stream:  # spike's steps in this scan: each row beside the row before it (_scan_steps)
        m = m.mutate(_p=ibis.struct({"m": m.mn, "t": m.ts, **{
            k: _valid(m, k) for k in keys}}).lag().over(ibis.window()))
    fv = m[flow].cast("float64")
    # the engine's partials first: the names both use (t0, n, fs, fn, s_k, n_k) are the same
    # expressions and are overwritten by the ones below
    aggs: dict[str, ir.Value] = {} if engine_keys is None else block_partials(m, engine_keys)
    aggs |= {
        "n": m.count(), "t0": m.ts.min(), "t1": m.ts.max(),
        "fs": fv.sum(), "fn": fv.count(), "fmin": fv.min(),
        # FILTER clauses: the flag tests run only on the rows the first condition keeps
        "nd": m.count(where=fv.isnull() & m._f),
        # false_stop's two kinds of minute (suspects.py): declared stopped (an F flag) and
        # declared running (no F; a superset of "flags, none F"): the flow decides which
        # of them can mismatch
        "fxf": fv.max(where=m._f),
        "fmf": fv.min(where=~m._f),
    }
    o2v = m[o2].cast("float64")
    o2_max = th.get("zs_mismatch", "o2_max_pct")
    order = ["mn", "block"]  # the output's columns: each dx_k after its hi_k
    for k in [*keys, "o2", "flow"]:
        v = _valid(m, k)
        if k != "flow":
            aggs[f"s_{k}"] = v.sum()
        aggs[f"n_{k}"] = v.count()
        aggs[f"lo_{k}"] = v.min()
        aggs[f"hi_{k}"] = v.max()
        if k in ("o2", "flow"):
            continue
        order += [c for c in aggs if c not in order] + [f"dx_{k}"]
        aggs |= _flag_partials(m, k)
        if f"{k}_zs" not in m.columns:
            continue  # no Zs sent: nothing for zs_mismatch
        zs = m[f"{k}_zs"].cast("float64")
        cmp = (v > 0) & (o2v < o2_max)
        r = ibis.cases((cmp, zs * (21.0 - o2v) / v), else_=ibis.null("float64"))
        aggs[f"rlo_{k}"] = r.min()
        aggs[f"rhi_{k}"] = r.max()
        # the sums need no C > 0: a mean over hours is compared, not a ratio per minute
        aggs |= _zs_sums(zs, v, o2v, v.notnull() & (o2v < o2_max) & zs.notnull(), k)
    order += [c for c in aggs if c not in order]
    if stream:
        return _scan_steps(m, aggs, keys, bs, minute).select(*order)
    # elsewhere the steps come from their own narrow window (_step_maxima), joined on
    # (mn, block)
    b = m.group_by(["mn", "block"]).aggregate(**aggs)
    if not keys:
        return b.select(*order)
    dx = _step_maxima(minute, keys, bs)
    j = b.left_join(dx, [b.mn == dx._smn, b.block == dx._sb]).drop("_smn", "_sb")
    return j.select(*order)


def _streams(t: ir.Table) -> bool:
    """Whether ``t`` is read by DuckDB (its tables' backend), where a lag without an order streams.

    DuckDB evaluates ``lag(x) OVER ()`` with its streaming window: each row beside the row
    before it in the scan, nothing held, no sort. Other engines (Spark needs an ordered
    window for ``lag``), and expressions on in-memory tables only, take the sorted window.
    Ibis 12 has no public call for an expression's backend (``_find_backends`` is private).
    """
    backends, _ = t._find_backends()
    return bool(backends) and all(getattr(b, "name", "") == "duckdb" for b in backends)


def _scan_steps(m: ir.Table, aggs: dict[str, ir.Value], keys: Sequence[str], bs: int,
                minute: ir.Table) -> ir.Table:
    """Aggregate the blocks with ``dx_<k>`` from the scan order, checked point by point.

    ``m._p`` is the row before in the scan (DuckDB's streaming ``lag``: no sort, nothing
    held). It is the point's previous row when it is the same point's and earlier; a row
    so linked gets its step, as :func:`_step_maxima`'s lag would give it. A point whose
    rows are one run in time order in the scan (the lake's per-point files in time order)
    has exactly ``n − 1`` links (every row but its first): then every row's previous row
    in the scan is its previous row in time, and its steps are exact. A point with another
    count (rows out of order, split, or two in one minute) takes its steps from
    :func:`_step_maxima` over its own rows, so the result never depends on the scan order,
    only the time it takes does.
    """
    link = ((m._p.m == m.mn) & (m._p.t < m.ts)).fill_null(False)
    steps = {f"dx_{k}": ibis.cases((link, (_valid(m, k) - m._p[k]).abs()),
                                   else_=ibis.null("float64")).max() for k in keys}
    b = m.group_by(["mn", "block"]).aggregate(**aggs, **steps, _nl=m.count(where=link))
    odd = _unlinked_points(b)
    rest = minute.semi_join(odd, minute.mn == odd._smn)
    dx = _step_maxima(rest, keys, bs).rename(**{f"_x_{k}": f"dx_{k}" for k in keys})
    j = b.left_join(dx, [b.mn == dx._smn, b.block == dx._sb])
    return j.mutate(**{f"dx_{k}": ibis.ifelse(j._smn.isnull(), j[f"dx_{k}"], j[f"_x_{k}"])
                       for k in keys})


def _step_maxima(minute: ir.Table, keys: Sequence[str], bs: int) -> ir.Table:
    """``dx_<k>`` per (``_smn``, ``_sb``) block of ``bs`` seconds: spike's one-minute steps.

    Each pollutant's valid value less the point's previous minute row's (null after an
    invalid or absent value; qcspike11), its largest absolute value per block, joined to
    the block scan on (mn, block). A window operator holds its whole input: over the wide
    minute rows of the block scan (every value and flag column) it ran the 500-point monthly
    job out of DuckDB's memory (session 12), so the lag runs over a narrow projection (mn,
    ts, one valid value per key). It is partitioned by a 64-bit hash of ``mn`` and ordered
    by (mn, ts): DuckDB 2.0 did not spill a window partitioned by the text ``mn`` (out of
    memory at 600 MB for 500 points; with the integer key it spilled and ran), and a row
    whose previous row in that order is another point's (a hash collision, or the point's
    first row) gets no step, so the steps are exactly a lag over each point's rows.
    """
    n = minute.select("mn", "ts", _h=minute.mn.hash(),
                      **{f"_v_{k}": _valid(minute, k) for k in keys})
    w = ibis.window(group_by="_h", order_by=["mn", "ts"])
    same = n.mn.lag().over(w) == n.mn  # the row before is the same point's (not a collision)
    d = n.mutate(**{f"_d_{k}": ibis.cases(
        (same, (n[f"_v_{k}"] - n[f"_v_{k}"].lag().over(w)).abs()),
        else_=ibis.null("float64")) for k in keys})
    return d.group_by(_smn=d.mn, _sb=d.ts.epoch_seconds() // bs).aggregate(
        **{f"dx_{k}": d[f"_d_{k}"].max() for k in keys})


def _unlinked_points(b: ir.Table) -> ir.Table:
    """``_smn`` of the points of :func:`_scan_steps`' blocks whose rows are not one time run.

    ``b`` holds per block ``n`` (rows) and ``_nl`` (rows linked to the row before them in
    the scan); a point is one run in time order exactly when its rows less its links are 1.
    """
    per = b.group_by(_smn=b.mn).aggregate(_gap=b.n.sum() - b._nl.sum())
    return per.filter(per._gap != 1).select("_smn")


def _zs_sums(zs: ir.FloatingValue, v: ir.FloatingValue, o2v: ir.FloatingValue,
             cmp: ir.BooleanValue, key: str) -> dict[str, ir.Value]:
    """``zq_<k>``, ``zz_<k>``, ``cq_<k>``, ``zn_<k>``, ``zd_<k>``: mean-bias partials.

    Over the compared minutes ``cmp`` (valid ``C``, O2 below ``zs_mismatch.o2_max_pct``,
    ``Zs`` sent): Σ Zs [mg/m³], Σ Zs² [(mg/m³)², the spread of the hour's Zs], Σ C /
    (21 − O2) [mg/m³ per % O2; × (21 − O2_ref) it is the platform's own Σ of the HJ 75-2017
    correction], their count, and the most decimals any Zs carries (0, 1, 2, else 3: HJ
    212-2017 sends at most 3), so the logger's rounding step is known
    (:func:`~lantian.engine.quality.process.zs_mean_bias`).
    """
    dec = reading_decimals(zs)
    # null outside the compared minutes (one CASE each, no FILTER clause per aggregate)
    zc = ibis.cases((cmp, zs), else_=ibis.null("float64"))
    return {f"zq_{key}": zc.sum(), f"zz_{key}": (zc * zc).sum(),
            f"cq_{key}": ibis.cases((cmp, v / (21.0 - o2v))).sum(),
            f"zn_{key}": zc.count(), f"zd_{key}": ibis.cases((cmp, dec)).max()}


def _flag_partials(m: ir.Table, key: str) -> dict[str, ir.Value]:
    """``xhi_<k>`` (largest value, any flag; ``T`` read as +inf) and ``nb_<k>`` (M/C/D values).

    What ``over_range`` (a value above the range or a ``T`` flag) and ``flag_abuse`` (more
    than 60 − 45 M/C/D minutes in a clock hour) can keep of the block, whatever the flags.
    """
    from lantian.engine.quality.conduct import _INVALID  # flag_abuse's M/C/D

    flag = f"{key}_flag"
    raw = m[column_of(key)].cast("float64")
    if flag not in m.columns:  # no flag sent: every value is valid, none flagged
        return {f"xhi_{key}": raw.max()}
    hi = ibis.cases((m[flag] == "T", ibis.literal(math.inf, "float64")), else_=raw)
    return {f"xhi_{key}": hi.max(),
            f"nb_{key}": m.count(where=m[flag].isin(_INVALID) & raw.notnull()).cast(
                "int32")}


def block_hours(blocks: ir.Table, keys: Sequence[str], th: Thresholds,
                min_valid_minutes: int | None = None) -> ir.Table:
    """Aggregate the valid hours of ``keys`` and O2, and ``flow_raw``, from :func:`minute_blocks`.

    The same values as :func:`lantian.engine.hours.valid_hours` (columns ``mn``, ``ts`` =
    hour start [CST], ``flow_raw`` [logger unit, mean of every flow reading], and per key
    the mean of the valid minutes in its wide column [mg/m³ or %] and ``<k>_valid``: at
    least ``min_valid_minutes`` valid minutes, default 45 from the catalogue, HJ 75-2017),
    up to the order of floating-point additions.
    """
    from lantian.catalog.rules import rule

    need = int(min_valid_minutes if min_valid_minutes is not None else rule("min_valid_minutes"))
    b = blocks
    hour = b.t0.truncate("h")  # a block lies inside one clock hour
    aggs: dict[str, ir.Value] = {"_fs": b.fs.sum(), "_fn": b.fn.sum()}
    for k in [*keys, "o2"]:
        aggs[f"_s_{k}"] = b[f"s_{k}"].sum()
        aggs[f"_n_{k}"] = b[f"n_{k}"].sum()
    h = b.group_by(mn=b.mn, _h=hour).aggregate(**aggs)
    cols: dict[str, ir.Value] = {
        "ts": h._h,
        "flow_raw": ibis.ifelse(h._fn > 0, h._fs / h._fn, ibis.null("float64")),
    }
    for k in [*keys, "o2"]:
        n = h[f"_n_{k}"]
        cols[column_of(k)] = ibis.ifelse(n > 0, h[f"_s_{k}"] / n, ibis.null("float64"))
        cols[f"{k}_valid"] = n >= need
    return h.select("mn", **cols)


def _fully_running(blocks: ir.Table, ref: ir.Table, th: Thresholds) -> ir.Table:
    """Join the reference flow and add ``_thr`` and ``_allrun`` (every minute running).

    A minute runs when its flow is at least ``running.flow_fraction`` × the point's
    reference flow, or, without a flow reading (or reference), when no flag is ``F``
    (:func:`~lantian.engine.quality.frames.running_minutes`). So every minute of a block
    runs exactly when its smallest flow reaches the threshold (or it has none) and no minute
    without flow has an ``F`` flag.
    """
    r = ref.select(_rmn=ref.mn, _p90=ref._flow_p90)
    j = blocks.left_join(r, blocks.mn == r._rmn).drop("_rmn")
    thr = j._p90 * th.get("running", "flow_fraction")
    allrun = (j.fmin.isnull() | thr.isnull() | (j.fmin >= thr)).fill_null(False) & (j.nd == 0)
    return j.mutate(_thr=thr, _allrun=allrun)


def frozen_blocks(blocks: ir.Table, ref: ir.Table, keys: Sequence[str],
                  th: Thresholds) -> ir.Table:
    """``constant``'s blocks: per (mn, block) and channel ``i`` of ``keys`` three booleans.

    ``u<i>``: every minute of the block counts (running, flag ``N``, value above
    ``constant.min_level``); ``z<i>``: it counts and holds one value after rounding to
    ``constant.decimals`` (rounding is monotone, so the rounded smallest and largest values
    are the smallest and largest rounded ones); ``g<i>``: as ``z<i>`` but with at most
    ``constant.gap_minutes`` of its minutes absent (lost packets do not end a freeze; a
    superset for the prefilter, the long form judges the run). ``block`` is numbered in
    :func:`constant_block_seconds` units. ``ref`` is the per-point reference flow
    (mn, ``_flow_p90``).
    """
    dec = int(th.get("constant", "decimals"))
    lo_level = th.get("constant", "min_level")
    cb = constant_block_seconds(th)
    per = cb // block_seconds(th)
    j = _fully_running(blocks, ref, th)
    if per > 1:  # several scan blocks per constant block: combine them
        aggs: dict[str, ir.Value] = {"_allrun": j._allrun.cast("int64").min()}
        for k in keys:
            aggs[f"n_{k}"] = j[f"n_{k}"].sum()
            aggs[f"lo_{k}"] = j[f"lo_{k}"].min()
            aggs[f"hi_{k}"] = j[f"hi_{k}"].max()
        j = j.group_by(mn=j.mn, block=j.block // per).aggregate(**aggs)
        j = j.mutate(_allrun=j._allrun == 1)
    gap = int(th.get("constant", "gap_minutes"))
    out: dict[str, ir.Value] = {}
    for i, k in enumerate(keys):
        level = j[f"lo_{k}"] > lo_level
        one = j[f"lo_{k}"].round(dec) == j[f"hi_{k}"].round(dec)
        full = j._allrun & (j[f"n_{k}"] == cb // 60) & level
        out[f"u{i}"] = full.fill_null(False)
        out[f"z{i}"] = (full & one).fill_null(False)
        # frozen with at most `gap` minutes lost: a lost packet does not end a freeze
        out[f"g{i}"] = (j._allrun & (j[f"n_{k}"] >= cb // 60 - gap) & level & one).fill_null(
            False)
    return j.select("mn", "block", **out)


def suspect_blocks(blocks: ir.Table, ref: ir.Table, keys: Sequence[str], *,
                   limits: ir.Table, ranges: ir.Table, th: Thresholds) -> ir.Table:
    """(mn, block) of the blocks that can hold a suspect minute (a superset).

    A block is kept when a minute of it can meet a first filter of ``zero``,
    ``over_range``, ``zs_mismatch``, ``flag_abuse`` or ``false_stop``
    (:mod:`~lantian.engine.quality.suspects`), told from the block's partials
    (:func:`minute_blocks`):

    * ``zero``: a valid value ≤ 0 of a pollutant or O2 (``lo_k``);
    * ``over_range``: a value of any flag above the point's smallest analyser range, or a
      ``T`` flag (``xhi_k``);
    * ``flag_abuse``: the clock hour holds more than 60 − ``min_valid_minutes`` (HJ 75-2017)
      values flagged M/C/D (``nb_k`` summed over the hour's blocks: the detector keeps only
      such hours, so a daily 15-minute calibration alone never needs its minutes);
    * ``false_stop``: an ``F`` minute whose flow reaches the running threshold (``fxf``) or
      a minute without ``F`` whose flow is below it (``fmf``); a minute without flow runs
      as declared and never mismatches;
    * ``zs_mismatch``: a ``Zs`` whose ratio to the platform's correction
      ``C × (21 − O2_ref)/(21 − O2)`` (HJ 75-2017) leaves ``1 ± zs_mismatch.rel_tol``
      (necessary for ``|Zs − own| > max(abs_tol, rel_tol × own)`` when ``own`` > 0), where
      the reference O2 is known.

    Flags S, B or a lone calibration make no block suspect (session 7; before, any flag
    other than ``N`` did).
    """
    from lantian.catalog.rules import rule
    from lantian.engine.quality.suspects import per_point_ranges

    rel = th.get("zs_mismatch", "rel_tol")
    j = _fully_running(blocks, ref, th)
    pp = per_point_ranges(keys, limits, ranges)
    j = j.left_join(pp, j.mn == pp._pmn).drop("_pmn")
    cond = ((j.fxf >= j._thr) | (j.fmf < j._thr)).fill_null(False)
    for k in [*keys, "o2"]:
        cond = cond | (j[f"lo_{k}"] <= 0).fill_null(False)
    for k in keys:
        cond = cond | (j[f"xhi_{k}"] > j[f"_rng_{k}"]).fill_null(False)
        if f"rlo_{k}" not in j.columns:
            continue
        base = 21.0 - j[f"_ref_{k}"]
        lo_edge = base * (1 - rel) * (1 - _RATIO_EPS)
        hi_edge = base * (1 + rel) * (1 + _RATIO_EPS)
        cond = cond | ((j[f"rlo_{k}"] < lo_edge) | (j[f"rhi_{k}"] > hi_edge)).fill_null(False)
    out = j.filter(cond).select("mn", "block")
    nbs = [f"nb_{k}" for k in keys if f"nb_{k}" in blocks.columns]
    if not nbs:
        return out
    per = 3600 // block_seconds(th)  # blocks per clock hour
    most = 60 - int(rule("min_valid_minutes"))  # flag_abuse: an hour needs more flagged
    b = blocks.filter(ibis.or_(*[blocks[c] > 0 for c in nbs]))
    h = b.group_by(mn=b.mn, _h=b.block // per).aggregate(**{c: b[c].sum() for c in nbs})
    h = h.filter(ibis.or_(*[h[c] > most for c in nbs]))
    parts = [h.select(mn=h.mn, block=h._h * per + i) for i in range(per)]
    # one schema for the union: a key column may be NOT NULL on one side only
    same = ibis.schema({"mn": "string", "block": "int64"})
    return ibis.union(*[t.cast(same) for t in (out, *parts)], distinct=True)
