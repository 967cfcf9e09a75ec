"""Worked cases of the session-6 detector fixes found with the blind set (benchmarks/qc_blind.py).

Every expected value is computed by hand in the comments: the logger's own Zs rounding in
``zs_mismatch`` and the daily transmission rate of ``missing``.
"""

from __future__ import annotations

import datetime as dt
import json

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.process import zs_mismatch
from lantian.engine.quality.records import missing

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 08:00")  # CST


def _minutes(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min")})
    df["pm_mg_m3"] = 2.0
    df["pm_flag"] = "N"
    df["pm_zs"] = np.nan
    df["so2_mg_m3"] = 1.5
    df["so2_flag"] = "N"
    df["so2_zs"] = np.nan
    df["o2_pct"] = 12.0
    df["o2_flag"] = "N"
    df["flow_m3_s"] = np.round(50 + rng.normal(0, 0.5, n), 2)
    df["flow_flag"] = "N"
    return df


_LIM = pd.DataFrame({"mn": ["P1"], "pollutant": ["pm"], "limit_mg_m3": [10.0],
                     "o2_ref_pct": [9.0]})


def _zs_events(df: pd.DataFrame) -> pd.DataFrame:
    m = running_minutes(ibis.memtable(df), TH)
    long = long_minutes(m, ["pm"], with_zs=True)
    return ibis.duckdb.connect().execute(zs_mismatch(long, ibis.memtable(_LIM), TH))


def test_zs_rounded_to_whole_mg_is_not_a_mismatch():
    # own = 2.0 × (21 − 9)/(21 − 12) = 2.6667 mg/m3; the logger rounds to 3 (whole mg/m3):
    # |3 − 2.6667| = 0.333 > max(abs_tol 0.3, 10 % × 2.667) = 0.3, but the logger's step is
    # 1 mg/m3, so the tolerance is 0.3 + 0.5 × 1 = 0.8 → agreement at every minute
    df = _minutes(300)
    df["pm_zs"] = 3.0
    assert _zs_events(df).empty


def test_zs_beyond_rounding_is_still_found_and_step_comes_from_the_data():
    df = _minutes(300)
    df["pm_zs"] = 3.0
    # minutes 100..199 the logger sends 4: |4 − 2.6667| = 1.333 > 0.8 → 100 minutes
    df.loc[100:199, "pm_zs"] = 4.0
    ev = _zs_events(df)
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["minutes"] == 100
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=100)
    assert e["logger_zs_mean"] == 4.0


def test_zs_three_decimal_logger_keeps_the_narrow_tolerance():
    df = _minutes(300)
    df["pm_zs"] = 2.667  # |2.667 − 2.6667| ≈ 0.0003: agreement
    # 3.033: |3.033 − 2.6667| = 0.366 > 0.3; the disagreeing Zs carry 3 decimals → step
    # 0.001, tolerance 0.3 + 0.0005 = 0.3005 < 0.366 → a mismatch of 100 minutes
    df.loc[50:149, "pm_zs"] = 3.033
    ev = _zs_events(df)
    assert len(ev) == 1
    assert json.loads(ev["evidence"][0])["minutes"] == 100


@pytest.mark.parametrize("by_hours", [False, True])
def test_missing_reports_a_day_of_intermittent_packets(by_hours):
    # three days, CST; day 1 complete (1,440 minutes); day 2 every other minute (720 of 1,440
    # = 0.50 < day_rate_min 0.75, no gap longer than 1 minute); day 3 every fifth minute
    # missing (1,152 of 1,440 = 0.80 ≥ 0.75): one event, day 2 00:00–23:59, rate 0.5
    t0 = pd.Timestamp("2026-01-05 00:00")
    ts = pd.date_range(t0, periods=3 * 1440, freq="min")
    i = np.arange(len(ts))
    keep = (i < 1440) | ((i < 2880) & (i % 2 == 0)) | ((i >= 2880) & (i % 5 != 0))
    df = pd.DataFrame({"mn": "P1", "ts": ts[keep]})
    start, end = dt.datetime(2026, 1, 5), dt.datetime(2026, 1, 8)
    ev = ibis.duckdb.connect().execute(missing(ibis.memtable(df), start, end, TH,
                                               by_hours=by_hours))
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["day_transmission_rate"] == 0.5
    assert (e["minutes_received"], e["minutes_expected"]) == (720, 1440)
    assert ev["start"][0] == pd.Timestamp("2026-01-06 00:00")
    assert ev["end"][0] == pd.Timestamp("2026-01-06 23:59")
    assert ev["severity"][0] == "medium"
