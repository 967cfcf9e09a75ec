"""Transport ledger: gate-record import and the monthly clean-transport ratio (issue 8)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from lantian.cli import app

DATA = Path(__file__).parent / "data" / "ledger"
HEADER = "enterprise,time,plate,direction,mode,material,tonnes,emission_stage,fuel\n"
runner = CliRunner()


def _import(db: Path, file: Path):
    return runner.invoke(app, ["import", "gate-records", str(file), "--db", str(db)])


def _transport(db: Path, month: str) -> list[dict]:
    res = runner.invoke(app, ["transport", "--db", str(db), "--month", month, "--format", "json"])
    assert res.exit_code == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def _write(tmp_path: Path, rows: str) -> Path:
    p = tmp_path / "gate.csv"
    p.write_text(HEADER + rows, encoding="utf-8")
    return p


def test_import_and_month_worked_example(db_path: Path) -> None:
    res = _import(db_path, DATA / "gate_records_2025_03.csv")
    assert res.exit_code == 0, res.stderr
    # both enterprises were new: added by name and reported on stderr
    assert "阳泉甲水泥有限公司" in res.stderr and "乙焦化有限公司" in res.stderr
    assert "imported 8" in res.stderr
    out = {r["enterprise"]: r for r in _transport(db_path, "2025-03")}
    assert set(out) == {"阳泉甲水泥有限公司", "乙焦化有限公司"}
    a = out["阳泉甲水泥有限公司"]
    # road 150.5 + 49.5 = 200 t; clean rail 400 + belt 200 = 600 t (the 2025-04-01 00:00 trip
    # is stored but not counted); ratio 600 / 800 = 0.75 < 0.8; the China V truck is not
    # allowed in 2025 -> 1 non-compliant trip -> fail
    assert a == {
        "enterprise": "阳泉甲水泥有限公司", "month": "2025-03", "clean_ratio": 0.75,
        "road_tonnes": 200.0, "clean_tonnes": 600.0, "non_compliant_road_trips": 1,
        "pass": False,
    }
    b = out["乙焦化有限公司"]
    # road 60 (NEV) + 40 (国六) = 100 t, pipe 10 t -> ratio 10/110, but every road trip clean
    assert b["clean_ratio"] == pytest.approx(10 / 110)
    assert (b["road_tonnes"], b["clean_tonnes"]) == (100.0, 10.0)
    assert b["non_compliant_road_trips"] == 0 and b["pass"] is True
    assert isinstance(b["road_tonnes"], float) and isinstance(b["non_compliant_road_trips"], int)
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM gate_record").fetchone() == (8,)
    con.close()
    # the April row counts in April
    april = _transport(db_path, "2025-04")
    assert april == [{
        "enterprise": "阳泉甲水泥有限公司", "month": "2025-04", "clean_ratio": 0.0,
        "road_tonnes": 999.0, "clean_tonnes": 0.0, "non_compliant_road_trips": 1, "pass": False,
    }]


def test_existing_enterprise_is_reused(db_path: Path) -> None:
    from lantian.store.db import connect

    con = connect(db_path)
    con.execute("INSERT INTO enterprise (name, sector) VALUES ('乙焦化有限公司', 'coking')")
    con.close()
    res = _import(db_path, DATA / "gate_records_2025_03.csv")
    assert res.exit_code == 0
    assert "新增企业: 乙焦化有限公司" not in res.stderr
    assert "新增企业: 阳泉甲水泥有限公司" in res.stderr
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM enterprise").fetchone() == (2,)
    con.close()


@pytest.mark.parametrize(
    ("clean", "road", "passes"),
    [("80", "20", True), ("79.999", "20.001", False), ("4", "1", True)],
)
def test_point_eight_boundary(tmp_path: Path, db_path: Path, clean, road, passes) -> None:
    # a China V truck in 2025 is non-compliant, so only the share can make the month pass
    f = _write(tmp_path, f"E,2025-06-01 00:00:00,,in,rail,ore,{clean},,\n"
                         f"E,2025-06-30 23:00:00,晋C1,out,road,ore,{road},China V,diesel\n")
    assert _import(db_path, f).exit_code == 0
    (row,) = _transport(db_path, "2025-06")
    assert row["pass"] is passes
    assert row["non_compliant_road_trips"] == 1


def test_china_v_allowed_until_end_2021(tmp_path: Path, db_path: Path) -> None:
    # clean_road_haulage: China V allowed to 2021-12-31, China VI from 2022-01-01
    f = _write(tmp_path, "E,2021-12-31 10:00:00,晋C1,in,road,ore,10,China V,diesel\n"
                         "E,2022-01-01 10:00:00,晋C1,in,road,ore,10,China V,diesel\n")
    assert _import(db_path, f).exit_code == 0
    (dec,) = _transport(db_path, "2021-12")
    (jan,) = _transport(db_path, "2022-01")
    assert (dec["non_compliant_road_trips"], dec["pass"]) == (0, True)
    assert (jan["non_compliant_road_trips"], jan["pass"]) == (1, False)


def test_bad_row_named_and_nothing_written(db_path: Path) -> None:
    assert _import(db_path, DATA / "gate_records_2025_03.csv").exit_code == 0
    res = _import(db_path, DATA / "gate_records_bad_row.csv")
    assert res.exit_code != 0
    assert "row 3 column mode" in res.stderr
    assert res.stderr.count("\n") == 1
    con = duckdb.connect(str(db_path), read_only=True)
    # what was stored before is kept; nothing of the bad file (not even row 2) is written
    assert con.execute("SELECT count(*) FROM gate_record").fetchone() == (8,)
    assert con.execute("SELECT count(*) FROM enterprise").fetchone() == (2,)
    con.close()


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("E,2025-03-01 8:00,晋C1,in,road,ore,1,China VI,diesel", "time"),
        ("E,2025-03-01 08:00:00,晋C1,sideways,road,ore,1,China VI,diesel", "direction"),
        ("E,2025-03-01 08:00:00,晋C1,in,road,ore,-1,China VI,diesel", "tonnes"),
        ("E,2025-03-01 08:00:00,晋C1,in,road,ore,abc,China VI,diesel", "tonnes"),
        ("E,2025-03-01 08:00:00,,in,road,ore,1,China VI,diesel", "plate"),
        ("E,2025-03-01 08:00:00,晋C1,in,road,ore,1,,diesel", "emission_stage"),
        ("E,2025-03-01 08:00:00,晋C1,in,road,ore,1,Euro 9,diesel", "emission_stage"),
        (",2025-03-01 08:00:00,晋C1,in,road,ore,1,China VI,diesel", "enterprise"),
    ],
)
def test_each_bad_value_is_reported(tmp_path: Path, db_path: Path, row: str, column: str) -> None:
    f = _write(tmp_path, "E,2025-03-01 08:00:00,,in,rail,ore,1,,\n" + row + "\n")
    res = _import(db_path, f)
    assert res.exit_code != 0
    assert f"row 3 column {column}" in res.stderr


def test_missing_column_and_bad_month(tmp_path: Path, db_path: Path) -> None:
    p = tmp_path / "g.csv"
    p.write_text("enterprise,time\nE,2025-01-01 00:00:00\n", encoding="utf-8")
    res = _import(db_path, p)
    assert res.exit_code != 0 and "missing column" in res.stderr
    for bad in ("2025-13", "2025-3", "March"):
        res = runner.invoke(app, ["transport", "--db", str(db_path), "--month", bad])
        assert res.exit_code != 0 and "YYYY-MM" in res.stderr


def test_excel_gate_records(tmp_path: Path, db_path: Path) -> None:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER.strip().split(","))
    ws.append(["E", dt.datetime(2025, 5, 3, 8), None, "out", "water", "clinker", 90, None, None])
    ws.append(["E", "2025-05-04 08:00:00", "晋C9", "进", "road", "coal", 10, "国六", "diesel"])
    p = tmp_path / "gate.xlsx"
    wb.save(p)
    assert _import(db_path, p).exit_code == 0
    (row,) = _transport(db_path, "2025-05")
    # 90 / (90 + 10) = 0.9 >= 0.8
    assert (row["clean_ratio"], row["pass"]) == (0.9, True)


def test_stdout_is_json_lines_only(db_path: Path) -> None:
    _import(db_path, DATA / "gate_records_2025_03.csv")
    res = runner.invoke(app, ["transport", "--db", str(db_path), "--month", "2025-03",
                              "--format", "json"])
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(x) for x in lines)
    assert "enterprise(s)" in res.stderr


def test_optional_vehicle_type_column(tmp_path: Path, db_path: Path) -> None:
    p = tmp_path / "g.csv"
    p.write_text(HEADER.strip() + ",vehicle_type\n"
                 "E,2025-03-01 08:00:00,晋C1,in,road,coal,30,China VI,diesel,重型半挂牵引车\n",
                 encoding="utf-8")
    assert _import(db_path, p).exit_code == 0
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT vehicle_type FROM gate_record").fetchall() == [("重型半挂牵引车",)]
    con.close()
