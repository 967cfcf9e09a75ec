"""HJ 663 statistics: validity rules, O3 8-h windows, percentiles, period table, Beijing data."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from conftest import dataset
from lantian.engine.aq_stats import (
    PERCENTILES,
    daily_stats,
    hj663_percentile,
    hj663_percentiles,
    period_stats,
    year_on_year,
)

POLS = ("so2", "no2", "pm10", "pm2_5", "co", "o3")


def _hours(day: str, hours, **values) -> pd.DataFrame:
    ts = [pd.Timestamp(day) + pd.Timedelta(hours=h) for h in hours]
    frame = pd.DataFrame({"station": "s", "ts": ts})
    for p in POLS:
        v = values.get(p)
        if callable(v):
            frame[p] = [float(v(h)) for h in hours]
        else:
            frame[p] = float("nan") if v is None else float(v)
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    return frame


def _daily(frame: pd.DataFrame) -> pd.DataFrame:
    return daily_stats(ibis.memtable(frame)).order_by("day").execute()


def test_daily_mean_needs_20_hours():
    frame = pd.concat(
        [
            _hours("2019-01-01", range(20), so2=10),  # 20 hours → valid
            _hours("2019-01-02", range(19), so2=10),  # 19 hours → invalid
        ]
    )
    d = _daily(frame)
    assert d["so2"].iloc[0] == 10
    assert pd.isna(d["so2"].iloc[1])
    assert d["n_so2"].tolist() == [20, 19]


def test_o3_8h_all_windows():
    # O3 = 10 × hour: window ending at 24:00 covers hours 16..23 → mean 10 × 19.5 = 195.
    d = _daily(_hours("2019-07-01", range(24), o3=lambda h: 10 * h))
    assert d["o3_8h"].iloc[0] == pytest.approx(195.0)
    assert d["o3_windows"].iloc[0] == 17
    assert d["o3_1h"].iloc[0] == 230


def test_o3_8h_window_needs_6_hours_and_day_needs_14_windows():
    # Hours 20..23 missing: windows starting 15 and 16 have 5 and 4 hours (invalid);
    # 15 valid windows, the last valid (hours 14..19) has mean 10 × 16.5 = 165.
    d = _daily(_hours("2019-07-01", range(20), o3=lambda h: 10 * h))
    assert d["o3_windows"].iloc[0] == 15
    assert d["o3_8h"].iloc[0] == pytest.approx(165.0)
    # Hours 0..3 missing too: windows 2..14 valid = 13 < 14 → counts only because
    # 165 already exceeds the 160 µg/m³ limit; with O3 = 5 × hour (max 82.5) it does not.
    d = _daily(_hours("2019-07-01", range(4, 20), o3=lambda h: 10 * h))
    assert d["o3_windows"].iloc[0] == 13
    assert d["o3_8h"].iloc[0] == pytest.approx(165.0)
    d = _daily(_hours("2019-07-01", range(4, 20), o3=lambda h: 5 * h))
    assert d["o3_windows"].iloc[0] == 13
    assert pd.isna(d["o3_8h"].iloc[0])


def test_percentile_by_hand():
    values = [90, 10, 200, 30, 20, 40, 60, 50, 80, 70]  # sorted: 10 … 90, 200
    t = ibis.memtable(pd.DataFrame({"g": "a", "x": [float(v) for v in values]}))
    # n = 10: p95 k = 1 + 9 × 0.95 = 9.55 → X9 + (X10 − X9) × 0.55 = 90 + 110 × 0.55 = 150.5
    # p90 k = 9.1 → 90 + 110 × 0.1 = 101; p98 k = 9.82 → 90 + 110 × 0.82 = 180.2
    # p50 k = 5.5 → 50 + 10 × 0.5 = 55; p100 → 200; p0 → 10
    for p, want in ((95, 150.5), (90, 101.0), (98, 180.2), (50, 55.0), (100, 200.0), (0, 10.0)):
        got = hj663_percentile(t, "x", p, ["g"]).execute()[f"x_p{p}"].iloc[0]
        assert got == pytest.approx(want), p
    one = ibis.memtable(pd.DataFrame({"g": "a", "x": [7.0, float("nan")]}))
    assert hj663_percentile(one, "x", 95, ["g"]).execute()["x_p95"].iloc[0] == 7.0
    # period_stats uses the backend's quantile: the same numbers on the same days.
    days = [dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    rows = [
        (d, {"pm10": float(v), "so2": float(v), "o3_8h": float(v)})
        for d, v in zip(days, values, strict=True)
    ]
    st = period_stats(ibis.memtable(_daily_table(rows)), period="all").execute().iloc[0]
    assert st["pm10_p95"] == pytest.approx(150.5)
    assert st["so2_p98"] == pytest.approx(180.2)
    assert st["o3_8h_p90"] == pytest.approx(101.0)


def _daily_table(rows):
    cols = ("so2", "no2", "pm10", "pm2_5", "co", "o3_8h", "o3_1h")
    frame = pd.DataFrame(
        [
            {"station": "s", "day": d, **{c: vals.get(c, float("nan")) for c in cols}}
            for d, vals in rows
        ]
    )
    for c in cols:
        frame[c] = frame[c].astype("float64")
    return frame


def test_period_good_ratio_and_heavy_days():
    rows = [
        (dt.date(2019, 1, 1), {"pm2_5": 30.0}),  # IAQI 43 → 优
        (dt.date(2019, 1, 2), {"pm2_5": 75.0}),  # 100 → 良
        (dt.date(2019, 1, 3), {"pm2_5": 151.0}),  # 200 + 100 × 1/100 = 201 → 重度 (heavy)
        (dt.date(2019, 1, 4), {}),  # no valid value: not a monitoring day
        (dt.date(2019, 1, 5), {"pm2_5": 116.0, "o3_1h": 1.0}),  # 151 → 中度
    ]
    st = period_stats(ibis.memtable(_daily_table(rows)), period="month").execute()
    r = st.iloc[0]
    assert (r["period"], r["aqi_days"], r["good_days"], r["heavy_days"]) == ("2019-01", 4, 2, 1)
    assert r["good_ratio"] == pytest.approx(50.0)
    assert r["pm2_5"] == pytest.approx((30 + 75 + 151 + 116) / 4)
    assert r["days_pm2_5"] == 4
    assert not r["pm2_5_complete"]  # 4 < 27 days


def test_dust_days_deducted_from_pm_but_kept_in_day_classes():
    rows = [
        (dt.date(2019, 4, 1), {"pm10": 60.0, "no2": 20.0}),
        (dt.date(2019, 4, 2), {"pm10": 500.0, "no2": 20.0}),  # sand-dust day
    ]
    frame = _daily_table(rows)
    frame["dust"] = [False, True]
    st = period_stats(ibis.memtable(frame), period="all").execute().iloc[0]
    assert st["pm10"] == 60.0 and st["days_pm10"] == 1
    assert st["aqi_days"] == 2 and st["heavy_days"] == 1  # PM10 500 → IAQI 400


def test_year_on_year():
    rows = [(dt.date(2018, 1, 1), {"so2": 20.0}), (dt.date(2019, 1, 1), {"so2": 15.0})]
    st = period_stats(ibis.memtable(_daily_table(rows)), period="year")
    out = year_on_year(st, ["so2"]).order_by("period").execute()
    assert pd.isna(out["so2_yoy_pct"].iloc[0])
    assert out["so2_yoy_pct"].iloc[1] == pytest.approx(-25.0)


def test_2026_limit_applies_from_2026_03_01():
    # O3 8-h limit is 160 in both standards; PM breakpoints differ: a day of PM2.5 = 75.
    rows = [(dt.date(2026, 2, 28), {"pm2_5": 75.0}), (dt.date(2026, 3, 1), {"pm2_5": 75.0})]
    st = period_stats(ibis.memtable(_daily_table(rows)), period="all").execute().iloc[0]
    assert (st["good_days"], st["aqi_days"]) == (1, 2)  # 100 (良) vs 114 (轻度)


# ------------------------------------------------------------------ Beijing, 12 stations


def _reference():
    import aq_pandas_reference  # benchmarks/ (on sys.path through conftest)

    return aq_pandas_reference


@pytest.fixture(scope="module")
def beijing():
    from lantian.store.aq_readers import read_beijing

    return read_beijing(dataset("beijing-multisite-aq"))


def test_beijing_yearly_table_is_internally_consistent(beijing):
    con = ibis.duckdb.connect()
    h = con.create_table("h", beijing)
    daily = daily_stats(h)
    yearly = period_stats(daily, period="year").execute()
    d = daily.execute()
    assert sorted(yearly["station"].unique()) == sorted(beijing["station"].unique())
    assert len(yearly) == 12 * 5  # 2013 … 2017 (the data run 2013-03-01 .. 2017-02-28)

    # Daily values recomputed from the hourly data by an independent pandas implementation.
    ref = _reference()
    rd = ref.daily(beijing)
    m = d.merge(rd, on=["station", "day"], suffixes=("", "_ref"))
    assert len(m) == len(rd) == 12 * 1461
    for c in ("so2", "no2", "pm10", "pm2_5", "co", "o3_1h", "o3_8h"):
        same_null = m[c].isna() == m[f"{c}_ref"].isna()
        assert same_null.all(), c
        both = m[c].notna()
        np.testing.assert_allclose(m.loc[both, c], m.loc[both, f"{c}_ref"], rtol=1e-9)

    # Yearly values against the same reference, and against the daily table itself.
    ry = ref.yearly(rd)
    y = yearly.merge(ry, on=["station", "period"], suffixes=("", "_ref"))
    assert len(y) == 60
    for c in ("so2", "pm2_5", "co", "o3_8h", "so2_p98", "pm10_p95", "co_p95", "o3_8h_p90"):
        np.testing.assert_allclose(y[c], y[f"{c}_ref"], rtol=1e-9, err_msg=c)
    for c in ("days_pm2_5", "aqi_days", "good_days", "heavy_days"):
        assert (y[c] == y[f"{c}_ref"]).all(), c
    # The backend's quantile equals the HJ 663 formula spelled out in hj663_percentiles().
    dp = daily.mutate(period=daily.day.year().cast("string"))
    explicit = hj663_percentiles(dp, PERCENTILES, ["station", "period"]).execute()
    e = yearly.merge(explicit, on=["station", "period"], suffixes=("", "_f"))
    for _, _, name in PERCENTILES:
        np.testing.assert_allclose(e[name], e[f"{name}_f"], rtol=1e-12, err_msg=name)
    dongsi_2015 = d[(d["station"] == "Dongsi") & (pd.to_datetime(d["day"]).dt.year == 2015)]
    row = yearly[(yearly["station"] == "Dongsi") & (yearly["period"] == "2015")].iloc[0]
    assert row["pm2_5"] == pytest.approx(dongsi_2015["pm2_5"].mean())
    assert row["days_pm2_5"] == dongsi_2015["pm2_5"].notna().sum()
    assert row["pm2_5_complete"] == (row["days_pm2_5"] >= 324)
    assert 0 < row["good_ratio"] < 100 and not math.isnan(row["good_ratio"])
    # Partial years cannot be complete annual means.
    assert not yearly[yearly["period"] == "2017"]["pm2_5_complete"].any()


# ------------------------------------------------------------------ real-time moving means


def test_moving_means_by_hand():
    from lantian.engine.aq_stats import moving_means

    # O3 = hour number, hours 3 and 4 missing; PM10 constant 10 from 00:00 for 30 hours.
    ts = pd.date_range("2019-01-01", periods=30, freq="h")
    frame = pd.DataFrame({"station": "s", "ts": ts, "o3": np.arange(30.0), "pm10": 10.0})
    frame["pm2_5"] = float("nan")
    frame = frame.drop(index=[3, 4]).reset_index(drop=True)
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    out = moving_means(ibis.memtable(frame)).order_by("ts").execute().set_index("ts")
    # CNEMC style: the day's hours so far, at most 8: at 02:00 mean(0, 1, 2) = 1.
    assert out.loc["2019-01-01 02:00", "o3_8h"] == pytest.approx(1.0)
    # 07:00: hours 0..7 without 3, 4 → (0+1+2+5+6+7)/6 = 3.5; 13:00: hours 6..13 → 9.5.
    assert out.loc["2019-01-01 07:00", "o3_8h"] == pytest.approx(3.5)
    assert out.loc["2019-01-01 13:00", "o3_8h"] == pytest.approx(9.5)
    # Next day restarts: 2019-01-02 01:00 → mean(24, 25) = 24.5.
    assert out.loc["2019-01-02 01:00", "o3_8h"] == pytest.approx(24.5)
    # PM 24-h needs 20 values: at 20:00 there are 19 (21 hours minus 2) → NULL; 21:00 → 10.
    assert pd.isna(out.loc["2019-01-01 20:00", "pm10_24h"])
    assert out.loc["2019-01-01 21:00", "pm10_24h"] == pytest.approx(10.0)
    assert out["pm2_5_24h"].isna().all()
    # HJ 663 style crosses midnight and needs 6 values: 2019-01-02 01:00 = mean(18..25).
    hj = moving_means(ibis.memtable(frame), style="hj663").order_by("ts").execute()
    hj = hj.set_index("ts")
    assert hj.loc["2019-01-02 01:00", "o3_8h"] == pytest.approx(21.5)
    assert pd.isna(hj.loc["2019-01-01 05:00", "o3_8h"])  # 0, 1, 2, 5: four values


def test_moving_means_reproduce_the_national_files():
    from lantian.engine.aq_stats import moving_means
    from lantian.store.aq_readers import read_hourly

    folder = dataset("china-national-stations-2019")
    frames = [
        read_hourly(folder / f"china_sites_{d}.csv", period_start=True)
        for d in ("20190101", "20190102")
    ]
    f = pd.concat(frames, ignore_index=True)
    src = f[["station", "ts", "o3", "pm10", "pm2_5"]]
    got = moving_means(ibis.memtable(src)).execute()
    m = got.merge(
        f[["station", "ts", "o3_8h", "pm10_24h", "pm2_5_24h"]],
        on=["station", "ts"],
        suffixes=("", "_off"),
    )
    m = m[m["ts"] >= "2019-01-02"]  # a full day of history for the 24-h means
    for col, share in (("o3_8h", 0.99), ("pm10_24h", 0.98), ("pm2_5_24h", 0.98)):
        both = m[m[col].notna() & m[f"{col}_off"].notna()]
        assert len(both) > 20_000
        same = (np.round(both[col]) == both[f"{col}_off"]).mean()
        assert same >= share, (col, same)
