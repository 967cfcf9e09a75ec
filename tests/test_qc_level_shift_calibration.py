"""level_shift: a step at the hour the analyser's slope or intercept changed is the calibration's.

The analyser's parameters (HJ 212-2017 B.10: ``i13007`` intercept, ``i13008`` slope) are
reported once a day and after each change; a new coefficient moves every reading from that
minute on, and ``calibration_change`` judges the change (qcshift13). Hand-made hourly series
as in test_qc_level_shift.py: one point, every hour running, a daily cycle of ±10 %.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd

from lantian.catalog.glossary import glossary
from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import level_shift

DAYS = 20
N = DAYS * 24
T0 = pd.Timestamp("2026-03-01")
CODE = {e.key: e.code_2017 for e in glossary()}
STEP = 7 * 24 + 5  # 2026-03-08 05:00: the first 173 h read 1/1.6 of the rest


def _series(factor: float = 1.6) -> pd.DataFrame:
    hour = np.arange(N) % 24
    v = 20.0 * (1 + 0.1 * np.sin(2 * np.pi * hour / 24))
    v[STEP:] *= factor
    return pd.DataFrame({"mn": "P1", "ts": T0 + pd.to_timedelta(np.arange(N), "h"),
                         "pollutant": "so2", "value": v, "idx": np.arange(1, N + 1)})


def _params(changes: list[tuple[int, str, float]]) -> pd.DataFrame:
    """Daily reports of range, intercept and slope at 00:02, and a report after each change.

    ``changes``: (minute of the month, code, new value).
    """
    cur = {"i13001": 100.0, "i13007": 0.0, "i13008": 1.0}
    times = sorted([(d * 1440 + 2, None, None) for d in range(-1, DAYS)] + changes,
                   key=lambda x: x[0])
    rows = []
    for minute, code, val in times:
        if code is not None:
            cur[code] = val
        rows += [{"mn": "P1", "ts": T0 + pd.Timedelta(minutes=minute), "code": c,
                  "num": x, "text": CODE["so2"]} for c, x in cur.items()]
    return pd.DataFrame(rows)


def _run(df: pd.DataFrame, params: pd.DataFrame | None, con=None) -> pd.DataFrame:
    """level_shift's events on ``con`` (DuckDB unless given; the windowed hours kept)."""
    con = con if con is not None else ibis.duckdb.connect()
    h = con.create_table("cal_hours", df.assign(ts=df.ts.astype("datetime64[us]")),
                         overwrite=True)
    cal = None
    if params is not None:
        cal = con.create_table("cal_params", params.assign(
            ts=params.ts.astype("datetime64[us]")), overwrite=True)
    ev = con.execute(level_shift(h, load_thresholds(), calibrations=cal,
                                 materialize=lambda t: t.cache()))
    return ev.sort_values("mn").reset_index(drop=True)


def test_a_slope_changed_at_the_step_makes_the_segment_low():
    df = _series()
    # without the parameters the first 173 h (x 1/1.6 of the rest) are an analyser fault
    assert _run(df, None).severity.tolist() == ["medium"]
    # the slope was changed 1.0 -> 1.6 at the hour of the step: the calibration's step
    ev = _run(df, _params([(STEP * 60 + 17, "i13008", 1.6)]))
    assert ev.severity.tolist() == ["low"]
    assert json.loads(ev.evidence.iloc[0])["calibration"] == "true"  # as process_change
    # an intercept change explains it as well (the reading moves by it from that minute)
    ev = _run(df, _params([(STEP * 60 + 17, "i13007", 12.0)]))
    assert ev.severity.tolist() == ["low"]


def test_a_change_that_cannot_have_made_the_step_leaves_it_an_alarm():
    df = _series()
    # five days after the step: outside the change point's two 24-h windows
    assert _run(df, _params([((STEP + 120) * 60, "i13008", 1.6)])).severity.tolist() \
        == ["medium"]
    # the range switched (i13001) at the step: the reading does not move with it
    assert _run(df, _params([(STEP * 60 + 17, "i13001", 200.0)])).severity.tolist() \
        == ["medium"]
    # a slope touched by 1 % (under calibration_change.min_rel_change 2 %): no change
    assert _run(df, _params([(STEP * 60 + 17, "i13008", 1.01)])).severity.tolist() \
        == ["medium"]
    # another pollutant's slope changed
    p = _params([(STEP * 60 + 17, "i13008", 1.6)]).assign(text=CODE["nox"])
    assert _run(df, p).severity.tolist() == ["medium"]


def test_a_fault_recalibrated_at_one_end_only_stays_an_alarm():
    # a 72-h drop to 0.6 whose start coincides with a slope change but whose end does not:
    # the segment's other change point is no calibration's, so the fault is still reported
    df = _series(1.0)
    v = df.value.to_numpy().copy()
    v[8 * 24 + 5:11 * 24 + 5] *= 0.6
    df = df.assign(value=v)
    cal = _params([((8 * 24 + 5) * 60 + 10, "i13008", 0.6)])
    assert _run(df, None).severity.tolist() == ["medium"]
    assert _run(df, cal).severity.tolist() == ["medium"]
    # recalibrated back at its end as well: both steps are the calibrations'
    cal = _params([((8 * 24 + 5) * 60 + 10, "i13008", 0.6),
                   ((11 * 24 + 5) * 60 + 10, "i13008", 1.0)])
    assert _run(df, cal).severity.tolist() == ["low"]


def test_spark_gives_the_same_calibration_verdicts_as_duckdb(spark_ibis):
    # P1: the slope changed at the step (low); P2: the same step, no change reported (medium)
    df = pd.concat([_series(), _series().assign(mn="P2")], ignore_index=True)
    params = _params([(STEP * 60 + 17, "i13008", 1.6)])
    duck, spark = _run(df, params), _run(df, params, spark_ibis)
    assert duck.severity.tolist() == ["low", "medium"]
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)
