"""Enterprise condition marks: deadline, annual cap, review and audit (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.errors import ConfigurationError, LedgerRuleError, NotFoundError
from lantian.ledger.marks import hours_in_year, mark_rules, review_mark, rule_for, submit_mark
from lantian.store.db import connect

T = dt.datetime


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, sector)"
              " VALUES (901, '丁垃圾焚烧发电', 'incineration')")
    c.execute("INSERT INTO enterprise (id, name, sector) VALUES (902, '戊水泥', 'cement')")
    c.execute("INSERT INTO outlet (id, enterprise_id, name) VALUES (11, 901, '1号焚烧炉')")
    c.execute("INSERT INTO outlet (id, enterprise_id, name) VALUES (12, 902, '窑尾')")
    c.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('MN-F1', 'pw', 11)")
    yield c
    c.close()


def _mark(con, kind, start, end, now=None, **kw):
    return submit_mark(con, kind=kind, start=start, end=end, reason="test", who="企业填报员",
                       now=now or end + dt.timedelta(hours=1), **kw)


def test_deadline_is_48_hours_after_the_period(con) -> None:
    # default rule (mark_rules.csv, sector *): 48 h after the period ends
    end = T(2025, 3, 1, 10)
    assert rule_for("cement", "faulty", end.date()).deadline_hours == 48
    _mark(con, "faulty", T(2025, 3, 1, 8), end, now=T(2025, 3, 3, 10), outlet_id=12)  # 48 h
    with pytest.raises(LedgerRuleError, match="48"):
        _mark(con, "faulty", T(2025, 3, 1, 8), end, now=T(2025, 3, 3, 10, 0, 1), outlet_id=12)
    assert con.execute("SELECT count(*) FROM enterprise_mark").fetchone() == (1,)


def test_incineration_annual_cap_60_hours(con) -> None:
    # incineration: starting/shutting_down/faulty capped at 60 h per furnace per year
    a = _mark(con, "faulty", T(2025, 2, 1, 0), T(2025, 2, 2, 16), mn="MN-F1")  # 40 h
    review_mark(con, a, "accepted", "监管员")
    _mark(con, "starting", T(2025, 5, 1, 0), T(2025, 5, 1, 20), mn="MN-F1")  # 20 h -> 60 h
    with pytest.raises(LedgerRuleError, match="60 h"):
        _mark(con, "shutting_down", T(2025, 6, 1, 0), T(2025, 6, 1, 1), mn="MN-F1")  # 61 h
    # maintenance is not a capped kind; another outlet/sector has no cap
    _mark(con, "maintenance", T(2025, 7, 1, 0), T(2025, 7, 5, 0), mn="MN-F1")
    _mark(con, "faulty", T(2025, 6, 1, 0), T(2025, 6, 10, 0), outlet_id=12)
    # a rejected mark frees its hours
    pend = con.execute("SELECT id FROM enterprise_mark WHERE kind = 'starting'").fetchone()[0]
    review_mark(con, pend, "rejected", "监管员", note="无启炉记录")
    _mark(con, "shutting_down", T(2025, 6, 1, 0), T(2025, 6, 1, 1), mn="MN-F1")


def test_cap_counts_hours_per_natural_year() -> None:
    start, end = T(2025, 12, 31, 20), T(2026, 1, 1, 10)
    assert hours_in_year(start, end, 2025) == 4
    assert hours_in_year(start, end, 2026) == 10


def test_cap_split_across_new_year(con) -> None:
    _mark(con, "faulty", T(2025, 1, 1, 0), T(2025, 1, 3, 8), mn="MN-F1")  # 56 h in 2025
    # 4 h in 2025 (60, allowed) + 10 h in 2026
    _mark(con, "faulty", T(2025, 12, 31, 20), T(2026, 1, 1, 10), mn="MN-F1")
    with pytest.raises(LedgerRuleError, match="2025"):
        _mark(con, "faulty", T(2025, 12, 30, 0), T(2025, 12, 30, 1), mn="MN-F1")


def test_review_and_audit(con) -> None:
    m = _mark(con, "stopped", T(2025, 3, 1), T(2025, 3, 2), outlet_id=12)
    with pytest.raises(ConfigurationError, match="note"):
        review_mark(con, m, "rejected", "监管员")
    review_mark(con, m, "accepted", "监管员", now=T(2025, 3, 3))
    with pytest.raises(LedgerRuleError, match="already accepted"):
        review_mark(con, m, "rejected", "监管员", note="x")
    with pytest.raises(NotFoundError):
        review_mark(con, 999, "accepted", "监管员")
    actions = [r[0] for r in con.execute(
        "SELECT action FROM audit_log WHERE target = ? ORDER BY id", [f"enterprise_mark:{m}"]
    ).fetchall()]
    assert actions == ["mark_submit", "mark_accepted"]
    # what the engine reads: accepted marks only
    _mark(con, "faulty", T(2025, 3, 5), T(2025, 3, 6), outlet_id=12)
    assert con.execute(
        "SELECT id FROM enterprise_mark WHERE status = 'accepted'"
    ).fetchall() == [(m,)]


@pytest.mark.parametrize(
    ("kw", "err"),
    [({"kind": "holiday"}, ConfigurationError), ({"mn": "NOPE"}, NotFoundError),
     ({"outlet_id": 404}, NotFoundError)],
)
def test_bad_marks(con, kw, err) -> None:
    args = {"kind": "faulty", "outlet_id": 12} | kw
    if "mn" in kw:
        args.pop("outlet_id")
    with pytest.raises(err):
        _mark(con, args.pop("kind"), T(2025, 3, 1), T(2025, 3, 2), **args)
    with pytest.raises(ConfigurationError, match="after"):
        _mark(con, "faulty", T(2025, 3, 2), T(2025, 3, 1), outlet_id=12)


def test_rules_are_configurable(tmp_path: Path, con) -> None:
    p = tmp_path / "rules.csv"
    p.write_text(
        "sector,kind,deadline_hours,annual_cap_hours,cap_kinds,effective_from,effective_to,"
        "note,source,clause,confidence\n"
        "*,*,24,,,2020-01-01,,,test,,U\n"
        "cement,faulty,24,10,faulty,2020-01-01,,,test,,U\n", encoding="utf-8")
    rules = mark_rules(p)
    _mark(con, "faulty", T(2025, 3, 1, 0), T(2025, 3, 1, 10), outlet_id=12, rules=rules)
    with pytest.raises(LedgerRuleError, match="10 h"):
        _mark(con, "faulty", T(2025, 4, 1, 0), T(2025, 4, 1, 1), outlet_id=12, rules=rules)
    with pytest.raises(LedgerRuleError, match="24 h"):
        _mark(con, "stopped", T(2025, 4, 1, 0), T(2025, 4, 1, 1), outlet_id=12, rules=rules,
              now=T(2025, 4, 2, 2))


def test_cli_add_review_list(db_path: Path, con) -> None:
    from lantian.cli import app
    from lantian.ledger._data import now_cst

    con.close()
    runner = CliRunner()
    end = now_cst() - dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=3)
    res = runner.invoke(app, ["marks", "add", "--db", str(db_path), "--mn", "MN-F1",
                              "--kind", "starting", "--start", start.isoformat(),
                              "--end", end.isoformat(), "--reason", "点火启炉",
                              "--who", "企业", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    mark_id = json.loads(res.stdout)["id"]
    res = runner.invoke(app, ["marks", "add", "--db", str(db_path), "--mn", "MN-F1",
                              "--kind", "starting", "--start", "2020-01-01T00:00:00",
                              "--end", "2020-01-01T01:00:00", "--reason", "x", "--who", "企业"])
    assert res.exit_code != 0 and "deadline" in res.stderr
    res = runner.invoke(app, ["marks", "review", str(mark_id), "--db", str(db_path),
                              "--decision", "accepted", "--who", "监管员"])
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(app, ["marks", "list", "--db", str(db_path), "--format", "json"])
    (row,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert row["status"] == "accepted" and row["start"] == start.isoformat()


def test_overlapping_marks_are_refused(con) -> None:
    m = _mark(con, "faulty", T(2025, 3, 1, 8), T(2025, 3, 1, 12), outlet_id=12)
    with pytest.raises(LedgerRuleError, match=f"overlaps mark {m}"):
        _mark(con, "stopped", T(2025, 3, 1, 11), T(2025, 3, 1, 14), outlet_id=12)
    _mark(con, "stopped", T(2025, 3, 1, 12), T(2025, 3, 1, 14), outlet_id=12)  # touching: ok
    review_mark(con, m, "rejected", "监管员", note="无故障记录")
    _mark(con, "maintenance", T(2025, 3, 1, 9), T(2025, 3, 1, 10), outlet_id=12)  # freed
