"""Air-quality catalogue: every row sourced, 2026 numbers marked, loaders validate; public API."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from importlib import resources
from itertools import pairwise

import pytest

from lantian.catalog import aq as cat
from lantian.errors import ConfigurationError

FILES = (
    "aqi_versions.csv",
    "aqi_breakpoints.csv",
    "aqi_overflow.csv",
    "aqi_levels.csv",
    "gb3095_limits.csv",
    "gb3095_composite.csv",
    "gb3095_validity.csv",
)


def _rows(name):
    text = resources.files("lantian.catalog").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.mark.parametrize("name", FILES)
def test_every_row_has_source_and_confidence(name):
    rows = _rows(name)
    assert rows
    for r in rows:
        assert r["source"].strip(), r
        assert r["confidence"] in {"verified", "partly_verified", "unverified"}, r


def test_2026_numbers_not_read_from_the_official_text_are_unverified():
    limits = [r for r in _rows("gb3095_limits.csv") if r["standard"] == "2026"]
    final_so2 = [r for r in limits if r["pollutant"] == "so2" and r["stage"] == "2"]
    assert final_so2 and all(r["confidence"] == "unverified" for r in final_so2)
    bp = [r for r in _rows("aqi_breakpoints.csv") if r["version"] == "2026"]
    assert {r["confidence"] for r in bp if r["item"] == "no2_1h"} == {"unverified"}
    weights = [r for r in _rows("gb3095_composite.csv") if r["standard"] == "2026"]
    assert any(r["confidence"] == "unverified" for r in weights)
    # 2012 rows are verified.
    assert {r["confidence"] for r in _rows("aqi_breakpoints.csv") if r["version"] == "2012"} == {
        "verified"
    }


def test_breakpoint_columns_have_the_expected_shape():
    for version, _, _ in cat.aqi_versions():
        for item in ("so2_24h", "no2_24h", "pm10_24h", "pm2_5_24h", "co_24h", "no2_1h", "co_1h"):
            bp = cat.breakpoints(version, item)
            assert bp.iaqi == (0, 50, 100, 150, 200, 300, 400, 500)
        assert cat.breakpoints(version, "so2_1h").iaqi[-1] == 200
        assert cat.breakpoints(version, "o3_8h").iaqi[-1] == 300
    # The SO2 pitfall: the 24-h column is not the 1-h one.
    assert cat.breakpoints("2012", "so2_24h").concentration[2] == Decimal(150)
    with pytest.raises(ConfigurationError):
        cat.breakpoints("2012", "nox_1h")


def test_limits_by_date():
    assert cat.gb3095_limit("pm2_5", "annual", dt.date(2025, 12, 31)) == 35
    assert cat.gb3095_limit("pm2_5", "annual", dt.date(2026, 3, 1)) == 30
    assert cat.gb3095_limit("pm2_5", "annual", dt.date(2031, 1, 1)) == 25
    assert cat.gb3095_limit("o3", "max8h", dt.date(2014, 6, 1)) == 160  # before 2016: 2012 too
    assert cat.gb3095_limit("pm10", "24h", dt.date(2026, 3, 1)) == 120
    with pytest.raises(ConfigurationError):
        cat.gb3095_limit("pm2_5", "1h", dt.date(2020, 1, 1))


def test_levels_cover_every_aqi_once():
    lv = cat.levels()
    assert [x.level for x in lv] == [1, 2, 3, 4, 5, 6]
    for a, b in pairwise(lv):
        assert b.aqi_low == a.aqi_high + 1
    assert [x.category_zh for x in lv if x.good_day] == ["优", "良"]
    assert [x.level for x in lv if x.heavy_pollution] == [5, 6]


def test_composite_terms_and_validity():
    items = {i.pollutant: i for i in cat.composite_items("2012")}
    assert {k: int(v.s) for k, v in items.items()} == {
        "so2": 60, "no2": 40, "pm10": 70, "pm2_5": 35, "co": 4, "o3": 160,
    }  # fmt: skip
    assert items["co"].statistic == "p95" and items["o3"].statistic == "p90"
    assert items["co"].decimals == 1
    v = cat.validity()
    assert (v["daily_mean"], v["o3_8h_window"], v["o3_day_windows"], v["annual_mean"]) == (
        20, 6, 14, 324,
    )  # fmt: skip
    with pytest.raises(ConfigurationError):
        cat.composite_items("1996")


def test_exported_names():
    import lantian.engine.aq_stats as stats
    import lantian.engine.aq_targets as targets
    import lantian.engine.aqi as aqi
    import lantian.engine.composite as composite
    import lantian.store.aq_readers as readers

    for mod in (cat, aqi, stats, composite, targets, readers):
        for name in mod.__all__:
            assert hasattr(mod, name), (mod.__name__, name)
    assert {"iaqi", "combine", "hourly_aqi", "daily_aqi"} <= set(aqi.__all__)
    assert {"daily_stats", "period_stats", "hj663_percentile", "place_hourly"} <= set(stats.__all__)
    assert {"composite_index", "joint_ranks", "gbt8170"} <= set(composite.__all__)
