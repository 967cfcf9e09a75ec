"""``lantian report monthly``: HTML + PDF per enterprise; the PDF text read back with
pdftotext holds the Chinese name and the hour figures recomputed here from the minute rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from lantian.catalog.limits import applicable_limits
from lantian.cli import app
from lantian.reports.charts import hours_bars_svg
from test_report_world import MN, MONTH, NAME, NAME2, build

runner = CliRunner()


def hand_hours(db: Path) -> dict[str, int]:
    """Hour figures of ``MN`` from the stored minutes, by the HJ 75 rules written out here.

    An hour is a stop hour when more than half its minutes are F-flagged and the mean flow is
    below the outlet's threshold; a pollutant hour is valid with >= 45 N-flagged minutes; the
    hourly mean is converted to the reference O2; missing hours are production hours without
    valid data.
    """
    con = duckdb.connect(str(db), read_only=True)
    m = con.execute("SELECT * FROM flue_minute WHERE mn = ?", [MN]).df()
    threshold = con.execute("SELECT stop_flow_threshold FROM outlet o JOIN monitoring_point p "
                            "ON p.outlet_id = o.id WHERE p.mn = ?", [MN]).fetchall()[0][0]
    con.close()
    limits = applicable_limits("cement_kiln", dt.date(2026, 10, 1), "CN-43")
    m["hour"] = m.ts.dt.floor("h")
    by_hour = {h: g for h, g in m.groupby("hour")}
    out = {"production": 0, "compliant": 0, "exceedance": 0, "invalid": 0, "stop": 0}
    for i in range(31 * 24):
        h = pd.Timestamp(dt.datetime(2026, 10, 1) + dt.timedelta(hours=i))
        g = by_hour.get(h)
        if g is not None and (g.flow_flag == "F").sum() * 2 > len(g) \
                and g.flow_m3_s.mean() < threshold:
            out["stop"] += 1
            continue
        out["production"] += 1
        exceed = invalid = False
        for k in ("so2", "nox"):
            ok = g[g[f"{k}_flag"] == "N"] if g is not None else []
            o2 = g[g.o2_flag == "N"] if g is not None else []
            if len(ok) < 45 or len(o2) < 45:
                invalid = True
                continue
            lim = limits[k]
            ref = ok[f"{k}_mg_m3"].mean() * (21 - lim.o2_ref_pct) / (21 - o2.o2_pct.mean())
            exceed |= ref > lim.limit_mg_m3
        out["exceedance"] += exceed
        out["invalid"] += invalid
        out["compliant"] += not (exceed or invalid)
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils; `make test` does)")
    d = tmp_path_factory.mktemp("rep")
    db = build(d / "w.duckdb")
    out = d / "out" / "nested"  # created by the command
    res = runner.invoke(app, ["report", "monthly", "--db", str(db), "--month", MONTH,
                              "--enterprise", NAME, "--out", str(out), "--bureau",
                              "湘江市生态环境局", "--format", "json"])
    assert res.exit_code == 0, res.output
    return db, out, res


def test_cli_contract(generated):
    _, out, res = generated
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == 1
    rec = lines[0]
    assert rec["enterprise"] == NAME and rec["month"] == MONTH
    assert rec["ule_pass"] is False
    assert Path(rec["pdf"]).exists() and Path(rec["html"]).exists()
    assert Path(rec["pdf"]).parent == out
    assert Path(rec["pdf"]).read_bytes()[:5] == b"%PDF-"
    assert "wrote 1 monthly report" in res.stderr


def test_pdf_text_has_name_and_hand_figures(generated):
    db, _, res = generated
    pdf = json.loads(res.stdout.splitlines()[0])["pdf"]
    text = subprocess.run(["pdftotext", "-raw", pdf, "-"], capture_output=True, check=True,
                          text=True).stdout
    assert NAME in text
    assert "湘江市生态环境局" in text
    assert "中国标准时间" in text
    want = hand_hours(db)
    # worked example: 72 data hours, 4 F-hours with no flow, 1 so2 + 1 nox exceedance,
    # hour 10 with 40 valid so2 minutes, 672 hours without data
    assert want == {"production": 740, "compliant": 65, "exceedance": 2, "invalid": 673,
                    "stop": 4}
    flat = re.sub(r"\s+", " ", text)
    assert (f"生产小时 production {want['production']} h；达标小时 compliant "
            f"{want['compliant']} h；超标小时 exceedance {want['exceedance']} h；无效小时 "
            f"invalid {want['invalid']} h") in flat
    row = re.search(r"1号窑尾 " + MN + r" (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+)%", flat)
    assert row is not None, flat[:2000]
    assert [int(x) for x in row.groups()[:4]] == [want["production"], want["compliant"],
                                                 want["exceedance"], want["invalid"]]
    assert int(row.group(6)) == want["stop"]
    assert float(row.group(7)) == round(100 * want["compliant"] / want["production"], 2)
    # exceedance list: hour 5 so2 40 > 35 and hour 40 nox 60 > 50 (CST hour starts)
    assert "2026-10-01T05:00:00 so2 40.00 35" in flat
    assert "2026-10-02T16:00:00 nox 60.00 50" in flat
    # quality, trust and transport sections
    assert "87.5" in flat and "constant" in flat
    assert "66.67%" in flat  # 100 t rail of 150 t moved


def test_html_next_to_pdf(generated):
    _, _, res = generated
    html = Path(json.loads(res.stdout.splitlines()[0])["html"]).read_text(encoding="utf-8")
    assert "<svg" in html and NAME in html


def test_unknown_enterprise_fails_cleanly(tmp_path):
    db = build(tmp_path / "w.duckdb")
    res = runner.invoke(app, ["report", "monthly", "--db", str(db), "--month", MONTH,
                              "--enterprise", "不存在的企业", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert res.stdout == ""
    assert "不存在的企业" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_bad_month_fails_cleanly(tmp_path):
    db = build(tmp_path / "w.duckdb")
    res = runner.invoke(app, ["report", "monthly", "--db", str(db), "--month", "2026-13",
                              "--enterprise", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and res.stdout == ""


def test_enterprise_by_id_html_only(tmp_path):
    db = build(tmp_path / "w.duckdb")
    res = runner.invoke(app, ["report", "monthly", "--db", str(db), "--month", MONTH,
                              "--enterprise", "2", "--out", str(tmp_path / "o"), "--no-pdf",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert rec["enterprise"] == NAME2 and rec["pdf"] is None
    html = Path(rec["html"]).read_text(encoding="utf-8")
    # no minute data at all: the engine has nothing to assess, the report says so
    assert rec["production_hours"] == 0 and rec["ule_pass"] is None
    assert NAME2 in html and "本月无监测数据" in html


def test_hours_chart_widths_proportional():
    f = {"production_hours": 30, "compliant_hours": 20, "exceedance_hours": 5,
         "invalid_hours": 5, "stop_hours": 10}
    svg = hours_bars_svg([("a", f)], width=580)
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="5" width="([\d.]+)"', svg)]
    # 400 px for 40 hours: 20, 5, 5, 10 hours
    assert widths == [200.0, 50.0, 50.0, 100.0]
