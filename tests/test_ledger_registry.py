"""Registry with history (SCD-2) and Excel import/export in the bureau layout (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from lantian.errors import InputFileError, LedgerRuleError
from lantian.ledger.history import as_of, record_version, versions
from lantian.ledger.registry_io import SHEETS, export_registry, import_registry
from lantian.store.db import connect

D = dt.date
CC1, CC2 = "91140300MA0K000001", "91430100MA4L000002"


def _book(path: Path, *, grade="B", nox=100, limit_cell=None, outlet_ref="窑尾") -> Path:
    rows = {
        "企业": [[CC1, "阳泉甲水泥有限公司", "cement", "140302", grade],
               [CC2, "长沙乙焦化有限公司", "coking", "430121", "C"]],
        "生产线": [[CC1, "1号熟料线", "cement_kiln", 4500, "t/d", "operating"]],
        "排放口": [[CC1, "窑尾", "cement_kiln", "1号熟料线"],
                [CC2, "焦炉烟囱", "coke_oven_stack", None]],
        "监测点位": [[CC1, outlet_ref, "MN-REG-1", "pw1", "so2, nox,pm,o2", "so2:0-200;nox:0-500"],
                 [CC2, "焦炉烟囱", "MN-REG-2", "pw2", "nox", None]],
        "许可限值": [[CC1, "窑尾", "nox", limit_cell if limit_cell is not None else nox, "permit",
                  "P-001"]],
        "许可排放量": [[CC1, "nox", 2025, 120.5, "P-001"]],
    }
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for spec in SHEETS:
        ws = wb.create_sheet(spec.name)
        ws.append([c.header for c in spec.columns])
        for r in rows[spec.name]:
            ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    yield c
    c.close()


def test_import_creates_registry_and_history(tmp_path: Path, con) -> None:
    counts = import_registry(con, _book(tmp_path / "r.xlsx"), who="admin", valid_from=D(2025, 1, 1))
    assert counts == {"enterprise": 2, "line": 1, "outlet": 2, "monitoring_point": 2,
                      "permit_limit": 1, "permit_allowance": 1}
    assert con.execute("SELECT name, sector, district_code, grade FROM enterprise"
                       " WHERE credit_code = ?", [CC1]).fetchone() == (
        "阳泉甲水泥有限公司", "cement", "140302", "B")
    _, params, outlet = con.execute(
        "SELECT p.mn, p.parameters, o.name FROM monitoring_point p JOIN outlet o"
        " ON o.id = p.outlet_id WHERE mn = 'MN-REG-1'").fetchone()
    assert sorted(params) == ["nox", "o2", "pm", "so2"] and outlet == "窑尾"
    (v,) = versions(con, "monitoring_point", "MN-REG-1")
    assert v.attrs["analyser_ranges"] == {"so2": [0.0, 200.0], "nox": [0.0, 500.0]}
    assert "password" not in v.attrs and v.changed_by == "admin"
    # the line and its outlet are linked (dynamic list)
    assert con.execute("SELECT count(*) FROM production_line_outlet").fetchone() == (1,)
    # an unchanged re-import changes nothing
    again = import_registry(con, _book(tmp_path / "r.xlsx"), who="admin", valid_from=D(2025, 2, 1))
    assert set(again.values()) == {0}


def test_changes_are_versioned_with_effective_dates(tmp_path: Path, con) -> None:
    import_registry(con, _book(tmp_path / "a.xlsx"), who="admin", valid_from=D(2025, 1, 1))
    counts = import_registry(con, _book(tmp_path / "b.xlsx", grade="A", nox=50), who="监管员",
                             valid_from=D(2025, 7, 1))
    assert counts["enterprise"] == 1 and counts["permit_limit"] == 1 and counts["outlet"] == 0
    vs = versions(con, "enterprise", CC1)
    assert [(v.attrs["grade"], v.valid_from.date(), v.valid_to and v.valid_to.date(),
             v.changed_by) for v in vs] == [
        ("B", D(2025, 1, 1), D(2025, 7, 1), "admin"), ("A", D(2025, 7, 1), None, "监管员")]
    assert as_of(con, "enterprise", CC1, D(2025, 6, 30))["grade"] == "B"
    assert as_of(con, "enterprise", CC1, D(2025, 7, 1))["grade"] == "A"
    assert as_of(con, "enterprise", CC1, D(2024, 12, 31)) is None
    # permit limits keep their effective dates in the table the engine reads
    assert con.execute("SELECT limit_mg_m3, valid_from, valid_to FROM permit_limit"
                       " ORDER BY valid_from").fetchall() == [
        (100.0, D(2025, 1, 1), D(2025, 6, 30)), (50.0, D(2025, 7, 1), None)]


def test_bad_cell_reported_and_nothing_written(tmp_path: Path, con) -> None:
    import_registry(con, _book(tmp_path / "a.xlsx"), who="admin", valid_from=D(2025, 1, 1))
    before = con.execute("SELECT count(*) FROM registry_history").fetchone()
    with pytest.raises(InputFileError, match=r"sheet 许可限值 row 2 column 限值\(mg/m3\)"):
        import_registry(con, _book(tmp_path / "b.xlsx", grade="A", limit_cell="五十"),
                        who="x", valid_from=D(2025, 7, 1))
    with pytest.raises(InputFileError, match="sheet 监测点位 row 2 column 排放口名称"):
        import_registry(con, _book(tmp_path / "c.xlsx", grade="A", outlet_ref="没有这个口"),
                        who="x", valid_from=D(2025, 7, 1))
    assert con.execute("SELECT count(*) FROM registry_history").fetchone() == before
    assert con.execute("SELECT grade FROM enterprise WHERE credit_code = ?", [CC1]
                       ).fetchone() == ("B",)


def test_backdated_change_rolls_back_everything(tmp_path: Path, con) -> None:
    import_registry(con, _book(tmp_path / "a.xlsx"), who="admin", valid_from=D(2025, 7, 1))
    with pytest.raises(LedgerRuleError, match="append-only"):
        import_registry(con, _book(tmp_path / "b.xlsx", grade="A", nox=50), who="x",
                        valid_from=D(2025, 1, 1))
    assert con.execute("SELECT grade FROM enterprise WHERE credit_code = ?", [CC1]
                       ).fetchone() == ("B",)
    assert con.execute("SELECT count(*) FROM permit_limit").fetchone() == (1,)


def test_record_version_direct(con) -> None:
    assert record_version(con, "line", "X|1", {"status": "operating"}, D(2025, 1, 1), "a")
    assert not record_version(con, "line", "X|1", {"status": "operating"}, D(2025, 2, 1), "a")
    assert record_version(con, "line", "X|1", {"status": "retired"}, D(2025, 3, 1), "a")
    assert [v.attrs["status"] for v in versions(con, "line", "X|1")] == ["operating", "retired"]


def test_export_round_trip(tmp_path: Path, con, db_path: Path) -> None:
    import_registry(con, _book(tmp_path / "a.xlsx"), who="admin", valid_from=D(2025, 1, 1))
    out = tmp_path / "export.xlsx"
    counts = export_registry(con, out)
    assert counts["monitoring_point"] == 2 and counts["permit_limit"] == 1
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:6] == [s.name for s in SHEETS]
    pts = list(wb["监测点位"].iter_rows(values_only=True))
    assert pts[1][:3] == (CC1, "窑尾", "MN-REG-1") and pts[1][3] is None  # no passwords
    assert pts[1][5] == "nox:0-500;so2:0-200"
    # importing the export into a registry that already has the points changes nothing
    assert set(import_registry(con, out, who="admin", valid_from=D(2025, 2, 1)).values()) == {0}


def test_cli_import_export_history(tmp_path: Path, db_path: Path) -> None:
    from lantian.cli import app

    r = CliRunner()
    book = _book(tmp_path / "a.xlsx")
    res = r.invoke(app, ["ledger", "import-registry", str(book), "--db", str(db_path),
                         "--who", "admin", "--valid-from", "2025-01-01"])
    assert res.exit_code == 0, res.stderr
    res = r.invoke(app, ["ledger", "import-registry", str(_book(tmp_path / "b.xlsx", grade="A")),
                         "--db", str(db_path), "--who", "admin", "--valid-from", "2025-05-01"])
    assert res.exit_code == 0, res.stderr
    res = r.invoke(app, ["ledger", "history", "enterprise", CC1, "--db", str(db_path),
                         "--format", "json"])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [(x["attrs"]["grade"], x["valid_from"], x["valid_to"]) for x in rows] == [
        ("B", "2025-01-01T00:00:00", "2025-05-01T00:00:00"), ("A", "2025-05-01T00:00:00", None)]
    res = r.invoke(app, ["ledger", "export-registry", str(tmp_path / "e.xlsx"), "--db",
                         str(db_path)])
    assert res.exit_code == 0 and (tmp_path / "e.xlsx").is_file()
    res = r.invoke(app, ["ledger", "import-registry", str(_book(tmp_path / "c.xlsx",
                                                                 limit_cell="x")),
                         "--db", str(db_path), "--who", "admin"])
    assert res.exit_code != 0 and "row 2" in res.stderr and res.stderr.count("\n") == 1


def test_snapshot_versions_changes_made_elsewhere(tmp_path: Path, con) -> None:
    from lantian.ledger.registry_io import snapshot_registry

    import_registry(con, _book(tmp_path / "a.xlsx"), who="admin", valid_from=D(2025, 1, 1))
    assert set(snapshot_registry(con, who="sys", valid_from=D(2025, 2, 1)).values()) == {0}
    # another path changes the grade and adds an enterprise by name only (no credit code)
    con.execute("UPDATE enterprise SET grade = 'A' WHERE credit_code = ?", [CC1])
    con.execute("INSERT INTO enterprise (name) VALUES ('门禁导入企业')")
    con.execute("UPDATE monitoring_point SET parameters = ['so2'] WHERE mn = 'MN-REG-1'")
    counts = snapshot_registry(con, who="sys", valid_from=D(2025, 3, 1))
    assert counts["enterprise"] == 1 and counts["monitoring_point"] == 1
    assert sum(counts.values()) == 2
    assert as_of(con, "enterprise", CC1, D(2025, 3, 1))["grade"] == "A"
    mp = as_of(con, "monitoring_point", "MN-REG-1", D(2025, 3, 1))
    assert mp["parameters"] == ["so2"] and mp["analyser_ranges"]["so2"] == [0.0, 200.0]
    assert versions(con, "enterprise", CC1)[-1].changed_by == "sys"
