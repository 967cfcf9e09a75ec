"""CLI of the issue-9 ledgers: agreements, alerts, grades, intensity, year-on-year, offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.store.db import connect

runner = CliRunner()


def _json(args: list[str]) -> list[dict]:
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.stderr
    return [json.loads(x) for x in res.stdout.splitlines()]


def _setup(db: Path) -> None:
    con = connect(db)
    con.execute("INSERT INTO enterprise (id, name, sector, district_code, grade) VALUES"
                " (1, '辛铸造', 'foundry', '140105', 'C')")
    con.execute("INSERT INTO outlet (id, enterprise_id, name, stop_flow_threshold)"
                " VALUES (10, 1, '冲天炉排口', 1.0)")
    con.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('M1', 'p', 10)")
    con.execute("INSERT INTO production_line (id, enterprise_id, name, kind)"
                " VALUES (5, 1, '1号冲天炉', 'cupola')")
    con.execute("INSERT INTO production_line_outlet VALUES (5, 10)")
    # Sunday 2025-03-02 08:00-09:59 running (flow 20 > 1): 2 h
    con.execute("INSERT INTO flue_minute (mn, ts, packet_id, flow_m3_s) SELECT 'M1', t, 0, 20"
                " FROM range(TIMESTAMP '2025-03-02 08:00', TIMESTAMP '2025-03-02 10:00',"
                " INTERVAL 1 MINUTE) r(t)")
    con.close()


def test_agreements_and_alerts(tmp_path: Path, db_path: Path) -> None:
    _setup(db_path)
    f = tmp_path / "agr.csv"
    f.write_text("enterprise,line,rule,value,from_md,to_md,valid_from,valid_to,source\n"
                 "辛铸造,1号冲天炉,rest_weekday,7,,,2025-01-01,,协议\n", encoding="utf-8")
    assert runner.invoke(app, ["ledger", "load-agreements", str(f), "--db",
                               str(db_path)]).exit_code == 0
    (v,) = _json(["ledger", "production-check", "--db", str(db_path)])
    assert (v["rule"], v["period"], v["running_hours"], v["first_ts"]) == (
        "rest_weekday", "2025-03-02", 2, "2025-03-02T08:00:00")
    a = tmp_path / "alerts.csv"
    a.write_text("district_code,level,start,end,source\n"
                 "1401,orange,2025-03-02 00:00:00,2025-03-03 00:00:00,并重污办\n",
                 encoding="utf-8")
    assert runner.invoke(app, ["ledger", "load-alerts", str(a), "--db", str(db_path),
                               "--who", "应急办"]).exit_code == 0
    (v,) = _json(["ledger", "alert-check", "--db", str(db_path)])
    assert (v["grade"], v["action"], v["running_hours"]) == ("C", "stop", 2)


def test_grades_intensity_yoy_offsets(tmp_path: Path, db_path: Path) -> None:
    _setup(db_path)
    (g,) = _json(["ledger", "grades", "--db", str(db_path), "--month", "2025-03"])
    assert g["eligible"] is False and g["downgrade_warning"] is False  # C grade: no warning
    p = tmp_path / "prod.csv"
    p.write_text("enterprise,month,product,output_t,energy_kgce,power_kwh,co2_t\n"
                 "辛铸造,2025-03,calcium_carbide,100,82400,,\n", encoding="utf-8")
    assert runner.invoke(app, ["ledger", "load-production", str(p), "--db",
                               str(db_path)]).exit_code == 0
    (i,) = _json(["ledger", "intensity", "--db", str(db_path)])
    assert (i["metric"], i["value"], i["over"]) == ("energy_kgce_per_t", 824.0, True)
    con = connect(db_path)
    con.execute("INSERT INTO flue_hour (mn, ts, packet_id, nox_cou) VALUES"
                " ('M1', '2024-06-01 00:00', 0, 1000), ('M1', '2025-06-01 00:00', 0, 990)")
    con.close()
    (y,) = _json(["ledger", "yoy", "--db", str(db_path), "--year", "2025"])
    assert (y["pollutant"], y["change_pct"], y["met"]) == ("nox", -1.0, False)
    assert _json(["ledger", "offsets", "--db", str(db_path)]) == []
    res = runner.invoke(app, ["ledger", "yoy", "--db", str(db_path), "--year", "2025",
                              "--by", "nonsense"])
    assert res.exit_code != 0 and "--by" in res.stderr


def test_alert_reduction_and_retrofit_credit_cli(db_path: Path) -> None:
    _setup(db_path)
    con = connect(db_path)
    # NOx 10 kg/h for the 7 days before an orange alert, 7.5 kg/h during it: 25 % >= 20 %
    con.execute("INSERT INTO flue_hour (mn, ts, packet_id, nox_cou) SELECT 'M1', t, 0,"
                " CASE WHEN t < TIMESTAMP '2025-01-10 08:00' THEN 10 ELSE 7.5 END"
                " FROM range(TIMESTAMP '2025-01-03 08:00', TIMESTAMP '2025-01-11 08:00',"
                " INTERVAL 1 HOUR) r(t)")
    con.execute("INSERT INTO alert_period (district_code, level, start_ts, end_ts, entered_by)"
                " VALUES ('14', 'orange', '2025-01-10 08:00', '2025-01-13 08:00', 'x')")
    # a retrofit of 1号冲天炉: 3 t/month of NOx before (Feb-Apr), 1 t/month after (Jul-Sep)
    for month, kg in (("2025-02", 3000), ("2025-03", 3000), ("2025-04", 3000),
                      ("2025-07", 1000), ("2025-08", 1000), ("2025-09", 1000)):
        con.execute("INSERT INTO flue_hour (mn, ts, packet_id, nox_cou) VALUES ('M1', ?, 0, ?)",
                    [f"{month}-15 00:00:00", kg])
    con.execute("INSERT INTO retrofit_plan (id, programme, enterprise_id, line, planned_done,"
                " created_by) VALUES (9, 'cupola_to_electric', 1, '1号冲天炉', '2025-05-01', 'x')")
    con.execute("INSERT INTO retrofit_milestone (plan_id, milestone, done_on, entered_by) VALUES"
                " (9, 'construction_done', '2025-05-10', 'x'), (9, 'stable_month', '2025-06-12',"
                " 'x')")
    con.close()
    (m,) = _json(["ledger", "alert-measures", "--db", str(db_path)])
    assert (m["grade"], m["line"], m["action"]) == ("C", "1号冲天炉", "stop")
    # 192 h x 10 or 7.5 kg in January, 6 single hours Feb-Sep; per year: one row
    (y,) = _json(["ledger", "loads", "--db", str(db_path), "--period", "year"])
    assert (y["period"], y["pollutant"], y["hours"]) == ("2025", "nox", 192 + 6)
    assert y["load_t"] == pytest.approx((168 * 10 + 24 * 7.5 + 12000) / 1000)
    (r,) = _json(["ledger", "alert-reduction", "--db", str(db_path)])
    assert (r["pollutant"], r["baseline_kg_h"], r["alert_kg_h"]) == ("nox", 10.0, 7.5)
    assert (r["reduction_pct"], r["target_pct"], r["passed"]) == (25.0, 20.0, True)
    (c,) = _json(["ledger", "retrofit-credit", "--db", str(db_path)])
    # (3 - 1) t/month x 12 = 24 t/a
    assert (c["plan_id"], c["before_t_month"], c["after_t_month"], c["credit_t_a"]) == (
        9, 3.0, 1.0, 24.0)
