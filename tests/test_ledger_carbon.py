"""Emissions and carbon: intensity norms, year-on-year targets, retrofit credit, offsets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pytest

from lantian.errors import InputFileError
from lantian.ledger.carbon import intensity_check, load_production_records, offset_balance
from lantian.ledger.emissions import monthly_loads, retrofit_credit, yoy_vs_target
from lantian.store.db import connect

D = dt.date


@pytest.fixture
def con(db_path: Path):
    c = connect(db_path)
    yield c
    c.close()


def test_intensity_just_over_its_norm(tmp_path: Path, con) -> None:
    f = tmp_path / "prod.csv"
    # 1,000 t carbide: 823,000 kgce (= 823 kgce/t, at the norm), 3,081,000 kWh (3,081 > 3,080),
    # 2,101 t CO2 (2.101 > 2.1 t/t)
    f.write_text("enterprise,month,product,output_t,energy_kgce,power_kwh,co2_t\n"
                 "壬电石,2025-06,calcium_carbide,1000,823000,3081000,2101\n"
                 "壬电石,2025-07,calcium_carbide,1000,822000,3080000,2100\n", encoding="utf-8")
    assert load_production_records(con, f) == 2
    ib = ibis.duckdb.from_connection(con)
    rows = intensity_check(ib.table("production_record")).to_pyarrow().to_pylist()
    got = {(r["month"], r["metric"]): (r["value"], r["norm"], r["over"]) for r in rows}
    assert got[("2025-06", "co2_t_per_t")] == (pytest.approx(2.101), 2.1, True)
    assert got[("2025-06", "energy_kgce_per_t")] == (823.0, 823.0, False)
    assert got[("2025-06", "power_kwh_per_t")] == (3081.0, 3080.0, True)
    assert not any(over for (m, _), (_, _, over) in got.items() if m == "2025-07")


def test_production_records_bad_row(tmp_path: Path, con) -> None:
    f = tmp_path / "prod.csv"
    f.write_text("enterprise,month,product,output_t,energy_kgce,power_kwh,co2_t\n"
                 "壬电石,2025-13,calcium_carbide,1000,,,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="row 2 column month"):
        load_production_records(con, f)


def _loads(this_year: float) -> ibis.Table:
    months = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    per = [1000 / 12] * 12 + [this_year / 12] * 12
    return ibis.memtable({"enterprise_id": [1] * 24, "district_code": ["430102"] * 24,
                          "month": months, "pollutant": ["so2"] * 24, "load_t": per})


def test_year_on_year_target_missed_by_a_hair() -> None:
    # 1,000 t in 2024 -> 980.1 t in 2025: -1.99 % against a -2 % target: missed
    (r,) = yoy_vs_target(_loads(980.1), 2025).to_pyarrow().to_pylist()
    assert (r["last_t"], r["this_t"]) == (pytest.approx(1000), pytest.approx(980.1))
    assert r["change_pct"] == pytest.approx(-1.99) and r["target_pct"] == -2
    assert r["met"] is False
    (r,) = yoy_vs_target(_loads(980.0), 2025).to_pyarrow().to_pylist()
    assert r["change_pct"] == -2 and r["met"] is True  # exactly -2 % meets it
    (r,) = yoy_vs_target(_loads(950.0), 2025, by="district_code").to_pyarrow().to_pylist()
    assert (r["district_code"], r["change_pct"], r["met"]) == ("430102", -5, True)


def test_monthly_loads_from_hourly_amounts(con) -> None:
    con.execute("INSERT INTO enterprise (id, name, district_code) VALUES (1, '甲', '430102')")
    con.execute("INSERT INTO outlet (id, enterprise_id, name) VALUES (10, 1, '窑尾')")
    con.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('M1', 'p', 10)")
    # 48 hours of 2025-03 at 2.5 kg SO2 each, 3 of them flagged (substituted/invalid)
    con.execute("INSERT INTO flue_hour (mn, ts, packet_id, so2_cou, so2_flag) SELECT 'M1', t, 0,"
                " 2.5, CASE WHEN hour(t) = 3 OR t = TIMESTAMP '2025-03-01 05:00' THEN 'F'"
                " ELSE 'N' END FROM range(TIMESTAMP '2025-03-01', TIMESTAMP '2025-03-03',"
                " INTERVAL 1 HOUR) r(t)")
    ib = ibis.duckdb.from_connection(con)
    rows = monthly_loads(ib.table("flue_hour"), ib.table("monitoring_point"), ib.table("outlet"),
                         ib.table("enterprise")).to_pyarrow().to_pylist()
    (so2,) = [r for r in rows if r["pollutant"] == "so2"]
    assert so2["load_t"] == pytest.approx(48 * 2.5 / 1000) and so2["hours"] == 48
    assert so2["flagged_hours"] == 3 and so2["district_code"] == "430102"


def test_reduction_credited_to_a_retrofit() -> None:
    # cupola replaced by an induction furnace: 10 t NOx a month Jan-Mar 2025, construction
    # done 2025-04-15, stable month ends 2025-05-20, then 4 t a month Jun-Aug:
    # credit = (10 - 4) x 12 = 72 t/a (April and May are not counted)
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07",
              "2025-08"]
    loads = ibis.memtable({"enterprise_id": [1] * 8, "line": ["1号炉"] * 8, "month": months,
                           "pollutant": ["nox"] * 8,
                           "load_t": [10.0, 10.0, 10.0, 7.0, 5.0, 4.0, 4.0, 4.0]})
    plans = ibis.memtable({"plan_id": [5], "enterprise_id": [1], "line": ["1号炉"],
                           "construction_done": [D(2025, 4, 15)],
                           "stable_month": [D(2025, 5, 20)]})
    (r,) = retrofit_credit(loads, plans).to_pyarrow().to_pylist()
    assert (r["before_t_month"], r["after_t_month"], r["credit_t_a"]) == (10.0, 4.0, 72.0)


def test_double_offsets_ledger(con) -> None:
    con.execute("INSERT INTO offset_project (id, name, district_code, pollutant, new_load_t,"
                " approved_on, non_attaining) VALUES"
                " (1, '新建项目', '430102', 'nox', 100, '2025-01-01', true),"
                " (2, '达标区项目', '430200', 'nox', 100, '2025-01-01', false)")
    con.execute("INSERT INTO offset_source VALUES (1, '1号窑超低改造', 150, '2025-02-01'),"
                " (1, '锅炉淘汰', 60, NULL), (2, '锅炉淘汰', 100, '2025-02-01')")
    p1, p2 = offset_balance(con)
    # non-attaining: 2 x 100 = 200 t/a needed; 150 verified (60 pending) -> 50 short
    assert (p1["ratio"], p1["required_t"], p1["credited_t"], p1["pending_t"], p1["gap_t"],
            p1["covered"]) == (2.0, 200.0, 150.0, 60.0, 50.0, False)
    assert (p2["required_t"], p2["covered"]) == (100.0, True)
