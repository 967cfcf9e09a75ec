"""Loads and HJ 75 substitution on PySpark give the DuckDB figures (issue 3).

The worked example of :mod:`test_assess_loads` (April 2024, points H, L, P, X: short and
long runs at α ≥ 90 %, the 2160-hour window at 75 % ≤ α < 90 %, March history before the
quarter, α < 75 %) is run through :func:`lantian.engine.loads.load_hours` on the shared
local Spark session (Parquet lake of March and April) and compared with DuckDB. Until
session 2 the Spark plan ran out of Java heap: each pollutant's substitution was built on
the previous pollutant's join, so the plan held the whole tree several times per pollutant.
"""

from __future__ import annotations

import pytest

from lantian.engine import backends
from lantian.engine.loads import load_hours, month_load_record, month_load_totals
from test_assess_loads import db  # noqa: F401 (the worked-example database)


def _records(con) -> dict[str, dict]:
    rows = month_load_totals(load_hours(con, "2024-04"), "2024-04").execute()
    return {r["mn"]: month_load_record(r) for r in rows.to_dict("records")}


def test_spark_loads_match_duckdb_and_the_hand_figures(db, spark_session, tmp_path):  # noqa: F811
    lake = tmp_path / "lake"
    for month in ("2024-03", "2024-04"):
        backends.export_month_to_lake(db, lake, month)
    duck = backends.connect("duckdb", db=db)
    want = _records(duck)
    duck.disconnect()
    got = _records(backends.connect("spark", db=db, lake=lake, month="2024-04",
                                    session=spark_session))
    assert set(got) == set(want) == {"H", "L", "P", "X"}
    for mn, rec in want.items():
        for field, per_key in rec.items():
            if isinstance(per_key, dict):
                assert got[mn][field] == pytest.approx(per_key), (mn, field)
            else:
                assert got[mn][field] == per_key, (mn, field)
    # the hand figures of test_assess_loads, on Spark
    assert got["H"]["substituted_load_kg"]["so2"] == pytest.approx(3 * 7.2 + 30 * 10.8)
    assert got["L"]["substituted_load_kg"]["so2"] == pytest.approx(103 * 10.8)
    assert got["P"]["substituted_load_kg"]["so2"] == pytest.approx(3 * 9.0)
    assert got["X"]["unsubstituted_hours"]["so2"] == 220
