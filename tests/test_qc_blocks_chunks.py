"""The shared block scan in ranges of points (session 14) equals the one scan.

:func:`lantian.engine.quality.job.shared_blocks` given the month's points splits the scan
into disjoint ranges of ``mn`` (:func:`lantian.engine.quality.job.point_ranges`) so each
range's hash table stays small and DuckDB runs two ranges at once. Every (mn, block) row and
every value, spike's one-minute steps ``dx_<k>`` included, must be the one scan's, and every
``mn`` (listed or not, null included) must fall in exactly one range.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from lantian.engine.assess import month_keys
from lantian.engine.quality import job
from lantian.engine.quality.job import point_ranges, scan_points, shared_blocks
from qc_demo import qc_demo_fixture  # noqa: F401  (the shared fixture qc_demo)


def test_every_mn_lies_in_exactly_one_range():
    listed = [f"P{i:02d}" for i in range(0, 20, 2)]  # P00, P02, ... P18
    probe = [*listed, "A", "P01", "P05", "P11", "P19", "Z", None]  # listed or not, null
    t = ibis.memtable(pd.DataFrame({"mn": pd.Series(probe, dtype="string")}))
    ranges = point_ranges(t.mn, listed, 3)
    assert len(ranges) == 4  # ceil(10 / 3)
    got = t.mutate(**{f"r{i}": r.fill_null(False).cast("int8") for i, r in enumerate(ranges)})
    df = got.execute()
    counts = df[[f"r{i}" for i in range(len(ranges))]].sum(axis=1)
    assert counts.tolist() == [1] * len(probe)
    # the listed points are shared out evenly: 2 or 3 in each range
    listed_df = df[df.mn.isin(listed)]
    per = listed_df[[f"r{i}" for i in range(len(ranges))]].sum()
    assert sorted(per.tolist()) == [2, 2, 3, 3]
    # ranges follow the sort order of mn: a range never holds a point beside another's
    order = df.dropna(subset=["mn"]).sort_values("mn")
    which = order[[f"r{i}" for i in range(len(ranges))]].to_numpy().argmax(axis=1)
    assert list(which) == sorted(which)


def test_no_split_for_few_points():
    t = ibis.memtable(pd.DataFrame({"mn": ["a", "b"]}))
    assert point_ranges(t.mn, ["a", "b"], 2) == [None]
    assert point_ranges(t.mn, [], 2) == [None]


@pytest.mark.parametrize("size", [1, 4])
def test_ranges_give_the_one_scans_table(qc_demo, size):
    """Every column of every (mn, block) equal, steps included (no float tolerance)."""
    con, kw = qc_demo
    minute, th = kw["minute"], kw["thresholds"]
    keys = month_keys(minute)
    pts = scan_points(con, kw)
    assert pts is not None and len(pts) == 14
    one = shared_blocks(minute, kw["keys"], keys, th)
    split = shared_blocks(minute, kw["keys"], keys, th, points=pts, chunk_points=size)
    assert isinstance(split.op(), ibis.expr.operations.Union)  # really split
    order = ["mn", "block"]
    a = con.execute(one).sort_values(order).reset_index(drop=True)
    b = con.execute(split).sort_values(order).reset_index(drop=True)
    assert list(b.columns) == list(a.columns)
    assert len(a) == len(b) > 0
    assert a["dx_so2"].notna().sum() > 0
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("size", [2, 3, 5])
def test_kept_two_ranges_at_a_time_is_the_one_scans_table(qc_demo, size):
    """keep_shared_blocks: the first two ranges kept, the next two at a time appended."""
    con, kw = qc_demo
    minute, th = kw["minute"], kw["thresholds"]
    keys = month_keys(minute)
    pts = scan_points(con, kw)
    inserts = []
    real = con.raw_sql

    def spy(sql, *a, **k):
        if isinstance(sql, str) and sql.startswith("INSERT INTO"):
            inserts.append(sql)
        return real(sql, *a, **k)

    con.raw_sql = spy
    try:
        kept = job.keep_shared_blocks(con, lambda t: t.cache(), minute, kw["keys"], keys, th,
                                      points=pts, chunk_points=size)
    finally:
        del con.raw_sql
    n_ranges = -(-14 // size)
    assert len(inserts) == -(-(n_ranges - 2) // 2)  # 7 ranges: 3 appends; 3: 1; 5: 2
    order = ["mn", "block"]
    a = con.execute(shared_blocks(minute, kw["keys"], keys, th)).sort_values(order)
    b = con.execute(kept).sort_values(order)
    kept.release()
    assert list(b.columns) == list(a.columns)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=True)


def test_the_job_keeps_its_blocks_in_ranges(qc_demo, monkeypatch):
    """assess_and_detect builds its own blocks in ranges of the registry's points."""
    con, kw = qc_demo
    calls = []
    real = job.keep_shared_blocks

    def spy(*a, **k):
        calls.append(k)
        return real(*a, **k)

    monkeypatch.setattr(job, "keep_shared_blocks", spy)
    job.assess_and_detect(con, kw, detectors=["missing"])
    assert len(calls) == 1
    assert sorted(calls[0]["points"]) == sorted(scan_points(con, kw))
