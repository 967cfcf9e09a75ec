"""End to end: HJ 212 minute packets → ``lantian import packets`` → ``lantian assess``."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from typer.testing import CliRunner

from lantian.cli import app

builder = pytest.importorskip("lantian.hj212.builder")
MN = "43000000000042"


def _packets():
    out = []
    t0 = dt.datetime(2024, 5, 1, 0, 0)
    for i in range(120):
        ts = t0 + dt.timedelta(minutes=i)
        # hour 0: all N; hour 1: 46 N then 14 C (calibration)
        flag = "N" if i < 60 + 46 else "C"
        values = {
            "a21026": {"Avg": 30.0, "ZsAvg": 5.0, "Flag": flag},
            "a19001": {"Avg": 12.0, "Flag": "N"},
            "a00000": {"Avg": 50.0, "Flag": "N"},
        }
        out.append(
            builder.build_packet(
                st="31",
                cn="2051",
                pw="123456",
                mn=MN,
                data_time=ts.strftime("%Y%m%d%H%M%S"),
                values=values,
            )
        )
    return b"".join(p if p.endswith(b"\n") else p + b"\r\n" for p in out)


def test_packets_to_assessment(tmp_path):
    db = tmp_path / "e2e.duckdb"
    f = tmp_path / "minute.txt"
    f.write_bytes(_packets())
    r = CliRunner().invoke(app, ["import", "packets", str(f), "--db", str(db)])
    assert r.exit_code == 0, r.stderr
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM flue_minute WHERE mn = ?", [MN]).fetchone()[0] == 120
    con.execute("INSERT INTO outlet (id, name, source_type) VALUES (1, 'kiln', 'cement_kiln')")
    con.execute(
        "INSERT INTO monitoring_point (mn, password, outlet_id, source_type, parameters)"
        " VALUES (?, '123456', 1, 'cement_kiln', ['so2'])",
        [MN],
    )
    con.close()
    r = CliRunner().invoke(
        app,
        [
            "assess",
            "--db",
            str(db),
            "--month",
            "2024-05",
            "--detail",
            "hours",
            "--mn",
            MN,
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    h0, h1 = rows[0], rows[1]
    # 30 mg/m3 at 12 % O2 → 30 × (21 − 10)/(21 − 12) = 36.67 > 35 (the logger's ZsAvg 5 ignored)
    assert h0["so2_ref_mg_m3"] == pytest.approx(30 * 11 / 9)
    assert h0["so2_zs_mg_m3"] == 5.0 and h0["so2_exceed"] is True
    assert h1["so2_valid_minutes"] == 46 and h1["so2_valid"] is True
    assert rows[2]["so2_valid"] is False and len(rows) == 744
