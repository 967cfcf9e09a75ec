"""Golden-file test of the Excel ledgers: values, header styles, frozen panes and column
widths compared with ``tests/data/reports/ledgers_golden.json`` (a description of the
expected workbook, so the test does not depend on openpyxl's byte output).

Regenerate after a deliberate layout change with ``LANTIAN_REGEN_GOLDEN=1`` and review the
diff by hand.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from lantian.cli import app
from lantian.reports.excel import LAYOUTS
from lantian.store.db import connect
from test_report_world import MN, MONTH, NAME, build

GOLDEN = Path(__file__).parent / "data" / "reports" / "ledgers_golden.json"
runner = CliRunner()


def describe(path: Path) -> dict:
    """Stable description of a workbook: per sheet cells, header style, panes, widths."""
    wb = load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        header = [ws.cell(2, j) for j in range(1, ws.max_column + 1)]
        out[ws.title] = {
            "title": ws.cell(1, 1).value,
            "freeze_panes": ws.freeze_panes,
            "headers": [c.value for c in header],
            "header_bold": [bool(c.font.bold) for c in header],
            "header_fill": [c.fill.start_color.rgb for c in header],
            "widths": [ws.column_dimensions[c.column_letter].width for c in header],
            "formats": [ws.cell(3, j).number_format for j in range(1, ws.max_column + 1)]
            if ws.max_row >= 3 else [],
            "rows": [[c.value for c in r] for r in ws.iter_rows(min_row=3)],
        }
    return out


def _ledgers(db: Path, out: Path) -> dict:
    res = runner.invoke(app, ["report", "ledgers", "--db", str(db), "--month", MONTH,
                              "--out", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("xl") / "w.duckdb")


@pytest.fixture(scope="module")
def workbook(world, tmp_path_factory):
    return _ledgers(world, tmp_path_factory.mktemp("xl_out"))


def test_golden(workbook):
    got = describe(Path(workbook["xlsx"]))
    if os.environ.get("LANTIAN_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", "utf-8")
    assert got == json.loads(GOLDEN.read_text("utf-8"))


def test_layout_rules(workbook):
    got = describe(Path(workbook["xlsx"]))
    assert list(got) == list(LAYOUTS)
    for name, sheet in got.items():
        assert sheet["freeze_panes"] == "B3"
        assert all(sheet["header_bold"])
        assert set(sheet["header_fill"]) == {"00DDE6F2"}
        # units in the headers where the column has one
        for col, head in zip(LAYOUTS[name][1], sheet["headers"], strict=True):
            assert head.startswith(col.zh) and (not col.unit or head.endswith(f"[{col.unit}]"))


def test_hand_figures(workbook):
    """The verdict and exceedance rows agree with the worked example of the world."""
    got = describe(Path(workbook["xlsx"]))
    v = [r for r in got["verdicts"]["rows"] if r[2] == MN]
    # production 740, compliant 65, exceedance 2, invalid 673 (see test_report_monthly)
    assert v == [[NAME, "1号窑尾", MN, MONTH, 740, 65, 2, 673, pytest.approx(65 / 740), "不达标"]]
    ex = got["exceedances"]["rows"]
    assert [(r[2], r[3], r[4], r[5]) for r in ex] == [
        ("2026-10-01 05:00:00", "so2", 40.0, 35.0), ("2026-10-02 16:00:00", "nox", 60.0, 50.0)]
    assert [r[3] for r in got["transport"]["rows"]] == ["rail", "road"]
    assert workbook["register_rows"] == 2 and workbook["quality_rows"] == 1


# Emissions sheet, worked by hand on the report world (see test_emissions_report): MN sends
# 72 hours at 50 m³/s = 0.18 kg/h per mg/m³; SO2 valid in 67 hours (30–33 stopped, hour 10
# short of minutes), NOx in 68; 740 production hours in October → α = 67/740 and 68/740
# < 75 %: nothing substituted, 740 − 67 = 673 and 740 − 68 = 672 hours left open.
KG_H = 50 * 3600 * 1e-6
SO2_T = sum(40.0 if h == 5 else 20.0 + h % 5
            for h in range(72) if not 30 <= h <= 33 and h != 10) * KG_H / 1000
NOX_T = sum(60.0 if h == 40 else 30.0 for h in range(72) if not 30 <= h <= 33) * KG_H / 1000


def test_emissions_sheet_computed(workbook):
    got = describe(Path(workbook["xlsx"]))["emissions"]
    assert "替代仅用于排放量，不替代浓度" in got["title"]
    rows = {r[3]: r for r in got["rows"]}
    assert set(rows) == {"so2", "nox"}
    assert rows["so2"][:3] == [NAME, "1号窑尾", MN]
    # tonnes to the gram and the rate to 10⁻⁶ in the sheet
    assert rows["so2"][4:9] == [pytest.approx(SO2_T, abs=1e-6), 0.0, 0, 673,
                                pytest.approx(67 / 740, abs=1e-6)]
    assert rows["nox"][4:9] == [pytest.approx(NOX_T, abs=1e-6), 0.0, 0, 672,
                                pytest.approx(68 / 740, abs=1e-6)]
    assert rows["so2"][9] == "本表计算 computed"
    assert got["formats"][4:9] == ["0.0000", "0.0000", "0", "0", "0.00%"]
    assert workbook["emissions_rows"] == 2


def test_emissions_sheet_reads_stored_loads(world, tmp_path):
    """Loads stored by ``assess --loads`` (month_load) are shown as stored, not recomputed."""
    db = tmp_path / "w.duckdb"
    shutil.copy(world, db)
    con = connect(db)
    con.execute("INSERT INTO month_load (mn, month, pollutant, load_kg, load_hours, "
                "substituted_load_kg, substituted_hours, unsubstituted_hours, capture_rate) "
                "VALUES (?, ?, 'so2', 1200, 700, 300, 5, 2, 0.95)", [MN, MONTH])
    con.close()
    rows = describe(Path(_ledgers(db, tmp_path / "out")["xlsx"]))["emissions"]["rows"]
    # the stored (point, month) replaces the computation: only its SO2 row, 1.2 t + 0.3 t
    assert rows == [[NAME, "1号窑尾", MN, "so2", pytest.approx(1.2), pytest.approx(0.3), 5, 2,
                     pytest.approx(0.95), "已存储 stored"]]
