"""The monthly job's frames kept compressed in memory (session 15) are the temporary tables'.

:func:`lantian.engine.quality.job.compressed_keep` keeps a frame as a table of an attached
in-memory DuckDB database with compression, written compressed by a checkpoint, instead of
an uncompressed temporary table (``t.cache()``): the 5,000-point block table no longer fills
the job's memory limit. The kept values and types must be the temporary table's exactly, the
rows appended by the ranged block scan must be compressed too, and the job's verdicts and
events must not change.
"""

from __future__ import annotations

import pandas as pd

from lantian.engine.assess import month_keys
from lantian.engine.quality.job import (
    KEPT_DATABASE,
    assess_and_detect,
    compressed_keep,
    keep_shared_blocks,
    release_kept,
    scan_points,
    shared_blocks,
)
from qc_demo import qc_demo_fixture  # noqa: F401  (the shared fixture qc_demo)


def _compressions(con, table) -> set[tuple[str, str]]:
    """(column, compression) of every storage segment of a kept table."""
    op = table.op()
    rows = con.con.sql(
        "SELECT column_name, compression FROM pragma_storage_info("
        f"'{op.namespace.catalog}.{op.namespace.database}.{op.name}') "
        "WHERE segment_type <> 'VALIDITY'").fetchall()
    return {(c, k) for c, k in rows}


def test_kept_blocks_equal_the_temporary_tables_and_are_compressed(qc_demo):
    """The ranged block scan kept compressed (first pair kept, the rest appended)."""
    con, kw = qc_demo
    minute, th = kw["minute"], kw["thresholds"]
    keys = month_keys(minute)
    pts = scan_points(con, kw)
    try:
        kept = keep_shared_blocks(con, compressed_keep(con), minute, kw["keys"], keys, th,
                                  points=pts, chunk_points=3)  # 5 ranges: 2 appends
        assert kept.op().namespace.catalog == KEPT_DATABASE
        cached = shared_blocks(minute, kw["keys"], keys, th).cache()
        assert kept.schema() == cached.schema()  # same types (no narrowing)
        order = ["mn", "block"]
        a = con.execute(cached).sort_values(order).reset_index(drop=True)
        b = con.execute(kept).sort_values(order).reset_index(drop=True)
        cached.release()
        assert len(a) == len(b) > 0
        assert a["dx_so2"].notna().sum() > 0
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        seg = _compressions(con, kept)
        # every segment, the appended rows' included, is checkpointed (compressed)
        assert seg and not {c for c, k in seg if k == "Uncompressed"}
    finally:
        release_kept(con)


def test_the_job_with_compressed_frames_gives_the_same_verdicts_and_events(qc_demo):
    con, kw = qc_demo
    try:
        v1, e1 = assess_and_detect(con, kw, materialize=lambda t: t.cache())
        a_v = con.execute(v1)
        a_e = {k: con.execute(t) for k, t in e1.items()}
        v2, e2 = assess_and_detect(con, kw, materialize=compressed_keep(con))
        b_v = con.execute(v2)
        b_e = {k: con.execute(t) for k, t in e2.items()}
        kept = con.con.sql("SELECT count(*) FROM duckdb_tables() "
                           f"WHERE database_name = '{KEPT_DATABASE}'").fetchall()[0][0]
        assert kept >= 10  # the blocks and the job's other frames were kept there
    finally:
        release_kept(con)
    key = ["mn"]
    pd.testing.assert_frame_equal(a_v.sort_values(key).reset_index(drop=True),
                                  b_v.sort_values(key).reset_index(drop=True), check_exact=True)
    assert a_e.keys() == b_e.keys()
    assert sum(len(f) for f in a_e.values()) > 0
    cols = list(a_e[next(iter(a_e))].columns)
    for name in a_e:
        x = a_e[name].sort_values(cols).reset_index(drop=True)
        y = b_e[name].sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_exact=True, obj=name)


def test_other_engines_keep_a_cache():
    class Other:
        name = "pyspark"

    class Frame:
        def cache(self):
            return "cached"

    assert compressed_keep(Other())(Frame()) == "cached"


def test_compressed_keep_works_on_a_read_only_database(tmp_path):
    """``lantian qc`` opens its database read-only: the kept frames still go compressed.

    An in-memory database attached to a read-only connection inherits read-only unless
    told otherwise; then every keep failed ("Cannot launch in-memory database in
    read-only mode").
    """
    import duckdb
    import ibis

    path = tmp_path / "ro.duckdb"
    with duckdb.connect(str(path)) as raw:
        raw.sql("CREATE TABLE t AS SELECT range AS i, range * 0.5 AS x FROM range(5000)")
    con = ibis.duckdb.connect(str(path), read_only=True)
    try:
        kept = compressed_keep(con)(con.table("t").filter(lambda r: r.i % 2 == 0))
        assert kept.op().namespace.catalog == KEPT_DATABASE
        got = con.execute(kept.aggregate(n=kept.count(), s=kept.x.sum()))
        assert (int(got.n[0]), float(got.s[0])) == (2500, sum(i * 0.5 for i in range(0, 5000, 2)))
        release_kept(con)  # the kept frames go with their database; twice is harmless
        release_kept(con)
        names = {r[0] for r in con.con.execute(
            "SELECT database_name FROM duckdb_databases()").fetchall()}
        assert KEPT_DATABASE not in names
    finally:
        con.disconnect()
