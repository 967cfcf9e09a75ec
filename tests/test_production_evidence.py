"""Operating evidence of production control: flow, status codes, power use (issue 9).

Status codes are the HJ 212-2017 equipment run states ``SBxxx-RS`` (CN 2021; 1 running, 0 off,
``production_run_status.csv``), stored in ``value_long`` as code ``SB1``, field ``RS``.

Each kind of evidence is used when present and named in the violation. Worked examples
(times CST; 2025-03-02 and 2025-03-09 are Sundays; agreement: the line rests on Sundays,
ISO weekday 7):

- power use only, no flue-gas data at all: 2号电炉 draws 900 kWh in each of 3 hours on
  Sunday 03-02 (idle 50 kW × 1 h = 50 kWh) → a ``rest_weekday`` violation, evidence
  ``power``;
- status codes only: 1号冲天炉's dust collector reports ``SB1-RS`` = 1 (running) every minute
  for 2 hours on Sunday 03-09 and 0 (off) for 2 more → 2 running hours, evidence ``status``;
  the analyser's own state ``i12001`` = 0 (instrument running) is not running evidence;
- all three in the same hour (Sunday 03-16 10:00) plus flow alone at 11:00 → 2 hours,
  evidence ``flow+status+power``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import ibis
import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.ledger.production_control import (
    agreement_violations,
    operating_evidence,
    running_from_status,
)
from lantian.store.db import connect

T = dt.datetime


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, sector) VALUES (700, '辛铸造', 'foundry')")
    c.execute("INSERT INTO outlet (id, enterprise_id, name, stop_flow_threshold)"
              " VALUES (70, 700, '冲天炉排口', 1.0)")
    c.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('MN-C1', 'p', 70)")
    c.execute("INSERT INTO production_line (id, enterprise_id, name, kind, idle_kw) VALUES"
              " (71, 700, '1号冲天炉', 'cupola', 50), (72, 700, '2号电炉', 'electric', 50)")
    c.execute("INSERT INTO production_line_outlet VALUES (71, 70)")
    c.execute("INSERT INTO production_agreement (enterprise_id, line, rule, value, valid_from,"
              " source) VALUES (700, NULL, 'rest_weekday', 7, DATE '2025-01-01', '错峰生产协议')")
    yield c
    c.close()


def _status(con, start: T, minutes: int, value: int, code: str = "SB1",
            field: str = "RS") -> None:
    con.execute("INSERT INTO value_long (packet_id, mn, cn, ts, code, field, num)"
                " SELECT 0, 'MN-C1', '2021', ? + to_minutes(i), ?, ?, ?"
                " FROM range(?) r(i)", [start, code, field, value, minutes])


def _violations(con) -> list[dict]:
    ib = ibis.duckdb.from_connection(con)
    return agreement_violations(operating_evidence(ib), ib.table("production_agreement")
                                ).to_pyarrow().to_pylist()


def test_power_use_only_no_flow(con) -> None:
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone() == (0,)
    con.execute("INSERT INTO power_reading SELECT 700, '2号电炉', TIMESTAMP '2025-03-02 08:00:00'"
                " + to_hours(h), 900 FROM range(3) r(h)")
    con.execute("INSERT INTO power_reading VALUES (700, '2号电炉', '2025-03-02 11:00:00', 40)")
    (v,) = _violations(con)
    assert (v["line"], v["rule"], v["period"], v["running_hours"], v["evidence"]) == (
        "2号电炉", "rest_weekday", "2025-03-02", 3, "power")
    assert (v["first_ts"], v["last_ts"]) == (T(2025, 3, 2, 8), T(2025, 3, 2, 10))
    assert v["detail_zh"] == "停产日(ISO 星期 7)生产 3 小时" and v["source"] == "错峰生产协议"


def test_status_codes_only(con) -> None:
    _status(con, T(2025, 3, 9, 6), 120, 1)  # 06:00-07:59 running
    _status(con, T(2025, 3, 9, 8), 120, 0)  # 08:00-09:59 off
    _status(con, T(2025, 3, 9, 8), 120, 0, "i12001", "Info")  # analyser running: not evidence
    ib = ibis.duckdb.from_connection(con)
    t = ib.table
    hours = running_from_status(t("value_long"), t("monitoring_point"), t("outlet"),
                                t("production_line_outlet"), t("production_line"))
    got = sorted((r["ts"], r["running"]) for r in hours.to_pyarrow().to_pylist())
    assert got == [(T(2025, 3, 9, h), h < 8) for h in range(6, 10)]
    (v,) = _violations(con)
    assert (v["line"], v["running_hours"], v["evidence"]) == ("1号冲天炉", 2, "status")


def test_status_any_running_reading_makes_a_running_hour(con) -> None:
    # off all hour but one running reading at 06:59 → the hour ran; states 2-5 do not count
    _status(con, T(2025, 3, 9, 6), 59, 0)
    _status(con, T(2025, 3, 9, 6, 59), 1, 1)
    for value in (2, 3, 4, 5):
        _status(con, T(2025, 3, 9, 10), 60, value)
    (v,) = _violations(con)
    assert (v["running_hours"], v["first_ts"], v["evidence"]) == (1, T(2025, 3, 9, 6), "status")


def test_every_kind_named(con) -> None:
    con.execute("INSERT INTO flue_minute (mn, ts, packet_id, flow_m3_s) SELECT 'MN-C1',"
                " TIMESTAMP '2025-03-16 10:00:00' + to_minutes(i), 0, 20.0 FROM range(120) r(i)")
    _status(con, T(2025, 3, 16, 10), 60, 1)
    con.execute("INSERT INTO power_reading VALUES (700, '1号冲天炉', '2025-03-16 10:00:00', 800)")
    (v,) = _violations(con)
    assert (v["line"], v["running_hours"], v["evidence"]) == ("1号冲天炉", 2, "flow+status+power")


def test_cli_production_check_names_evidence_and_enterprise(con, db_path: Path) -> None:
    con.execute("INSERT INTO power_reading SELECT 700, '2号电炉', TIMESTAMP '2025-03-02 08:00:00'"
                " + to_hours(h), 900 FROM range(3) r(h)")
    con.close()
    res = CliRunner().invoke(app, ["ledger", "production-check", "--db", str(db_path),
                                   "--format", "json"])
    assert res.exit_code == 0, res.stderr
    (row,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert (row["enterprise_id"], row["enterprise"], row["evidence"], row["period"]) == (
        700, "辛铸造", "power", "2025-03-02")
