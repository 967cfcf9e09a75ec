"""Monthly report section 排放量与碳排放 Emissions and carbon, on the report world (October 2026).

Worked example (see :mod:`test_report_world`): ``MN`` sends 72 hours of data, flow 50 m³/s
= 180,000 m³/h, so a load is C [mg/m³] × 0.18 kg/h. SO2 is valid in 67 hours (hours 30–33
stopped, hour 10 has 40 valid minutes), NOx in 68. October is the first month of Q4 and 740
of its 744 hours are production hours: α(SO2) = 67/740 = 9.05 % < 75 %, so nothing is
substituted and 673 invalid production hours are left open (the authority decides).

Added here for enterprise 1 (so2, stored engine loads ``month_load``): 3,000 kg a month in
Jan–Mar 2026 and 1,000 kg in Jun–Aug 2026 on the outlet of 1号窑, whose retrofit was built
2026-04-10 and stable 2026-05-15 → credit (3 − 1) t × 12 = 24 t/a. Year to date 2026 =
12 t + October; the same months of 2025 are stored so that the change is −1.99 %: the −2 %
target is missed by a hair. Offsets: a project adding 10 t/a in a non-attaining area needs
20 t/a, 15 verified → 5 t/a gap. Intensity: 1,000 t carbide with 2,101 t CO2 (2.101 > 2.1).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.reports.monthly import gather_monthly, render_html, render_pdf
from lantian.store.db import connect
from test_report_world import MN, MONTH, build

KG_H = 50 * 3600 * 1e-6  # kg/h per mg/m³ at 50 m³/s
SO2_HOURS = [h for h in range(72) if not 30 <= h <= 33 and h != 10]
SO2_KG = sum((40.0 if h == 5 else 20.0 + h % 5) for h in SO2_HOURS) * KG_H
NOX_KG = sum((60.0 if h == 40 else 30.0) for h in range(72) if not 30 <= h <= 33) * KG_H


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    db = build(tmp_path_factory.mktemp("emi") / "w.duckdb")
    con = connect(db)
    outlet = con.execute("SELECT outlet_id FROM monitoring_point WHERE mn = ?", [MN]).fetchone()[0]
    rows = [(f"2026-{m:02d}", 3000.0) for m in (1, 2, 3)] + [
        (f"2026-{m:02d}", 1000.0) for m in (6, 7, 8)]
    this_t = 12.0 + SO2_KG / 1000
    last_t = this_t / (1 - 0.0199)  # change = −1.99 %
    rows.append(("2025-10", last_t * 1000))
    for month, kg in rows:
        con.execute("INSERT INTO month_load (mn, month, pollutant, load_kg, load_hours,"
                    " substituted_load_kg, substituted_hours, unsubstituted_hours)"
                    " VALUES (?, ?, 'so2', ?, 700, 0, 0, 0)", [MN, month, kg])
    con.execute("INSERT INTO production_line (id, enterprise_id, name, kind)"
                " VALUES (7, 1, '1号窑', 'kiln')")
    con.execute("INSERT INTO production_line_outlet VALUES (7, ?)", [outlet])
    con.execute("INSERT INTO retrofit_plan (id, programme, enterprise_id, line, planned_done,"
                " created_by) VALUES (9, 'cupola_to_electric', 1, '1号窑', '2026-05-01', 'x')")
    con.execute("INSERT INTO retrofit_milestone (plan_id, milestone, done_on, entered_by) VALUES"
                " (9, 'construction_done', '2026-04-10', 'x'),"
                " (9, 'stable_month', '2026-05-15', 'x')")
    con.execute("INSERT INTO offset_project (id, name, enterprise_id, district_code, pollutant,"
                " new_load_t, approved_on, non_attaining) VALUES (3, '二线扩建', 1, '430102',"
                " 'nox', 10, '2026-06-01', true)")
    con.execute("INSERT INTO offset_source VALUES (3, '1号窑改造', 15, '2026-07-01')")
    con.execute("INSERT INTO production_record VALUES (1, ?, 'calcium_carbide', 1000, NULL,"
                " NULL, 2101)", [MONTH])
    con.close()
    return db


@pytest.fixture(scope="module")
def section(world):
    con = connect(world, read_only=True)
    rep = gather_monthly(con, MONTH, 1)
    con.close()
    return rep


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_loads_computed_when_not_stored(section):
    e = section["emissions"]
    assert e["computed"] is True
    loads = {r["pollutant"]: r for r in e["loads"]}
    assert loads["so2"]["load_kg"] == pytest.approx(SO2_KG)
    assert loads["nox"]["load_kg"] == pytest.approx(NOX_KG)
    assert loads["so2"]["capture_rate"] == pytest.approx(67 / 740)
    assert loads["so2"]["substituted_load_kg"] == 0.0
    assert loads["so2"]["unsubstituted_hours"] == 673


def test_section_text(section):
    text = _text(render_html(section))
    assert "排放量与碳排放 Emissions and carbon" in text
    assert f"1号窑尾 {MN} so2 {SO2_KG:.3f} 0.000 {SO2_KG:.3f} 0.00% 0 673 9.05%" in text
    # YoY: this year 12 t + October vs last year's same months: −1.99 % > −2 % → missed
    this_t = 12.0 + SO2_KG / 1000
    assert f"so2 {this_t / (1 - 0.0199):.4f} {this_t:.4f} -1.99 -2 未达到 missed" in text
    assert "1号窑 so2 3.0000 1.0000 24.0000" in text  # retrofit credit
    assert "二线扩建 nox 10.000 2 20.000 15.000 0.000 5.000 未覆盖 not covered" in text
    assert "calcium_carbide co2_t_per_t 2.1010 2.1 t CO2/t 超限额 over" in text


def test_stored_loads_are_read(world, tmp_path):
    db = tmp_path / "s.duckdb"
    shutil.copyfile(world, db)
    res = CliRunner().invoke(app, ["assess", "--db", str(db), "--month", MONTH, "--loads",
                                   "--format", "json"])
    assert res.exit_code == 0, res.stderr
    con = connect(db)
    con.execute("UPDATE month_load SET load_kg = 1234.5 WHERE month = ? AND pollutant = 'nox'",
                [MONTH])  # the report shows what is stored, it does not recompute
    rep = gather_monthly(con, MONTH, 1)
    con.close()
    e = rep["emissions"]
    assert e["computed"] is False
    assert {r["pollutant"]: r["load_kg"] for r in e["loads"]}["nox"] == 1234.5


def test_pdf_has_the_section(section, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils)")
    pdf = render_pdf(render_html(section), tmp_path / "r.pdf")
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True,
                          check=True, text=True).stdout
    flat = re.sub(r"\s+", " ", text)
    assert "排放量与碳排放" in flat and f"{SO2_KG:.3f}" in flat and "24.0000" in flat
