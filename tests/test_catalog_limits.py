"""The limit catalogue: packaged rows, validation, layering, ``lantian catalog show``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.catalog.limits import applicable_limits, load_limits, read_limits, select_limits
from lantian.catalog.rules import rule, stop_status_values
from lantian.cli import app
from lantian.errors import CatalogError

DATA = Path(__file__).parent / "data" / "engine"
D = dt.date(2024, 6, 1)


def _lim(source_type, on=D, jur=None):
    return {
        k: (v.limit_mg_m3, v.o2_ref_pct) for k, v in applicable_limits(source_type, on, jur).items()
    }


def test_packaged_catalogue_loads_with_sources_and_confidence():
    rows = load_limits()
    assert len(rows) >= 60
    for r in rows:
        assert r.source_document and r.clause
        assert r.confidence in {"V", "P", "U"}


@pytest.mark.parametrize(
    ("source_type", "jur", "expected"),
    [
        ("coal_power_boiler", None, {"pm": (10, 6), "so2": (35, 6), "nox": (50, 6)}),
        ("sinter_head", None, {"pm": (10, 16), "so2": (35, 16), "nox": (50, 16)}),
        ("cement_kiln", None, {"pm": (10, 10), "so2": (35, 10), "nox": (50, 10), "nh3": (8, 10)}),
        (
            "coke_oven_stack",
            None,
            {"pm": (10, 8), "so2": (30, 8), "nox": (150, 8), "nmhc": (100, 8), "nh3": (8, 8)},
        ),
        ("cement_mill", None, {"pm": (10, None)}),
        ("coking_other", None, {"pm": (10, None)}),
        ("gas_boiler", None, {"pm": (20, 3.5), "so2": (50, 3.5), "nox": (150, 3.5)}),
        # Beijing DB11/139 low-NOx layer replaces the national NOx row only
        ("gas_boiler", "CN-11", {"pm": (20, 3.5), "so2": (50, 3.5), "nox": (30, 3.5)}),
    ],
)
def test_required_limits(source_type, jur, expected):
    assert _lim(source_type, D, jur) == expected


def test_hunan_is_its_own_layer():
    rows = applicable_limits("cement_kiln", D, "CN-43")
    assert {r.jurisdiction for r in rows.values()} == {"CN-43"}
    assert all(r.id.startswith("hunan-") for r in rows.values())
    # national points never see the Hunan rows
    assert all(r.jurisdiction == "CN" for r in applicable_limits("cement_kiln", D).values())


def test_effective_dates_pick_the_rule_in_force():
    # the coke-oven stack is judged by the steel table before 2024 (no NMHC/NH3) ...
    before = _lim("coke_oven_stack", dt.date(2023, 6, 1))
    assert before == {"pm": (10, 8), "so2": (30, 8), "nox": (150, 8)}
    # ... and nothing before the steel opinion took effect
    assert _lim("coke_oven_stack", dt.date(2019, 1, 1)) == {}
    assert _lim("cement_kiln", dt.date(2023, 12, 31)) == {}


def test_overlapping_periods_are_rejected():
    with pytest.raises(CatalogError, match="overlap"):
        read_limits(DATA / "limits_overlap.csv")


def test_unknown_field_is_rejected():
    with pytest.raises(CatalogError, match="colour"):
        read_limits(DATA / "limits_unknown_field.csv")


def test_rule_constants_come_from_data():
    assert rule("min_valid_minutes") == 45
    assert rule("ule_min_share_pct") == 95
    assert 9 in stop_status_values("i12001")
    with pytest.raises(CatalogError):
        rule("no_such_rule")


def test_select_limits_filters():
    rows = select_limits(sector="coking", on=D)
    assert rows and all(r.sector == "coking" and r.in_force(D) for r in rows)


def test_cli_catalog_show_json():
    res = CliRunner().invoke(
        app,
        [
            "catalog",
            "show",
            "--source-type",
            "cement_kiln",
            "--on",
            "2024-06-01",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    ids = {o["id"] for o in objs}
    assert {"cement-kiln-nh3", "hunan-cement-kiln-nh3"} <= ids
    nh3 = next(o for o in objs if o["id"] == "cement-kiln-nh3")
    assert nh3["limit_mg_m3"] == 8 and nh3["o2_ref_pct"] == 10
    assert nh3["effective_from"] == "2024-01-01"


def test_cli_catalog_show_bad_date():
    res = CliRunner().invoke(app, ["catalog", "show", "--on", "June", "--format", "json"])
    assert res.exit_code != 0
    assert res.stdout == ""
    assert "YYYY-MM-DD" in res.stderr
