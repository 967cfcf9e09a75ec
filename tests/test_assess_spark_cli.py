"""``lantian assess --engine spark`` through the CLI contract equals ``--engine duckdb``.

The CLI runs in a subprocess (its own JVM: the in-process Spark fixture would be stopped by
the command's disconnect). Small database: two points over two days of May 2024, one with an
exceedance hour (coke-oven NMHC 120 mg/m³ at the reference 8 % O2 > 100) and F-flagged
hours with the flow at zero (stop evidence), one cement kiln with no registered parameters.
Skipped where Java is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine_support import make_db, minutes

MONTH = "2024-05"
pytestmark = pytest.mark.skipif(
    shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
    reason="no Java on this machine: the PySpark backend cannot start",
)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    n = 2 * 24 * 60
    nmhc = np.full(n, 50.0)
    nmhc[180:240] = 120.0
    k9 = minutes(
        "K9",
        "2024-05-01 00:00",
        n,
        pm=5.0,
        so2=20.0,
        nox=100.0,
        nh3=3.0,
        nmhc=nmhc,
        o2=8.0,
        flow=40.0,
    )
    flow = np.full(n, 60.0)
    flow[600:720] = 0.2  # hours 10 and 11: stopped
    c1 = minutes("C1", "2024-05-01 00:00", n, pm=4.0, so2=30.0, nox=45.0, o2=10.0, flow=flow)
    for k in ("pm", "so2", "nox", "o2", "flow"):
        c1.loc[600:719, f"{k}_flag"] = "F"
    df = pd.concat([k9, c1], ignore_index=True)
    df["packet_id"] = np.arange(len(df))
    pts = [
        {"mn": "K9", "source_type": "coke_oven_stack", "parameters": ["pm", "so2", "nox", "nmhc"]},
        {"mn": "C1", "source_type": "cement_kiln"},
    ]
    return make_db(tmp_path_factory.mktemp("spark-cli") / "s.duckdb", pts, df)


def _lantian(*args: str) -> list[dict]:
    cp = subprocess.run(
        [sys.executable, "-c", "from lantian.cli import app; app()", *args],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a time limit (Spark under load took > 240 s)
        check=False,
    )
    assert cp.returncode == 0, cp.stderr[-2000:]
    return [json.loads(line) for line in cp.stdout.splitlines()]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def test_spark_cli_equals_duckdb_cli(db, tmp_path):
    common = ["assess", "--db", str(db), "--month", MONTH, "--format", "json", "--no-store"]
    duck = _lantian(*common, "--engine", "duckdb")
    spark = _lantian(*common, "--engine", "spark", "--lake", str(tmp_path / "lake"))
    assert [r["mn"] for r in duck] == ["C1", "K9"]
    assert len(spark) == len(duck)
    for d, s in zip(duck, spark, strict=True):
        assert _same(d, s), (d, s)
    # the figures themselves, by hand: 744 hours in May; K9 has data for 48 of them
    k9 = next(r for r in duck if r["mn"] == "K9")
    assert k9["production_hours"] == 744 and k9["valid_hours"] == 48
    assert k9["exceedance_hours"] == {"pm": 0, "so2": 0, "nox": 0, "nmhc": 1}
    assert k9["compliant_hours"] == 47
    # C1: hours 10–11 are F with the flow below 5 % of its median 60 → stop hours
    c1 = next(r for r in duck if r["mn"] == "C1")
    assert c1["production_hours"] == 742 and c1["valid_hours"] == 46
    assert c1["compliant_hours"] == 46
    assert c1["exceedance_hours"] == {"pm": 0, "so2": 0, "nox": 0}
