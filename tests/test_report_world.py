"""A small world for the report tests: two enterprises with minute data in October 2026 (CST).

Enterprise 1 (湘江示范水泥有限公司, cement kiln, Hunan CN-43, stop-flow threshold 1.0 m³/s),
point ``MNRPT0000000001``; minute data for the first 72 hours of the month only:

* so2 = 20 + h % 5 mg/m³ except hour 5 (40 mg/m³, over the 35 ULE limit);
* nox = 30 mg/m³ except hour 40 (60 mg/m³, over 50);
* hour 10: so2 flagged ``M`` in minutes 0–19 (40 valid minutes < 45: invalid hour);
* hours 30–33: every value ``F`` with flow 0 (stop hours);
* O2 = 10 % (the reference O2, so conversion leaves values unchanged), flow 50 m³/s.

Enterprise 2 (资江示范焦化有限公司) has an outlet and point but no data. The expected hour
figures are recomputed from the minute rows by :func:`hand_hours` in the tests.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from lantian.store.db import connect

MONTH = "2026-10"
T0 = dt.datetime(2026, 10, 1)
NAME = "湘江示范水泥有限公司"
NAME2 = "资江示范焦化有限公司"
MN = "MNRPT0000000001"
MN2 = "MNRPT0000000002"
DATA_HOURS = 72
_CACHE: dict[str, Path] = {}


def minute_frame() -> pd.DataFrame:
    """The minute rows of ``MN`` (see the module docstring)."""
    rows = []
    for h in range(DATA_HOURS):
        for m in range(60):
            stop = 30 <= h <= 33
            so2 = 40.0 if h == 5 else 20.0 + h % 5
            nox = 60.0 if h == 40 else 30.0
            so2_flag = "F" if stop else ("M" if h == 10 and m < 20 else "N")
            flag = "F" if stop else "N"
            rows.append({"mn": MN, "ts": T0 + dt.timedelta(hours=h, minutes=m),
                         "packet_id": h * 60 + m, "so2_mg_m3": so2, "so2_flag": so2_flag,
                         "nox_mg_m3": nox, "nox_flag": flag, "o2_pct": 10.0, "o2_flag": flag,
                         "flow_m3_s": 0.0 if stop else 50.0, "flow_flag": flag})
    return pd.DataFrame(rows)


def build(path: Path) -> Path:
    """Build the world at ``path`` (built once, then copied)."""
    if "w" not in _CACHE:
        tpl = Path(tempfile.mkdtemp(prefix="lantian-report-")) / "tpl.duckdb"
        _build(tpl)
        _CACHE["w"] = tpl
    shutil.copyfile(_CACHE["w"], path)
    return path


def _build(path: Path) -> None:
    con = connect(path)
    for name, mn, stype in ((NAME, MN, "cement_kiln"), (NAME2, MN2, "coke_oven_stack")):
        eid = con.execute("INSERT INTO enterprise (name, credit_code, sector, district_code) "
                          "VALUES (?, ?, 'cement', '430102') RETURNING id",
                          [name, f"91430100RPT{mn[-4:]}"]).fetchone()[0]
        oid = con.execute("INSERT INTO outlet (enterprise_id, name, source_type, jurisdiction, "
                          "stop_flow_threshold) VALUES (?, '1号窑尾', ?, 'CN-43', 1.0) "
                          "RETURNING id", [eid, stype]).fetchone()[0]
        con.execute("INSERT INTO monitoring_point (mn, password, outlet_id, source_type, "
                    "protocol) VALUES (?, 'pw', ?, ?, '2017')", [mn, oid, stype])
    frame = minute_frame()  # noqa: F841 - read by DuckDB below
    con.execute("INSERT INTO flue_minute BY NAME SELECT * FROM frame")
    con.execute("INSERT INTO quality_event (month, detector, mn, pollutant, start_ts, end_ts, "
                "severity, evidence) VALUES (?, 'constant', ?, 'so2', ?, ?, 'medium', ?)",
                [MONTH, MN, T0 + dt.timedelta(hours=50), T0 + dt.timedelta(hours=53),
                 json.dumps({"minutes": 240})])
    con.execute("INSERT INTO trust_score (mn, month, trust, events) VALUES (?, ?, 87.5, 1)",
                [MN, MONTH])
    for ts, mode, tonnes, stage in ((T0 + dt.timedelta(days=2), "rail", 100, None),
                                    (T0 + dt.timedelta(days=3), "road", 50, "China VI")):
        con.execute("INSERT INTO gate_record (enterprise_id, ts, direction, mode, tonnes, "
                    "emission_stage) VALUES (1, ?, 'in', ?, ?, ?)", [ts, mode, tonnes, stage])
    con.close()


def test_world_builds(tmp_path: Path) -> None:
    p = build(tmp_path / "w.duckdb")
    con = connect(p, read_only=True)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == DATA_HOURS * 60
    con.close()
