"""Worked examples (numbers by hand) of ``zero`` on noisy channels (session 7, qcdet7).

A channel whose own valid readings cross zero in many of its running half-hours (gas-boiler
SO2 of 1 mg/m³ with ±1 mg/m³ of analyser noise: the blind set, benchmarks/qc_blind.py) gets
``info`` for its zero runs; a zero episode split by the analyser's daily calibration is one
run when it reads ≤ 0 in most of its span. Times are China Standard Time wall-clock.
"""

from __future__ import annotations

import json

import ibis
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.values import zero, zero_presence

TH = load_thresholds()
T0 = pd.Timestamp("2026-03-02 08:00")


def _con():
    return ibis.duckdb.connect()


def _ts(x) -> pd.Series:
    return pd.Series(x).astype("datetime64[us]")


def test_zero_share_counts_running_half_hours_whose_readings_cross_zero():
    # four running hours of one point, O2 only as the second channel
    hours = pd.DataFrame({"mn": "P1", "ts": _ts(pd.date_range(T0, periods=4, freq="h")),
                          "running": [True, True, True, False], "flow_raw": 50.0,
                          "so2_mg_m3": [2.0, 1.0, 3.0, 0.0], "so2_valid": True,
                          "o2_pct": 6.0, "o2_valid": True})
    t0 = pd.date_range(T0, periods=8, freq="30min")
    # so2 (lo, hi) per block: crosses = lo <= 0 < hi
    lo = [-1.0, 0.5, 0.0, -2.0, 0.0, None, -1.0, -1.0]
    hi = [2.0, 3.0, 0.0, 1.0, 0.4, None, 1.0, 1.0]
    n = [30, 30, 30, 30, 30, 0, 30, 30]
    blocks = pd.DataFrame({"mn": "P1", "t0": _ts(t0), "n_so2": n, "lo_so2": lo, "hi_so2": hi,
                           "n_o2": 30, "lo_o2": 5.0, "hi_o2": 7.0})
    got = _con().execute(zero_presence(ibis.memtable(hours), ibis.memtable(blocks), ["so2"]))
    got = got.set_index("pollutant")
    # running hours 0-2 = blocks 0-5; block 5 has no valid value; blocks 6-7 are in the
    # stopped hour 3. Counted 5 (0-4), crossing: block 0 (-1 < 0 < 2), block 3 (-2, 1),
    # block 4 (0 <= 0 < 0.4); not block 2 (0, 0: zero throughout) → 3 / 5
    assert got.loc["so2", "zero_share"] == pytest.approx(3 / 5)
    assert got.loc["so2", "month_median"] == pytest.approx(2.0)  # of 2, 1, 3
    assert got.loc["o2", "zero_share"] == 0.0


def _long(values: list[float | None], start: pd.Timestamp = T0) -> pd.DataFrame:
    """Long minute rows of so2, one per minute from ``start`` (None = no packet)."""
    ts = pd.date_range(start, periods=len(values), freq="min")
    df = pd.DataFrame({"mn": "P1", "ts": ts, "running": True, "pollutant": "so2",
                       "value": values, "flag": "N"})
    df = df[df["value"].notna()].copy()
    df["ts"] = df["ts"].astype("datetime64[us]")
    return df


def _zero(values, share: float | None) -> pd.DataFrame:
    pres = pd.DataFrame({"mn": ["P1"], "pollutant": ["so2"], "month_median": [12.0],
                         "zero_share": [share]})
    ev = _con().execute(zero(ibis.memtable(_long(values)), ibis.memtable(pres), TH))
    return ev.sort_values("start").reset_index(drop=True)


def test_forty_zero_minutes_alarm_on_a_quiet_channel_and_are_info_on_a_noisy_one():
    v = [10.0] * 5 + [0.0] * 20 + [-0.5] * 20 + [10.0] * 5
    quiet = _zero(v, 0.05)  # 0.05 < cross_share 0.1
    assert list(quiet["severity"]) == ["medium"]  # 40 minutes < high_minutes 60
    e = json.loads(quiet["evidence"][0])
    assert (e["minutes"], e["lowest"], e["zero_share"]) == (40.0, -0.5, 0.05)
    assert quiet["start"][0] == T0 + pd.Timedelta(minutes=5)
    assert quiet["end"][0] == T0 + pd.Timedelta(minutes=44)
    assert list(_zero(v, 0.12)["severity"]) == ["info"]  # 0.12 ≥ 0.1: at its detection limit
    assert list(_zero(v, None)["severity"]) == ["medium"]  # no share known: as before


def test_a_zero_episode_split_by_the_daily_calibration_is_one_run():
    # 13 zero minutes, 8 minutes without valid N readings (C flags: not in the long N rows),
    # 23 zero minutes: 36 zero minutes over a span of 13 + 8 + 23 = 44 → 36/44 = 0.82 ≥ 0.75
    v = [10.0] * 3 + [-6.0] * 13 + [None] * 8 + [-6.0] * 23 + [10.0] * 3
    ev = _zero(v, 0.0)
    assert list(ev["severity"]) == ["medium"]
    assert json.loads(ev["evidence"][0])["minutes"] == 36.0
    assert ev["end"][0] - ev["start"][0] == pd.Timedelta(minutes=43)


def test_noise_touching_zero_now_and_then_is_no_run():
    # 31 zero minutes, each followed by a reading above zero within 15 min: the run's
    # span is 2 × 31 − 1 = 61 minutes, 31/61 = 0.51 < 0.75 → nothing; each piece alone is
    # one minute (< 30)
    v = [5.0] + [x for _ in range(31) for x in (0.0, 1.0)]
    assert _zero(v, 0.0).empty
    # a gap longer than gap_minutes (15) splits two runs of 20 → nothing either
    v = [0.0] * 20 + [None] * 16 + [0.0] * 20
    assert _zero(v, 0.0).empty


def _zero_ranged(values, median: float, rng: float | None) -> pd.DataFrame:
    pres = pd.DataFrame({"mn": ["P1"], "pollutant": ["so2"], "month_median": [median],
                         "zero_share": [0.0]})
    rows = [] if rng is None else [{"mn": "P1", "pollutant": "so2", "range_mg_m3": rng}]
    ranges = ibis.memtable(pd.DataFrame(rows, columns=["mn", "pollutant", "range_mg_m3"]),
                           schema={"mn": "string", "pollutant": "string",
                                   "range_mg_m3": "float64"})
    ev = _con().execute(zero(ibis.memtable(_long(values)), ibis.memtable(pres), TH,
                             ranges=ranges))
    return ev.sort_values("start").reset_index(drop=True)


def test_twenty_zero_minutes_alarm_on_a_channel_clear_of_the_analysers_drift():
    # qcacc8 (s8): 20 zero minutes (< min_minutes 30, ≥ clear_minutes 16)
    v = [10.0] * 5 + [0.0] * 20 + [10.0] * 5
    # median 12 mg/m3 on a 200 mg/m3 range: 12 ≥ 0.05 × 200 = 10 → clear of zero → event
    ev = _zero_ranged(v, 12.0, 200.0)
    assert list(ev["severity"]) == ["medium"]
    assert json.loads(ev["evidence"][0])["minutes"] == 20.0
    # the same median on a 500 mg/m3 range: 12 < 25, within reach of the drift → 30 min hold
    assert _zero_ranged(v, 12.0, 500.0).empty
    assert _zero_ranged(v, 12.0, None).empty  # no range known: 30 min as before
    # 15 zero minutes: not longer than a daily zero check, even on a clear channel
    assert _zero_ranged([10.0] * 5 + [0.0] * 15 + [10.0] * 5, 12.0, 200.0).empty
