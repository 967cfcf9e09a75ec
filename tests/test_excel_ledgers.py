"""Golden-file test of the Excel ledgers: values, header styles, frozen panes and column
widths compared with ``tests/data/reports/ledgers_golden.json`` (a description of the
expected workbook, so the test does not depend on openpyxl's byte output).

Regenerate after a deliberate layout change with ``LANTIAN_REGEN_GOLDEN=1`` and review the
diff by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from lantian.cli import app
from lantian.reports.excel import LAYOUTS
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


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    d = tmp_path_factory.mktemp("xl")
    db = build(d / "w.duckdb")
    res = runner.invoke(app, ["report", "ledgers", "--db", str(db), "--month", MONTH,
                              "--out", str(d / "out"), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


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
