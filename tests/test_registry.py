"""Registry: points by MN, names reused, authentication, and the CLI contract."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.errors import ConfigurationError, NotFoundError
from lantian.ledger.registry import (
    AuthVerdict,
    add_point,
    authenticate,
    get_point,
    list_points,
    points_cache,
)
from lantian.store.db import connect

runner = CliRunner()


@pytest.fixture
def con(db_path):
    c = connect(db_path)
    yield c
    c.close()


def test_add_point_creates_enterprise_and_outlet_and_reuses_names(con):
    a = add_point(
        con,
        mn="MN-A",
        password="123456",
        outlet="1# kiln",
        enterprise="Hunan Cement",
        source_type="cement_kiln",
        parameters=["so2", "nox"],
    )
    b = add_point(con, mn="MN-B", password="654321", outlet="1# kiln", enterprise="Hunan Cement")
    c = add_point(con, mn="MN-C", password="x", outlet="1# kiln")  # no enterprise: another outlet
    assert a.enterprise == "Hunan Cement" and a.outlet == "1# kiln"
    assert a.parameters == ("nox", "so2") and a.source_type == "cement_kiln"
    assert b.outlet_id == a.outlet_id and b.enterprise_id == a.enterprise_id
    assert c.outlet_id != a.outlet_id and c.enterprise is None
    assert con.execute("SELECT count(*) FROM enterprise").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM outlet").fetchone()[0] == 2
    assert con.execute("SELECT source_type FROM outlet WHERE id = ?", [a.outlet_id]).fetchone() == (
        "cement_kiln",
    )
    assert [p.mn for p in list_points(con)] == ["MN-A", "MN-B", "MN-C"]


def test_add_point_again_updates_password_and_keeps_the_rest(con):
    add_point(con, mn="MN-A", password="old", outlet="DA001", enterprise="E")
    p = add_point(con, mn="MN-A", password="new")
    assert p.password == "new" and p.outlet == "DA001" and p.enterprise == "E"
    assert get_point(con, "MN-A") == p


def test_bad_input_is_refused(con):
    for mn in ("", "A;B", "A B", "A=1", "A/B"):
        with pytest.raises(ConfigurationError):
            add_point(con, mn=mn, password="1")
    with pytest.raises(ConfigurationError):
        add_point(con, mn="MN", password="1", flow_unit="L/s")
    with pytest.raises(ConfigurationError):
        add_point(con, mn="MN", password="1", sm4_key="abc")
    with pytest.raises(NotFoundError):
        get_point(con, "MN")
    p = add_point(con, mn="MN", password="1", flow_unit="m3/h", sm4_key="00" * 16)
    assert p.flow_unit == "m3/h" and p.sm4_key == "00" * 16


def test_authenticate(con):
    add_point(con, mn="MN-A", password="123456")
    con.execute("INSERT INTO monitoring_point (mn, password, active) VALUES ('OFF', 'p', false)")
    cache = points_cache(con)
    assert authenticate(cache, "MN-A", "123456") is AuthVerdict.ok
    assert authenticate(cache, "MN-A", "123457") is AuthVerdict.wrong_password
    assert authenticate(cache, "MN-A", None) is AuthVerdict.wrong_password
    assert authenticate(cache, "MN-Z", "123456") is AuthVerdict.unknown_mn
    assert authenticate(cache, None, "123456") is AuthVerdict.unknown_mn
    assert authenticate(cache, "OFF", "p") is AuthVerdict.inactive


def test_cli_add_point_and_list(tmp_path):
    db = tmp_path / "new" / "x.duckdb"  # does not exist yet: created and migrated
    r = runner.invoke(
        app,
        [
            "registry",
            "add-point",
            "--db",
            str(db),
            "--mn",
            "88888880000001",
            "--password",
            "123456",
            "--outlet",
            "DA001",
            "--source-type",
            "coke_oven_stack",
            "--enterprise",
            "Taiyuan Coking",
        ],
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["mn"] == "88888880000001" and got["enterprise"] == "Taiyuan Coking"
    assert "password" not in got
    r = runner.invoke(
        app,
        [
            "registry",
            "add-point",
            "--db",
            str(db),
            "--mn",
            "MN2",
            "--password",
            "1",
            "--enterprise",
            "Taiyuan Coking",
        ],
    )
    assert r.exit_code == 0
    r = runner.invoke(app, ["registry", "list", "--db", str(db), "--format", "json"])
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["mn"] for x in rows] == ["88888880000001", "MN2"]
    assert rows[0] == {
        "mn": "88888880000001",
        "outlet": "DA001",
        "enterprise": "Taiyuan Coking",
        "source_type": "coke_oven_stack",
        "protocol": None,
        "parameters": [],
        "flow_unit": "m3/s",
        "active": True,
    }
    con = connect(db)
    assert con.execute("SELECT count(*) FROM enterprise").fetchone()[0] == 1
    con.close()


def test_cli_bad_mn_exits_nonzero_with_one_line(tmp_path):
    r = runner.invoke(
        app,
        [
            "registry",
            "add-point",
            "--db",
            str(tmp_path / "x.duckdb"),
            "--mn",
            "A;B",
            "--password",
            "1",
        ],
    )
    assert r.exit_code != 0
    assert r.stdout == ""
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1


def test_cli_list_csv_and_table(tmp_path):
    db = tmp_path / "x.duckdb"
    con = connect(db)
    add_point(con, mn="MN1", password="p", outlet="DA001", parameters=["so2", "nox"])
    con.close()
    r = runner.invoke(app, ["registry", "list", "--db", str(db), "--format", "csv"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [
        "mn,outlet,enterprise,source_type,protocol,parameters,flow_unit,active",
        "MN1,DA001,,,,nox so2,m3/s,True",
    ]
    r = runner.invoke(app, ["registry", "list", "--db", str(db)])
    assert r.exit_code == 0 and "MN1" in r.stdout and "DA001" in r.stdout
