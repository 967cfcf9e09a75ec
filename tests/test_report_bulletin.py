"""``lantian report bulletin``: pass/fail lists from the engine's verdicts, quality alarms,
air-quality ranking and targets, read back from the PDF with pdftotext."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from test_aq_pages import add_air_quality
from test_report_world import MN, MONTH, NAME, NAME2, build

runner = CliRunner()


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils)")
    d = tmp_path_factory.mktemp("bul")
    db = build(d / "w.duckdb")
    add_air_quality(db)
    res = runner.invoke(app, ["report", "bulletin", "--db", str(db), "--month", MONTH,
                              "--district", "43", "--out", str(d / "o"), "--format", "json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert (rec["passed"], rec["failed"], rec["unassessed"]) == (0, 1, 1)
    out = subprocess.run(["pdftotext", "-raw", rec["pdf"], "-"], capture_output=True,
                         check=True, text=True).stdout
    return re.sub(r"\s+", " ", out)


def test_fail_list_and_worst_outlet(text):
    fail_part = text.split("未达标企业", 1)[1].split("三、", 1)[0]
    assert NAME in fail_part and "1号窑尾" in fail_part
    # 65 compliant of 740 production hours (worked example of test_report_world)
    assert f"{MN} 740 65 8.78%" in text
    assert NAME2 in text.split("not assessed", 1)[1]


def test_alarms_ranking_targets(text):
    alarms = text.split("四、", 1)[1].split("五、", 1)[0]
    assert MN in alarms and "87.5" in alarms
    ranking = text.split("五、", 1)[1].split("六、", 1)[0]
    assert re.search(r"1 株洲 [\d.]+ .*2 长沙", ranking)
    assert "芙蓉区 pm2_5 35.0 80.0 +45.0 80.0 不可达" in text


def test_bad_district(tmp_path):
    res = runner.invoke(app, ["report", "bulletin", "--db", str(tmp_path / "x.duckdb"),
                              "--month", MONTH, "--district", "Hunan", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "--district" in res.stderr and res.stdout == ""
