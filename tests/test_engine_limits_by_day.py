"""Limits valid on each hour's day (CST): a limit that changes within the month applies by hour.

Worked example, month 2024-05 (31 days = 744 hours), cement kilns measured at exactly the
reference O2 (10 %), so the judged value is the measured SO2 (30 mg/m³ every minute):

* ``PERM``: catalogue ULE SO2 35 all month; permit limits of its outlet 28 mg/m³ valid
  2024-05-01..2024-05-05 and 25 mg/m³ from 2024-05-15 (open end). 30 > 28 on days 1–5
  (5 × 24 = 120 h) and 30 > 25 from the 15th (17 × 24 = 408 h); 30 ≤ 35 on days 6–14
  (9 × 24 = 216 h). So 528 exceedance hours, 216 compliant, ratio 216/744.
* ``CAT``: a catalogue whose SO2 row for cement kilns is 35 until 2024-05-14 and 29 from
  2024-05-15: 408 exceedance hours, 336 compliant.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from engine_support import make_db, minutes
from lantian.engine import backends
from lantian.engine.assess import assess_month, hour_record, monthly_record
from lantian.engine.compliance import catalogue_table, point_limits, point_limits_daily

MONTH = "2024-05"
H = 31 * 24


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    frames = [
        minutes(mn, "2024-05-01 00:00", H * 60, so2=30.0, o2=10.0, flow=50.0)
        for mn in ("PERM", "CAT")
    ]
    df = pd.concat(frames, ignore_index=True)
    df["packet_id"] = np.arange(len(df))
    points = [
        {"mn": "PERM", "source_type": "cement_kiln", "parameters": ["so2"]},
        {"mn": "CAT", "source_type": "cement_kiln", "parameters": ["so2"]},
    ]
    # make_db names the outlets outlet-1, outlet-2 in point order
    permits = [
        {
            "outlet": "outlet-1",
            "pollutant": "so2",
            "limit": 28.0,
            "from": "2024-05-01",
            "to": "2024-05-05",
        },
        {"outlet": "outlet-1", "pollutant": "so2", "limit": 25.0, "from": "2024-05-15"},
    ]
    return make_db(tmp_path_factory.mktemp("lim") / "l.duckdb", points, df, permits=permits)


def _catalogue_changing_on_the_15th() -> pd.DataFrame:
    cat = catalogue_table().execute()
    row = (cat.source_type == "cement_kiln") & (cat.pollutant == "so2")
    cat.loc[row, "effective_to"] = pd.Timestamp(2024, 5, 14)
    new = cat[row & (cat.jurisdiction == "CN")].copy()
    new["limit_id"] = "test-cement-kiln-so2-from-15th"
    new["limit_mg_m3"] = 29.0
    new["effective_from"] = pd.Timestamp(2024, 5, 15)
    new["effective_to"] = pd.NaT
    out = pd.concat([cat, new], ignore_index=True)
    for c in ("effective_from", "effective_to"):
        out[c] = pd.to_datetime(out[c]).dt.date
    return out


@pytest.fixture(scope="module")
def results(db):
    con = backends.connect(db=db)
    con.create_table("limit_catalogue", _catalogue_changing_on_the_15th(), temp=True)
    monthly = {
        r["mn"]: monthly_record(r) for r in assess_month(con, MONTH).execute().to_dict("records")
    }
    detail = assess_month(con, MONTH, detail=True).execute()
    hours = {(r["mn"], r["ts"]): hour_record(r) for r in detail.to_dict("records")}
    return monthly, hours


def test_permit_limits_apply_on_their_days(results):
    monthly, hours = results
    m = monthly["PERM"]
    assert m["production_hours"] == H
    assert m["exceedance_hours"] == {"so2": 120 + 408}
    assert m["compliant_hours"] == 216
    assert m["compliance_ratio"] == pytest.approx(216 / 744)
    assert m["ule_pass"] is False

    def lim(day: int, hour: int) -> float:
        return hours[("PERM", pd.Timestamp(2024, 5, day, hour))]["so2_limit_mg_m3"]

    # the permit valid to the 5th covers the whole 5th (last hour 23:00 CST)
    assert lim(5, 23) == 28.0 and lim(6, 0) == 35.0
    assert lim(14, 23) == 35.0 and lim(15, 0) == 25.0 and lim(31, 23) == 25.0
    assert hours[("PERM", pd.Timestamp(2024, 5, 14, 23))]["compliant"] is True
    assert hours[("PERM", pd.Timestamp(2024, 5, 15, 0))]["compliant"] is False


def test_catalogue_limit_changing_on_the_15th(results):
    monthly, hours = results
    m = monthly["CAT"]
    assert m["exceedance_hours"] == {"so2": 17 * 24}
    assert m["compliant_hours"] == 14 * 24
    assert hours[("CAT", pd.Timestamp(2024, 5, 14, 23))]["so2_limit_mg_m3"] == 35.0
    assert hours[("CAT", pd.Timestamp(2024, 5, 15, 0))]["so2_limit_mg_m3"] == 29.0


def test_point_limits_on_one_day_equals_that_day_of_the_daily_table(db):
    con = backends.connect(db=db)
    args = [backends.registry_table(con, n) for n in ("monitoring_point", "outlet", "permit_limit")]
    one = point_limits(*args, dt.date(2024, 5, 20)).execute()
    daily = point_limits_daily(*args, dt.date(2024, 5, 1), 31).execute()
    day20 = daily[pd.to_datetime(daily.day) == pd.Timestamp(2024, 5, 20)].drop(columns="day")
    key = ["mn", "pollutant"]
    assert len(daily) == 31 * len(one)
    pd.testing.assert_frame_equal(
        one.sort_values(key).reset_index(drop=True),
        day20.sort_values(key).reset_index(drop=True),
    )
    perm = one.set_index("mn").loc["PERM"]
    assert perm.limit_mg_m3 == 25.0 and perm.basis == "permit"


def test_spark_gives_the_same_month(db, results, spark_session, tmp_path):
    monthly, _ = results
    con = backends.connect(
        "spark", db=db, lake=tmp_path / "lake", month=MONTH, session=spark_session
    )
    cat = _catalogue_changing_on_the_15th()
    cat = cat.astype(object).where(cat.notna(), None)  # missing must be null on Spark
    con.create_view(
        "limit_catalogue", ibis.memtable(cat, schema=catalogue_table().schema()), overwrite=True
    )
    spark_monthly = {
        r["mn"]: monthly_record(r) for r in assess_month(con, MONTH).execute().to_dict("records")
    }
    # 528 / 408 exceedance hours only come out with the limits of each hour's day
    assert spark_monthly == monthly
