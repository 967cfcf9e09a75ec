"""The demo province's ledgers obey the ledger rules (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lantian.ledger.demo import demo_ledgers
from lantian.ledger.retrofit import plan_status
from lantian.ledger.retrofit_progress import programme_progress
from lantian.ledger.workdays import CalendarFallbackWarning
from lantian.store.db import connect

TODAY = dt.date(2026, 11, 20)


def _demo_db(db_path: Path) -> dict[str, int]:
    from lantian.demo.load import register_points
    from lantian.demo.registry import make_registry

    rng = np.random.default_rng(7)
    points = [p.as_dict() for p, _ in make_registry(rng, 60)]
    con = connect(db_path)
    con.execute("BEGIN")  # the demo loader runs it inside its own transaction
    register_points(con, points)
    counts = demo_ledgers(con, rng, today=TODAY)
    con.execute("COMMIT")
    con.close()
    return counts


def _count(db_path: Path, what: str) -> int:
    con = connect(db_path)
    n = con.execute(f"SELECT count(*) FROM {what}").fetchone()[0]
    con.close()
    return int(n)


def test_demo_ledgers_fill_every_ledger_and_obey_rules(db_path: Path) -> None:
    counts = _demo_db(db_path)
    assert counts["lines"] == 60 and counts["gate_records"] > 0 and counts["vehicles"] > 0
    assert counts["marks"] > 0 and counts["retrofit_plans"] > 0
    assert counts["agreements"] == 2 * _count(db_path, "production_line WHERE kind = 'cupola'")
    assert _count(db_path, "alert_period") == 1 and _count(db_path, "offset_project") == 1
    con = connect(db_path)
    # marks: entered within 48 h after the period, none over 60 h per outlet and year
    late = con.execute("SELECT count(*) FROM enterprise_mark"
                       " WHERE entered_at > end_ts + INTERVAL 48 HOUR").fetchone()[0]
    assert late == 0
    worst = con.execute(
        "SELECT max(h) FROM (SELECT outlet_id, sum(date_diff('minute', start_ts, end_ts)) / 60"
        " AS h FROM enterprise_mark WHERE status <> 'rejected' GROUP BY outlet_id)").fetchone()[0]
    assert worst <= 60
    overlaps = con.execute(
        "SELECT count(*) FROM enterprise_mark a JOIN enterprise_mark b ON a.outlet_id ="
        " b.outlet_id AND a.id < b.id AND a.start_ts < b.end_ts AND b.start_ts < a.end_ts"
        " WHERE a.status <> 'rejected' AND b.status <> 'rejected'").fetchone()[0]
    assert overlaps == 0
    # milestones in order: each on or after the previous one
    with pytest.warns(CalendarFallbackWarning, match="2027"):
        rows = plan_status(con, TODAY)  # projected dues reach 2027: no holiday data yet
    assert any(r["due_estimated"] for r in rows if r["due"].year == 2027)
    by_plan: dict[int, list] = {}
    for r in rows:
        by_plan.setdefault(r["plan_id"], []).append(r["done_on"])
    for dates in by_plan.values():
        done = [d for d in dates if d is not None]
        assert done == sorted(done) and dates[: len(done)] == done
    assert {r["state"] for r in rows} & {"overdue", "done", "done_late", "pending", "at_risk"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        assert programme_progress(con, TODAY)
    con.close()
    res = CliRunner().invoke(__import__("lantian.cli", fromlist=["app"]).app,
                             ["transport", "--db", str(db_path), "--month", "2026-10",
                              "--format", "json"])
    assert res.exit_code == 0, res.stderr
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert out and all(0 <= r["clean_ratio"] <= 1 for r in out)
    assert {r["pass"] for r in out} == {True, False}  # some enterprises pass, some fail
