"""Report sections for production control, heavy-pollution alerts and grades (issue 9).

Built on the report world (:mod:`test_report_world`, October 2026, CST). Added here:

* 湘江示范水泥 (enterprise 1): line 1号窑 on the outlet of ``MN`` — it runs by its flue-gas
  flow (50 m³/s > the 1.0 threshold) all hours of 10-01..10-03 except 10-02 06:00–09:59
  (flow 0). Agreement: at most 20 h a day → 10-01 (24 h) and 10-03 (24 h) break it, 10-02
  (20 h) does not. Graded B from 2026-09-01, downgraded to C on 2026-10-15 (registry history).

  - orange alert 1, 10-02 00:00 → 10-03 00:00 (grade at start B: reduce): 20 running hours;
    SO2 load 10 kg/h in the 7 days before, 8.1 kg/h during → reduction 19 % < 20 % target:
    missed by a hair, the measure is not complied with;
  - orange alert 2, 10-20 08:00 → 10-22 08:00 (grade at start C: stop): power readings show
    1号窑 running 10-20 10:00–12:59 (500 kWh > idle 100 kW × 1 h) → 3 h, breached (and
    within the 20 h/day agreement).
* 资江示范焦化 (enterprise 2), graded A with no history: line 2号焦炉 must rest on Sundays;
  its power readings show 900 kWh (> idle 50 kW × 1 h) 08:00–10:59 on Sunday 10-04 → a
  ``rest_weekday`` violation with power evidence; in both alerts it self-reduces (not
  judged); no ULE verdicts for Aug–Oct → not A-eligible → downgrade warning.

The monthly report (enterprise 1) and the bulletin (district 43) are rendered to HTML and
PDF and their text read back (pdftotext), in Chinese (default) and English.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.ledger.alerts import enter_alert
from lantian.ledger.history import record_version
from lantian.reports.bulletin import gather_bulletin, render_bulletin_html
from lantian.reports.control import gather_control
from lantian.reports.monthly import gather_monthly, render_html
from lantian.store.db import connect
from test_report_world import MN, MONTH, NAME, NAME2, build

T = dt.datetime
runner = CliRunner()


def _attrs(grade: str) -> dict[str, str]:
    return {"name": NAME, "credit_code": "91430100RPT0001", "sector": "cement",
            "district_code": "430102", "grade": grade}


def add_control_data(db: Path) -> None:
    """Add the lines, agreements, grades, alerts and evidence of the module docstring."""
    con = connect(db)
    con.execute("UPDATE enterprise SET grade = 'C' WHERE id = 1")
    con.execute("UPDATE enterprise SET grade = 'A' WHERE id = 2")
    record_version(con, "enterprise", "91430100RPT0001", _attrs("B"), dt.date(2026, 9, 1), "t")
    record_version(con, "enterprise", "91430100RPT0001", _attrs("C"), dt.date(2026, 10, 15), "t")
    con.execute("INSERT INTO production_line (id, enterprise_id, name, kind, idle_kw) VALUES"
                " (901, 1, '1号窑', 'cement_kiln', 100), (902, 2, '2号焦炉', 'coke_oven', 50)")
    oid = con.execute("SELECT outlet_id FROM monitoring_point WHERE mn = ?", [MN]).fetchone()[0]
    con.execute("INSERT INTO production_line_outlet VALUES (901, ?)", [oid])
    con.execute("INSERT INTO production_agreement (enterprise_id, line, rule, value, valid_from,"
                " source) VALUES"
                " (1, '1号窑', 'max_hours_per_day', 20, '2026-01-01', '水泥错峰协议'),"
                " (2, '2号焦炉', 'rest_weekday', 7, '2026-01-01', '焦化错峰协议')")
    con.execute("INSERT INTO power_reading SELECT 2, '2号焦炉', TIMESTAMP '2026-10-04 08:00:00'"
                " + to_hours(h), 900 FROM range(3) r(h)")
    con.execute("INSERT INTO power_reading SELECT 1, '1号窑', TIMESTAMP '2026-10-20 10:00:00'"
                " + to_hours(h), 500 FROM range(3) r(h)")
    # SO2 loads [kg/h]: 10 in the 7 days before alert 1, 8.1 during it
    con.execute("INSERT INTO flue_hour (mn, ts, packet_id, so2_cou, so2_flag) SELECT ?, t, 0,"
                " CASE WHEN t >= TIMESTAMP '2026-10-02' THEN 8.1 ELSE 10.0 END, 'N' FROM"
                " range(TIMESTAMP '2026-09-25', TIMESTAMP '2026-10-03', INTERVAL 1 HOUR) r(t)",
                [MN])
    enter_alert(con, district_code="4301", level="orange", start=T(2026, 10, 2),
                end=T(2026, 10, 3), who="市重污染应急办", source="长重污办〔2026〕1号")
    enter_alert(con, district_code="4301", level="orange", start=T(2026, 10, 20, 8),
                end=T(2026, 10, 22, 8), who="市重污染应急办", source="长重污办〔2026〕2号")
    con.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    p = build(tmp_path_factory.mktemp("sections") / "w.duckdb")
    add_control_data(p)
    return p


def test_gathered_figures(db: Path) -> None:
    con = connect(db, read_only=True)
    c = gather_control(con, MONTH, enterprise_id=1)
    con.close()
    assert [(v["period"], v["running_hours"], v["evidence"]) for v in c["violations"]] == [
        ("2026-10-01", 24, "flow"), ("2026-10-03", 24, "flow")]
    m = {(r["alert_id"], r["line"]): (r["grade"], r["action"], r["running_hours"],
                                      r["complied"]) for r in c["measures"]}
    assert m == {(1, "1号窑"): ("B", "reduce", 20, False), (2, "1号窑"): ("C", "stop", 3, False)}
    (red,) = c["reduction"]
    assert (red["pollutant"], red["target_pct"], red["passed"]) == ("so2", 20.0, False)
    assert red["reduction_pct"] == pytest.approx(19.0)
    (g,) = c["grades"]
    assert (g["enterprise"], g["eligible"], g["downgrade_warning"]) == (NAME, False, False)
    assert c["summary"] == {"violations": 2, "alerts": 2, "stop_breaches": 1,
                            "reduction_missed": 1, "eligible": 0, "downgrade_warnings": 0}


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _pdf_text(pdf: str) -> str:
    out = subprocess.run(["pdftotext", "-raw", pdf, "-"], capture_output=True, check=True,
                         text=True).stdout
    return re.sub(r"\s+", " ", out)


def _squash(text: str) -> str:
    """PDF text without any whitespace (table cells wrap at arbitrary places)."""
    return re.sub(r"\s+", "", text)


def test_monthly_report_pdf_sections(db: Path, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils)")
    res = runner.invoke(app, ["report", "monthly", "--db", str(db), "--month", MONTH,
                              "--enterprise", NAME, "--out", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    text = _squash(_pdf_text(json.loads(res.stdout)["pdf"]))
    prod = text.split("错峰生产Productioncontrol", 1)[1].split("重污染天气预警Heavy", 1)[0]
    assert ("1号窑单日运行超时2026-10-0124" "2026-10-01T00:00–2026-10-01T23:00烟气流量"
            "当日运行24小时>限值20小时水泥错峰协议") in prod
    assert "1号窑单日运行超时2026-10-0324" in prod
    assert "2026-10-02" not in prod  # 20 h that day: within the agreement
    alerts = text.split("重污染天气预警Heavy", 1)[1].split("绩效分级Performance", 1)[0]
    assert "2橙色预警43012026-10-20T08:002026-10-22T08:00长重污办〔2026〕2号" in alerts
    assert "11号窑B限产20烟气流量未落实" in alerts
    assert "21号窑C停产3用电量未落实" in alerts
    assert "1橙色预警so210.008.1019.020未达到" in alerts
    grades = text.split("绩效分级Performance", 1)[1]
    assert NAME in grades and "2026-08:超低排放未达标或未评估" in grades


def test_monthly_report_english_values(db: Path) -> None:
    con = connect(db, read_only=True)
    rep = gather_monthly(con, MONTH, 1)
    con.close()
    en = _text(render_html(rep, lang="en"))
    zh = _text(render_html(rep))
    assert "over the daily hours" in en and "ran 24 h > 20 h a day" in en
    assert "reduce output" in en and "breached" in en and "power use" in en
    assert "2026-08: ULE not passed or not assessed" in en
    assert "单日运行超时" in zh and "over the daily hours" not in zh


def test_bulletin_sections(db: Path, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils)")
    res = runner.invoke(app, ["report", "bulletin", "--db", str(db), "--month", MONTH,
                              "--district", "43", "--out", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    text = _squash(_pdf_text(json.loads(res.stdout)["pdf"]))
    prod = text.split("错峰生产Productioncontrol", 1)[1].split("重污染天气预警Heavy", 1)[0]
    assert (NAME2 + "2号焦炉停产日生产2026-10-043"
            "2026-10-04T08:00–2026-10-04T10:00用电量") in prod
    assert NAME + "1号窑单日运行超时2026-10-0124" in prod
    alerts = text.split("重污染天气预警Heavy", 1)[1].split("绩效分级Performance", 1)[0]
    assert re.search("1" + NAME2 + r"2号焦炉A自主减排\d+.*?不作要求", alerts)
    assert "2" + NAME + "1号窑C停产3用电量未落实" in alerts
    grades = text.split("绩效分级Performance", 1)[1]
    assert NAME2 + "A2026-08..2026-10否预警" in grades
    con = connect(db, read_only=True)
    b = gather_bulletin(con, MONTH, district="4302")  # no enterprise there
    con.close()
    html = _text(render_bulletin_html(b, lang="en"))
    assert "No violation of a staggered-production agreement this month." in html
    assert "No heavy-pollution alert concerned these enterprises this month." in html
