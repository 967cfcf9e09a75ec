"""``lantian report monthly|bulletin --lang zh|en`` through the CLI (issue 9).

The report world with the production-control data of :mod:`test_report_sections`
(October 2026, CST): in English the values of the production-control, alert, grade and
emissions sections are English, in Chinese (the default) they are Chinese. The HTML files
the CLI writes (``--no-pdf``) are read back.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from test_report_sections import add_control_data
from test_report_world import MONTH, NAME, build

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The report world with the production-control data of :mod:`test_report_sections`."""
    add_control_data(path := build(tmp_path_factory.mktemp("lang") / "w.duckdb"))
    return path


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _run(db: Path, out: Path, kind: str, *extra: str) -> tuple[str, str]:
    """Run ``report <kind>`` and return (raw HTML, its text)."""
    res = runner.invoke(app, ["report", kind, "--db", str(db), "--month", MONTH,
                              "--out", str(out), "--no-pdf", "--format", "json", *extra])
    assert res.exit_code == 0, res.output
    page = Path(json.loads(res.stdout.splitlines()[0])["html"]).read_text(encoding="utf-8")
    return page, _text(page)


def test_monthly_lang_en_and_default_zh(db: Path, tmp_path: Path) -> None:
    en_page, en = _run(db, tmp_path / "en", "monthly", "--enterprise", NAME, "--lang", "en")
    zh_page, zh = _run(db, tmp_path / "zh", "monthly", "--enterprise", NAME)
    # production control, alerts, grades (codes named by lantian.ledger.control_labels)
    assert "over the daily hours" in en and "ran 24 h > 20 h a day" in en
    assert "reduce output" in en and "breached" in en and "power use" in en
    assert "2026-08: ULE not passed or not assessed" in en
    assert "单日运行超时" not in en and "未落实" not in en
    assert "单日运行超时" in zh and "over the daily hours" not in zh
    assert "2026-08:超低排放未达标或未评估" in zh.replace(" ", "")
    # emissions section: the substitution note follows the language
    em_en = en.split("Emissions and carbon", 1)[1]
    em_zh = zh.split("Emissions and carbon", 1)[1]
    assert "Concentrations are never substituted" in em_en and "浓度不替代" not in em_en
    assert "浓度不替代" in em_zh and "Concentrations are never substituted" not in em_zh
    assert '<html lang="en">' in en_page and '<html lang="zh-CN">' in zh_page
    # the notes under the control tables follow the language too
    assert "Operating evidence: flue-gas flow" in en and "运行证据" not in en
    assert "grade in force when the alert started" in en and "措施按预警开始时" not in en
    assert "运行证据" in zh and "措施按预警开始时" in zh and "Operating evidence" not in zh


def test_bulletin_lang_en(db: Path, tmp_path: Path) -> None:
    _, en = _run(db, tmp_path / "en", "bulletin", "--district", "43", "--lang", "en")
    _, zh = _run(db, tmp_path / "zh", "bulletin", "--district", "43")
    assert "over the daily hours" in en and "ran on a rest weekday" in en
    assert "reduce on own initiative" in en and "breached" in en
    assert "单日运行超时" not in en and "停产日生产" not in en
    assert "单日运行超时" in zh and "停产日生产" in zh and "over the daily hours" not in zh


def test_lang_rejects_other_values(db: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", "monthly", "--db", str(db), "--month", MONTH,
                              "--out", str(tmp_path), "--no-pdf", "--lang", "fr"])
    assert res.exit_code != 0
    assert not list(tmp_path.glob("*.html"))
