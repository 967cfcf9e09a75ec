"""The optimised paths of ``lantian qc`` give exactly the straightforward path's events.

``detector_events(..., materialize=...)`` (what the CLI and the benchmark run: shared frames
kept as DuckDB temporary tables, the frozen-block table of ``constant`` kept) and
:func:`~lantian.engine.quality.values.constant_blocks` (frozen blocks from the one scan of
the minutes, :mod:`lantian.engine.quality.blocks`) must not change a single event compared
with the lazy path and with :func:`~lantian.engine.quality.values.constant` on the long
frame, on a small demo province with labelled faults of every kind (``qc_demo.py``).
"""

from __future__ import annotations

import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds, records, values
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.inputs import limit_memory
from lantian.engine.quality.run import detector_events
from qc_demo import constant_from_block_scan, qc_demo_fixture  # noqa: F401  (fixture qc_demo)

_ORDER = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[_ORDER].sort_values(_ORDER, kind="stable").reset_index(drop=True)


def test_materialized_detectors_equal_lazy_detectors(qc_demo):
    con, kw = qc_demo
    lazy = detector_events(**kw)
    kept = detector_events(**kw, materialize=lambda t: t.cache())
    assert list(lazy) == list(kept)
    total = 0
    for name in lazy:
        a, b = _sorted(con.execute(lazy[name])), _sorted(con.execute(kept[name]))
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        total += len(a)
    assert total > 0  # the comparison saw events


def test_constant_blocks_equal_constant_on_long_frame(qc_demo):
    """``constant`` from the one block scan (what ``lantian qc`` runs) = the long-frame form."""
    con, kw = qc_demo
    th = kw["thresholds"]
    m = running_minutes(kw["minute"], th)
    keys = [*kw["keys"], "o2", "flow"]
    slow = _sorted(con.execute(values.constant(long_minutes(m, keys), th)))
    assert len(slow) > 0
    for keep in (None, lambda t: t.cache()):
        fast = _sorted(con.execute(constant_from_block_scan(kw["minute"], kw["keys"], th,
                                                             keep)))
        pd.testing.assert_frame_equal(slow, fast, check_dtype=False)


def test_limit_memory_sets_duckdb_memory_and_spill_directory(tmp_path):
    import ibis

    con = ibis.duckdb.connect()  # its own backend: the shared demo's settings stay as they are
    path = limit_memory(con, "3GB", str(tmp_path))
    assert path == str(tmp_path)
    got = dict(con.con.sql("SELECT name, value FROM duckdb_settings() WHERE name IN "
                           "('memory_limit', 'temp_directory')").fetchall())
    assert got["temp_directory"] == str(tmp_path)
    assert got["memory_limit"].replace(" ", "").upper().startswith(("2.7GIB", "2.8GIB", "3.0GB",
                                                                    "2.7GB", "2.8GB"))


def _minutes_with_gaps() -> pd.DataFrame:
    """Two points, 2026-03-01..03 (CST), with gaps of many shapes (hand-placed).

    Point A: a 1-minute gap (02:10), a gap ending exactly at an hour start (05:59 → 06:00
    missing, 06:01 back), one starting at :59 (07:59 sent, 08:00-08:30 missing), a whole
    missing hour (10:00-10:59), a 3-hour gap across midnight, full hours in between, and the
    month's head missing (first minute 00:07). Point B: sends every minute except a 61-minute
    gap starting at 12:30 and stops at 2026-03-03 20:00.
    """
    import datetime as dt

    def span(a: str, b: str) -> list[dt.datetime]:
        t0, t1 = dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)
        return [t0 + dt.timedelta(minutes=i) for i in range(int((t1 - t0).total_seconds()
                                                               // 60))]

    full = span("2026-03-01T00:07", "2026-03-04T00:00")
    holes = [("2026-03-01T02:10", "2026-03-01T02:11"), ("2026-03-01T06:00", "2026-03-01T06:01"),
             ("2026-03-01T08:00", "2026-03-01T08:31"), ("2026-03-01T10:00", "2026-03-01T11:00"),
             ("2026-03-01T22:30", "2026-03-02T01:30")]
    gone = {t for a, b in holes for t in span(a, b)}
    a = [t for t in full if t not in gone]
    b_all = span("2026-03-01T00:00", "2026-03-03T20:00")
    b_gone = set(span("2026-03-02T12:30", "2026-03-02T13:31"))
    b = [t for t in b_all if t not in b_gone]
    return pd.DataFrame({"mn": ["A"] * len(a) + ["B"] * len(b), "ts": a + b})


@pytest.mark.parametrize("gap_minutes", [0, 20, 60])
def test_missing_by_hours_equals_minute_lag(gap_minutes):
    import datetime as dt

    import ibis

    th = load_thresholds().with_value("missing", "gap_minutes", gap_minutes)
    m = ibis.memtable(_minutes_with_gaps())
    con = ibis.duckdb.connect()
    start, end = dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 4)
    ref = _sorted(con.execute(records.missing(m, start, end, th)))
    fast = _sorted(con.execute(records.missing(m, start, end, th, by_hours=True)))
    pd.testing.assert_frame_equal(ref, fast, check_dtype=False)
    # hand count: gaps longer than the threshold (A: 1, 1, 31, 60, 180 min and a 7-minute
    # head; B: 61 min and the tail 20:00-23:59 up to the newest minute A sent, 240 min)
    lengths = {"A": [1, 1, 31, 60, 180, 7], "B": [61, 240]}
    expect = sorted((mn, n) for mn, ns in lengths.items() for n in ns if n > gap_minutes)
    got = sorted((r.mn, int(__import__("json").loads(r.evidence)["minutes"]))
                 for r in fast.itertuples())
    assert got == expect
