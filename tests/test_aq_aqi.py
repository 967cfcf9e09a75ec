"""AQI and IAQI (HJ 633-2012 / -2026): worked examples, Ibis form, the national oracle."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import ibis
import numpy as np
import pandas as pd
import pytest

from conftest import dataset
from lantian.catalog import aq as cat
from lantian.engine.aqi import combine, daily_aqi, hourly_aqi, iaqi, iaqi_expr

# ---------------------------------------------------------------- worked examples (scalar)


@pytest.mark.parametrize(
    ("item", "c", "expected"),
    [
        ("so2_24h", 150, 100),  # breakpoint: 150 → 100 (pitfall: not the 1-h column)
        ("so2_24h", 475, 150),  # breakpoint: 475 → 150
        ("so2_24h", 50, 50),
        ("so2_24h", 0, 0),
        ("pm2_5_24h", 64, 87),  # CNEMC published: (100-50)/(75-35)*(64-35)+50 = 86.25 → 87
        ("o3_1h", 49, 16),  # 50/160*49 = 15.3125 → 16
        ("pm10_24h", 600, 500),
        ("pm10_24h", 700, 500),  # above the table: top IAQI
        ("co_1h", "6.1", 61),  # 50*(6.1-5)/5 + 50 = 61 exactly
    ],
)
def test_iaqi_worked_examples(item, c, expected):
    assert iaqi(item, c) == expected


def test_iaqi_ceiling_is_guarded_against_float_error():
    # 50 × 1.1 / 5 in binary floating point is 11.000000000000002: a naive ceiling gives 12.
    assert math.ceil(50 * 1.1 / 5) == 12
    # CO 1-h 6.1 mg/m3 sits 1.1 above the 5 mg/m3 breakpoint on a span of 5 → exactly 61.
    assert iaqi("co_1h", 6.1) == 61
    # SO2 24-h 52.2 is 2.2 above 50 on a span of 100: 50 + 50 × 2.2 / 100 = 51.1 → 52.
    assert iaqi("so2_24h", 52.2) == 52
    # The Ibis form rounds before the ceiling: same answers.
    t = ibis.memtable(pd.DataFrame({"c": [6.1, 5.0, 10.0, 6.15]}))
    got = t.mutate(i=iaqi_expr(t.c, "2012", "co_1h")).execute()["i"].tolist()
    assert got == [61, 50, 100, 62]


def test_iaqi_missing_and_negative():
    assert iaqi("no2_1h", None) is None
    assert iaqi("no2_1h", float("nan")) is None
    assert iaqi("no2_1h", -1) is None


def test_overflow_rules_by_version():
    # HJ 633-2012: SO2 1-h above 800 has no 1-h IAQI (the 24-h value is used instead).
    assert iaqi("so2_1h", 800) == 200
    assert iaqi("so2_1h", 801) is None
    # HJ 633-2026: capped at 200; O3 8-h above 800 capped at 300.
    assert iaqi("so2_1h", 801, "2026") == 200
    assert iaqi("o3_8h", 801, "2012") is None
    assert iaqi("o3_8h", 801, "2026") == 300


def test_2026_pm_breakpoints():
    # regulations.md §3.3: PM2.5 80 → 107 (2012) vs 119 (2026); PM10 130 → 90 vs 104.
    assert (iaqi("pm2_5_24h", 80), iaqi("pm2_5_24h", 80, "2026")) == (107, 119)
    assert (iaqi("pm10_24h", 130), iaqi("pm10_24h", 130, "2026")) == (90, 104)
    assert (iaqi("pm2_5_24h", 75), iaqi("pm2_5_24h", 75, "2026")) == (100, 114)


def test_version_by_date():
    assert cat.aqi_version_for(dt.date(2026, 2, 28)) == "2012"
    assert cat.aqi_version_for(dt.date(2026, 3, 1)) == "2026"
    assert cat.aqi_version_for(dt.date(2013, 3, 1)) == "2012"


def test_2026_breakpoints_marked_unverified():
    bp = cat.breakpoints("2026", "pm2_5_24h")
    assert bp.concentration[bp.iaqi.index(50)] == Decimal(35)
    assert bp.confidence[bp.iaqi.index(50)] == "unverified"
    assert "unverified" in cat.breakpoints("2026", "so2_1h").confidence


def test_combine_primary_and_levels():
    # AQI ≤ 50: no primary pollutant even though PM2.5 is largest.
    r = combine({"so2": 10, "pm2_5": 50, "o3": None})
    assert (r.aqi, r.primary, r.level) == (50, (), 1)
    # A tie lists every pollutant with the top IAQI, in the contract order.
    r = combine({"pm2_5": 120, "pm10": 120, "no2": 40})
    assert (r.aqi, r.primary, r.level) == (120, ("pm10", "pm2_5"), 3)
    r = combine({"o3": 51})
    assert (r.aqi, r.primary, r.level) == (51, ("o3",), 2)
    assert combine({"so2": None}).aqi is None
    edges = (0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500)
    assert [cat.level_for(a).level for a in edges] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


@pytest.mark.parametrize("version", ["2012", "2026"])
def test_ibis_iaqi_equals_scalar_on_a_grid(version):
    items = [i for v, i in cat._breakpoint_table() if v == version]
    rows = []
    for item in items:
        top = float(cat.breakpoints(version, item).concentration[-1])
        step = 0.1 if item.startswith("co") else 1.0
        n = int(top * 1.1 / step)
        rows += [(item, round(k * step, 1)) for k in range(0, n, max(1, n // 700))]
    frame = pd.DataFrame(rows, columns=["item", "c"])
    t = ibis.memtable(frame)
    expr = ibis.cases(*[(t.item == i, iaqi_expr(t.c, version, i)) for i in items])
    got = t.mutate(i=expr).execute()
    want = [iaqi(i, c, version) for i, c in zip(frame["item"], frame["c"], strict=True)]
    got_list = [None if pd.isna(x) else int(x) for x in got["i"]]
    assert got_list == want


def _hour_frame(ts, **cols):
    base = {"station": ["s"] * len(ts), "ts": pd.to_datetime(ts)}
    for p in ("so2", "no2", "pm10", "pm2_5", "co", "o3"):
        base[p] = cols.get(p, [float("nan")] * len(ts))
    return pd.DataFrame(base)


def test_hourly_2026_rules_from_2026_03_01_only():
    frame = _hour_frame(
        ["2026-02-28 23:00", "2026-03-01 00:00"], pm2_5=[75.0, 75.0], pm10=[150.0, 150.0]
    )
    out = hourly_aqi(ibis.memtable(frame)).execute()
    # 2026-02-28: HJ 633-2012 (75 → 100, 150 → 100, tie); 2026-03-01: HJ 633-2026.
    assert out["aqi"].tolist() == [100, 114]
    assert out["primary"].tolist() == ["pm10,pm2_5", "pm2_5"]
    assert out["level"].tolist() == [2, 3]


def test_hourly_so2_fallback_and_missing_pollutants():
    frame = _hour_frame(["2019-01-01 00:00", "2019-01-01 01:00"], so2=[900.0, 20.0])
    frame["so2_24h"] = [475.0, 10.0]
    out = hourly_aqi(ibis.memtable(frame)).execute()
    # 2012: SO2 1-h 900 > 800 → IAQI of the 24-h value 475 = 150; other pollutants missing.
    assert out["aqi"].tolist() == [150, 7]
    assert out["primary"].tolist() == ["so2", ""]


def test_daily_aqi_o3_overflow_uses_1h():
    frame = pd.DataFrame(
        {
            "station": ["s", "s"],
            "day": [dt.date(2019, 7, 1), dt.date(2026, 7, 1)],
            **{p: [float("nan")] * 2 for p in ("so2", "no2", "pm10", "pm2_5", "co")},
            "o3_8h": [850.0, 850.0],
            "o3_1h": [900.0, 900.0],
        }
    )
    out = daily_aqi(ibis.memtable(frame)).execute()
    # 2012: 8-h above 800 → the 1-h IAQI (900 on the 1-h column: 300 + 100×100/200 = 350).
    # 2026: 8-h capped at 300, 1-h still 350 → 350.
    assert out["aqi"].tolist() == [350, 350]
    assert iaqi("o3_1h", 900) == 350


# ---------------------------------------------------------------- the national oracle


@pytest.mark.parametrize("day", ["20190101", "20190102"])
def test_hourly_aqi_reproduces_official_values(day):
    from lantian.store.aq_readers import read_national

    path = dataset("china-national-stations-2019") / f"china_sites_{day}.csv"
    frame = read_national(path)
    out = hourly_aqi(ibis.memtable(frame)).execute()
    have = out[out["aqi_official"].notna()]
    assert len(have) > 30_000
    share = (have["aqi"] == have["aqi_official"]).mean()
    assert share >= 0.999, f"only {share:.4%} of station-hours equal the official AQI"


def test_exceeding_pollutants_2012_only():
    from lantian.engine.aqi import exceeding

    iaqis = {"pm2_5": 150, "pm10": 101, "no2": 100, "o3": None}
    assert exceeding(iaqis, "2012") == ("pm10", "pm2_5")  # IAQI > 100; 100 itself is not
    assert exceeding(iaqis, "2026") == ()


def test_hourly_aqi_equals_the_scalar_rules_on_random_hours():
    # 3,000 random station-hours (some pollutants missing, both HJ 633 versions, values
    # beyond the tables): the Ibis expression and the decimal scalar rules must agree.
    rng = np.random.default_rng(20260301)
    n = 3000
    tops = {"so2": 1200, "no2": 4000, "pm10": 700, "pm2_5": 600, "co": 160, "o3": 1300}
    frame = pd.DataFrame(
        {
            "station": "s",
            "ts": pd.Timestamp("2026-02-27") + pd.to_timedelta(rng.integers(0, 96, n), unit="h"),
        }
    )
    for p, top in tops.items():
        decimals = 1 if p == "co" else 0
        values = np.round(rng.uniform(0, top, n) * rng.uniform(0, 1, n), decimals)
        values[rng.uniform(0, 1, n) < 0.15] = np.nan
        frame[p] = values
    frame["so2_24h"] = np.round(rng.uniform(0, 900, n))
    out = hourly_aqi(ibis.memtable(frame)).execute()
    items = {"so2": "so2_1h", "no2": "no2_1h", "pm10": "pm10_24h", "pm2_5": "pm2_5_24h",
             "co": "co_1h", "o3": "o3_1h"}  # fmt: skip
    for r in out.itertuples(index=False):
        version = cat.aqi_version_for(r.ts.date())
        parts = {p: iaqi(item, getattr(r, p), version) for p, item in items.items()}
        if parts["so2"] is None and not pd.isna(r.so2):  # 2012: SO2 1-h > 800 → 24-h IAQI
            parts["so2"] = iaqi("so2_24h", r.so2_24h, version)
        want = combine(parts)
        got_aqi = None if pd.isna(r.aqi) else int(r.aqi)
        assert got_aqi == want.aqi, r
        assert tuple(p for p in str(r.primary or "").split(",") if p) == want.primary, r
        if want.level is not None:
            assert int(r.level) == want.level
