"""Heavy-pollution alerts: measures per grade, compliance, reductions (issue 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pytest

from lantian.errors import ConfigurationError, InputFileError
from lantian.ledger.alerts import (
    alert_reduction,
    alert_violations,
    enter_alert,
    load_alerts,
    required_actions,
)
from lantian.store.db import connect

T = dt.datetime


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, sector, district_code, grade) VALUES"
              " (1, '甲水泥', 'cement', '430102', 'C'), (2, '乙水泥', 'cement', '430104', 'A'),"
              " (3, '丙水泥', 'cement', '430211', 'C'), (4, '丁焦化', 'coking', '430121', 'B')")
    c.execute("INSERT INTO production_line (enterprise_id, name, kind) VALUES"
              " (1, '1号窑', 'cement_kiln'), (2, '1号窑', 'cement_kiln'),"
              " (3, '1号窑', 'cement_kiln'), (4, '焦炉', 'coke_oven')")
    # orange alert for city 4301 (Changsha), 2025-01-10 08:00 .. 2025-01-13 08:00 CST
    enter_alert(c, district_code="4301", level="orange", start=T(2025, 1, 10, 8),
                end=T(2025, 1, 13, 8), who="市重污染应急办", source="长重污办〔2025〕1号")
    yield c
    c.close()


def _ib(con):
    return ibis.duckdb.from_connection(con)


def test_required_actions_by_grade(con) -> None:
    ib = _ib(con)
    rows = required_actions(ib.table("alert_period"), ib.table("enterprise"),
                            ib.table("production_line")).to_pyarrow().to_pylist()
    got = {(r["enterprise_id"], r["grade"], r["action"]) for r in rows}
    # C in orange: stop; A: self-reduction; B in orange: reduce; 430211 is outside city 4301
    assert got == {(1, "C", "stop"), (2, "A", "self_reduce"), (4, "B", "reduce")}


def test_orange_alert_with_c_grade_line_running(con) -> None:
    ib = _ib(con)
    # hourly operating evidence: the C-grade kiln runs 2025-01-11 00:00..05:59 (6 h) and the
    # A-grade kiln runs all through (allowed: self-reduction)
    hours = [T(2025, 1, 11, h) for h in range(6)]
    op = ibis.memtable({
        "enterprise_id": [1] * 6 + [2] * 6, "line": ["1号窑"] * 12, "ts": hours * 2,
        "running": [True] * 12, "evidence": ["flow"] * 12})
    # and it ran before the alert started (07:00 on the 10th: not a violation)
    before = ibis.memtable({"enterprise_id": [1], "line": ["1号窑"], "ts": [T(2025, 1, 10, 7)],
                            "running": [True], "evidence": ["flow"]})
    req = required_actions(ib.table("alert_period"), ib.table("enterprise"),
                           ib.table("production_line"))
    (v,) = alert_violations(ibis.union(op, before), req).to_pyarrow().to_pylist()
    assert (v["enterprise_id"], v["grade"], v["level"], v["action"]) == (1, "C", "orange", "stop")
    assert (v["running_hours"], v["first_ts"], v["last_ts"]) == (6, T(2025, 1, 11, 0),
                                                                 T(2025, 1, 11, 5))


@pytest.mark.parametrize(("during", "passed"), [(81.0, False), (80.0, True), (70.0, True)])
def test_orange_reduction_target_20_percent(con, during: float, passed: bool) -> None:
    ib = _ib(con)
    # baseline: 7 days before 2025-01-10 08:00 at 100 kg/h of NOx; during the alert `during`
    base = [T(2025, 1, 3, 8) + dt.timedelta(hours=h) for h in range(7 * 24)]
    alert = [T(2025, 1, 10, 8) + dt.timedelta(hours=h) for h in range(72)]
    loads = ibis.memtable({"enterprise_id": [1] * (len(base) + len(alert)),
                           "ts": base + alert, "pollutant": ["nox"] * (len(base) + len(alert)),
                           "load_kg": [100.0] * len(base) + [during] * len(alert)})
    (r,) = alert_reduction(loads, ib.table("alert_period"),
                           ib.table("enterprise")).to_pyarrow().to_pylist()
    assert r["target_pct"] == 20 and r["baseline_kg_h"] == 100
    assert r["reduction_pct"] == pytest.approx(100 - during) and r["passed"] is passed


def test_alert_entry_checks(tmp_path: Path, con) -> None:
    with pytest.raises(ConfigurationError):
        enter_alert(con, district_code="43", level="purple", start=T(2025, 1, 1),
                    end=T(2025, 1, 2), who="x")
    f = tmp_path / "alerts.csv"
    f.write_text("district_code,level,start,end,source\n"
                 "43,yellow,2025-02-01 00:00:00,2025-02-03 00:00:00,湘重污办〔2025〕2号\n"
                 "43,red,2025-02-05 00:00:00,2025-02-04 00:00:00,x\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="row 3"):
        load_alerts(con, f, "admin")
    assert con.execute("SELECT count(*) FROM alert_period").fetchone() == (1,)
