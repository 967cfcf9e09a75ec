"""``spike``'s minute-level abruptness test: worked examples with the numbers done by hand.

Two days of NOx minutes at 50 mg/m³ with a deterministic ±0.5 alternation (odd minutes 50.5,
even 49.5: every clock hour averages exactly 50, and a two-minute difference of the baseline
is exactly 0). No O2 correction (``hour_long`` without limits), so the hourly values are the
plain means of the valid minutes. Thresholds are the packaged defaults: with an hourly IQR of
0 the spread is ``spike.abs_floor`` (1), so an hour is high above 50 + 6·1 and above 2·50 =
100 (``min_rel`` 1.0).
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import spike

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 00:00")  # CST
N = 48 * 60


def _base() -> pd.DataFrame:
    alt = np.where(np.arange(N) % 2 == 1, 0.5, -0.5)
    return pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=N, freq="min"),
                         "nox_mg_m3": 50.0 + alt, "nox_flag": "N"})


def _at(hhmm: str) -> int:
    """Minute index of ``hhmm`` on the first day."""
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _set(df: pd.DataFrame, a: str, b: str, level) -> None:
    """Minutes [a, b) of the first day to ``level`` (+ the same ±0.5 alternation)."""
    i, j = _at(a), _at(b)
    alt = np.where(np.arange(i, j) % 2 == 1, 0.5, -0.5)
    df.loc[i:j - 1, "nox_mg_m3"] = np.asarray(level, dtype=float) + alt


def _hours(df: pd.DataFrame) -> ibis.Table:
    """The long hour frame of :func:`~lantian.engine.quality.statistics.hour_long` by hand."""
    ok = df[df["nox_flag"] == "N"]
    h = ok.groupby(ok["ts"].dt.floor("h"))["nox_mg_m3"].mean().reset_index()
    h = h.rename(columns={"nox_mg_m3": "value"})
    h["mn"], h["pollutant"], h["idx"] = "P1", "nox", np.arange(1, len(h) + 1)
    return ibis.memtable(h[["mn", "ts", "pollutant", "value", "idx"]])


def _spikes(df: pd.DataFrame, with_minutes: bool = True) -> pd.DataFrame:
    minutes = ibis.memtable(df) if with_minutes else None
    return ibis.duckdb.connect().execute(spike(_hours(df), TH, minutes=minutes))


def test_glitch_off_the_clock_hour_is_a_spike_by_its_minutes():
    # 150 from 10:35 to 12:05: hour 10 carries 25/60 of the jump (mean 91.67, not high),
    # hour 11 = 150 (high), hour 12 = 5/60 (58.33). The hourly shoulder test rejects it:
    # 91.67 > max(50 + 2·1, 50 + 0.3·(150 − 50)) = 80.
    df = _base()
    _set(df, "10:35", "12:05", 150.0)
    assert _spikes(df, with_minutes=False).empty
    ev = _spikes(df)
    assert len(ev) == 1
    e = ev.iloc[0]
    assert (e["start"], e["end"]) == (T0 + pd.Timedelta(hours=11),
                                      T0 + pd.Timedelta(hours=11, minutes=59))
    assert e["severity"] == "medium"  # 150 < 5 × 50 (spike.high_ratio)
    evd = json.loads(e["evidence"])
    # the step is whole within one minute. Five-minute means (spike.step_minutes): 10:35–10:39
    # (three odd minutes) = 150.1 over 10:30–10:34 (three even) = 49.9; 12:05–12:09 = 50.1
    # under 12:00–12:04 = 149.9
    assert evd["minute_rise"] == 100.2 and evd["minute_fall"] == 99.8
    # jump: upper quartile of hour 11's minutes (30 × 149.5, 30 × 150.5 → 150.5) scaled by
    # the hours' rise over the rolling median, 1 − 50/150: 150.5 × 2/3 = 100.3333
    assert evd["minute_jump"] == 100.3333


def test_a_ramp_of_tens_of_minutes_is_not_a_spike():
    # 50 → 150 over 40 minutes from 10:00, held, back to 50 over 40 minutes to 13:00:
    # hours 10, 11, 12 are high (116.7, 150, 116.7), hours 9 and 13 calm, so the hourly
    # shoulder test alone took it for a spike; its largest five-minute step is 5·100/40 = 12.5
    # < 0.5 × the jump
    df = _base()
    _set(df, "10:00", "10:40", 50 + 100 * np.arange(1, 41) / 40)
    _set(df, "10:40", "12:20", 150.0)
    _set(df, "12:20", "13:00", 150 - 100 * np.arange(1, 41) / 40)
    assert len(_spikes(df, with_minutes=False)) == 1
    assert _spikes(df).empty


def test_an_abrupt_step_held_longer_than_max_hours_is_not_a_spike():
    # 150 from 10:40 to 14:00: hours 11–13 high (3 ≤ spike.max_hours), hour 10 at 83.3 not;
    # rise at 10:40 and fall at 14:00 are 200 min apart > 3 h: a level change, not a glitch
    df = _base()
    _set(df, "10:40", "14:00", 150.0)
    assert _spikes(df).empty


def test_minutes_under_an_invalid_flag_are_not_read():
    # the glitch of the first test plus a span check (C flag, span gas 400) at 12:30–12:40:
    # had the C minutes been read, the largest rise would be 350 (five minutes of 400 over 50)
    df = _base()
    _set(df, "10:35", "12:05", 150.0)
    i, j = _at("12:30"), _at("12:40")
    df.loc[i:j - 1, "nox_mg_m3"] = 400.0
    df.loc[i:j - 1, "nox_flag"] = "C"
    ev = _spikes(df)
    assert len(ev) == 1
    evd = json.loads(ev.iloc[0]["evidence"])
    assert (evd["minute_rise"], evd["minute_fall"], evd["minute_jump"]) == (100.2, 99.8,
                                                                            100.3333)


def test_spark_gives_the_same_spike_as_duckdb(spark_ibis):
    # the off-clock glitch of the first test, minutes and hours as Spark tables
    df = _base()
    _set(df, "10:35", "12:05", 150.0)
    df["ts"] = df["ts"].astype("datetime64[us]")
    hours = _hours(df).to_pandas()
    hours["ts"] = hours["ts"].astype("datetime64[us]")

    def run(con) -> pd.DataFrame:
        m = con.create_table("spike_minutes", df, overwrite=True)
        h = con.create_table("spike_hours", hours, overwrite=True)
        return con.execute(spike(h, TH, minutes=m))

    duck, spark = run(ibis.duckdb.connect()), run(spark_ibis)
    assert len(duck) == 1
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def test_a_disturbance_already_under_way_where_the_span_begins_is_not_a_spike():
    # 140 at 09:00–09:09 (hour 9 = 50 + 90·10/60 = 65: not high), 50 again, then 150 at
    # 10:00–10:59 (hour 10 high, the run). Rise 100 at 10:00 and fall 100 at 11:00 (the fall
    # at 09:10 is only 90), 60 min apart: abrupt both ways. But the span (09:00–11:59) begins
    # at 140 (±0.5), above the run's level less half the jump: 150.5 − 0.5 × 100.33 = 100.3
    df = _base()
    _set(df, "09:00", "09:10", 140.0)
    _set(df, "10:00", "11:00", 150.0)
    assert _spikes(df).empty
    # the same glitch without the earlier disturbance is a spike
    df = _base()
    _set(df, "10:00", "11:00", 150.0)
    assert len(_spikes(df)) == 1
