"""``valid_hours`` on minutes without a flag, with a null value and with S, counted by hand.

One clock hour (2024-05-01 08:00 CST) of point ``H1``:

* 30 minutes SO2 10.0 sent **without** a flag (HJ 212-2017 makes ``-Flag`` optional: valid);
* 15 minutes SO2 20.0 flag ``N``;
* 5 minutes flag ``N`` but **no value** (not a valid minute, not present);
* 10 minutes SO2 999.0 flag ``S`` (manually set: never valid, but present).

Valid minutes 30 + 15 = 45 → a valid hour (≥ 45); mean (30 × 10 + 15 × 20) / 45 = 13.333…;
present 30 + 15 + 10 = 55. The logger's converted value ``so2_zs`` is averaged over the same
45 minutes: (30 × 12 + 15 × 24) / 45 = 16.0. A second hour has 44 flagless minutes: invalid.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.hours import valid_hours


def _minutes() -> pd.DataFrame:
    ts = pd.date_range("2024-05-01 08:00", periods=60, freq="min")
    so2 = np.r_[np.full(30, 10.0), np.full(15, 20.0), np.full(5, np.nan), np.full(10, 999.0)]
    zs = np.r_[np.full(30, 12.0), np.full(15, 24.0), np.full(5, np.nan), np.full(10, 1.0)]
    flag = [None] * 30 + ["N"] * 15 + ["N"] * 5 + ["S"] * 10
    h1 = pd.DataFrame({"mn": "H1", "ts": ts, "so2_mg_m3": so2, "so2_flag": flag, "so2_zs": zs})
    ts2 = pd.date_range("2024-05-01 09:00", periods=44, freq="min")
    h2 = pd.DataFrame({"mn": "H1", "ts": ts2, "so2_mg_m3": 5.0, "so2_flag": None, "so2_zs": 5.0})
    df = pd.concat([h1, h2], ignore_index=True)
    for key, col in (("o2", "o2_pct"), ("flow", "flow_m3_s"), ("temp", "temp_c")):
        df[col] = 10.0
        df[f"{key}_flag"] = "N"
    df["so2_flag"] = df["so2_flag"].astype(object)
    return df


SCHEMA = {
    "mn": "string",
    "ts": "timestamp",
    "so2_mg_m3": "float64",
    "so2_flag": "string",
    "so2_zs": "float64",
    "o2_pct": "float64",
    "o2_flag": "string",
    "flow_m3_s": "float64",
    "flow_flag": "string",
    "temp_c": "float64",
    "temp_flag": "string",
}


def _check(h: pd.DataFrame) -> None:
    first, second = h.iloc[0], h.iloc[1]
    assert first.so2_n == 45 and bool(first.so2_valid) is True
    assert first.so2_mg_m3 == pytest.approx(600 / 45, rel=1e-12)
    assert first.so2_present == 55
    assert first.so2_zs_mg_m3 == pytest.approx(16.0, rel=1e-12)
    assert first.minutes == 60 and first.f_minutes == 0
    assert second.so2_n == 44 and bool(second.so2_valid) is False
    assert second.so2_mg_m3 == pytest.approx(5.0)


def test_flagless_null_and_set_minutes_duckdb():
    t = ibis.memtable(_minutes(), schema=SCHEMA)
    _check(ibis.duckdb.connect().execute(valid_hours(t, ["so2"]).order_by("ts")))


def test_flagless_null_and_set_minutes_spark(spark_ibis):
    frame = _minutes().astype(object)
    frame = frame.where(frame.notna(), None)  # missing must be null on Spark, not NaN
    t = ibis.memtable(frame, schema=SCHEMA)
    _check(spark_ibis.execute(valid_hours(t, ["so2"]).order_by("ts")))
