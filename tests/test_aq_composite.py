"""Composite index (GB/T 8170 per-item rounding vs at-end), joint ranks, the composite CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.engine.composite import composite_index, gbt8170, joint_ranks, round_statistic
from lantian.errors import ConfigurationError

# SO2 9/60 = 0.15, NO2 1/40 = 0.025, PM10 7/70 = 0.1, PM2.5 35/35 = 1, CO 0.1/4 = 0.025,
# O3 16/160 = 0.1. Per item (half to even): 0.15 + 0.02 + 0.10 + 1.00 + 0.02 + 0.10 = 1.39.
# At end: 1.40. Half-up per item would give 1.41.
CRAFTED = {"so2": 9, "no2": 1, "pm10": 7, "pm2_5": 35, "co": "0.1", "o3": 16}


def test_gbt8170_half_even():
    assert gbt8170(Decimal("0.025"), 2) == Decimal("0.02")
    assert gbt8170(Decimal("0.035"), 2) == Decimal("0.04")
    assert gbt8170(Decimal("0.0251"), 2) == Decimal("0.03")
    assert gbt8170(Decimal("2.5"), 0) == Decimal("2")
    assert round_statistic("co", 1.25) == Decimal("1.2")
    assert round_statistic("pm2_5", 34.5) == Decimal("34")


def test_per_item_and_at_end_differ_on_a_crafted_case():
    per_item = composite_index(CRAFTED)
    at_end = composite_index(CRAFTED, rounding="at-end")
    assert per_item.index == Decimal("1.39")
    assert at_end.index == Decimal("1.40")
    assert per_item.items["no2"] == Decimal("0.02")
    assert per_item.primary == ("pm2_5",)


def test_realistic_case_by_hand():
    # SO2 10/60 = 0.1667 → 0.17; NO2 40/40 = 1.00; PM10 70/70 = 1.00; PM2.5 35/35 = 1.00;
    # CO 1.2/4 = 0.30; O3 150/160 = 0.9375 → 0.94. Sum 4.41; at end 4.4042 → 4.40.
    s = {"so2": 10, "no2": 40, "pm10": 70, "pm2_5": 35, "co": "1.2", "o3": 150}
    assert composite_index(s).index == Decimal("4.41")
    assert composite_index(s, rounding="at-end").index == Decimal("4.40")
    assert composite_index(s).primary == ("no2", "pm10", "pm2_5")


def test_2026_standard_uses_other_s():
    # Transition S: PM2.5 30, PM10 60 (unverified as composite S, see gb3095_composite.csv).
    s = {"so2": 0, "no2": 0, "pm10": 60, "pm2_5": 30, "co": 0, "o3": 0}
    assert composite_index(s, standard="2026").index == Decimal("2.00")
    assert composite_index(s).index == Decimal("1.72")  # 60/70 = 0.857 → 0.86; 30/35 → 0.86


def test_missing_statistic_gives_no_index_and_bad_options_raise():
    res = composite_index({"so2": 10})
    assert res.index is None and "o3" in res.missing
    with pytest.raises(ConfigurationError):
        composite_index(CRAFTED, rounding="banker")
    with pytest.raises(ConfigurationError):
        composite_index({**CRAFTED, "so2": -1})


def test_joint_ranks():
    assert joint_ranks([Decimal("3.1"), Decimal("2.0"), Decimal("2.0"), None, Decimal("1")]) == [
        4, 2, 2, None, 1,
    ]  # fmt: skip


def _write(tmp_path, text):
    p = tmp_path / "stats.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_composite_cli_contract(tmp_path):
    p = _write(
        tmp_path,
        "place,so2,no2,pm10,pm2_5,co,o3\n"
        "甲市,9,1,7,35,0.1,16\n"
        "乙市,10,40,70,35,1.2,150\n"
        "丙市,9,1,7,35,0.1,16\n",
    )
    runner = CliRunner()
    res = runner.invoke(app, ["aq", "composite", "--stats", str(p), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [set(r) for r in rows] == [{"place", "composite_index", "primary", "rank"}] * 3
    got = {r["place"]: (r["composite_index"], r["rank"], r["primary"]) for r in rows}
    assert got == {
        "甲市": (1.39, 1, ["pm2_5"]),
        "丙市": (1.39, 1, ["pm2_5"]),
        "乙市": (4.41, 3, ["no2", "pm10", "pm2_5"]),
    }
    assert isinstance(rows[0]["composite_index"], float)
    res = runner.invoke(
        app, ["aq", "composite", "--stats", str(p), "--rounding", "at-end", "--format", "json"]
    )
    assert json.loads(res.stdout.splitlines()[0])["composite_index"] == 1.4


def test_composite_cli_errors(tmp_path):
    runner = CliRunner()
    bad = _write(tmp_path, "place,so2,no2,pm10,pm2_5,co,o3\nA,x,1,1,1,1,1\n")
    res = runner.invoke(app, ["aq", "composite", "--stats", str(bad), "--format", "json"])
    assert res.exit_code != 0 and res.stdout == ""
    assert "row 2 column 'so2'" in res.stderr
    missing = _write(tmp_path, "place,so2\nA,1\n")
    res = runner.invoke(app, ["aq", "composite", "--stats", str(missing), "--format", "json"])
    assert res.exit_code != 0 and "missing column" in res.stderr
    res = runner.invoke(
        app, ["aq", "composite", "--stats", str(missing), "--standard", "2030", "--format", "json"]
    )
    assert res.exit_code != 0 and "--standard" in res.stderr


def test_change_rate():
    from lantian.engine.composite import change_rate

    assert change_rate(Decimal("3.92"), Decimal("4.08")) == Decimal("-3.9")
    assert change_rate(Decimal("5.25"), Decimal("5.00")) == Decimal("5.0")  # 5.0 exactly
    assert change_rate(Decimal("1.0025"), Decimal("1")) == Decimal("0.2")  # 0.25 → 0.2 (even)
    assert change_rate(Decimal(1), None) is None and change_rate(Decimal(1), Decimal(0)) is None
