"""``lantian qc`` wiring (issue 4): history of ``pinned_under_limit``, Spark side tables and
``constant`` judged against the channel's own natural runs.

Tiny databases built by hand; times are China Standard Time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.store.db import connect

LIMIT = 200.0  # coal_boiler SO2 hourly limit at 9 % O2 (limit catalogue, GB 13271-2014)
O2_REF = 9.0


def _minutes(start: str, hourly: list[float], seed: int) -> pd.DataFrame:
    """Minute rows whose clock-hour means are ``hourly`` (mg/m3 at reference O2)."""
    rng = np.random.default_rng(seed)
    n = 60 * len(hourly)
    noise = rng.normal(0, 0.5, n)
    noise -= np.repeat(noise.reshape(-1, 60).mean(axis=1), 60)  # hour means stay exact
    return pd.DataFrame({
        "mn": "P1", "ts": pd.date_range(start, periods=n, freq="min").astype("datetime64[us]"),
        "packet_id": np.arange(n), "so2_mg_m3": np.repeat(hourly, 60) + noise, "so2_flag": "N",
        "o2_pct": O2_REF, "o2_flag": "N", "flow_m3_s": 50 + rng.normal(0, 0.5, n),
        "flow_flag": "N", "temp_c": 120.0, "temp_flag": "N"})


def _db(path: Path, *frames: pd.DataFrame) -> Path:
    con = connect(path)
    try:
        con.execute("INSERT INTO monitoring_point (mn, password, source_type, parameters) "
                    "VALUES ('P1', 'x', 'coal_boiler', ['so2', 'o2', 'flow', 'temp'])")
        for i, f in enumerate(frames):
            f = f.assign(packet_id=f["packet_id"] + 1_000_000 * i)
            con.register("_f", f)
            con.execute(f"INSERT INTO flue_minute ({', '.join(f.columns)}) SELECT * FROM _f")
            con.unregister("_f")
    finally:
        con.close()
    return path


def _pinned(db: Path, month: str) -> list[dict]:
    r = CliRunner().invoke(app, ["qc", "--db", str(db), "--month", month, "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    return [x for x in rows if x["detector"] == "pinned_under_limit"]


# March: 96 production hours alternating 0.82 L / 0.98 L: all in the band [0.8 L, L),
# sd = 0.08 L (population; sample sd slightly more), cv ≈ 0.089 > max_cv 0.06 → not high.
MARCH = [0.82 * LIMIT, 0.98 * LIMIT] * 48
# February: alternating 0.5 L / 0.98 L: sd = 0.24 L, so March's sd is a third of it
# (≤ hist_sd_ratio 0.5) → medium.
FEB = [0.5 * LIMIT, 0.98 * LIMIT] * 48


def test_qc_feeds_earlier_months_to_pinned_under_limit(tmp_path):
    db = _db(tmp_path / "h.duckdb", _minutes("2026-02-10", FEB, 1),
             _minutes("2026-03-10", MARCH, 2))
    (ev,) = _pinned(db, "2026-03")
    assert ev["severity"] == "medium"
    e = ev["evidence"]
    assert e["history_hours"] == 96
    sd_m, sd_h = np.std(MARCH, ddof=1), np.std(FEB, ddof=1)
    assert e["history_sd_mg_m3"] == pytest.approx(sd_h, abs=0.01)
    assert e["sd_vs_history"] == pytest.approx(sd_m / sd_h, abs=0.001)


def test_qc_without_earlier_months_stays_low(tmp_path):
    db = _db(tmp_path / "n.duckdb", _minutes("2026-03-10", MARCH, 2))
    (ev,) = _pinned(db, "2026-03")
    assert ev["severity"] == "low"
    assert ev["evidence"]["history_hours"] is None


def test_qc_history_older_than_three_months_is_not_read(tmp_path):
    # November is four months before March: outside pinned_under_limit.history_months (3)
    db = _db(tmp_path / "o.duckdb", _minutes("2025-11-10", FEB, 1),
             _minutes("2026-03-10", MARCH, 2))
    (ev,) = _pinned(db, "2026-03")
    assert ev["severity"] == "low"


# ------------------------------------------------------------- Spark: side tables wired


def _cli(*args: str) -> list[dict]:
    r = subprocess.run([sys.executable, "-c", "from lantian.cli import app; app()", *args],
                       capture_output=True, text=True, timeout=240, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_qc_spark_sees_calibration_changes_and_stop_marks_like_duckdb(tmp_path):
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java on this machine: the PySpark backend cannot start")
    pytest.importorskip("pyspark.sql")
    db = _db(tmp_path / "s.duckdb", _minutes("2026-03-10", [100.0] * 48, 3))
    con = connect(db)
    try:  # slope 1.0 → 0.8 with no O&M record: high; a 3-hour stop mark while running
        con.execute("INSERT INTO value_long (packet_id, mn, cn, ts, code, field, num, text) "
                    "VALUES (1, 'P1', '3020', '2026-03-10 00:00', 'i13008', 'Info', 1.0, "
                    "'a21026'), (2, 'P1', '3020', '2026-03-11 00:00', 'i13008', 'Info', 0.8, "
                    "'a21026')")
        con.execute("INSERT INTO enterprise_mark (mn, kind, start_ts, end_ts, status) VALUES "
                    "('P1', 'stopped', '2026-03-10 06:00', '2026-03-10 09:00', 'pending')")
    finally:
        con.close()
    base = ["qc", "--db", str(db), "--month", "2026-03", "--format", "json"]
    duck = _cli(*base)
    spark = _cli(*base, "--engine", "spark", "--lake", str(tmp_path / "lake"))
    got = {(x["detector"], x["start"], x["severity"]) for x in duck}
    assert ("calibration_change", "2026-03-11T00:00:00", "high") in got
    assert ("false_stop", "2026-03-10T06:00:00", "medium") in got
    assert spark == duck
