"""``limit_memory`` caps what DuckDB may spill (qcspike18, session 18).

Session 17: a 5,000-point monthly job spilled 35 GB to its temporary directory and left a
shared disk with 3-4 GB free (DuckDB's own default cap is 90 % of the free space). qc's
connection now lets DuckDB spill at most half the space free when it starts
(:func:`~lantian.engine.quality.inputs.spill_cap`), or the caller's ``max_temp``; a query
that needs more fails with DuckDB's error instead of filling the disk.
"""

from __future__ import annotations

import shutil

import duckdb
import ibis
import pytest

from lantian.engine.quality.inputs import limit_memory, spill_cap


def _setting(con, name: str) -> str:
    return con.con.sql(f"SELECT current_setting('{name}')").fetchall()[0][0]


def test_spill_cap_is_half_the_free_space_in_megabytes(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    mb = int(spill_cap(str(tmp_path)).removesuffix("MB"))
    assert abs(mb - free / 2 / 1e6) <= 1 + free * 0.01 / 1e6  # the disk moves a little
    assert spill_cap(str(tmp_path), share=0.25).endswith("MB")


def test_limit_memory_caps_the_spill_at_half_the_free_space(tmp_path):
    con = ibis.duckdb.connect()
    assert limit_memory(con, "3GB", str(tmp_path)) == str(tmp_path)
    ref = duckdb.connect()  # the same value as DuckDB shows it
    ref.sql(f"SET max_temp_directory_size = '{spill_cap(str(tmp_path))}'")
    want = ref.sql("SELECT current_setting('max_temp_directory_size')").fetchall()[0][0]
    assert _setting(con, "max_temp_directory_size") == want
    assert "90%" not in want


def test_a_query_that_needs_more_than_the_cap_fails_and_leaves_the_disk(tmp_path):
    # an aggregate of 3 M groups in 30 MB of memory must spill tens of MB; with a cap of
    # 1 MB DuckDB refuses instead of writing them, and with 2 GB it runs
    query = ("SELECT count(*) FROM (SELECT i % 3000000 AS g, count(*) AS c, max(random()) "
             "AS m FROM range(6000000) t(i) GROUP BY g)")
    for cap, ok in (("1MB", False), ("2GB", True)):
        con = ibis.duckdb.connect()
        limit_memory(con, "30MB", str(tmp_path / cap), max_temp=cap)
        con.raw_sql("SET threads = 1")
        if ok:
            assert con.con.sql(query).fetchall() == [(3_000_000,)]
            continue
        with pytest.raises(duckdb.OutOfMemoryException, match="max_temp_directory_size"):
            con.con.sql(query).fetchall()
        assert sum(p.stat().st_size for p in (tmp_path / cap).rglob("*")
                   if p.is_file()) <= 1_000_000
