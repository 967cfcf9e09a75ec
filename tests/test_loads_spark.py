"""``lantian assess --loads --engine spark`` gives the DuckDB figures (issue 3).

The worked example of :mod:`test_assess_loads` (April 2024, points H, L, P, X: short and
long runs at α ≥ 90 %, the 2160-hour window at 75 % ≤ α < 90 %, March history before the
quarter, α < 75 %) through the CLI on DuckDB and on the local Spark session; the default
lake next to the database gets the months the loads need (here March and April), so P's
March history reaches the window on Spark too. Until session 2 the Spark plan ran out of
Java heap: each pollutant's substitution was built on the previous pollutant's join, so the
plan held the whole tree several times per pollutant; the CLI refused ``--loads`` on Spark.
The CLI runs in a subprocess (its own JVM; the command's disconnect stops its session).
Skipped where Java is missing.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from test_assess_loads import db  # noqa: F401 (the worked-example database)

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
    reason="no Java on this machine: the PySpark backend cannot start",
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def test_cli_assess_loads_on_spark_matches_duckdb(db, tmp_path):  # noqa: F811
    copy = tmp_path / "l.duckdb"  # the default lake goes next to the database
    shutil.copy(db, copy)

    def run(engine: str) -> dict[str, dict]:
        cp = subprocess.run(
            [sys.executable, "-c", "from lantian.cli import app; app()", "assess", "--db",
             str(copy), "--month", "2024-04", "--loads", "--no-store", "--engine", engine,
             "--format", "json"], capture_output=True, text=True, timeout=900, check=False)
        assert cp.returncode == 0, cp.stderr[-2000:]
        return {o["mn"]: o for o in map(json.loads, cp.stdout.splitlines())}

    duck, spark = run("duckdb"), run("spark")
    assert (tmp_path / "l.lake" / "flue_minute" / "month=2024-03").is_dir()
    assert set(spark) == set(duck) == {"H", "L", "P", "X"}
    for mn, want in duck.items():
        for key, value in want.items():
            assert _same(spark[mn][key], value), (mn, key, spark[mn][key], value)
    # the hand figures of test_assess_loads, on Spark
    assert spark["H"]["substituted_load_kg"]["so2"] == pytest.approx(3 * 7.2 + 30 * 10.8)
    assert spark["L"]["substituted_load_kg"]["so2"] == pytest.approx(103 * 10.8)
    assert spark["P"]["substituted_load_kg"]["so2"] == pytest.approx(3 * 9.0)
    assert spark["X"]["unsubstituted_hours"]["so2"] == 220
