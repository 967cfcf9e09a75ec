"""The optimised paths of ``lantian qc`` give exactly the straightforward path's events.

``detector_events(..., materialize=...)`` (what the CLI and the benchmark run: shared frames
kept as DuckDB temporary tables, the frozen-block table of ``constant`` kept) and
:func:`~lantian.engine.quality.values.constant_wide` (frozen blocks found on the wide minute
rows) must not change a single event compared with the lazy path and with
:func:`~lantian.engine.quality.values.constant` on the long frame, on a small demo province
with labelled faults of every kind.
"""

from __future__ import annotations

import pandas as pd
import pytest

from lantian.demo.generate import generate
from lantian.demo.load import demo_backend
from lantian.engine.quality import load_thresholds, values
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.inputs import limit_memory, read_inputs
from lantian.engine.quality.run import detector_events

_ORDER = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[_ORDER].sort_values(_ORDER, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("qc_perf")
    generate(out, points=14, days=10, start="2026-03-01", seed=17, fault_share=0.9)
    con = demo_backend(out)
    return con, read_inputs(con, "2026-03", load_thresholds())


def test_materialized_detectors_equal_lazy_detectors(small):
    con, kw = small
    lazy = detector_events(**kw)
    kept = detector_events(**kw, materialize=lambda t: t.cache())
    assert list(lazy) == list(kept)
    total = 0
    for name in lazy:
        a, b = _sorted(con.execute(lazy[name])), _sorted(con.execute(kept[name]))
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        total += len(a)
    assert total > 0  # the comparison saw events


def test_constant_wide_equals_constant_on_long_frame(small):
    con, kw = small
    th = kw["thresholds"]
    m = running_minutes(kw["minute"], th)
    keys = [*kw["keys"], "o2", "flow"]
    slow = _sorted(con.execute(values.constant(long_minutes(m, keys), th)))
    fast = _sorted(con.execute(values.constant_wide(m, keys, th)))
    kept = _sorted(con.execute(values.constant_wide(m, keys, th,
                                                    materialize=lambda t: t.cache())))
    assert len(slow) > 0
    pd.testing.assert_frame_equal(slow, fast, check_dtype=False)
    pd.testing.assert_frame_equal(slow, kept, check_dtype=False)


def test_limit_memory_sets_duckdb_memory_and_spill_directory(small, tmp_path):
    con, _ = small
    path = limit_memory(con, "3GB", str(tmp_path))
    assert path == str(tmp_path)
    got = dict(con.con.sql("SELECT name, value FROM duckdb_settings() WHERE name IN "
                           "('memory_limit', 'temp_directory')").fetchall())
    assert got["temp_directory"] == str(tmp_path)
    assert got["memory_limit"].replace(" ", "").upper().startswith(("2.7GIB", "2.8GIB", "3.0GB",
                                                                    "2.7GB", "2.8GB"))
