"""Frames the quality detectors share: running state, long minute frame, runs, events.

All functions take and return Ibis tables and never execute them. Times are China Standard
Time wall-clock; ``ts`` is the start of the minute or hour (HJ 212-2017 §6.6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
from ibis import _

from lantian.engine.hours import column_of
from lantian.engine.quality.thresholds import Thresholds

__all__ = [
    "EVENT_COLUMNS",
    "empty_events",
    "event_table",
    "evidence",
    "long_minutes",
    "reference_flow",
    "run_summary",
    "running_minutes",
    "runs",
]

EVENT_COLUMNS: tuple[str, ...] = (
    "detector", "mn", "pollutant", "start", "end", "severity", "evidence",
)
_EVENT_SCHEMA = ibis.schema({
    "detector": "string", "mn": "string", "pollutant": "string", "start": "timestamp",
    "end": "timestamp", "severity": "string", "evidence": "string",
})


def evidence(**fields: ir.Value | float | int | str | None) -> ir.StringValue:
    """Build a JSON object (as an Ibis string) of numbers and strings; nulls become ``null``.

    Numbers are rounded to 4 decimals for reading; they are evidence, not results.
    """
    parts: list[ir.StringValue] = []
    for i, (name, value) in enumerate(fields.items()):
        sep = "" if i == 0 else ", "
        key = ibis.literal(f'{sep}"{name}": ')
        if isinstance(value, ir.Value):
            if value.type().is_string():
                text = ibis.literal('"').concat(value, ibis.literal('"'))
            elif value.type().is_numeric():
                text = value.cast("float64").round(4).cast("string")
            else:
                text = ibis.literal('"').concat(value.cast("string"), ibis.literal('"'))
            parts.append(key.concat(text.fill_null("null")))
        elif value is None:
            parts.append(key.concat(ibis.literal("null")))
        elif isinstance(value, str):
            parts.append(key.concat(ibis.literal(f'"{value}"')))
        else:
            parts.append(key.concat(ibis.literal(str(round(float(value), 4)))))
    out = ibis.literal("{")
    for p in parts:
        out = out.concat(p)
    return out.concat(ibis.literal("}"))


def event_table(t: ir.Table, detector: str, *, pollutant: ir.Value | None,
                start: ir.Value, end: ir.Value, severity: ir.Value,
                evid: ir.StringValue) -> ir.Table:
    """Select the event columns (:data:`EVENT_COLUMNS`) from a detector's result."""
    return t.select(
        detector=ibis.literal(detector),
        mn=t.mn.cast("string"),
        pollutant=(pollutant if pollutant is not None else ibis.null("string")).cast("string"),
        start=start.cast("timestamp"),
        end=end.cast("timestamp"),
        severity=severity.cast("string"),
        evidence=evid,
    )


def empty_events() -> ir.Table:
    """Return an empty event table (schema of :data:`EVENT_COLUMNS`)."""
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in _EVENT_SCHEMA.names})
    return ibis.memtable(frame, schema=_EVENT_SCHEMA)


def reference_flow(minute: ir.Table) -> ir.Table:
    """Per point (mn, ``_flow_p90``): the month's p90 of the minute flow [logger unit].

    Approximate (t-digest, DuckDB ``approx_quantile``): bounded memory. The exact
    ``quantile_cont`` takes half the time on DuckDB 2.0 but holds every minute's flow until
    the end (216 M values at 5,000 points): it ran out of the 5 GB memory limit there.
    """
    return minute.group_by("mn").aggregate(
        _flow_p90=minute[column_of("flow")].approx_quantile(0.9))


def running_minutes(minute: ir.Table, th: Thresholds,
                    materialize: Callable[[ir.Table], ir.Table] | None = None,
                    ref: ir.Table | None = None) -> ir.Table:
    """Add ``running`` (bool): flow ≥ ``running.flow_fraction`` × the point's month p90 flow.

    Minutes without a flow reading fall back on the declared state (no ``F`` flag).

    Flow [logger unit] is compared only with the same point's own flow, so the unit does not
    matter. Flags are not used: the detectors compare declared state with physical state.
    ``materialize`` (e.g. ``lambda t: t.cache()``) keeps the small per-point reference flow, so
    the minute data are not copied into a common table expression to be read twice.
    ``ref`` (:func:`reference_flow` of every minute of the month) lets ``minute`` be a subset
    of the month's minutes; without it the reference is taken from ``minute`` itself.
    """
    flow = column_of("flow")
    if ref is None:
        ref = reference_flow(minute)
        if materialize is not None:
            ref = materialize(ref)
    frac = th.get("running", "flow_fraction")
    j = minute.inner_join(ref, "mn")
    # without a flow reading, fall back on the declared state (no F flag)
    declared = ibis.literal(True)
    for c in (c for c in minute.columns if c.endswith("_flag")):
        declared = declared & (j[c] != "F").fill_null(True)
    # the comparison is null exactly when the flow or its reference is missing; coalesce
    # evaluates the declared state only for those rows (an if-else costs it on every row)
    running = ibis.coalesce(j[flow] >= j._flow_p90 * frac, declared)
    return j.mutate(running=running).drop("_flow_p90")


def long_minutes(minute: ir.Table, keys: Sequence[str], *, with_zs: bool = False) -> ir.Table:
    """Stack one column per key into rows (mn, ts, running, o2, pollutant, value, flag[, zs]).

    ``minute`` must carry ``running`` (:func:`running_minutes`). Rows whose value is null are
    dropped. ``o2`` is the minute's measured O2 [%] (for corrections).
    """
    o2 = column_of("o2")
    parts = []
    for key in keys:
        col = column_of(key)
        flag = f"{key}_flag"
        cols = {
            "mn": minute.mn, "ts": minute.ts, "running": minute.running,
            "o2": minute[o2].cast("float64") if o2 in minute.columns else ibis.null("float64"),
            "pollutant": ibis.literal(key),
            "value": minute[col].cast("float64"),
            "flag": minute[flag].fill_null("N") if flag in minute.columns else ibis.literal("N"),
        }
        if with_zs:
            zs = f"{key}_zs"
            cols["zs"] = minute[zs].cast("float64") if zs in minute.columns else ibis.null(
                "float64")
        parts.append(minute.select(**cols).filter(_.value.notnull()))
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def runs(t: ir.Table, keys: Sequence[str], *, step_s: int, gap_s: int | None = None,
         order: str = "ts") -> ir.Table:
    """Add ``run``: the number of the run of consecutive rows of ``t`` per ``keys``.

    Two rows belong to the same run when their ``order`` times are at most ``gap_s``
    seconds apart (default ``step_s``: strictly consecutive minutes or hours).
    """
    gap = step_s if gap_s is None else gap_s
    w = ibis.window(group_by=list(keys), order_by=order)
    epoch = t[order].epoch_seconds()
    t = t.mutate(_e=epoch)
    t = t.mutate(_prev=t._e.lag().over(w))
    t = t.mutate(_new=ibis.ifelse(t._prev.isnull() | ((t._e - t._prev) > gap), 1, 0))
    wc = ibis.window(group_by=list(keys), order_by=order, preceding=None, following=0)
    return t.mutate(run=t._new.sum().over(wc)).drop("_e", "_prev", "_new")


def run_summary(t: ir.Table, keys: Sequence[str], *, gap_s: int, min_minutes: float,
                **aggs: ir.Value) -> ir.Table:
    """Group minute rows into runs (gaps up to ``gap_s`` seconds) of at least ``min_minutes``.

    Returns per run the ``keys``, ``first`` and ``last`` minute, ``minutes`` (rows) and the
    extra aggregates ``aggs`` (expressions on ``t``'s columns, resolved on the run table).
    """
    r = runs(t, keys, step_s=60, gap_s=gap_s)
    extra = {name: fn(r) for name, fn in aggs.items()}
    g = r.group_by([*keys, "run"]).aggregate(first=r.ts.min(), last=r.ts.max(),
                                             minutes=r.count(), **extra)
    return g.filter(g.minutes >= int(min_minutes))
