"""``zs_mismatch``'s mean-bias test over clock hours (session 8, qczs8): worked cases.

The platform's own correction here is ``own = 2.0 × (21 − 9)/(21 − 12) = 2.6667`` mg/m³ at
every minute (PM 2.0 mg/m³, O2 12 %, reference O2 9 %). Per minute the tolerance is
``max(abs_tol 0.3, rel_tol 10 % × 2.6667) = 0.3`` mg/m³; per hour it is
``10 % × Σ own + 0.5 × step × n`` (the logger's rounding step, found from its decimals).
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.blocks import minute_blocks
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.process import zs_mean_bias, zs_mismatch

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 08:00")  # CST, on a clock hour
_LIM = pd.DataFrame({"mn": ["P1"], "pollutant": ["pm"], "limit_mg_m3": [10.0],
                     "o2_ref_pct": [9.0]})


def _minutes(n: int, zs: float) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min")})
    df["pm_mg_m3"] = 2.0
    df["pm_flag"] = "N"
    df["pm_zs"] = zs
    df["o2_pct"] = 12.0
    df["o2_flag"] = "N"
    df["flow_m3_s"] = np.round(50 + rng.normal(0, 0.5, n), 2)
    df["flow_flag"] = "N"
    return df


def _events(df: pd.DataFrame) -> pd.DataFrame:
    t = ibis.memtable(df)
    blocks = minute_blocks(t, ["pm"], TH)
    long = long_minutes(running_minutes(t, TH), ["pm"], with_zs=True)
    ev = zs_mismatch(long, ibis.memtable(_LIM), TH, blocks=blocks, keys=["pm"])
    return ibis.duckdb.connect().execute(ev).sort_values("start", ignore_index=True)


def test_block_partials_hand_computed():
    # one hour of Zs 2.38: Σ Zs = 60 × 2.38 = 142.8; Σ C/(21 − O2) = 60 × 2/9 = 13.333;
    # 60 compared minutes; 2 decimals
    b = ibis.duckdb.connect().execute(minute_blocks(ibis.memtable(_minutes(60, 2.38)),
                                                    ["pm"], TH))
    assert b["zq_pm"].sum() == pytest.approx(142.8)
    assert b["zz_pm"].sum() == pytest.approx(60 * 2.38**2)  # Σ Zs² = 339.864
    assert b["cq_pm"].sum() == pytest.approx(60 * 2 / 9)
    assert b["zn_pm"].sum() == 60
    assert b["zd_pm"].max() == 2


def test_consistent_bias_within_the_minute_tolerance_is_found_over_hours():
    df = _minutes(240, 2.67)
    # hours 2 and 3 (minutes 60..179) the logger sends 2.38: per minute |2.38 − 2.6667| =
    # 0.2867 < 0.3 (silent); per hour |142.8 − 160.0| = 17.2 > 10 % × 160 + 0.5 × 0.01 × 60
    # = 16.3 → two biased hours, one event of 120 minutes, 09:00–10:59
    df.loc[60:179, "pm_zs"] = 2.38
    ev = _events(df)
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["kind"] == "mean"
    assert e["minutes"] == 120
    assert e["logger_zs_mean"] == pytest.approx(2.38)
    assert e["platform_mean"] == pytest.approx(2.6667, abs=1e-4)
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=60)
    assert ev["end"][0] == T0 + pd.Timedelta(minutes=179)
    assert ev["severity"][0] == "medium"


def test_bias_below_rel_tol_is_not_an_event():
    # 2.45: |2.45 − 2.6667| × 60 = 13.0 < 16.3 at every hour → nothing
    assert _events(_minutes(240, 2.45)).empty


def test_whole_mg_rounding_never_biases_an_hour():
    # the logger rounds 2.6667 to 3: per hour |180 − 160| = 20 < 16 + 0.5 × 1 × 60 = 46
    assert _events(_minutes(240, 3.0)).empty


def test_hour_with_too_few_compared_minutes_is_not_judged():
    df = _minutes(120, 2.38)
    # every hour has 40 compared minutes only (O2 19.5 % ≥ o2_max_pct 19 in 20 of each 60):
    # fewer than the 45 minutes of a valid hour (HJ 75-2017) → no hour judged
    df.loc[df.index % 60 < 20, "o2_pct"] = 19.5
    blocks = minute_blocks(ibis.memtable(df), ["pm"], TH)
    ev = zs_mean_bias(blocks, ibis.memtable(_LIM), ["pm"], TH)
    assert ibis.duckdb.connect().execute(ev).empty


def test_a_bias_the_minute_test_finds_is_one_event_not_two():
    # hours 2 and 3 send 1.95: per minute |1.95 − 2.6667| = 0.717 > 0.3 (the minute test
    # fires, 120 minutes); per hour |117 − 160| = 43 > 16.3 (the mean test would fire too) →
    # the per-minute event alone
    df = _minutes(240, 2.67)
    df.loc[60:179, "pm_zs"] = 1.95
    ev = _events(df)
    assert len(ev) == 1
    assert "kind" not in json.loads(ev["evidence"][0])
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=60)


def _spread_minutes(n: int, factor: float) -> pd.DataFrame:
    """PM spread over 1.0–2.0 mg/m³ (own 1.33–2.67); the logger sends own × factor at 0.1."""
    df = _minutes(n, 0.0)
    rng = np.random.default_rng(11)
    df["pm_mg_m3"] = np.round(rng.uniform(1.0, 2.0, n), 2)
    df["pm_zs"] = np.round(df["pm_mg_m3"] * (21 - 9.0) / (21 - 12.0) * factor, 1)
    return df


def test_spread_hour_bias_is_judged_against_the_statistical_rounding_allowance():
    # 0.1-mg/m³ Zs of a spread channel, 11.5 % high for two hours: each hour's |Σ Zs − Σ own|
    # exceeds 10 % × Σ own + 5 × 0.1 × √(60/12) (the rounding errors' s.d. × rounding_sigmas)
    # but not 10 % × Σ own + 0.5 × 0.1 × 60 (the worst case, 3.0 mg/m³), so only the
    # statistical allowance finds it (session 8's rule missed such faults, blind set)
    df = _spread_minutes(240, 1.0)
    df.loc[60:179, "pm_zs"] = np.round(
        df.loc[60:179, "pm_mg_m3"] * (21 - 9.0) / (21 - 12.0) * 1.115, 1)
    own = df["pm_mg_m3"] * (21 - 9.0) / (21 - 12.0)
    for h in (1, 2):  # the worked figures of each biased hour
        sl = slice(60 * h, 60 * h + 59)  # labels, both ends included
        d = abs(df.loc[sl, "pm_zs"].sum() - own.loc[sl].sum())
        rel = 0.1 * own.loc[sl].sum()
        assert df.loc[sl, "pm_zs"].std() >= 0.1  # spread: s.d. ≥ spread_steps × step
        assert rel + 5 * 0.1 * np.sqrt(60 / 12) < d < rel + 0.5 * 0.1 * 60
    ev = _events(df)
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["kind"] == "mean"
    assert e["minutes"] == 120
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=60)
    # honest rounding of the same spread channel: no event
    assert _events(_spread_minutes(240, 1.0)).empty


def test_flat_channel_keeps_the_worst_case_rounding_allowance():
    # own = 1.05 × 12/9 = 1.4 at every minute; a whole-mg logger honestly sends 1: per hour
    # |60 − 84| = 24 > 10 % × 84 + 5 × 1 × √(60/12) = 19.6 (the statistical allowance would
    # call it biased) but the hour's Zs do not spread (s.d. 0 < 1 step), so the worst case
    # 8.4 + 0.5 × 1 × 60 = 38.4 holds: rounding alone never biases a flat hour
    df = _minutes(240, 1.0)
    df["pm_mg_m3"] = 1.05
    assert _events(df).empty
