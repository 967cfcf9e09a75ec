"""level_shift: change points of a two-window median test on the log scale (qcdetect, s4).

Worked examples on hand-made hourly series (one point, every hour a running hour; CST):
a daily load cycle of ±10 % around the level, a step ×0.4 for three days in the middle of a
20-day month. The step is ln 2.5 = 0.92 between the two 24-hour medians, far above
ln 1.35 = 0.30 (``level_shift.min_rel``); the daily cycle cancels in whole-day windows.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import level_shift

DAYS = 20
N = DAYS * 24
T0 = pd.Timestamp("2026-03-01")
SHIFT = slice(8 * 24 + 5, 11 * 24 + 5)  # 2026-03-09 05:00 .. 2026-03-12 04:00 (72 h)


def _series(level: float, factor: float = 0.4, pol: str = "so2") -> pd.DataFrame:
    hour = np.arange(N) % 24
    v = level * (1 + 0.1 * np.sin(2 * np.pi * hour / 24))
    v[SHIFT] *= factor
    return pd.DataFrame({"mn": "P1", "ts": T0 + pd.to_timedelta(np.arange(N), "h"),
                         "pollutant": pol, "value": v, "idx": np.arange(1, N + 1)})


def _run(df: pd.DataFrame, load: pd.DataFrame | None = None) -> pd.DataFrame:
    ld = ibis.memtable(load) if load is not None else None
    return ibis.duckdb.connect().execute(level_shift(ibis.memtable(df), load_thresholds(),
                                                     load=ld))


@pytest.mark.parametrize("level", [5.0, 20.0, 200.0])
def test_a_drop_to_40_percent_is_found_at_any_level(level):
    ev = _run(_series(level))
    assert len(ev) == 1
    e = ev.iloc[0]
    assert e.severity == "high"  # ratio 0.4 <= 1 / high_ratio (0.5)
    # the change points sit at the steps, give or take a few hours of the daily cycle
    assert abs(e.start - (T0 + pd.Timedelta(hours=SHIFT.start))) <= pd.Timedelta(hours=3)
    assert abs(e.end - (T0 + pd.Timedelta(hours=SHIFT.stop - 1, minutes=59))) \
        <= pd.Timedelta(hours=3)
    ratio = json.loads(e.evidence)["ratio"]
    assert ratio == pytest.approx(0.4, abs=0.04)


def test_a_smaller_step_is_medium_and_a_clean_cycle_raises_nothing():
    ev = _run(_series(20.0, factor=1.6))
    assert ev.severity.tolist() == ["medium"]  # 1.35 < 1.6 < 2
    assert _run(_series(20.0, factor=1.0)).empty  # daily ±10 % only
    assert _run(_series(20.0, factor=1.25)).empty  # under ln 1.35: not a shift


def test_under_the_resolution_floor_nothing_is_judged():
    # 0.8 → 0.32 mg/m3: both under level_shift.abs_floor (1 mg/m3), the ratio means nothing
    assert _run(_series(0.8)).empty


def test_a_step_of_the_load_at_the_same_hours_makes_it_a_process_change():
    df = _series(20.0)
    flow = np.full(N, 100.0)
    flow[SHIFT] = 60.0  # load -40 % at the same hours: the process moved, not the analyser
    load = df[["mn", "ts"]].assign(load=flow)
    assert _run(df, load).severity.tolist() == ["low"]
    # a load that does not step (daily cycle only) leaves the fault an alarm
    load = df[["mn", "ts"]].assign(load=100 * (1 + 0.1 * np.sin(np.arange(N) / 24 * 6.28)))
    assert _run(df, load).severity.tolist() == ["high"]


def test_another_pollutant_stepping_at_the_same_hours_makes_it_a_process_change():
    both = pd.concat([_series(20.0), _series(50.0, pol="nox")], ignore_index=True)
    ev = _run(both)
    assert sorted(ev.pollutant) == ["nox", "so2"] and set(ev.severity) == {"low"}
    # one channel alone: an analyser matter
    alone = pd.concat([_series(20.0), _series(50.0, factor=1.0, pol="nox")], ignore_index=True)
    ev = _run(alone)
    assert ev.pollutant.tolist() == ["so2"] and ev.severity.tolist() == ["high"]


def test_keeping_the_windowed_hours_gives_the_same_events():
    both = pd.concat([_series(20.0), _series(50.0, factor=1.0, pol="nox"),
                      _series(8.0).assign(mn="P2")], ignore_index=True)
    con = ibis.duckdb.connect()
    hl = con.create_table("shift_hl", both)
    lazy = con.execute(level_shift(hl, load_thresholds()))
    kept = con.execute(level_shift(hl, load_thresholds(), materialize=lambda t: t.cache()))
    assert len(lazy) == 2
    pd.testing.assert_frame_equal(lazy.sort_values("mn").reset_index(drop=True),
                                  kept.sort_values("mn").reset_index(drop=True))


def test_a_shift_at_the_month_start_is_the_minority_segment():
    df = _series(20.0, factor=1.0)
    df.loc[: 3 * 24 - 1, "value"] *= 2.2  # the first three days doubled (log step 0.79)
    ev = _run(df)
    assert len(ev) == 1 and ev.iloc[0].start == T0
    assert ev.iloc[0].severity == "high"


def test_spark_gives_the_same_level_shift_as_duckdb(spark_ibis):
    # the load-step case (one event, low) and a lone analyser shift of another point (high)
    df = pd.concat([_series(20.0), _series(20.0).assign(mn="P2")], ignore_index=True)
    df["ts"] = df["ts"].astype("datetime64[us]")
    flow = np.full(N, 100.0)
    flow[SHIFT] = 60.0
    load = df[df.mn == "P1"][["mn", "ts"]].assign(load=flow)

    def run(con) -> pd.DataFrame:
        h = con.create_table("shift_hours", df, overwrite=True)
        ld = con.create_table("shift_load", load, overwrite=True)
        # the windowed hours kept once (as lantian qc keeps its frames): the two segment
        # paths read them some ten times, and Spark's analyser ran out of heap on the
        # plan re-analysed per read (qcshift11)
        ev = con.execute(level_shift(h, load_thresholds(), load=ld,
                                     materialize=lambda t: t.cache()))
        return ev.sort_values("mn").reset_index(drop=True)

    duck, spark = run(ibis.duckdb.connect()), run(spark_ibis)
    assert duck.severity.tolist() == ["low", "high"]
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)



def _run_with_share(df: pd.DataFrame, share: float | None) -> pd.DataFrame:
    rows = [] if share is None else [{"mn": "P1", "pollutant": "so2", "zero_share": share}]
    pres = ibis.memtable(pd.DataFrame(rows, columns=["mn", "pollutant", "zero_share"]),
                         schema={"mn": "string", "pollutant": "string", "zero_share": "float64"})
    return ibis.duckdb.connect().execute(level_shift(ibis.memtable(df), load_thresholds(),
                                                     presence=pres))


def test_a_step_on_a_channel_at_its_detection_limit_is_low():
    # qcacc8 (s8): 2.0 → 3.2 mg/m3 (×1.6) is medium on its own. When the channel's readings
    # cross zero in 12 % of its running half-hours (≥ level_shift.cross_share 0.1) its noise
    # is as large as its level: low, not an alarm
    df = _series(2.0, factor=1.6)
    ev = _run_with_share(df, 0.12)
    assert ev.severity.tolist() == ["low"]
    evid = json.loads(ev.iloc[0].evidence)
    assert evid["at_detection_limit"] == "true" and evid["process_change"] == "false"
    assert evid["ratio"] == pytest.approx(1.6, abs=0.1)
    # 8 % of the half-hours (< 0.1): a quiet channel, the step stays an alarm
    assert _run_with_share(df, 0.08).severity.tolist() == ["medium"]
    # no share known for the series: judged as before
    assert _run_with_share(df, None).severity.tolist() == ["medium"]
    assert _run(df).severity.tolist() == ["medium"]
