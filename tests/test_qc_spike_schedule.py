"""``spike``: a rise that recurs at the same clock hour on most days is the source's schedule.

Worked examples with the numbers done by hand (qcshift7, session 7). An hourly SO2 series at
10 mg/m³ (no O2 correction: the frame is built by hand as ``hour_long`` returns it), 14 days
of running hours. With the packaged thresholds the rolling window is 12 running hours each
side (25 hours) and the spread is ``max(IQR, abs_floor)``. On every day 08:00 and 09:00 read
25 (a raw mill stopped in the peak-tariff hours): each window holds at most these two raised
hours, so its median is 10 and IQR 0, the spread is 1, and both hours are high
(25 > 10 + 6·1 and 25 > 2·10) with calm shoulders (10 ≤ 10 + 0.3·15). The month's median at
08:00 (and at 09:00) is 25 over 14 days (≥ ``spike.schedule_days`` 7): it is above the
rolling median by 15, at least ``spike.schedule_share`` 0.5 × the hour's rise 15, so every
hour of the run is scheduled and the event is ``low``.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import spike

TH = load_thresholds()
T0 = pd.Timestamp("2026-03-01 00:00")  # CST


def _series(days: int, raised_days: list[int], extra: dict[tuple[int, int], float] | None = None
            ) -> pd.DataFrame:
    ts = pd.date_range(T0, periods=days * 24, freq="h")
    v = np.full(len(ts), 10.0)
    for d in raised_days:
        v[d * 24 + 8] = v[d * 24 + 9] = 25.0
    for (d, h), x in (extra or {}).items():
        v[d * 24 + h] = x
    return pd.DataFrame({"mn": "P1", "ts": ts, "pollutant": "so2", "value": v,
                         "idx": np.arange(1, len(ts) + 1)})


def _events(df: pd.DataFrame, screen: bool = True) -> pd.DataFrame:
    ev = ibis.duckdb.connect().execute(spike(ibis.memtable(df), TH, screen=screen))
    return ev.sort_values("start").reset_index(drop=True)


def test_the_thresholds_the_examples_use():
    assert (TH.get("spike", "schedule_days"), TH.get("spike", "schedule_share")) == (7, 0.5)


@pytest.mark.parametrize("screen", [True, False])
def test_a_daily_rise_at_the_same_clock_hours_is_low(screen):
    ev = _events(_series(14, list(range(14))), screen=screen)
    assert len(ev) == 14
    assert set(ev.severity) == {"low"}
    assert list(pd.to_datetime(ev.start).dt.hour) == [8] * 14
    evd = json.loads(ev.evidence[3])
    assert (evd["peak"], evd["rolling_median"], evd["clock_hour_median"]) == (25.0, 10.0, 25.0)


def test_the_same_rise_on_three_days_of_fourteen_is_an_alarm():
    # the 08:00 median over 14 days is 10 (11 days at 10): 10 - 10 < 0.5 × 15, not scheduled
    ev = _events(_series(14, [2, 6, 11]))
    assert list(ev.severity) == ["medium"] * 3
    assert json.loads(ev.evidence[0])["clock_hour_median"] == 10.0


def test_a_glitch_on_top_of_the_schedule_stays_an_alarm():
    # day 6 08:00 reads 60: its rise 50 over the rolling median 10 is more than twice the
    # clock hour's 25 - 10 = 15, so the run (08:00 60, 09:00 25) is not scheduled in every
    # hour; peak 60 ≥ 5 × rolling median 10: high
    ev = _events(_series(14, list(range(14)), {(6, 8): 60.0}))
    assert list(ev.severity) == ["low"] * 6 + ["high"] + ["low"] * 7
    assert json.loads(ev.evidence[6])["clock_hour_median"] == 25.0


def test_a_rise_just_over_half_scheduled_is_low_and_just_under_is_not():
    # every day 08:00 at 18 (below 2 × 10: no hit; clock median 18, 8 over the rolling
    # median 10); on day 6 08:00 reads 26 (rise 16: 8 >= 0.5 × 16, low) or 26.5 (8 < 8.25,
    # medium); shoulders 10 <= 10 + 0.3 × 16
    for v, sev in ((26.0, "low"), (26.5, "medium")):
        df = _series(14, [], {(d, 8): 18.0 for d in range(14)})
        df.loc[6 * 24 + 8, "value"] = v
        ev = _events(df)
        assert list(ev.severity) == [sev], (v, ev)


def test_fewer_days_than_schedule_days_have_no_clock_hour_level():
    # six days at 08:00: too few to call anything a schedule, so the daily rise alarms
    ev = _events(_series(6, list(range(6))))
    assert list(ev.severity) == ["medium"] * 6
    assert json.loads(ev.evidence[0])["clock_hour_median"] is None
