"""Emission-stage rules by date: vehicles and non-road machinery (issue 8)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.errors import ConfigurationError
from lantian.ledger.fleet import FleetItem, fleet_findings, read_fleet
from lantian.ledger.vehicles import allowed_stages, meets, parse_stage, required_stage

D = dt.date


@pytest.mark.parametrize(
    ("text", "stage"),
    [("国六", "China VI"), ("China VI-b", "China VI"), ("china 5", "China V"), ("国IV", "China IV"),
     ("NEV", "NEV"), ("纯电动", "NEV"), ("非道路第四阶段", "Stage IV"), ("Stage III", "Stage III"),
     ("VI", "China VI"), ("6", "China VI"), ("", None)],
)
def test_parse_stage(text: str, stage: str | None) -> None:
    assert parse_stage(text) == stage


def test_unknown_stage_raises() -> None:
    with pytest.raises(ValueError, match="Euro"):
        parse_stage("Euro 6")


def test_new_heavy_diesel_china_vi_from_2021_07_01() -> None:
    assert required_stage("new_heavy_diesel", D(2021, 6, 30)).min_stage == "China V"
    assert required_stage("new_heavy_diesel", D(2021, 7, 1)).min_stage == "China VI"


def test_non_road_stage_iv_from_2022_12_01() -> None:
    assert required_stage("new_non_road", D(2022, 11, 30)).min_stage == "Stage III"
    assert required_stage("new_non_road", D(2022, 12, 1)).min_stage == "Stage IV"
    with pytest.raises(ConfigurationError):
        required_stage("new_non_road", D(2010, 1, 1))


def test_meets_orders_within_family_and_nev_meets_all() -> None:
    assert meets("China VI", "China V") and not meets("China V", "China VI")
    assert meets("NEV", "Stage IV") and meets("NEV", "NEV")
    assert not meets("China VI", "NEV") and not meets("China VI", "Stage III")
    assert not meets(None, "China III")
    assert allowed_stages("clean_road_haulage", D(2022, 1, 1)) == ["China VI", "NEV"]


def test_fleet_findings_by_date() -> None:
    loader = FleetItem("E", "non_road_machinery", "M1", "loader", "Stage III", "diesel", 90,
                       D(2022, 11, 30))
    assert fleet_findings(loader, D(2025, 1, 1)) == []
    late = FleetItem("E", "non_road_machinery", "M2", "loader", "Stage III", "diesel", 90,
                     D(2022, 12, 1))
    (finding,) = fleet_findings(late, D(2025, 1, 1))
    assert "Stage IV" in finding
    truck = FleetItem("E", "in_plant_vehicle", "晋C1", "truck", "China VI", "diesel", None,
                      D(2021, 7, 1))
    assert fleet_findings(truck, D(2025, 12, 31)) == []  # China VI allowed in-plant to end-2025
    (finding,) = fleet_findings(truck, D(2026, 1, 1))  # then new-energy only
    assert "NEV" in finding


def test_import_vehicles_cli(tmp_path: Path, db_path: Path) -> None:
    from lantian.cli import app

    f = tmp_path / "fleet.csv"
    f.write_text(
        "enterprise,category,ident,kind,emission_stage,fuel,power_kw,made_on\n"
        "乙焦化,non_road_machinery,HJ-001,loader,非道路第四阶段,diesel,92,2023-03-01\n"
        "乙焦化,in_plant_vehicle,晋C8,truck,,electric,,2024-05-01\n",
        encoding="utf-8",
    )
    items = read_fleet(f)
    assert [i.emission_stage for i in items] == ["Stage IV", "NEV"]
    res = CliRunner().invoke(app, ["import", "vehicles", str(f), "--db", str(db_path)])
    assert res.exit_code == 0, res.stderr
    f.write_text("enterprise,category,ident,kind,emission_stage,fuel,power_kw,made_on\n"
                 "乙焦化,boat,X,,,,,\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["import", "vehicles", str(f), "--db", str(db_path)])
    assert res.exit_code != 0 and "row 2 column category" in res.stderr
