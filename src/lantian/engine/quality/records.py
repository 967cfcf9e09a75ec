"""Detectors on what was (not) received: ``missing`` data and ``calibration_change``.

``missing``: minute packets expected every minute from a point that sends minute data
(HJ 212-2017 CN=2051); points that send no minute data in the month are not expected to.
``calibration_change``: analyser parameters (HJ 212-2017 B.10: ``i13001`` range, ``i13007``
intercept, ``i13008`` slope) that changed without a maintenance or calibration record of the
O&M contractor around the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from lantian.engine.quality.frames import event_table, evidence
from lantian.engine.quality.thresholds import Thresholds

__all__ = [
    "CALIBRATION_CODES", "calibration_change", "missing", "missing_from_blocks",
    "parameter_changes", "read_side_tables", "transmission_rates",
]

#: HJ 212-2017 Table B.10 instrument parameters watched for changes.
CALIBRATION_CODES: dict[str, str] = {"i13001": "range", "i13007": "intercept", "i13008": "slope"}


def transmission_rates(minute: ir.Table) -> ir.Table:
    """Share of expected minute packets received per (mn, day) [0..1] (day = CST date)."""
    t = minute.mutate(day=_.ts.truncate("D"))
    return t.group_by(["mn", "day"]).aggregate(received=t.count()).mutate(
        rate=_.received / 1440.0)


def missing(minute: ir.Table, start: dt.datetime, end: dt.datetime,
            th: Thresholds, *, by_hours: bool = False) -> ir.Table:
    """Gaps between minute packets longer than ``missing.gap_minutes``.

    ``start``/``end`` bound the month (CST, end exclusive); gaps at the month's start and end
    count too; a month still in progress ends at the newest minute received. Severity
    ``high`` from ``missing.high_minutes``, else ``medium``. Evidence: gap length and the
    month's transmission rate of the point.

    ``by_hours`` gives the same events without ordering every minute: per-hour counts (one
    hash aggregation) mark the hours that cannot border a gap (full, with full neighbours)
    and only the other minutes are ordered. It assumes minute-aligned ``ts`` (CN=2051
    DataTime), as the wide minute table holds.
    """
    w = ibis.window(group_by="mn", order_by="ts")
    n_per = None
    if by_hours:
        # Only minutes of hours that are not full, or next to an absent or not-full hour, can
        # border a gap; the others ("inner" hours) are skipped. A lag across skipped hours is
        # recognised by the skipped hour right after its first minute and dropped.
        hc = minute.group_by(["mn", minute.ts.truncate("h").name("hour")]).aggregate(
            n=_.count())
        wh = ibis.window(group_by="mn", order_by="hour")
        one = ibis.interval(hours=1)
        hc = hc.mutate(full=hc.n == 60, pf=(hc.n == 60).lag().over(wh),
                       ph=hc.hour.lag().over(wh), nf=(hc.n == 60).lead().over(wh),
                       nh=hc.hour.lead().over(wh))
        inner_h = (hc.full & (hc.ph == hc.hour - one).fill_null(False) & hc.pf.fill_null(False)
                   & (hc.nh == hc.hour + one).fill_null(False) & hc.nf.fill_null(False))
        skip = hc.filter(inner_h).select(_smn=hc.mn, _sh=hc.hour)
        n_per = hc.group_by("mn").aggregate(n=hc.n.sum())
        days = hc.group_by(["mn", hc.hour.truncate("D").name("day")]).aggregate(n=hc.n.sum())
        src = minute.select("mn", "ts").mutate(_h=_.ts.truncate("h"))
        src = src.anti_join(skip, [src.mn == skip._smn, src._h == skip._sh]).drop("_h")
    else:
        src = minute.select("mn", "ts")
        days = src.group_by(["mn", src.ts.truncate("D").name("day")]).aggregate(n=_.count())
    t = src.mutate(e=_.ts.epoch_seconds())
    t = t.mutate(pe=t.e.lag().over(w), pts=t.ts.lag().over(w))
    t = t.filter((t.e - t.pe) > 60)
    if by_hours:
        t = t.mutate(_nh=t.pts.truncate("h") + ibis.interval(hours=1))
        t = t.anti_join(skip, [t.mn == skip._smn, t._nh == skip._sh]).drop("_nh")
    inner = t.select(
        "mn", gap_start=t.pts + ibis.interval(minutes=1),
        gap_end=t.ts - ibis.interval(minutes=1), minutes=((t.e - t.pe) // 60 - 1))
    per = src.group_by("mn").aggregate(first=_.ts.min(), last=_.ts.max(), n=_.count())
    if n_per is not None:
        per = per.drop("n").inner_join(n_per, "mn")
    return _gap_events(inner, per, src.ts.max().as_scalar(), start, end, th, days=days)


def missing_from_blocks(blocks: ir.Table, start: dt.datetime, end: dt.datetime,
                        th: Thresholds, block_minutes: int) -> ir.Table | None:
    """Find the events of :func:`missing` from per-block minute counts, without the minutes.

    ``blocks`` has one row per (mn, block) of ``block_minutes`` aligned minutes that hold a
    minute row: ``n`` (rows), ``t0``/``t1`` (first and last minute, CST)
    (:func:`lantian.engine.quality.blocks.minute_blocks`). Two minutes of one block are at
    most ``block_minutes − 2`` missing minutes apart, so when that is not above
    ``missing.gap_minutes`` every reportable gap lies between the last minute of a block and
    the first minute of the next block holding data, or at the month's ends: exactly the
    events of :func:`missing`. Returns ``None`` when the blocks are too long for that (then
    use :func:`missing`).
    """
    if block_minutes - 2 > th.get("missing", "gap_minutes"):
        return None
    w = ibis.window(group_by="mn", order_by="t0")
    t = blocks.select("mn", "t0", "t1", "n")
    t = t.mutate(pts=t.t1.lag().over(w))
    t = t.mutate(e=t.t0.epoch_seconds(), pe=t.pts.epoch_seconds())
    t = t.filter((t.e - t.pe) > 60)
    inner = t.select(
        "mn", gap_start=t.pts + ibis.interval(minutes=1),
        gap_end=t.t0 - ibis.interval(minutes=1), minutes=((t.e - t.pe) // 60 - 1))
    per = blocks.group_by("mn").aggregate(first=_.t0.min(), last=_.t1.max(), n=_.n.sum())
    # aligned blocks of whole minutes never cross midnight when they divide a day
    days = None
    if 1440 % block_minutes == 0:
        days = blocks.group_by(["mn", blocks.t0.truncate("D").name("day")]).aggregate(
            n=_.n.sum())
    return _gap_events(inner, per, blocks.t1.max().as_scalar(), start, end, th, days=days)


def _gap_events(inner: ir.Table, per: ir.Table, newest_minute: ir.Value, start: dt.datetime,
                end: dt.datetime, th: Thresholds, days: ir.Table | None = None) -> ir.Table:
    """Build ``missing`` events of the inner gaps and the month's head and tail gaps.

    ``per`` has (mn, first, last, n) per point (n: minutes received, for the transmission
    rate); the month ends at ``end`` or one minute after the newest minute any point sent
    (a month in progress). ``days`` (mn, day, n: minute packets received in each calendar
    day, CST, that has at least one) adds the daily transmission rate (issue 4: "transmission
    rate per day"): a day of the month whose share of the expected minute packets (every
    minute of the day up to the month's end) is below ``missing.day_rate_min`` is an event
    (``medium``) even when no single gap is longer than ``missing.gap_minutes`` — packets lost
    intermittently all day.
    """
    s_lit = ibis.literal(start).cast("timestamp")
    e_lit = ibis.least(ibis.literal(end).cast("timestamp"),
                       newest_minute + ibis.interval(minutes=1))
    head = per.select("mn", gap_start=s_lit, gap_end=per.first - ibis.interval(minutes=1),
                      minutes=(per.first.epoch_seconds() - s_lit.epoch_seconds()) // 60)
    tail = per.select("mn", gap_start=per.last + ibis.interval(minutes=1),
                      gap_end=e_lit - ibis.interval(minutes=1),
                      minutes=(e_lit.epoch_seconds() - per.last.epoch_seconds()) // 60 - 1)

    def _norm(x: ir.Table) -> ir.Table:
        return x.select(mn=x.mn.cast("string"), gap_start=x.gap_start.cast("timestamp"),
                        gap_end=x.gap_end.cast("timestamp"), minutes=x.minutes.cast("int64"))

    gaps = ibis.union(_norm(inner), _norm(head), _norm(tail), distinct=False)
    gaps = gaps.filter(gaps.minutes > th.get("missing", "gap_minutes"))
    gaps = gaps.inner_join(per.select("mn", n=per.n), "mn")
    rate = gaps.n / ((e_lit.epoch_seconds() - s_lit.epoch_seconds()) / 60.0)
    sev = ibis.ifelse(gaps.minutes >= th.get("missing", "high_minutes"), "high", "medium")
    ev = event_table(gaps, "missing", pollutant=None, start=gaps.gap_start, end=gaps.gap_end,
                     severity=sev, evid=evidence(minutes=gaps.minutes,
                                                 month_transmission_rate=rate))
    if days is None:
        return ev
    d = days.filter((days.day >= s_lit) & (days.day < e_lit))
    d_end = ibis.least(d.day + ibis.interval(days=1), e_lit)
    d = d.mutate(expected=(d_end.epoch_seconds() - d.day.epoch_seconds()) // 60,
                 day_last=d_end - ibis.interval(minutes=1))
    d = d.mutate(day_rate=d.n.cast("float64") / d.expected)
    d = d.filter(d.day_rate < th.get("missing", "day_rate_min"))
    dev = event_table(d, "missing", pollutant=None, start=d.day, end=d.day_last,
                      severity=ibis.literal("medium"),
                      evid=evidence(day_transmission_rate=d.day_rate, minutes_received=d.n,
                                    minutes_expected=d.expected))
    return ibis.union(ev, dev, distinct=False)


def parameter_changes(params: ir.Table, codes: Iterable[str], th: Thresholds) -> ir.Table:
    """Return the reports of ``codes`` that changed: ``params``' rows and ``prev`` before them.

    ``params`` has (mn, ts, code, num, text) — ``value_long`` rows, the pollutant code
    (PolId) in ``text``. A value changed when it differs from the previous report of the
    same (mn, code, PolId) by more than ``calibration_change.min_rel_change`` ×
    max(|previous|, 1). Used by :func:`calibration_change` and, for slope and intercept, by
    :func:`lantian.engine.quality.shifts.calibration_steps`.
    """
    p = params.filter(params.code.isin(list(codes)) & params.num.notnull())
    w = ibis.window(group_by=["mn", "code", "text"], order_by="ts")
    p = p.mutate(prev=p.num.lag().over(w))
    scale = ibis.greatest(p.prev.abs(), ibis.literal(1.0))
    return p.filter(p.prev.notnull()
                    & ((p.num - p.prev).abs()
                       > th.get("calibration_change", "min_rel_change") * scale))


def calibration_change(params: ir.Table, maintenance: ir.Table, start: dt.datetime,
                       end: dt.datetime, th: Thresholds) -> ir.Table:
    """Find changes of slope, intercept or range not covered by a maintenance record.

    ``params`` has (mn, ts, code, num, text) — ``value_long`` rows, the pollutant code
    (PolId) in ``text``; ``maintenance`` has (mn, start_ts, end_ts). A value differs from the
    previous report of the same (mn, code, PolId) by more than
    ``min_rel_change`` × max(|previous|, 1). It is covered when a record of the point starts
    or ends within ``record_window_h`` hours of it. Uncovered changes of slope or intercept
    are ``high``, of the range ``medium``.
    """
    ch = parameter_changes(params, CALIBRATION_CODES, th)
    ch = ch.filter((ch.ts >= ibis.literal(start).cast("timestamp"))
                   & (ch.ts < ibis.literal(end).cast("timestamp")))
    win = int(th.get("calibration_change", "record_window_h") * 3600)
    m = maintenance.select(_mmn=maintenance.mn, _ms=maintenance.start_ts.epoch_seconds(),
                           _me=maintenance.end_ts.epoch_seconds())
    ch = ch.mutate(e=ch.ts.epoch_seconds())
    covered = ch.inner_join(m, [ch.mn == m._mmn, ch.e >= m._ms - win, ch.e <= m._me + win])
    covered = covered.select("mn", "ts", "code", "text").distinct()
    cov = covered.select(_cmn=covered.mn, _cts=covered.ts, _ccode=covered.code,
                         _ctext=covered.text)
    un = ch.anti_join(cov, [ch.mn == cov._cmn, ch.ts == cov._cts, ch.code == cov._ccode,
                            ch.text == cov._ctext])
    pol = _pollutant_of(un.text)
    sev = ibis.ifelse(un.code == "i13001", "medium", "high")
    kind = ibis.cases(*[(un.code == c, n) for c, n in CALIBRATION_CODES.items()], else_="other")
    return event_table(un, "calibration_change", pollutant=pol, start=un.ts, end=un.ts,
                       severity=sev, evid=evidence(parameter=kind, code=un.code,
                                                   before=un.prev, after=un.num))


def _pollutant_of(code: ir.StringValue) -> ir.StringValue:
    """Glossary key of an HJ 212 pollutant code (2017 or 2005 dialect); the code if unknown."""
    from lantian.catalog.glossary import glossary

    cases = []
    for e in glossary():
        cases.append((code == e.code_2017, e.key))
    return ibis.cases(*cases, else_=code)


_SIDE_SQL = {
    # every earlier report is needed: a change is judged against the previous report
    "params": ("SELECT mn, ts, code, num, text FROM value_long WHERE field = 'Info' "
               "AND code IN ('i13001', 'i13007', 'i13008') AND ts < ? ORDER BY mn, ts",
               {"mn": "string", "ts": "datetime64[us]", "code": "string", "num": "float64",
                "text": "string"}),
    "maintenance": ("SELECT mn, start_ts, end_ts FROM maintenance_record "
                    "WHERE start_ts < ? ORDER BY mn, start_ts",
                    {"mn": "string", "start_ts": "datetime64[us]", "end_ts": "datetime64[us]"}),
    "marks": ("SELECT mn, kind, start_ts, end_ts FROM enterprise_mark "
              "WHERE start_ts < ? AND mn IS NOT NULL ORDER BY mn, start_ts",
              {"mn": "string", "kind": "string", "start_ts": "datetime64[us]",
               "end_ts": "datetime64[us]"}),
}


def read_side_tables(db: str | Path, month: str) -> dict[str, pd.DataFrame]:
    """Small side tables of the detectors from a DuckDB file, for engines without them.

    The Spark engine reads minute data from the Parquet lake, which holds no analyser
    parameters, O&M records or enterprise marks; ``calibration_change`` and the mark part of
    ``false_stop`` need them. Returns pandas frames ``params`` (mn, ts, code, num, text: the
    ``i13001``/``i13007``/``i13008`` Info rows of ``value_long`` before the month's end),
    ``maintenance`` (mn, start_ts, end_ts) and ``marks`` (mn, kind, start_ts, end_ts); a table
    the file lacks gives an empty frame. Times CST. The caller registers them on its backend
    (e.g. ``ibis.memtable``).
    """
    from lantian.engine.backends import month_bounds
    from lantian.store import db as store_db

    _start, end = month_bounds(month)
    empty = {n: pd.DataFrame({c: pd.Series(dtype=t) for c, t in sch.items()})
             for n, (_sql, sch) in _SIDE_SQL.items()}
    if not Path(db).exists():
        return empty
    out: dict[str, pd.DataFrame] = {}
    con = store_db.connect(db, read_only=True)
    try:
        for name, (sql, schema) in _SIDE_SQL.items():
            try:
                frame = con.execute(sql, [end]).df()
            except duckdb.CatalogException:
                frame = empty[name]
            out[name] = frame.astype(schema)
    finally:
        con.close()
    return out
