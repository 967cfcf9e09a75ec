"""Retrofit programmes: milestones, working-day deadlines, progress, dynamic list (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.errors import LedgerRuleError
from lantian.ledger.retrofit import add_months, add_plan, plan_status, record_milestone
from lantian.ledger.retrofit_progress import (
    notify_overdue,
    programme_progress,
    progress_by_district,
    read_ule_verdicts,
    refresh_dynamic_list,
)
from lantian.store.db import connect

D = dt.date


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, sector, district_code) VALUES"
              " (801, '己水泥', 'cement', '430100'), (802, '庚水泥', 'cement', '430200'),"
              " (803, '辛铸造', 'foundry', '140100')")
    c.execute("INSERT INTO outlet (id, enterprise_id, name) VALUES (21, 801, '1号窑尾')")
    c.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('MN-K1', 'p', 21)")
    yield c
    c.close()


def _by(rows, plan_id):
    return {r["milestone"]: r for r in rows if r["plan_id"] == plan_id}


def test_add_months_clips_to_month_end() -> None:
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2025, 12, 15), 1) == D(2026, 1, 15)


def test_milestone_chain_worked_example(con) -> None:
    p = add_plan(con, programme="cement_ule", enterprise="己水泥", line="1号熟料线",
                 planned_done=D(2025, 6, 30), who="admin", outlet_ids=(21,))
    record_milestone(con, p, "construction_done", D(2025, 7, 15), "企业")
    # one month of stable operation cannot end before 2025-08-15
    with pytest.raises(LedgerRuleError, match="2025-08-15"):
        record_milestone(con, p, "stable_month", D(2025, 8, 10), "企业")
    with pytest.raises(LedgerRuleError, match="stable_month must be recorded"):
        record_milestone(con, p, "assessment_monitoring", D(2025, 9, 1), "企业")
    record_milestone(con, p, "stable_month", D(2025, 8, 15), "企业")
    record_milestone(con, p, "assessment_monitoring", D(2025, 9, 10), "企业")
    record_milestone(con, p, "public_listing", D(2025, 9, 26), "监管员")
    with pytest.raises(LedgerRuleError, match="already"):
        record_milestone(con, p, "public_listing", D(2025, 9, 27), "监管员")
    # permit change within 15 working days of listing on Fri 2025-09-26: the National Day
    # holiday (10-01..10-08) and the make-up days (Sun 09-28, Sat 10-11) give 2025-10-23
    s = _by(plan_status(con, D(2025, 10, 20)), p)
    assert s["construction_done"]["state"] == "done_late"  # planned 06-30, done 07-15
    assert s["stable_month"]["due"] == D(2025, 8, 15)
    assert s["permit_change"]["due"] == D(2025, 10, 23)
    assert s["permit_change"]["state"] == "at_risk"
    assert _by(plan_status(con, D(2025, 10, 20), at_risk_days=2), p)["permit_change"]["state"] \
        == "pending"
    assert _by(plan_status(con, D(2025, 10, 24)), p)["permit_change"]["state"] == "overdue"
    record_milestone(con, p, "permit_change", D(2025, 10, 23), "监管员")
    assert _by(plan_status(con, D(2025, 10, 24)), p)["permit_change"]["state"] == "done"
    assert con.execute("SELECT listed_on FROM dynamic_list WHERE plan_id = ?", [p]).fetchall() \
        == [(D(2025, 9, 26),)]


def test_projected_dues_before_anything_is_done(con) -> None:
    p = add_plan(con, programme="cement_ule", enterprise="庚水泥", line="2号线",
                 planned_done=D(2026, 3, 31), who="admin")
    s = _by(plan_status(con, D(2025, 1, 1)), p)
    # 03-31 -> +1 month 04-30 -> 05-30 -> 06-30 -> 15 working days (Dragon Boat 2026 aside)
    assert [s[m]["due"] for m in ("construction_done", "stable_month", "assessment_monitoring",
                                  "public_listing")] == [D(2026, 3, 31), D(2026, 4, 30),
                                                         D(2026, 5, 30), D(2026, 6, 30)]
    assert all(r["state"] == "pending" for r in s.values())


def test_cupola_deadline_then_must_stop(con) -> None:
    # cupola_to_electric: every cupola replaced by 2025-06-30, after which the plant must stop
    p = add_plan(con, programme="cupola_to_electric", enterprise="辛铸造", line="3t/h冲天炉",
                 planned_done=D(2025, 8, 1), who="admin")
    (row,) = [r for r in plan_status(con, D(2025, 6, 1)) if r["plan_id"] == p]
    assert row["due"] == D(2025, 6, 30) and row["state"] == "at_risk" and not row["must_stop"]
    (row,) = [r for r in plan_status(con, D(2025, 7, 1)) if r["plan_id"] == p]
    assert row["state"] == "overdue" and row["must_stop"]
    # the regulator is told once per overdue milestone
    assert notify_overdue(con, D(2025, 7, 1), "system") == 1
    assert notify_overdue(con, D(2025, 7, 2), "system") == 0
    (msg,) = con.execute("SELECT message_zh, message_en FROM notification"
                         " WHERE kind = 'retrofit_overdue'").fetchall()
    assert "应停产" in msg[0] and "must stop" in msg[1] and "2025-06-30" in msg[1]
    prog = {r["programme"]: r for r in programme_progress(con, D(2025, 7, 1))}
    assert prog["cupola_to_electric"]["status"] == "missed"
    assert prog["cupola_to_electric"]["must_stop"] == 1


def test_thirty_lines_by_end_2025(con) -> None:
    # target: 30 cement kiln lines publicly listed by 2025-12-31 (58 by 2026-12-31)
    plans = []
    for i in range(30):
        ent = "己水泥" if i % 2 else "庚水泥"
        plans.append(add_plan(con, programme="cement_ule", enterprise=ent, line=f"线{i}",
                              planned_done=D(2025, 3, 1), who="admin"))
    for p in plans[:29]:
        for m, d in (("construction_done", D(2025, 3, 1)), ("stable_month", D(2025, 4, 1)),
                     ("assessment_monitoring", D(2025, 5, 1)), ("public_listing", D(2025, 6, 1))):
            record_milestone(con, p, m, d, "x")
    # the 30th is overdue on construction (due 2025-03-01) -> at risk
    prog = [r for r in programme_progress(con, D(2025, 11, 1)) if r["programme"] == "cement_ule"]
    assert [(r["target_count"], r["done"], r["status"]) for r in prog] == [
        (30, 29, "at_risk"), (58, 29, "at_risk")]
    assert next(r["status"] for r in programme_progress(con, D(2026, 1, 1))
                if r["programme"] == "cement_ule") == "missed"
    for m, d in (("construction_done", D(2025, 11, 2)), ("stable_month", D(2025, 12, 2)),
                 ("assessment_monitoring", D(2025, 12, 10)), ("public_listing", D(2025, 12, 31))):
        record_milestone(con, plans[29], m, d, "x")
    first = [r for r in programme_progress(con, D(2026, 1, 1)) if r["programme"] == "cement_ule"]
    assert (first[0]["done"], first[0]["status"]) == (30, "met")
    dist = progress_by_district(con, D(2026, 1, 1), "cement_ule")
    assert [(r["district_code"], r["plans"], r["done"]) for r in dist] == [
        ("430100", 15, 15), ("430200", 15, 15)]


def test_dynamic_list_removal_and_notification(con) -> None:
    p = add_plan(con, programme="cement_ule", enterprise="己水泥", line="1号熟料线",
                 planned_done=D(2025, 6, 30), who="admin", outlet_ids=(21,))
    for m, d in (("construction_done", D(2025, 6, 30)), ("stable_month", D(2025, 7, 30)),
                 ("assessment_monitoring", D(2025, 8, 20)), ("public_listing", D(2025, 9, 1))):
        record_milestone(con, p, m, d, "x")
    assert refresh_dynamic_list(con, "2025-10", "监管员", {"MN-K1": True}) == []
    removed = refresh_dynamic_list(con, "2025-11", "监管员", {"MN-K1": False})
    assert [(r["plan_id"], r["failed_points"]) for r in removed] == [(p, ["MN-K1"])]
    assert con.execute("SELECT removed_on FROM dynamic_list").fetchall() == [(D(2025, 11, 30),)]
    (note,) = con.execute("SELECT audience, kind, message_zh FROM notification").fetchall()
    assert note[:2] == ("regulator", "dynamic_list_removed") and "动态管理清单" in note[2]
    # already off the list: a second failing month changes nothing
    assert refresh_dynamic_list(con, "2025-12", "监管员", {"MN-K1": False}) == []


def test_reads_engine_verdict_table(con) -> None:
    assert read_ule_verdicts(con, "2025-11") == {}  # no verdicts stored: nothing
    con.execute("INSERT INTO month_ule_verdict (mn, month, ule_pass) VALUES"
                " ('MN-K1', '2025-11', false), ('MN-K1', '2025-10', true)")
    assert read_ule_verdicts(con, "2025-11") == {"MN-K1": False}


def test_cli_retrofit(db_path: Path, con) -> None:
    from lantian.cli import app

    con.close()
    r = CliRunner()
    res = r.invoke(app, ["retrofit", "add-plan", "--db", str(db_path), "--programme",
                         "cement_ule", "--enterprise", "己水泥", "--line", "1号线",
                         "--planned-done", "2025-06-30", "--who", "admin", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    pid = json.loads(res.stdout)["plan_id"]
    res = r.invoke(app, ["retrofit", "milestone", str(pid), "--db", str(db_path),
                         "--milestone", "stable_month", "--done-on", "2025-07-01", "--who", "x"])
    assert res.exit_code != 0 and "construction_done must be recorded" in res.stderr
    res = r.invoke(app, ["retrofit", "status", "--db", str(db_path), "--today", "2025-07-01",
                         "--format", "json"])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert rows[0]["milestone"] == "construction_done" and rows[0]["state"] == "overdue"
    assert rows[0]["due"] == "2025-06-30"
    res = r.invoke(app, ["retrofit", "progress", "--db", str(db_path), "--today", "2025-07-01",
                         "--format", "json"])
    assert res.exit_code == 0 and any(json.loads(x)["programme"] == "cement_ule"
                                      for x in res.stdout.splitlines())


def test_refresh_list_asks_the_engine_when_no_verdict_table(tmp_path: Path) -> None:
    """A listed kiln line emitting 100 mg/m³ SO2 all November fails ULE and leaves the list."""
    from engine_support import make_db, minutes
    from lantian.cli import app

    db = tmp_path / "e.duckdb"
    rows = minutes("MN-E1", "2025-11-01 00:00", 30 * 24 * 60, so2=100.0, nox=30.0, pm=5.0,
                   o2=10.0, flow=50.0)
    make_db(db, [{"mn": "MN-E1", "source_type": "cement_kiln"}], rows)
    c = connect(db)
    c.execute("INSERT INTO enterprise (id, name) VALUES (1, '壬水泥') ON CONFLICT DO NOTHING")
    c.close()
    c = connect(db)
    p = add_plan(c, programme="cement_ule", enterprise="壬水泥", line="1号线",
                 planned_done=D(2025, 3, 1), who="admin", outlet_ids=(1,))
    for m, d in (("construction_done", D(2025, 3, 1)), ("stable_month", D(2025, 4, 1)),
                 ("assessment_monitoring", D(2025, 5, 1)), ("public_listing", D(2025, 6, 1))):
        record_milestone(c, p, m, d, "x")
    c.close()
    res = CliRunner().invoke(app, ["retrofit", "refresh-list", "--db", str(db), "--month",
                                   "2025-11", "--who", "监管员", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    (row,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert row["failed_points"] == ["MN-E1"] and row["plan_id"] == p
    c = connect(db)
    assert c.execute("SELECT removed_on FROM dynamic_list").fetchall() == [(D(2025, 11, 30),)]
    c.close()
