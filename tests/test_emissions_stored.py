"""Emission ledger reads the engine's stored monthly loads (``month_load``), substitution shown."""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.ledger.emissions import monthly_loads, yoy_vs_target
from lantian.store.db import connect


@pytest.fixture
def db(db_path: Path) -> Path:
    con = connect(db_path)
    con.execute("INSERT INTO enterprise (id, name, district_code) VALUES (1, '甲', '430102')")
    con.execute("INSERT INTO outlet (id, enterprise_id, name) VALUES (10, 1, '窑尾')")
    con.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('M1', 'p', 10)")
    # logger -Cou amounts: 2.5 kg SO2 per hour, March and April 2025 (48 h each)
    con.execute("INSERT INTO flue_hour (mn, ts, packet_id, so2_cou, so2_flag) SELECT 'M1', t, 0,"
                " 2.5, 'N' FROM range(TIMESTAMP '2025-03-01', TIMESTAMP '2025-03-03',"
                " INTERVAL 1 HOUR) r(t) UNION ALL SELECT 'M1', t, 0, 2.5, 'N' FROM"
                " range(TIMESTAMP '2025-04-01', TIMESTAMP '2025-04-03', INTERVAL 1 HOUR) r(t)")
    # the engine assessed March: 100 kg measured in 700 h, 20 kg substituted in 5 h, 3 h open
    con.execute("INSERT INTO month_load (mn, month, pollutant, load_kg, load_hours,"
                " substituted_load_kg, substituted_hours, unsubstituted_hours, capture_rate)"
                " VALUES ('M1', '2025-03', 'so2', 100.0, 700, 20.0, 5, 3, 0.99),"
                " ('M1', '2025-03', 'nh3', 1.0, 700, NULL, NULL, NULL, NULL)")
    con.close()
    return db_path


def test_stored_month_replaces_the_cou_sum(db: Path) -> None:
    con = connect(db)
    ib = ibis.duckdb.from_connection(con)
    rows = monthly_loads(ib.table("flue_hour"), ib.table("monitoring_point"), ib.table("outlet"),
                         ib.table("enterprise")).order_by("month").to_pyarrow().to_pylist()
    con.close()
    assert [(r["month"], r["pollutant"], r["source"]) for r in rows] == [
        ("2025-03", "so2", "engine"), ("2025-04", "so2", "logger_cou")]  # nh3 not a ledger key
    march, april = rows
    # (100 + 20) kg = 0.12 t, of which 0.02 t substituted in 5 h; 5 + 3 invalid hours flagged
    assert march["load_t"] == pytest.approx(0.12) and march["measured_t"] == pytest.approx(0.1)
    assert march["substituted_t"] == pytest.approx(0.02) and march["substituted_hours"] == 5
    assert march["flagged_hours"] == 8 and march["hours"] == 700
    assert april["load_t"] == pytest.approx(48 * 2.5 / 1000) and april["substituted_t"] is None


def test_yoy_reads_stored_loads() -> None:
    # the stored-load columns pass through yoy_vs_target (by district): 2025 vs 2024
    loads = ibis.memtable({"district_code": ["430102"] * 2, "month": ["2024-03", "2025-03"],
                           "pollutant": ["so2"] * 2, "load_t": [0.125, 0.12],
                           "substituted_t": [0.0, 0.02]})
    (r,) = yoy_vs_target(loads, 2025, by="district_code").to_pyarrow().to_pylist()
    assert r["change_pct"] == pytest.approx(-4.0) and r["met"] is True


def test_ledger_loads_cli_shows_the_stored_month(db: Path) -> None:
    res = CliRunner().invoke(app, ["ledger", "loads", "--db", str(db), "--by", "mn",
                                   "--format", "json"])
    assert res.exit_code == 0, res.stderr
    rows = {r["period"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["2025-03"]["load_t"] == pytest.approx(0.12)
    assert rows["2025-03"]["flagged_hours"] == 8
    assert rows["2025-04"]["load_t"] == pytest.approx(0.12)
