"""``spike``'s minute candidates (qcspike9): glitches shorter than the hour mean shows.

Worked examples with the numbers done by hand. Two days of NOx minutes at a level with a
deterministic alternation (odd minutes ``+a``, even ``−a``: every clock hour averages the
level exactly), no O2 correction (the hours are the plain means of the valid minutes, as in
``test_qc_spike_minutes.py``), thresholds the packaged defaults: ``spike.minute_k`` 3,
``spike.abs_floor`` 1, ``spike.min_rel`` 1.0, ``spike.abrupt_frac`` 0.5,
``spike.step_minutes`` 5, ``spike.step_k`` 3. The blocks are
:func:`~lantian.engine.quality.blocks.minute_blocks` of the same minutes (30-min blocks).
With ``a`` = 0.5 every ordinary block spans 1.0, so the channel's spread is max(1.0,
abs_floor) = 1, and every minute changes by 1, so its usual largest one-minute step is 1.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.blocks import minute_blocks
from lantian.engine.quality.spikes import minute_candidates, spike, spike_candidates

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 00:00")  # CST
N = 48 * 60
DAY = 24 * 60


def test_the_thresholds_the_examples_use():
    assert (TH.get("spike", "minute_k"), TH.get("spike", "abs_floor"),
            TH.get("spike", "min_rel"), TH.get("spike", "abrupt_frac"),
            TH.get("spike", "step_minutes"), TH.get("spike", "high_ratio")) == (
        3, 1, 1, 0.5, 5, 5)


def _base(level: float = 50.0, a: float = 0.5, pm: float | None = None,
          n: int = N) -> pd.DataFrame:
    alt = np.where(np.arange(n) % 2 == 1, a, -a)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min"),
                       "nox_mg_m3": level + alt, "nox_flag": "N", "o2_pct": 10.0,
                       "flow_m3_s": 100.0})
    if pm is not None:
        df["pm_mg_m3"] = pm + alt
        df["pm_flag"] = "N"
    return df


def _at(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _set(df: pd.DataFrame, a: str, b: str, level, col: str = "nox_mg_m3",
         alt: float = 0.5, day: int = 0) -> None:
    """Minutes [a, b) of day ``day`` (0: the first) to ``level`` (+ the same alternation)."""
    i, j = _at(a) + day * DAY, _at(b) + day * DAY
    sign = np.where(np.arange(i, j) % 2 == 1, alt, -alt)
    df.loc[i:j - 1, col] = np.asarray(level, dtype=float) + sign


def _hours(df: pd.DataFrame, keys: tuple[str, ...] = ("nox",)) -> ibis.Table:
    parts = []
    for k in keys:
        ok = df[df[f"{k}_flag"] == "N"]
        h = ok.groupby(ok["ts"].dt.floor("h"))[f"{k}_mg_m3"].mean().reset_index()
        h = h.rename(columns={f"{k}_mg_m3": "value"})
        h["mn"], h["pollutant"], h["idx"] = "P1", k, np.arange(1, len(h) + 1)
        parts.append(h[["mn", "ts", "pollutant", "value", "idx"]])
    return ibis.memtable(pd.concat(parts, ignore_index=True))


def _spikes(df: pd.DataFrame, keys: tuple[str, ...] = ("nox",),
            blocks: bool = True) -> pd.DataFrame:
    m = ibis.memtable(df)
    hl = _hours(df, keys)
    b = minute_blocks(m, list(keys), TH) if blocks else None
    c = spike_candidates(hl, TH, blocks=b)
    return ibis.duckdb.connect().execute(spike(hl, TH, minutes=m, candidates=c))


def _one_ten_minute_spike(df: pd.DataFrame) -> dict:
    """The evidence of the one ``medium`` spike of ``df``, its event 10:12-10:21 of day 0."""
    ev = _spikes(df)
    assert len(ev) == 1 and ev.iloc[0]["severity"] == "medium"
    assert (ev.iloc[0]["start"], ev.iloc[0]["end"]) == (
        T0 + pd.Timedelta(hours=10, minutes=12), T0 + pd.Timedelta(hours=10, minutes=21))
    return json.loads(ev.iloc[0]["evidence"])


def test_a_ten_minute_glitch_is_a_spike_by_its_block_range():
    # 150 at 10:12-10:21: hour 10 = 50 + 100·10/60 = 66.7 < 2·50, no hourly candidate
    df = _base()
    _set(df, "10:12", "10:22", 150.0)
    assert _spikes(df, blocks=False).empty
    ev = _spikes(df)
    assert len(ev) == 1
    e = ev.iloc[0]
    # the event is the glitch's raised minutes, not the clock hour
    assert (e["start"], e["end"]) == (T0 + pd.Timedelta(hours=10, minutes=12),
                                      T0 + pd.Timedelta(hours=10, minutes=21))
    assert e["severity"] == "medium"  # 150.1 < 5 × 50 (spike.high_ratio)
    evd = json.loads(e["evidence"])
    # block 10:00-10:29 spans 150.5 − 49.5 = 101 > 3 × 1; one-minute steps: 10:11 (odd,
    # 50.5) → 10:12 (even, 149.5) = 99; 10:21 (odd, 150.5) → 10:22 (even, 49.5) = −101;
    # top: the highest five-minute mean inside hour 10, three odd 150.5 + two even 149.5 =
    # 150.1; level: median of hours 9 and 11 (60 × 49.5, 60 × 50.5) = 50
    assert (evd["minute_rise"], evd["minute_fall"]) == (99.0, 101.0)
    assert (evd["minute_top"], evd["minute_level"], evd["minute_spread"]) == (150.1, 50.0, 1.0)
    assert evd["minute_jump"] == pytest.approx(100.1)


def test_a_puff_that_rises_over_minutes_is_not_a_spike():
    # 50 → 150 in four steps of 25 (10:12-10:15), held to 10:21, back in four steps: the
    # block is a candidate (range 101) but no one-minute step reaches half the jump (25 < 50)
    df = _base()
    _set(df, "10:12", "10:16", 50 + 25 * np.arange(1, 5))
    _set(df, "10:16", "10:22", 150.0)
    _set(df, "10:22", "10:26", 150 - 25 * np.arange(1, 5))
    assert len(ibis.duckdb.connect().execute(minute_candidates(
        _hours(df), minute_blocks(ibis.memtable(df), ["nox"], TH), TH))) == 1
    assert _spikes(df).empty


def test_the_block_scan_keeps_each_block_s_largest_one_minute_change():
    # dx_nox: the largest |v − v of the row before| in the block. Every ordinary minute
    # changes by 1 (49.5 ↔ 50.5); the glitch 90 ± 0.5 at 10:12-10:21 steps 50.5 → 89.5 at
    # 10:12 and 90.5 → 49.5 at 10:22, both in block 10:00-10:29
    df = _base()
    _set(df, "10:12", "10:22", 90.0)
    b = ibis.duckdb.connect().execute(minute_blocks(ibis.memtable(df), ["nox"], TH))
    b = b.set_index("t0").sort_index()
    assert b.loc[T0 + pd.Timedelta(hours=10), "dx_nox"] == 41.0
    assert set(b.drop(T0 + pd.Timedelta(hours=10))["dx_nox"]) == {1.0}


def test_an_additive_glitch_below_twice_the_level_is_a_spike_by_its_steps():
    # 90 at 10:12-10:21 on 50: not above 2 × 50 (spike.min_rel), and its jump 40.1 is over
    # 3 block spreads, but the doubling test fails (session 10: not a spike). The channel's
    # usual largest one-minute step (median dx_nox) is 1: the rise 39 and the fall 41 are
    # over spike.step_k 3 × 1, as is the jump (3 × 90.5 + 2 × 89.5)/5 − 50 = 40.1, which is
    # at least spike.abs_floor: a glitch (qcspike11)
    assert TH.get("spike", "step_k") == 3
    df = _base()
    _set(df, "10:12", "10:22", 90.0)
    evd = _one_ten_minute_spike(df)
    assert (evd["minute_rise"], evd["minute_fall"], evd["minute_step"]) == (39.0, 41.0, 1.0)
    assert evd["minute_jump"] == pytest.approx(40.1)


def test_a_step_within_three_usual_largest_steps_is_not_a_spike():
    # 52.5 at 10:12-10:21: rise 50.5 → 52.0 = 1.5 is not over 3 × 1 (nor the jump 2.5 over
    # 3 spreads of 1): the channel's own fast moves
    df = _base()
    _set(df, "10:12", "10:22", 52.5)
    assert _spikes(df).empty


def test_an_additive_glitch_is_read_by_its_level_steps():
    # (qcspike13) 53.4 at 10:12-10:21 on 50: the rise 50.5 (10:11, odd) → 52.9 (10:12,
    # even) = 2.4 is under spike.step_k 3 × the usual largest step 1 (the alternation's
    # minute noise works against it), the fall 53.9 → 49.5 = 4.4 over it. The level held
    # between them (median 53.4) stands 3.3 above the mean of the five minutes before the
    # rise (3 × 50.5 + 2 × 49.5)/5 = 50.1 and 3.5 above the five from the fall (49.9):
    # a step of the level over 3 usual steps on both sides, with the jump 53.5 − 50.0 =
    # 3.5 (session 11 asked each single one-minute change to be over 3 steps: not a spike)
    df = _base()
    _set(df, "10:12", "10:22", 53.4)
    evd = _one_ten_minute_spike(df)
    assert evd["minute_rise"] == pytest.approx(2.4)
    assert evd["minute_fall"] == pytest.approx(4.4)
    assert evd["minute_jump"] == pytest.approx(3.5)
    # held 52.9 on 50: 2.8 and 3.0 above the two sides, not over 3 usual steps
    df = _base()
    _set(df, "10:12", "10:22", 52.9)
    assert _spikes(df).empty


def test_an_additive_glitch_needs_abs_floor_where_it_does_not_double():
    # a channel read to 0.01 (50 ± 0.01: usual largest step 0.02, the resolution 0.01):
    # +0.6 steps 30 times the usual step but is under spike.abs_floor 1 and far from
    # doubling: the analyser's accuracy, not a glitch; +3 is a spike
    df = _base(a=0.01)
    _set(df, "10:12", "10:22", 50.6, alt=0.01)
    assert _spikes(df).empty
    _set(df, "10:12", "10:22", 53.0, alt=0.01)
    ev = _spikes(df)
    assert len(ev) == 1
    assert json.loads(ev.iloc[0]["evidence"])["minute_step"] == pytest.approx(0.02)


def test_a_flat_whole_mg_channel_s_usual_step_is_its_resolution():
    # 20 flat in whole mg/m3: no minute changes (median dx 0), so the usual largest step is
    # the resolution 1 read from the readings' decimals. A glitch to 22 (steps 2, not over
    # 3 × 1) is not a spike; to 24 (steps 4, jump 4 >= abs_floor) it is, though 24 < 2 × 20
    df = _base(level=20.0, a=0.0)
    _set(df, "10:12", "10:22", 22.0, alt=0.0)
    assert _spikes(df).empty
    _set(df, "10:12", "10:22", 24.0, alt=0.0)
    ev = _spikes(df)
    assert len(ev) == 1
    assert json.loads(ev.iloc[0]["evidence"])["minute_step"] == 1.0


def test_the_yardstick_is_the_channel_s_own_minute_spread():
    # level 5: a glitch to 15 at 10:12-10:21 is a spike on a quiet channel (±0.5: spread 1,
    # jump 15.1 − 5 = 10.1 > 3) …
    df = _base(level=5.0)
    _set(df, "10:12", "10:22", 15.0)
    assert len(_spikes(df)) == 1
    # … but not on one whose ordinary minutes swing ±2 (3 and 7: every block spans 4, spread
    # 4). The block (17 − 3 = 14 > 12) is a candidate, the glitch is not: top 3 × 17 + 2 × 13
    # over 5 = 15.4, level median(3, 7) = 5, jump 10.4 < 3 × 4
    df = _base(level=5.0, a=2.0)
    _set(df, "10:12", "10:22", 15.0, alt=2.0)
    assert _spikes(df).empty


def test_another_pollutant_raised_in_the_same_hour_makes_it_low():
    # NOx and PM (level 20) glitch together at 10:12-10:21: the process moved
    df = _base(pm=20.0)
    _set(df, "10:12", "10:22", 150.0)
    assert list(_spikes(df, keys=("nox", "pm")).severity) == ["medium"]
    _set(df, "10:12", "10:22", 60.0, col="pm_mg_m3")
    ev = _spikes(df, keys=("nox", "pm"))
    assert sorted(ev.pollutant) == ["nox", "pm"] and set(ev.severity) == {"low"}


def test_another_pollutant_raised_in_another_half_hour_does_not_make_it_low():
    # PM (level 20) to 60 at 10:02-10:11 (a soot blow: block 10:00-10:29 spans 60.5 − 19.5
    # = 41 > 3 and 60.5 > 2 × 19.5, a candidate), the NOx glitch to 150 at 10:42-10:51 (block
    # 10:30-10:59): the same clock hour, not the same 30 minutes, so the flue gas did not
    # move both at once; each is its own spike (in session 9 both were low)
    df = _base(pm=20.0)
    _set(df, "10:42", "10:52", 150.0)
    _set(df, "10:02", "10:12", 60.0, col="pm_mg_m3")
    ev = _spikes(df, keys=("nox", "pm")).sort_values("pollutant")
    assert list(ev.pollutant) == ["nox", "pm"] and list(ev.severity) == ["medium", "medium"]
    assert ev.iloc[0]["start"] == T0 + pd.Timedelta(hours=10, minutes=42)


def _nox_beside_pm(pm_from: str, days, start: str, end: str, glitch: float,
                   level: float = 50.0) -> pd.Series:
    """The one NOx event of 8 days: PM (level 20) at 40 from ``pm_from`` to 11:00 of each day
    in ``days``, NOx (``level``) at ``glitch`` from ``start`` to before ``end`` of day 5."""
    df = _base(level=level, pm=20.0, n=8 * DAY)
    for d in days:
        _set(df, pm_from, "11:00", 40.0, col="pm_mg_m3", day=d)
    _set(df, start, end, glitch, day=5)
    ev = _spikes(df, keys=("nox", "pm"))
    nox = ev[ev.pollutant == "nox"]
    assert len(nox) == 1
    return nox.iloc[0]


def test_another_pollutant_s_daily_rise_does_not_make_it_low():
    # (qcspike13) PM (level 20) at 40 in hour 10 of every day of 8 (the source's schedule:
    # the month's median at 10:00 is 40, twice its rolling median 20, on 8 >= 7 days) and a
    # NOx glitch of 200 at 10:16-10:28 of day 5 on 30 (hour 10 = 66.83: an hourly run, as
    # in test_a_glitch_that_raises_its_hour_is_judged_by_its_one_minute_steps). PM's hour
    # is 2 × its rolling median, but that is its own daily rise, no sign the process moved
    # with the NOx glitch: the NOx spike is an alarm (it was low, the common mode)
    e = _nox_beside_pm("10:00", range(8), "10:16", "10:29", 200.0, level=30.0)
    assert e["severity"] == "medium"
    assert json.loads(e["evidence"])["other_pollutant_ratio"] is None
    # PM at 40 on day 5 only: the process moved (low, the common mode)
    e = _nox_beside_pm("10:00", [5], "10:16", "10:29", 200.0, level=30.0)
    assert e["severity"] == "low"
    assert json.loads(e["evidence"])["other_pollutant_ratio"] == pytest.approx(2.0)


def test_another_pollutant_s_daily_step_in_the_same_half_hour_does_not_make_it_low():
    # (qcspike13) the ten-minute NOx glitch to 150 at 10:12-10:21 of day 5 (a minute run)
    # and PM (level 20) stepping to 40 at 10:05 every day of 8 (block 10:00-10:29 a
    # candidate by its step of 19 > 3 × 1, every day): the month's median of PM's largest
    # minute at 10:00 (40.5) is above that of every hour (20.5) by more than half the
    # block's own rise, so it is PM's schedule and the NOx glitch is an alarm; PM stepping
    # so on day 5 only is the process moving with it (low)
    assert _nox_beside_pm("10:05", range(8), "10:12", "10:22", 150.0)["severity"] == "medium"
    assert _nox_beside_pm("10:05", [5], "10:12", "10:22", 150.0)["severity"] == "low"


def test_an_hourly_spike_is_judged_once():
    # 150 at 10:35-12:04 (test_qc_spike_minutes' off-clock glitch): hour 11 is an hourly
    # candidate; the blocks of hours 10 and 12 are minute candidates within an hour of it,
    # so they are dropped and the one event is the hourly run's (hour 11)
    df = _base()
    _set(df, "10:35", "12:05", 150.0)
    ev = _spikes(df)
    assert len(ev) == 1
    assert ev.iloc[0]["start"] == T0 + pd.Timedelta(hours=11)


def test_a_glitch_that_raises_its_hour_is_judged_by_its_one_minute_steps():
    # level 30, 200 at 10:16-10:28 (13 min): hour 10 = 30 + 170 × 13/60 = 66.83 is an
    # hourly candidate (> 2 × 30), but the hour's upper quartile is 30.5, so the hourly run's
    # jump is 30.5 × (1 − 30/66.83) = 16.8 and the span's edges (30) are not below 30.5 − 8.4:
    # the hourly minute test rejects it. With the blocks it passes the glitch test: top
    # (3 × 200.5 + 2 × 199.5)/5 = 200.1 over a level of 30, steps of 169 and 171
    df = _base(level=30.0)
    _set(df, "10:16", "10:29", 200.0)
    assert _spikes(df, blocks=False).empty
    ev = _spikes(df)
    assert len(ev) == 1
    e = ev.iloc[0]
    assert e["start"] == T0 + pd.Timedelta(hours=10)  # the hourly run's event
    evd = json.loads(e["evidence"])
    assert (evd["minute_top"], evd["minute_level"]) == (200.1, 30.0)


def test_a_glitch_in_the_half_hour_before_a_stop_is_not_judged():
    # the ten-minute glitch of the first test at 10:42-10:51, and the source stops (no valid
    # NOx) at 11:00-11:59: its block 10:30-10:59 touches the stop (a shut-down's transient
    # cannot be told from it), so it is no candidate
    df = _base()
    _set(df, "10:42", "10:52", 150.0)
    i = _at("11:00")
    df.loc[i:i + 59, "nox_flag"] = "F"
    assert _spikes(df).empty


def test_a_glitch_in_the_hour_before_a_stop_is_judged_against_the_hour_before_it():
    # (qcspike13) the glitch at 10:12-10:21 with the same stop at 11:00: its block
    # 10:00-10:29 does not touch the stop; the run's span is hours 9-10 (the stop's hour
    # 11 left out), its level the median of hour 9 (50.0); session 11 dropped the whole
    # hour next to the stop (a gas turbine's glitch falling at 21:05 before its 22:00 stop)
    df = _base()
    _set(df, "10:12", "10:22", 150.0)
    i = _at("11:00")
    df.loc[i:i + 59, "nox_flag"] = "F"
    assert _one_ten_minute_spike(df)["minute_level"] == 50.0


def test_a_start_up_an_hour_before_a_glitch_does_not_hide_it():
    # the source stopped (no valid NOx) 00:00-06:59 of day 1, starts at 07:00 with 150 for
    # five minutes (a start-up transient: block 07:00-07:29 a candidate); the ten-minute
    # glitch at 09:12-09:21. Hour 7 follows a stop, so it cannot be judged; before session 11
    # it joined hour 9 into one run (hours less than two apart) whose hour before (6) did not
    # run, and the glitch was dropped with it
    df = _base()
    i = DAY
    df.loc[i:i + _at("07:00") - 1, "nox_flag"] = "F"
    _set(df, "07:00", "07:05", 150.0, day=1)
    _set(df, "09:12", "09:22", 150.0, day=1)
    ev = _spikes(df)
    assert list(ev["start"]) == [T0 + pd.Timedelta(days=1, hours=9, minutes=12)]


def test_a_glitch_at_the_same_clock_time_every_day_is_the_schedule():
    # the ten-minute glitch at 10:12 on every day of 14: the month's median of hour 10's
    # largest minute is 150.5, above the month's median of every hour's largest minute
    # (50.5) by more than half the jump (spike.schedule_share 0.5 × 100.1), on at least 7
    # days (spike.schedule_days)
    df = _base(n=14 * DAY)
    for d in range(14):
        _set(df, "10:12", "10:22", 150.0, day=d)
    # (the source's schedule: info since session 11, low before)
    ev = _spikes(df)
    assert len(ev) == 14 and set(ev.severity) == {"info"}
    assert {json.loads(e)["clock_hour_max_median"] for e in ev.evidence} == {150.5}
    # on three days of 14 the median of hour 10's largest minute is 50.5: alarms
    df = _base(n=14 * DAY)
    for d in (2, 6, 11):
        _set(df, "10:12", "10:22", 150.0, day=d)
    ev = _spikes(df)
    assert len(ev) == 3 and set(ev.severity) == {"medium"}


def test_a_daily_puff_is_the_schedule_beside_a_glitch_at_another_clock_hour():
    # the daily puff at 10:12-10:21 of every day of 14 and, on day 3, a glitch at 15:12-15:21:
    # each run is judged at its own clock hour (the puffs' hour 10: 150.5 over the month's
    # ordinary hour's largest minute 50.5, info; the glitch's hour 15: 50.5, medium). Until
    # session 11 the Ibis join on the clock hour compared the hour with itself, every run
    # took the lowest level of every candidate clock hour (50.5), and the puffs were medium
    df = _base(n=14 * DAY)
    for d in range(14):
        _set(df, "10:12", "10:22", 150.0, day=d)
    _set(df, "15:12", "15:22", 150.0, day=3)
    ev = _spikes(df).sort_values("start")
    assert len(ev) == 15
    glitch = ev["start"] == T0 + pd.Timedelta(days=3, hours=15, minutes=12)
    assert list(ev[glitch].severity) == ["medium"]
    assert set(ev[~glitch].severity) == {"info"}
    evd = [json.loads(e) for e in ev.evidence]
    assert {(e["clock_hour_max_median"], e["hour_max_median"]) for e in evd} == {
        (150.5, 50.5), (50.5, 50.5)}


def test_a_daily_step_on_a_day_running_high_is_still_the_schedule():
    # level 10, every day of 14 raised +6 at 08:00-09:59 exactly (steps on the block edges,
    # seen by dx only; not doubling): the schedule. On day 5 the whole day runs at 15: that
    # day's level is 15, so the month's hour-8 largest minute (16.5) is not above it by half
    # the jump (6.1), but it is above the ordinary hour's (10.5): info, not an alarm
    df = _base(level=10.0, n=14 * DAY)
    df.loc[5 * DAY:6 * DAY - 1, "nox_mg_m3"] += 5.0
    for d in range(14):
        lvl = 16.0 + (5.0 if d == 5 else 0.0)
        _set(df, "08:00", "10:00", lvl, day=d)
    ev = _spikes(df)
    assert len(ev) == 14 and set(ev.severity) == {"info"}


def test_an_hourly_run_within_the_channel_s_minute_spread_is_not_a_spike():
    # level 5 with ±2 minutes (3 and 7: spread 4), 15 ± 2 for the whole of hour 10: the
    # hour (15) is above 5 + 6 × 1 and 2 × 5, and its minutes step abruptly. Its jump, the
    # hour's upper quartile 17 × (1 − 5/15) = 11.33, is below 3 × 4 = 12: with the blocks
    # it is not a spike, without them (hourly data) it is
    df = _base(level=5.0, a=2.0)
    _set(df, "10:00", "11:00", 15.0, alt=2.0)
    assert len(_spikes(df, blocks=False)) == 1
    assert _spikes(df).empty


def test_spark_gives_the_same_short_spike_as_duckdb(spark_ibis):
    df = _base()
    _set(df, "10:12", "10:22", 150.0)
    df["ts"] = df["ts"].astype("datetime64[us]")
    hours = _hours(df).to_pandas()
    hours["ts"] = hours["ts"].astype("datetime64[us]")

    def run(con) -> pd.DataFrame:
        m = con.create_table("short_minutes", df, overwrite=True)
        h = con.create_table("short_hours", hours, overwrite=True)
        c = spike_candidates(h, TH, blocks=minute_blocks(m, ["nox"], TH))
        return con.execute(spike(h, TH, minutes=m, candidates=c))

    duck, spark = run(ibis.duckdb.connect()), run(spark_ibis)
    assert len(duck) == 1
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def test_the_month_run_gives_spike_the_block_scan():
    # the ten-minute glitch of the first example through run.detector_events (what `lantian
    # qc` runs): found only when the month run hands its block scan to spike_candidates
    from lantian.engine.quality.inputs import point_limits
    from lantian.engine.quality.run import detector_events

    df = _base()
    _set(df, "10:12", "10:22", 150.0)
    df["o2_flag"], df["flow_flag"] = "N", "N"
    df["ts"] = df["ts"].astype("datetime64[us]")
    pts = pd.DataFrame({"mn": ["P1"], "source_type": ["coal_power_boiler"],
                        "jurisdiction": [None]})
    ranges = ibis.memtable(pd.DataFrame({"mn": ["P1"], "pollutant": ["nox"],
                                         "range_mg_m3": [500.0]}))
    con = ibis.duckdb.connect()
    m = con.create_table("glitch_month", df, overwrite=True)
    parts = detector_events(m, month="2026-01", points=ibis.memtable(pts[["mn", "source_type"]]),
                            limits=point_limits(pts, T0.date()), ranges=ranges,
                            keys=["nox"], detectors=["spike"], thresholds=TH)
    ev = con.execute(parts["spike"])
    ev = ev[ev.pollutant == "nox"]
    assert len(ev) == 1
    assert (ev.iloc[0]["start"], ev.iloc[0]["end"]) == (
        T0 + pd.Timedelta(hours=10, minutes=12), T0 + pd.Timedelta(hours=10, minutes=21))
    assert ev.iloc[0]["severity"] == "medium"


def test_the_common_mode_reads_each_other_pollutant_s_own_schedule():
    # (qcspike14) the ten-minute NOx glitch to 150 at 10:12-10:21 of day 5 with two other
    # pollutants (level 20): PM stepping to 80 at 10:05 every day of 8 (its own schedule)
    # and SO2 stepping to 40 at 10:05 on day 5 only (the process moved). The glitch is low
    # by SO2's block alone: its ratio (40.5 / 19.5) is the evidence, not PM's (80.5 / 19.5),
    # each pollutant's block judged by its own clock-hour level
    df = _base(pm=20.0, n=8 * DAY)
    alt = np.where(np.arange(8 * DAY) % 2 == 1, 0.5, -0.5)
    df["so2_mg_m3"] = 20.0 + alt
    df["so2_flag"] = "N"
    for d in range(8):
        _set(df, "10:05", "11:00", 80.0, col="pm_mg_m3", day=d)
    _set(df, "10:05", "11:00", 40.0, col="so2_mg_m3", day=5)
    _set(df, "10:12", "10:22", 150.0, day=5)
    ev = _spikes(df, keys=("nox", "pm", "so2"))
    nox = ev[ev.pollutant == "nox"]
    assert len(nox) == 1 and nox.iloc[0]["severity"] == "low"
    assert json.loads(nox.iloc[0]["evidence"])["other_pollutant_ratio"] == pytest.approx(
        40.5 / 19.5, abs=1e-4)
