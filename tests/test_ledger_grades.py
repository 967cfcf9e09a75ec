"""A-grade eligibility and downgrade warnings (issue 9)."""

from __future__ import annotations

from pathlib import Path

from lantian.ledger.grades import a_grade_eligibility, gather_grade_evidence, window_months
from lantian.store.db import connect

MONTHS = ["2025-08", "2025-09", "2025-10"]


def test_window_months_crosses_new_year() -> None:
    assert window_months("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]


def test_eligibility_worked_example() -> None:
    ents = [{"id": 1, "name": "甲", "grade": "A"}, {"id": 2, "name": "乙", "grade": "B"},
            {"id": 3, "name": "丙", "grade": "A"}]
    points = {1: ["M1", "M2"], 2: ["M3"], 3: ["M4"]}
    ule = {m: {"M1": True, "M2": True, "M3": True, "M4": True} for m in MONTHS}
    ule["2025-09"]["M2"] = False  # one point of 甲 failed the 95 % test in September
    transport = {m: {1: True, 2: True, 3: True} for m in MONTHS}
    alarms = {3: 1}
    out = {r["enterprise_id"]: r for r in a_grade_eligibility(ents, points, MONTHS, ule,
                                                              transport, alarms, 0)}
    assert not out[1]["eligible"] and out[1]["downgrade_warning"]
    assert out[1]["reasons"] == ["2025-09: ULE not passed or not assessed at M2"]
    assert out[2]["eligible"] and not out[2]["downgrade_warning"]  # B grade could be raised
    assert out[3]["reasons"] == ["1 quality alarms > 0"] and out[3]["downgrade_warning"]
    # a month without any verdict does not count as passed
    del ule["2025-10"]["M3"]
    (r2,) = [r for r in a_grade_eligibility(ents[1:2], points, MONTHS, ule, transport, {}, 0)]
    assert not r2["eligible"] and "2025-10" in r2["reasons"][0]


def test_gather_from_database(db_path: Path) -> None:
    con = connect(db_path)
    con.execute("INSERT INTO enterprise (id, name, grade) VALUES (1, '甲水泥', 'A')")
    con.execute("INSERT INTO outlet (id, enterprise_id, name) VALUES (10, 1, '窑尾')")
    con.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('M1', 'p', 10)")
    con.execute("INSERT INTO month_ule_verdict (mn, month, ule_pass) VALUES "
                "('M1', '2025-08', true), ('M1', '2025-09', true), ('M1', '2025-10', true)")
    for m in MONTHS:  # 80 t by rail, 20 t by a China VI truck: 0.8, passes
        con.execute("INSERT INTO gate_record (enterprise_id, ts, plate, direction, mode, tonnes,"
                    " emission_stage) VALUES (1, ?, NULL, 'in', 'rail', 80, NULL),"
                    " (1, ?, '湘A1', 'in', 'road', 20, 'China V')",
                    [f"{m}-05 08:00:00", f"{m}-06 08:00:00"])
    (r,) = gather_grade_evidence(con, "2025-10")
    assert r["eligible"] and not r["downgrade_warning"]
    con.execute("INSERT INTO quality_event (month, detector, mn, start_ts, end_ts, severity,"
                " evidence) VALUES ('2025-09', 'constant', 'M1', '2025-09-01', '2025-09-02',"
                " 'high', '{}'), ('2025-09', 'zero', 'M1', '2025-09-01', '2025-09-02', 'low',"
                " '{}')")
    (r,) = gather_grade_evidence(con, "2025-10")
    assert r["reasons"] == ["1 quality alarms > 0"] and r["downgrade_warning"]
    con.close()
