"""The ``lantian assess`` CLI contract (issue 3), through Typer's CliRunner."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from engine_support import make_db, minutes
from lantian.cli import app

MONTH_KEYS = {
    "mn",
    "source_type",
    "month",
    "production_hours",
    "valid_hours",
    "compliant_hours",
    "compliance_ratio",
    "ule_pass",
    "exceedance_hours",
    "invalid_hours",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    # coke-oven stack, 2 days of data in May 2024; hour 3 of day 1: NMHC 120 at O2 = 8 % (> 100)
    n = 2 * 24 * 60
    nmhc = np.full(n, 50.0)
    nmhc[180:240] = 120.0
    df = minutes(
        "K9",
        "2024-05-01 00:00",
        n,
        pm=5.0,
        so2=20.0,
        nox=100.0,
        nh3=3.0,
        nmhc=nmhc,
        o2=8.0,
        flow=40.0,
        temp=150.0,
    )
    df["packet_id"] = np.arange(len(df))
    pts = [{"mn": "K9", "source_type": "coke_oven_stack"}]
    return make_db(tmp_path_factory.mktemp("cli") / "a.duckdb", pts, df)


def test_monthly_json_contract(db):
    res = CliRunner().invoke(
        app, ["assess", "--db", str(db), "--month", "2024-05", "--format", "json"]
    )
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert set(obj) == MONTH_KEYS
    assert obj["mn"] == "K9" and obj["month"] == "2024-05"
    assert obj["source_type"] == "coke_oven_stack"
    # 744 production hours (no stop evidence), 48 with data, 47 compliant (NMHC hour exceeds)
    assert obj["production_hours"] == 744 and obj["valid_hours"] == 48
    assert obj["compliant_hours"] == 47
    assert obj["compliance_ratio"] == 47 / 744 and obj["ule_pass"] is False
    assert obj["exceedance_hours"] == {"pm": 0, "so2": 0, "nox": 0, "nh3": 0, "nmhc": 1}
    assert obj["invalid_hours"] == {k: 744 - 48 for k in ("pm", "so2", "nox", "nh3", "nmhc")}
    assert isinstance(obj["production_hours"], int)


def test_detail_hours_contract(db):
    res = CliRunner().invoke(
        app,
        [
            "assess",
            "--db",
            str(db),
            "--month",
            "2024-05",
            "--detail",
            "hours",
            "--mn",
            "K9",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == 744
    h3 = rows[3]
    assert h3["ts"] == "2024-05-01T03:00:00"
    assert h3["nmhc_mg_m3"] == 120.0 and h3["nmhc_ref_mg_m3"] == 120.0  # O2 = O2ref = 8 %
    assert h3["nmhc_valid"] is True and h3["production"] is True and h3["compliant"] is False
    assert rows[0]["compliant"] is True and rows[0]["so2_ref_mg_m3"] == 20.0
    assert rows[100]["so2_valid"] is False and rows[100]["compliant"] is False
    assert pd.Timestamp(rows[-1]["ts"]) == pd.Timestamp("2024-05-31T23:00:00")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--month", "2024-13"], "YYYY-MM"),
        (["--month", "2024-05", "--detail", "hours"], "--mn"),
        (["--month", "2024-05", "--detail", "hours", "--mn", "NOPE"], "NOPE"),
    ],
)
def test_errors_are_one_line_on_stderr(db, args, needle):
    res = CliRunner().invoke(app, ["assess", "--db", str(db), *args, "--format", "json"])
    assert res.exit_code != 0
    assert res.stdout == ""
    assert needle in res.stderr


def test_missing_db_is_created(tmp_path):
    path = tmp_path / "new.duckdb"
    res = CliRunner().invoke(
        app, ["assess", "--db", str(path), "--month", "2024-05", "--format", "json"]
    )
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "" and path.exists()


def test_monthly_verdicts_are_stored_and_replaced(db):
    from lantian.store.db import connect

    args = ["assess", "--db", str(db), "--month", "2024-05", "--format", "json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.stderr
    again = CliRunner().invoke(app, args)  # a second run replaces, never duplicates
    assert again.exit_code == 0, again.stderr
    printed = json.loads(again.stdout.splitlines()[0])
    con = connect(db)
    try:
        rows = con.execute(
            "SELECT mn, month, production_hours, compliant_hours, compliance_ratio, ule_pass,"
            " exceedance_hours, engine FROM month_ule_verdict"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 1
    mn, month, prod, ok, ratio, ule, exceed, engine = rows[0]
    assert (mn, month, engine) == ("K9", "2024-05", "duckdb")
    assert (prod, ok, ule) == (
        printed["production_hours"],
        printed["compliant_hours"],
        printed["ule_pass"],
    )
    assert ratio == printed["compliance_ratio"]
    assert json.loads(exceed) == printed["exceedance_hours"]


def test_no_store_leaves_the_table_alone(tmp_path):
    from lantian.store.db import connect

    db = tmp_path / "empty.duckdb"
    res = CliRunner().invoke(
        app, ["assess", "--db", str(db), "--month", "2024-05", "--no-store", "--format", "json"]
    )
    assert res.exit_code == 0, res.stderr
    con = connect(db)
    try:
        assert con.execute("SELECT count(*) FROM month_ule_verdict").fetchone()[0] == 0
    finally:
        con.close()
