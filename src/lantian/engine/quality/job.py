"""The monthly job: the engine's assessment and remote quality control on one scan.

A regulator's month runs the ULE assessment (``lantian assess``, HJ 75-2017 valid hours)
and then quality control (``lantian qc``). Both start from per-hour or per-block sums and
counts of the same minutes, which are additive over blocks inside one clock hour, so
:func:`shared_blocks` reads the month's minutes once into one row per (point, 30-minute
block) holding the partials of both (:func:`lantian.engine.hours.block_partials` and
:func:`lantian.engine.quality.blocks.minute_blocks`); :func:`assess_and_detect` then gives
the engine's monthly verdict (:func:`lantian.engine.assess.assess_month` with ``blocks``)
and every detector's events (:func:`lantian.engine.quality.run.detector_events` with
``blocks``) from that table. The verdicts equal the engine's own up to the order of
floating-point additions of the hourly means, and the events equal ``lantian qc``'s
(``tests/test_qc_shared.py``). On DuckDB the block table is built in ranges of points, two
at a time (:func:`keep_shared_blocks`): the only queries run here are those appends and the
read of the registry's points (:func:`scan_points`). A caller keeps the frames compressed
in memory with :func:`compressed_keep` (DuckDB temporary tables are not compressed). Times
are China Standard Time.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from lantian.engine.assess import assess_month, month_keys
from lantian.engine.hours import AUX_KEYS, column_of
from lantian.engine.quality.blocks import minute_blocks
from lantian.engine.quality.run import DETECTORS, detector_events
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["CHUNK_POINTS", "KEPT_DATABASE", "assess_and_detect", "by_point_ranges",
           "compressed_keep", "keep_by_point_ranges", "keep_shared_blocks", "point_ranges",
           "release_kept", "scan_points", "shared_blocks"]


#: Points per range of :func:`shared_blocks` (when given the points): a range's (mn,
#: block) table, 1,440 blocks a point in a 30-day month, is 360,000 groups of ~55
#: aggregates, well under 1 GiB on DuckDB (session 13: the one table of 5,000 points, 7.2 M
#: groups, spilled 5 GB under the job's 4.6 GiB), and 500 points are two ranges, one on
#: each core.
CHUNK_POINTS = 250

#: The attached in-memory DuckDB database :func:`compressed_keep` keeps frames in.
KEPT_DATABASE = "lantian_kept"


def compressed_keep(con: Any) -> Callable[[ir.Table], ir.Table]:
    """Return a ``materialize`` hook keeping frames compressed in memory (DuckDB).

    A DuckDB temporary table (``t.cache()``) is stored uncompressed: at 5,000 points the
    kept block table (7.2 M rows x 55 columns) held ~3.6 GB of the job's 4.6 GiB limit, so
    every later frame spilled. Here each frame is a table of an attached in-memory database
    with compression (``ATTACH ':memory:' ... (COMPRESS)``, :data:`KEPT_DATABASE`), written
    compressed by a ``CHECKPOINT`` (bit-packed counts, ALP floats, dictionary ``mn``: the
    500-point block table 357 -> 93 MB). The values and types are those of ``t.cache()``
    (the same ``create_table``; compression is lossless). Appends to a kept table
    (:func:`keep_by_point_ranges`) are checkpointed too. The tables live until the database
    is detached or the connection closed. Other engines: ``t.cache()``.
    """
    if getattr(con, "name", "") != "duckdb":
        return lambda t: t.cache()
    # READ_WRITE: `lantian qc` opens its database read-only, and the attached in-memory
    # database would inherit that ("Cannot launch in-memory database in read-only mode")
    con.raw_sql(f"ATTACH IF NOT EXISTS ':memory:' AS {KEPT_DATABASE} (COMPRESS, READ_WRITE)")
    where = f"{KEPT_DATABASE}.main"
    names = (f"kept_{uuid.uuid4().hex[:12]}_{i}" for i in itertools.count(1))

    def keep(t: ir.Table) -> ir.Table:
        name = next(names)
        con.create_table(name, t, database=where)
        con.raw_sql(f"CHECKPOINT {KEPT_DATABASE}")  # compresses what was just written
        return con.table(name, database=(KEPT_DATABASE, "main"))

    return keep


def release_kept(con: Any) -> None:
    """Drop every frame :func:`compressed_keep` kept on ``con`` (detach :data:`KEPT_DATABASE`).

    Call it while the connection is open; nothing happens where nothing was kept (or on an
    engine other than DuckDB, whose frames ``t.cache()`` kept).
    """
    if getattr(con, "name", "") == "duckdb":
        con.raw_sql(f"DETACH DATABASE IF EXISTS {KEPT_DATABASE}")


def shared_blocks(minute: ir.Table, keys: Sequence[str], engine_keys: Sequence[str],
                  th: Thresholds, points: Sequence[str] | None = None,
                  chunk_points: int | None = None) -> ir.Table:
    """One row per (mn, block) with the partials of the engine and of quality control.

    ``minute``: ``flue_minute`` rows of the month; ``keys``: the pollutants qc screens;
    ``engine_keys``: the pollutants the assessment aggregates
    (:func:`lantian.engine.assess.month_keys`). Reads only the columns either uses.

    With ``points`` (the month's ``mn``, e.g. the registry's) and more of them than
    ``chunk_points`` (default :data:`CHUNK_POINTS`), the table is the union of the same
    block scan over disjoint ranges of ``mn`` (:func:`point_ranges`; every ``mn`` lies in
    exactly one, so every row is read once and every (mn, block) and per-point value is the
    one scan's): each range's hash table stays small, a Parquet lake partitioned by ``mn``
    is read only for the range's points, and DuckDB runs two ranges at once, one on each
    core (the scan's streaming ``lag``, :func:`~lantian.engine.quality.blocks.minute_blocks`,
    holds a range's pipeline to one thread).
    """
    parts = _block_parts(minute, keys, engine_keys, th, points, chunk_points)
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def _block_parts(minute: ir.Table, keys: Sequence[str], engine_keys: Sequence[str],
                 th: Thresholds, points: Sequence[str] | None,
                 chunk_points: int | None) -> list[ir.Table]:
    """Return the block scan of :func:`shared_blocks` over each range of points (one: all)."""
    wanted = {"mn", "ts"}
    for k in (*keys, *engine_keys, *AUX_KEYS):
        wanted |= {column_of(k), f"{k}_flag", f"{k}_zs"}
    narrow = minute.select(*[c for c in minute.columns if c in wanted or c.endswith("_flag")])
    return _ranges(lambda t: minute_blocks(t, keys, th, engine_keys=engine_keys), narrow,
                   points, chunk_points)


def keep_shared_blocks(con: Any, keep: Callable[[ir.Table], ir.Table], minute: ir.Table,
                       keys: Sequence[str], engine_keys: Sequence[str], th: Thresholds,
                       points: Sequence[str] | None = None,
                       chunk_points: int | None = None) -> ir.Table:
    """:func:`shared_blocks` kept by ``keep``, on DuckDB built two point ranges at a time.

    :func:`keep_by_point_ranges` of the block scan of :func:`shared_blocks`.
    """
    parts = _block_parts(minute, keys, engine_keys, th, points, chunk_points)
    return _keep_parts(con, keep, parts)


def keep_by_point_ranges(con: Any, keep: Callable[[ir.Table], ir.Table],
                         build: Callable[[ir.Table], ir.Table], minute: ir.Table,
                         points: Sequence[str] | None,
                         chunk_points: int | None = None) -> ir.Table:
    """``keep(build(minute))``, on DuckDB built two point ranges at a time.

    ``build`` must make each row from one point's minutes only (as
    :func:`~lantian.engine.quality.blocks.minute_blocks` does), so the union over the ranges
    of :func:`point_ranges` is ``build(minute)``. One query over the union of every range
    would hold every range's hash table until the union is read (DuckDB schedules every
    range's aggregate before it emits any: at 500 points in 10 ranges its peak buffer memory
    was 0.93 GB against 0.73 GB for one scan). So ``keep`` makes the table of the first two
    ranges (two ranges run at once, one on each core) and each next two are appended to it
    (``INSERT ... BY NAME``; this executes them): DuckDB holds two ranges' hash tables at a
    time besides the kept table. Other engines, a ``keep`` that keeps nothing (not a DuckDB
    table) or two ranges or fewer: ``keep`` of the one expression.
    """
    return _keep_parts(con, keep, _ranges(build, minute, points, chunk_points))


def _keep_parts(con: Any, keep: Callable[[ir.Table], ir.Table],
                parts: list[ir.Table]) -> ir.Table:
    """Keep the union of ``parts``: the first two kept, each next two appended (DuckDB)."""
    if len(parts) <= 2 or getattr(con, "name", "") != "duckdb":
        return keep(parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False))
    kept = keep(ibis.union(*parts[:2], distinct=False))
    op = kept.op()
    if not isinstance(op, ops.DatabaseTable):  # ``keep`` keeps nothing: one expression
        return keep(ibis.union(*parts, distinct=False))
    ns = op.namespace
    target = ".".join(f'"{p}"' for p in (ns.catalog, ns.database, op.name) if p)
    for i in range(2, len(parts), 2):
        pair = ibis.union(*parts[i:i + 2], distinct=False) if i + 1 < len(parts) else parts[i]
        con.raw_sql(f"INSERT INTO {target} BY NAME {con.compile(pair)}")
        if ns.catalog == KEPT_DATABASE:  # compressed_keep's table: compress the rows added
            con.raw_sql(f"CHECKPOINT {KEPT_DATABASE}")
    return kept


def by_point_ranges(build: Callable[[ir.Table], ir.Table], minute: ir.Table,
                    points: Sequence[str] | None, chunk_points: int | None = None) -> ir.Table:
    """Return ``build(minute)``, split by ranges of points when there are many.

    With more ``points`` than ``chunk_points`` (default :data:`CHUNK_POINTS`): the union of
    ``build`` over ``minute`` filtered to each of :func:`point_ranges`, the same rows when
    every row ``build`` makes depends on one point's minutes only (as those of
    :func:`~lantian.engine.quality.blocks.minute_blocks` do).
    """
    parts = _ranges(build, minute, points, chunk_points)
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def _ranges(build: Callable[[ir.Table], ir.Table], minute: ir.Table,
            points: Sequence[str] | None, chunk_points: int | None) -> list[ir.Table]:
    """``build`` of ``minute`` filtered to each of :func:`point_ranges` (one: unfiltered)."""
    size = CHUNK_POINTS if chunk_points is None else chunk_points
    return [build(minute if r is None else minute.filter(r))
            for r in point_ranges(minute.mn, points or [], size)]


def point_ranges(mn: ir.StringColumn, points: Sequence[str],
                 chunk_points: int) -> list[ir.BooleanValue | None]:
    """Conditions on ``mn`` splitting every value into ranges of about ``chunk_points`` points.

    ``[None]`` (no split) for ``chunk_points`` points or fewer. Else ``k`` =
    ⌈points / chunk_points⌉ half-open ranges between ``k − 1`` of the sorted distinct
    ``points``: the first is open below (with a null ``mn``), the last open above, so any
    ``mn``, listed or not, satisfies exactly one condition.
    """
    pts = sorted(set(points))
    k = -(-len(pts) // max(1, chunk_points))
    if k <= 1:
        return [None]
    cuts = [pts[i * len(pts) // k] for i in range(1, k)]
    out: list[ir.BooleanValue | None] = [(mn < cuts[0]) | mn.isnull()]
    out += [(mn >= lo) & (mn < hi) for lo, hi in itertools.pairwise(cuts)]
    return [*out, mn >= cuts[-1]]


def scan_points(con: Any, inputs: dict[str, Any]) -> list[str] | None:
    """Return the registry's points (``inputs["points"]``) to split :func:`shared_blocks` by.

    DuckDB only: ``None`` on other engines (Spark spills its aggregates itself; one scan).
    """
    if getattr(con, "name", "") != "duckdb" or inputs.get("points") is None:
        return None
    return [str(v) for v in con.execute(inputs["points"].select("mn"))["mn"].dropna()]


def assess_and_detect(
    con: Any,
    inputs: dict[str, Any],
    *,
    detectors: Sequence[str] = DETECTORS,
    materialize: Callable[[ir.Table], ir.Table] | None = None,
    blocks: ir.Table | None = None,
) -> tuple[ir.Table, dict[str, ir.Table]]:
    """Return (monthly verdicts, events per detector) of one month from one minute scan.

    ``con`` is the engine backend; ``inputs`` the keyword arguments of
    :func:`~lantian.engine.quality.run.detector_events` as
    :func:`~lantian.engine.quality.inputs.read_inputs` gives them (``minute``, ``month``,
    ``keys``, ``thresholds``, ...). ``materialize`` (e.g. ``lambda t: t.cache()``) keeps the
    shared block table; without it the block aggregation is inlined in both expressions
    (correct, but the minutes are then read twice). ``blocks``: :func:`shared_blocks` of the
    month already built (and kept) by the caller; else it is built here, on DuckDB in
    ranges of the registry's points (``inputs["points"]``, read here: a small table).
    """
    th: Thresholds = inputs["thresholds"]
    keep = materialize or (lambda x: x)
    minute = inputs["minute"]
    if blocks is None:
        blocks = keep_shared_blocks(con, keep, minute, inputs["keys"], month_keys(minute), th,
                                    points=scan_points(con, inputs))
    verdicts = assess_month(con, inputs["month"], blocks=blocks)
    events = detector_events(**inputs, detectors=detectors, materialize=materialize,
                             blocks=blocks)
    return verdicts, events
