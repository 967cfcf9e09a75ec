"""Heavy-pollution alerts are judged by the grade in force when the alert started (issue 9).

Worked example (times CST): 甲水泥 (credit code 91430100GRADE001) is graded B from
2025-01-01 and downgraded to C on 2025-01-15 00:00. Orange alerts (C stops, B reduces,
``alert_measures.csv``):

=====  ===========================  =============  =======================
alert  period                       grade at start  measure for 1号窑
=====  ===========================  =============  =======================
1      2025-01-10 08:00 → 01-12 08   B              reduce (running allowed)
2      2025-01-20 08:00 → 01-22 08   C              stop
3      2025-01-14 20:00 → 01-16 20   B (straddles)  reduce
4      2024-12-20 08:00 → 12-21 08   B (before the first version: earliest grade)
=====  ===========================  =============  =======================

乙水泥 has no registry history: its current grade C applies to every alert. The kilns run
six hours in each alert by their power readings (1,500 kWh > idle 50 kW × 1 h).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import ibis
import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.ledger.alerts import (
    alert_violations,
    enter_alert,
    grade_periods,
    required_actions,
    required_actions_of,
)
from lantian.ledger.history import record_version
from lantian.ledger.production_control import operating_evidence
from lantian.store.db import connect

T = dt.datetime
CREDIT = "91430100GRADE001"
ALERT_STARTS = {1: T(2025, 1, 10, 8), 2: T(2025, 1, 20, 8), 3: T(2025, 1, 14, 20),
                4: T(2024, 12, 20, 8)}


def _attrs(grade: str) -> dict[str, str]:
    return {"name": "甲水泥", "credit_code": CREDIT, "sector": "cement",
            "district_code": "430102", "grade": grade}


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, credit_code, sector, district_code, grade)"
              f" VALUES (1, '甲水泥', '{CREDIT}', 'cement', '430102', 'C'),"
              " (2, '乙水泥', NULL, 'cement', '430104', 'C')")
    record_version(c, "enterprise", CREDIT, _attrs("B"), dt.date(2025, 1, 1), "registry")
    record_version(c, "enterprise", CREDIT, _attrs("C"), dt.date(2025, 1, 15), "registry",
                   "downgraded after inspection")
    c.execute("INSERT INTO production_line (enterprise_id, name, kind, idle_kw) VALUES"
              " (1, '1号窑', 'cement_kiln', 50), (2, '1号窑', 'cement_kiln', 50)")
    durations = {1: 48, 2: 48, 3: 48, 4: 24}
    for i in sorted(ALERT_STARTS):
        s = ALERT_STARTS[i]
        assert enter_alert(c, district_code="4301", level="orange", start=s,
                           end=s + dt.timedelta(hours=durations[i]), who="市重污染应急办",
                           source=f"长重污办〔2025〕{i}号") == i
        for eid in (1, 2):  # six running hours from 2 h after the start
            c.execute("INSERT INTO power_reading SELECT ?, '1号窑', ? + to_hours(h), 1500"
                      " FROM range(2, 8) r(h)", [eid, s])
    yield c
    c.close()


def test_grade_periods_from_history(con) -> None:
    ib = ibis.duckdb.from_connection(con)
    rows = grade_periods(ib.table("registry_history"), ib.table("enterprise")).to_pyarrow()
    got = sorted((r["enterprise_id"], r["grade"], r["valid_from"], r["valid_to"],
                  r["grade_basis"]) for r in rows.to_pylist())
    assert got == [(1, "B", None, T(2025, 1, 15), "history"),
                   (1, "C", T(2025, 1, 15), None, "history"),
                   (2, "C", None, None, "current")]


def test_measures_follow_the_grade_at_alert_start(con) -> None:
    ib = ibis.duckdb.from_connection(con)
    rows = required_actions_of(ib).to_pyarrow().to_pylist()
    got = {(r["alert_id"], r["enterprise_id"]): (r["grade"], r["action"]) for r in rows}
    assert got == {(1, 1): ("B", "reduce"), (2, 1): ("C", "stop"), (3, 1): ("B", "reduce"),
                   (4, 1): ("B", "reduce"),
                   (1, 2): ("C", "stop"), (2, 2): ("C", "stop"), (3, 2): ("C", "stop"),
                   (4, 2): ("C", "stop")}
    # the old behaviour (current grade for every alert) is still there without grade periods
    cur = required_actions(ib.table("alert_period"), ib.table("enterprise"),
                           ib.table("production_line")).to_pyarrow().to_pylist()
    assert {r["grade"] for r in cur if r["enterprise_id"] == 1} == {"C"}


def test_violations_only_after_the_downgrade(con) -> None:
    ib = ibis.duckdb.from_connection(con)
    rows = alert_violations(operating_evidence(ib), required_actions_of(ib)).to_pyarrow()
    got = sorted((r["alert_id"], r["enterprise_id"], r["grade"], r["running_hours"],
                  r["evidence"]) for r in rows.to_pylist())
    assert got == [(1, 2, "C", 6, "power"), (2, 1, "C", 6, "power"), (2, 2, "C", 6, "power"),
                   (3, 2, "C", 6, "power"), (4, 2, "C", 6, "power")]
    (v,) = [r for r in rows.to_pylist() if (r["alert_id"], r["enterprise_id"]) == (2, 1)]
    assert (v["first_ts"], v["last_ts"]) == (T(2025, 1, 20, 10), T(2025, 1, 20, 15))


def test_cli_alert_check_and_measures_use_grade_at_start(con, db_path: Path) -> None:
    con.close()
    runner = CliRunner()
    res = runner.invoke(app, ["ledger", "alert-measures", "--db", str(db_path),
                              "--format", "json"])
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    mine = {r["alert_id"]: (r["enterprise"], r["grade"], r["action"], r["grade_basis"])
            for r in rows if r["enterprise_id"] == 1}
    b = ("甲水泥", "B", "reduce", "history")
    assert mine == {1: b, 2: ("甲水泥", "C", "stop", "history"), 3: b, 4: b}
    res = runner.invoke(app, ["ledger", "alert-check", "--db", str(db_path), "--format", "json"])
    assert res.exit_code == 0, res.stderr
    checked = [json.loads(x) for x in res.stdout.splitlines()]
    assert sorted((r["alert_id"], r["enterprise"]) for r in checked) == [
        (1, "乙水泥"), (2, "乙水泥"), (2, "甲水泥"), (3, "乙水泥"), (4, "乙水泥")]
    assert "5 line(s) ran when they had to stop" in res.stderr


def test_compliance_per_line(con) -> None:
    """Stop lines comply with 0 running hours; reduce lines by their reduction (no load data
    here: NULL); running hours of every line are counted."""
    from lantian.ledger.alerts import alert_compliance, alert_reduction
    from lantian.ledger.emissions import hourly_enterprise_loads

    ib = ibis.duckdb.from_connection(con)
    t = ib.table
    red = alert_reduction(hourly_enterprise_loads(t("flue_hour"), t("monitoring_point"),
                                                  t("outlet")), t("alert_period"), t("enterprise"))
    rows = alert_compliance(operating_evidence(ib), required_actions_of(ib), red)
    got = {(r["alert_id"], r["enterprise_id"]): (r["action"], r["running_hours"], r["evidence"],
                                                 r["complied"])
           for r in rows.to_pyarrow().to_pylist()}
    assert got[(1, 1)] == ("reduce", 6, "power", None)
    assert got[(2, 1)] == ("stop", 6, "power", False)
    # 乙's power readings of alert 4 removed: it complied with the stop
    con.execute("DELETE FROM power_reading WHERE enterprise_id = 2 AND ts < '2025-01-01'")
    rows = alert_compliance(operating_evidence(ib), required_actions_of(ib), red)
    (r,) = [r for r in rows.to_pyarrow().to_pylist() if (r["alert_id"], r["enterprise_id"])
            == (4, 2)]
    assert (r["action"], r["running_hours"], r["evidence"], r["complied"]) == ("stop", 0, "",
                                                                             True)
