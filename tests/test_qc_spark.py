"""Conformance: the same detectors give the same events on PySpark as on DuckDB.

A small frame (one point, one day of minutes with a frozen hour and a two-hour gap) keeps the
Spark run short; the whole ``lantian qc --engine spark`` was compared with DuckDB by hand on a
demo province (identical output, see docs/quality.md).
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.records import missing
from lantian.engine.quality.values import constant
from qc_demo import constant_from_block_scan

TH = load_thresholds()


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 1440
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range("2026-01-05", periods=n, freq="min")})
    df["so2_mg_m3"] = np.round(20 + rng.normal(0, 0.5, n), 3)
    df["so2_flag"] = "N"
    df["flow_m3_s"] = np.round(50 + rng.normal(0, 0.5, n), 2)
    df.loc[300:389, "so2_mg_m3"] = 19.5  # 90 frozen minutes
    df = df.drop(index=range(700, 820))  # 120 missing minutes
    df["ts"] = df["ts"].astype("datetime64[us]")
    return df.reset_index(drop=True)


def _events(con) -> pd.DataFrame:
    t = con.create_table("qc_minute", _frame(), overwrite=True)
    m = running_minutes(t, TH)
    expr = constant(long_minutes(m, ["so2"]), TH).union(
        missing(t, dt.datetime(2026, 1, 5), dt.datetime(2026, 1, 6), TH))
    out = con.execute(expr)
    return out.sort_values(["detector", "start"]).reset_index(drop=True)


def test_spark_matches_duckdb(spark_ibis):
    duck = _events(ibis.duckdb.connect())
    spark = _events(spark_ibis)
    assert list(duck["detector"]) == ["constant", "missing"]
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def _fast_events(con) -> pd.DataFrame:
    """The forms ``lantian qc`` runs: ``constant`` from the block scan, ``missing(by_hours)``."""
    frame = _frame().assign(o2_pct=np.nan)
    t = con.create_table("qc_minute_fast", frame, overwrite=True)
    expr = constant_from_block_scan(t, ["so2"], TH, channels=["so2"]).union(
        missing(t, dt.datetime(2026, 1, 5), dt.datetime(2026, 1, 6), TH, by_hours=True))
    out = con.execute(expr)
    return out.sort_values(["detector", "start"]).reset_index(drop=True)


def test_spark_matches_duckdb_on_the_optimised_forms(spark_ibis):
    duck = _events(ibis.duckdb.connect())
    fast_duck = _fast_events(ibis.duckdb.connect())
    fast_spark = _fast_events(spark_ibis)
    pd.testing.assert_frame_equal(duck, fast_duck, check_dtype=False)
    pd.testing.assert_frame_equal(duck, fast_spark, check_dtype=False)


def _zs_frame() -> pd.DataFrame:
    """Four hours of noisy PM and O2 with a logger Zs 6 % high in the middle two hours."""
    rng = np.random.default_rng(11)
    n = 240
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range("2026-01-05 08:00", periods=n,
                                                        freq="min").astype("datetime64[us]")})
    c = np.round(8 + rng.normal(0, 0.4, n), 2)
    o2 = np.round(11 + rng.normal(0, 0.3, n), 1)
    zs = c * (21 - 9) / (21 - o2)
    zs[60:180] *= 1.06
    df["pm_mg_m3"], df["pm_flag"] = c, "N"
    df["pm_zs"] = np.round(zs, 2)
    df["o2_pct"], df["o2_flag"] = o2, "N"
    df["flow_m3_s"], df["flow_flag"] = np.round(50 + rng.normal(0, 0.5, n), 2), "N"
    return df


def _zs_mean_events(con) -> pd.DataFrame:
    from lantian.engine.quality.blocks import minute_blocks
    from lantian.engine.quality.process import zs_mean_bias

    t = con.create_table("qc_zs_minute", _zs_frame(), overwrite=True)
    lim = con.create_table("qc_zs_limits", pd.DataFrame(
        {"mn": ["P1"], "pollutant": ["pm"], "limit_mg_m3": [10.0], "o2_ref_pct": [9.0]}),
        overwrite=True)
    ev = zs_mean_bias(minute_blocks(t, ["pm"], TH), lim, ["pm"], TH)
    assert ev is not None
    return con.execute(ev).sort_values("start").reset_index(drop=True)


def test_zs_mean_bias_spark_matches_duckdb(spark_ibis):
    # session 17's honest-logger bound (reading steps, block bounds, two kinds of run) on both
    duck = _zs_mean_events(ibis.duckdb.connect())
    spark = _zs_mean_events(spark_ibis)
    assert len(duck) == 1  # the 6 % bias of 09:00–10:59, found as one event
    assert duck["start"][0] == pd.Timestamp("2026-01-05 09:00")
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)
