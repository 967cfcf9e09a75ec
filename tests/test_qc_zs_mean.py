"""``zs_mismatch``'s mean-bias test over clock hours (sessions 8–9, 17): worked cases.

Unless a test says otherwise: PM 2.01 mg/m³, O2 12.1 %, reference O2 9 % at every minute, so
the platform's own correction is ``own = 2.01 × (21 − 9)/(21 − 12.1) = 2.7101`` mg/m³ and
Σ own = 162.607 per hour. Per minute the tolerance is ``max(abs_tol 0.3, rel_tol 10 % ×
2.7101) + ½ Zs step = 0.305`` mg/m³. Per hour (session 17) it is what an honest logger's Zs
can differ by: its rounding of Zs (½ × 0.01 × 60 = 0.3 where the hour is flat), of the C it
sends (½ × 0.01 × 12 × 60/8.9 = 0.404: C has 2 decimals) and of the O2 (½ × 0.1 × 12 × 60
× 2.01/8.9² = 0.914: O2 has 1): 1.618 mg/m³, 1.0 % of Σ own; a run of such hours also
allows a one-minute misalignment (the run's range of ``own``, 0 here).
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
OWN = 2.01 * 12 / 8.9  # 2.7101 mg/m³


def _minutes(n: int, zs: float, c: float = 2.01, o2: float = 12.1) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min")})
    df["pm_mg_m3"] = c
    df["pm_flag"] = "N"
    df["pm_zs"] = zs
    df["o2_pct"] = o2
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


def _one_mean_event(ev: pd.DataFrame, minutes: int) -> None:
    """``ev`` is one mean-bias event of ``minutes`` compared minutes from 09:00."""
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["kind"] == "mean"
    assert e["minutes"] == minutes
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=60)


def test_block_partials_hand_computed():
    # one hour of Zs 2.38: Σ Zs = 60 × 2.38 = 142.8; Σ C/(21 − O2) = 60 × 2/9 = 13.333;
    # 60 compared minutes; 2 decimals
    b = ibis.duckdb.connect().execute(minute_blocks(ibis.memtable(
        _minutes(60, 2.38, c=2.0, o2=12.0)), ["pm"], TH))
    assert b["zq_pm"].sum() == pytest.approx(142.8)
    assert b["zz_pm"].sum() == pytest.approx(60 * 2.38**2)  # Σ Zs² = 339.864
    assert b["cq_pm"].sum() == pytest.approx(60 * 2 / 9)
    assert b["zn_pm"].sum() == 60
    assert b["zd_pm"].max() == 2


def test_consistent_bias_within_the_minute_tolerance_is_found_over_hours():
    df = _minutes(240, 2.71)
    # hours 2 and 3 (minutes 60..179) the logger sends 2.65, 2.2 % low: per minute
    # |2.65 − 2.7101| = 0.060 < 0.305 (silent); per hour |159.0 − 162.607| = 3.607 > 1.618
    # → two biased hours, one event of 120 minutes, 09:00–10:59 (the 10 % of sessions 8–16
    # allowed 16.6 per hour: missed)
    df.loc[60:179, "pm_zs"] = 2.65
    ev = _events(df)
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["kind"] == "mean"
    assert e["minutes"] == 120
    assert e["logger_zs_mean"] == pytest.approx(2.65)
    assert e["platform_mean"] == pytest.approx(OWN, abs=1e-4)
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=60)
    assert ev["end"][0] == T0 + pd.Timedelta(minutes=179)
    assert ev["severity"][0] == "medium"


def test_bias_within_the_honest_allowance_is_not_an_event():
    # 2.69: |161.4 − 162.607| = 1.207 < 1.618 at every hour → nothing
    assert _events(_minutes(240, 2.69)).empty


def test_whole_mg_c_hides_what_its_rounding_can_explain():
    # C sent in whole mg/m³ (2): the logger's own C may be anywhere in 1.5..2.5, so own =
    # 2 × 12/8.9 = 2.6966 is uncertain by ½ × 1 × 12 × 60/8.9 = 40.4 per hour. Zs 2.41
    # (11 % low): per minute |2.41 − 2.6966| = 0.287 < 0.305; per hour |144.6 − 161.8| =
    # 17.2 < 40.4 + 0.3 → nothing (the 10 % rule of sessions 8–16, 16.2 + 0.3 = 16.5 per
    # hour, called it biased)
    assert _events(_minutes(240, 2.41, c=2.0)).empty


def test_whole_mg_rounding_never_biases_an_hour():
    # the logger rounds 2.7101 to 3: per hour |180 − 162.6| = 17.4 < ½ × 1 × 60 = 30 + …
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
    # hours 2 and 3 send 1.95: per minute |1.95 − 2.7101| = 0.760 > 0.305 (the minute test
    # fires, 120 minutes); per hour |117 − 162.6| = 45.6 > 1.618 (the mean test would fire
    # too) → the per-minute event alone
    df = _minutes(240, 2.71)
    df.loc[60:179, "pm_zs"] = 1.95
    ev = _events(df)
    assert len(ev) == 1
    assert "kind" not in json.loads(ev["evidence"][0])
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=60)


def test_an_honest_logger_one_minute_late_is_not_an_event():
    # C steps 2.01 → 4.01 at minute 90 (09:30); the logger computes Zs from the minute
    # before (Zs(t) = own(t − 1), 2 decimals). Hour 09:00 (minutes 60..119): Σ Zs − Σ own =
    # own(59) − own(119) + rounding = −2.6966 + 0.0944 = −2.602, beyond the hour's rounding
    # allowances (5 × 0.01 × √5 = 0.112 for the spread Zs, C 0.404, O2 ½ × 0.1 × 12 × 180.6 /
    # 8.9² = 1.368: 1.884), so the hour is a candidate; its run (that hour alone: 08:00 and
    # 10:00 differ by 0.007 and 0.196) is judged with the misalignment too: the run's range
    # of own × 1 shift minute × (1 + 0 lost minutes) = 12 × (4.01 − 2.01)/8.9 = 2.697,
    # 1.884 + 2.697 = 4.581 > 2.602 → nothing. The single minute 90 (|5.41 − 2.71| = 2.70)
    # is under min_minutes.
    df = _minutes(240, 0.0)
    df.loc[90:, "pm_mg_m3"] = 4.01
    own = df["pm_mg_m3"].to_numpy() * 12 / 8.9
    df["pm_zs"] = np.round(np.r_[own[0], own[:-1]], 2)
    assert abs(df.loc[60:119, "pm_zs"].sum() - own[60:120].sum()) == pytest.approx(2.6056,
                                                                                   abs=1e-3)
    assert _events(df).empty


def _spread_minutes(n: int, factor: float) -> pd.DataFrame:
    """PM spread over 1.0–2.0 mg/m³ (own 1.35–2.70); the logger sends own × factor at 0.1."""
    df = _minutes(n, 0.0)
    rng = np.random.default_rng(11)
    df["pm_mg_m3"] = np.round(rng.uniform(1.0, 2.0, n), 2)
    df["pm_zs"] = np.round(df["pm_mg_m3"] * (21 - 9.0) / (21 - 12.1) * factor, 1)
    return df


def test_spread_hour_bias_is_judged_against_the_statistical_rounding_allowance():
    # 0.1-mg/m³ Zs of a spread channel, 4 % high for two hours: each hour's |Σ Zs − Σ own|
    # exceeds the honest allowance with 5 × 0.1 × √(60/12) = 1.118 for the Zs rounding (the
    # rounding errors' s.d. × rounding_sigmas) but not with the worst case ½ × 0.1 × 60 = 3.0
    # (C, O2 and shift terms the same in both), so only the statistical allowance finds it
    df = _spread_minutes(240, 1.0)
    df.loc[60:179, "pm_zs"] = np.round(
        df.loc[60:179, "pm_mg_m3"] * (21 - 9.0) / (21 - 12.1) * 1.04, 1)
    own = df["pm_mg_m3"] * (21 - 9.0) / (21 - 12.1)
    for h in (1, 2):  # the worked figures of each biased hour
        sl = slice(60 * h, 60 * h + 59)  # labels, both ends included
        c = df.loc[sl, "pm_mg_m3"]
        d = abs(df.loc[sl, "pm_zs"].sum() - own.loc[sl].sum())
        # C (0.01 steps), O2 (0.1) and a one-minute shift (the hour's range: the run of
        # two hours allows it once, so counting it per hour asks more than the rule)
        rest = (0.5 * 0.01 * 12 * 60 / 8.9 + 0.5 * 0.1 * 12 * c.sum() / 8.9**2
                + 12 * (c.max() - c.min()) / 8.9)
        assert df.loc[sl, "pm_zs"].std() >= 0.1  # spread: s.d. ≥ spread_steps × step
        assert rest + 5 * 0.1 * np.sqrt(60 / 12) < d < rest + 0.5 * 0.1 * 60
    _one_mean_event(_events(df), 120)
    # honest rounding of the same spread channel: no event
    assert _events(_spread_minutes(240, 1.0)).empty


def test_flat_channel_keeps_the_worst_case_rounding_allowance():
    # own = 1.05 × 12/8.9 = 1.4157 at every minute; a whole-mg logger honestly sends 1: per
    # hour |60 − 84.94| = 24.94 > 5 × 1 × √(60/12) + C 0.404 + O2 0.477 = 12.06 (the
    # statistical allowance would call it biased) but the hour's Zs do not spread (s.d. 0 <
    # 1 step), so the worst case 30 + 0.881 = 30.88 holds: rounding alone never biases a
    # flat hour
    assert _events(_minutes(240, 1.0, c=1.05)).empty


def test_misalignment_is_allowed_once_per_run_of_hours_not_per_hour():
    # PM spread over 1.0–2.0 mg/m³ (own 1.35–2.70, range 12 × 1.0/8.9 = 1.348), Zs at 0.01,
    # 2 % high for four hours (minutes 60..299). Each hour: |Σ Zs − Σ own| ≈ 2.4 > its
    # rounding allowance (5 × 0.01 × √5 = 0.112 + C 0.404 + O2 ≈ 0.68: ≈ 1.2), but < that +
    # the range 1.348, so a misalignment allowed per hour would hide every hour. The ends of
    # consecutive hours cancel (telescoping), so the run of four hours allows the range
    # once: Σ ≈ 9.7 > 4 × 1.2 + 1.348 → one event of 240 minutes
    df = _minutes(360, 0.0)
    rng = np.random.default_rng(11)
    df["pm_mg_m3"] = np.round(rng.uniform(1.0, 2.0, 360), 2)
    own = df["pm_mg_m3"] * 12 / 8.9
    df["pm_zs"] = np.round(own * np.where((df.index >= 60) & (df.index < 300), 1.02, 1.0), 2)
    tot_d = tot_tol = 0.0
    for h in range(1, 5):
        sl = slice(60 * h, 60 * h + 59)
        c = df.loc[sl, "pm_mg_m3"]
        d = df.loc[sl, "pm_zs"].sum() - own.loc[sl].sum()
        tol = (5 * 0.01 * np.sqrt(5) + 0.5 * 0.01 * 12 * 60 / 8.9
               + 0.5 * 0.1 * 12 * c.sum() / 8.9**2)
        assert tol < d < tol + 12 * (c.max() - c.min()) / 8.9
        tot_d, tot_tol = tot_d + d, tot_tol + tol
    assert tot_d > tot_tol + 12 * 1.0 / 8.9
    _one_mean_event(_events(df), 240)


def test_an_hour_biased_by_itself_is_found_inside_a_run_that_is_not():
    # spread PM as above. Hour 09:00 is 10 % high (|Σ Zs − Σ own| ≈ 12 > its rounding ≈ 1.2
    # + the misalignment within the hour, range 1.348 × (1 + 0 lost)); hours 10:00–12:00 are
    # 2 % high with 10 packets lost each (50 compared minutes): candidates by rounding alone,
    # so the run 09:00–12:59 has 30 lost minutes and a misalignment allowance of
    # 1.348 × 31 = 41.8 > its Σ ≈ 18: the run is no event, the hour 09:00 by itself is
    df = _minutes(360, 0.0)
    rng = np.random.default_rng(11)
    df["pm_mg_m3"] = np.round(rng.uniform(1.0, 2.0, 360), 2)
    own = df["pm_mg_m3"] * 12 / 8.9
    f = np.where(df.index < 60, 1.0, np.where(df.index < 120, 1.10,
                                              np.where(df.index < 300, 1.02, 1.0)))
    df["pm_zs"] = np.round(own * f, 2)
    lost = [i for h in (2, 3, 4) for i in range(60 * h + 20, 60 * h + 30)]
    df = df.drop(index=lost)
    own = own.drop(index=lost)
    run_d = (df.loc[60:299, "pm_zs"] - own.loc[60:299]).sum()
    assert 15 < run_d < 12 * 1.0 / 8.9 * 31
    _one_mean_event(_events(df.reset_index(drop=True)), 60)
