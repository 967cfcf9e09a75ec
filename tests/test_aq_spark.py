"""Conformance: the air-quality expressions give the same results on PySpark as on DuckDB."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest

from conftest import dataset
from lantian.engine.aq_stats import daily_stats, period_stats
from lantian.engine.aqi import hourly_aqi

pytestmark = [pytest.mark.spark, pytest.mark.slow]

COLS = ["station", "ts", "so2", "no2", "pm10", "pm2_5", "co", "o3"]


@pytest.fixture(scope="module")
def hourly() -> pd.DataFrame:
    from lantian.store.aq_readers import read_beijing

    path = dataset("beijing-multisite-aq") / "PRSA_Data_Dongsi_20130301-20170228.csv"
    frame = read_beijing(path)[COLS]
    # Two months across a year end, plus a shifted copy dated 2026 so both HJ 633 versions run.
    part = frame[(frame["ts"] >= "2014-12-01") & (frame["ts"] < "2015-02-01")].copy()
    later = part.copy()
    later["ts"] = later["ts"] + pd.DateOffset(years=11, months=3)  # 2026-03 .. 2026-05
    later["station"] = "Dongsi-2026"
    out = pd.concat([part, later], ignore_index=True)
    out["station"] = out["station"].astype(object)
    return out


def _spark_table(spark_session, spark_ibis, frame: pd.DataFrame, name: str):
    """Register ``frame`` in Spark with missing values as NULL (Spark keeps NaN otherwise)."""
    from pyspark.sql import types as T

    pols = COLS[2:]
    schema = T.StructType(
        [
            T.StructField("station", T.StringType()),
            T.StructField("ts", T.TimestampType()),
            *[T.StructField(c, T.DoubleType()) for c in pols],
        ]
    )
    rows = [
        (
            r.station,
            r.ts.to_pydatetime(),
            *[None if math.isnan(getattr(r, c)) else getattr(r, c) for c in pols],
        )
        for r in frame.itertuples(index=False)
    ]
    spark_session.createDataFrame(rows, schema).createOrReplaceTempView(name)
    return spark_ibis.table(name)


def test_hourly_aqi_same_on_spark(spark_session, spark_ibis, hourly):
    duck = hourly_aqi(ibis.memtable(hourly)).execute().sort_values(["station", "ts"])
    st = _spark_table(spark_session, spark_ibis, hourly, "aq_hourly_conf")
    spark = hourly_aqi(st).execute().sort_values(["station", "ts"])
    assert len(duck) == len(spark) == len(hourly)
    for c in ("aqi", "level", "iaqi_pm2_5", "iaqi_o3"):
        a, b = duck[c].to_numpy(dtype="float64"), spark[c].to_numpy(dtype="float64")
        np.testing.assert_array_equal(a, b, err_msg=c)
    assert duck["primary"].fillna("").tolist() == spark["primary"].fillna("").tolist()


def test_period_stats_same_on_spark(spark_session, spark_ibis, hourly):
    duck = period_stats(daily_stats(ibis.memtable(hourly)), period="month").execute()
    st = _spark_table(spark_session, spark_ibis, hourly, "aq_hourly_conf2")
    spark = period_stats(daily_stats(st), period="month").execute()
    key = ["station", "period"]
    m = duck.merge(spark, on=key, suffixes=("", "_s"))
    assert len(m) == len(duck) == len(spark) == 4
    for c in ("so2", "pm2_5", "o3_8h", "co_p95", "o3_8h_p90", "pm10_p95", "good_ratio"):
        np.testing.assert_allclose(m[c], m[f"{c}_s"], rtol=1e-9, err_msg=c)
    for c in ("days_pm2_5", "aqi_days", "good_days", "heavy_days"):
        assert (m[c] == m[f"{c}_s"]).all(), c
