"""A small two-province world for the API, auth and page tests, built straight into DuckDB.

Three enterprises (Changsha 430102 cement, Zhuzhou 430202 coking, Yangquan 140302 foundry),
one outlet and one monitoring point each, 48 hours of hourly data in October 2026 (CST),
monthly verdicts, quality events, trust scores, and one account per role. Tables of other
parts (month_ule_verdict) are created here only when their migration has not landed yet.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
from argon2 import PasswordHasher

from lantian.api import auth
from lantian.api.auth import add_user
from lantian.store.db import connect

# The API tests log in hundreds of times: hash with cheap argon2id parameters here (the
# production cost, argon2-cffi's defaults, takes ~0.5 s a hash on the shared test machine).
# test_auth_users_cli.py checks hashes made through the CLI in the same format.
auth._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

MONTH = "2026-10"
T0 = dt.datetime(2026, 10, 1, 0, 0)
PASSWORD = "correct-horse-battery"
HOURS = 48


@dataclass
class World:
    path: Path
    ent: dict[str, int] = field(default_factory=dict)   # key -> enterprise id
    outlet: dict[str, int] = field(default_factory=dict)
    mn: dict[str, str] = field(default_factory=dict)
    # what each role may see (enterprise keys)
    visible: dict[str, set[str]] = field(default_factory=dict)


ENTERPRISES = {
    # key: (name, sector, district, credit, outlet, source_type, jurisdiction, mn)
    "cs": ("长沙示范水泥有限公司", "cement", "430102", "91430100TEST0001", "1号窑尾",
           "cement_kiln", "CN-43", "MN430102000001"),
    "zz": ("株洲示范焦化有限公司", "coking", "430202", "91430200TEST0002", "焦炉烟囱",
           "coke_oven_stack", "CN-43", "MN430202000002"),
    "yq": ("阳泉示范铸造有限公司", "foundry", "140302", "91140300TEST0003", "冲天炉",
           "coke_oven_stack", None, "MN140302000003"),
}


def _ensure_verdict_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS month_ule_verdict (mn VARCHAR, source_type VARCHAR, "
        "month VARCHAR, production_hours INTEGER, valid_hours INTEGER, compliant_hours INTEGER, "
        "compliance_ratio DOUBLE, ule_pass BOOLEAN)")


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()}
    cols = [c for c in row if c in have]
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols])


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone())


def hour_value(i: int, key: str) -> float:
    """so2 [mg/m3] of hour i: 20 + i % 7, with an exceedance (50) at hour 10 of each point."""
    if key == "so2":
        return 50.0 if i == 10 else 20.0 + i % 7
    return 30.0 + i % 5


_TEMPLATE: dict[str, World] = {}


def build_world(path: Path) -> World:
    """Build the world at ``path`` (built once per run, then copied: argon2 is slow)."""
    if "w" not in _TEMPLATE:
        tmp = Path(tempfile.mkdtemp(prefix="lantian-world-")) / "template.duckdb"
        _TEMPLATE["w"] = _build(tmp)
    tpl = _TEMPLATE["w"]
    shutil.copyfile(tpl.path, path)
    return replace(tpl, path=path)


def _build(path: Path) -> World:
    con = connect(path)
    w = World(path)
    _ensure_verdict_table(con)
    for key, (name, sector, district, credit, oname, stype, jur, mn) in ENTERPRISES.items():
        eid = con.execute("INSERT INTO enterprise (name, credit_code, sector, district_code, "
                          "grade) VALUES (?, ?, ?, ?, 'B') RETURNING id",
                          [name, credit, sector, district]).fetchone()[0]
        oid = con.execute("INSERT INTO outlet (enterprise_id, name, source_type, jurisdiction) "
                          "VALUES (?, ?, ?, ?) RETURNING id",
                          [eid, oname, stype, jur]).fetchone()[0]
        con.execute("INSERT INTO monitoring_point (mn, password, outlet_id, source_type, "
                    "protocol) VALUES (?, 'secretpw', ?, ?, '2017')", [mn, oid, stype])
        w.ent[key], w.outlet[key], w.mn[key] = eid, oid, mn
        for i in range(HOURS):
            flag = "M" if i in (20, 21) else "N"
            con.execute(
                "INSERT INTO flue_hour (mn, ts, packet_id, so2_mg_m3, so2_zs, so2_flag, nox_mg_m3, "
                "nox_zs, nox_flag, o2_pct, flow_m3_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [mn, T0 + dt.timedelta(hours=i), i, hour_value(i, "so2"),
                 hour_value(i, "so2") * 1.1, flag, hour_value(i, "nox"),
                 hour_value(i, "nox") * 1.1, "N", 11.0, 52.0])
        con.execute("INSERT INTO flue_minute (mn, ts, packet_id, so2_mg_m3, so2_flag, o2_pct) "
                    "SELECT ?, ? + to_minutes(i), 1000 + i, 20.0 + i % 3, 'N', 11.0 "
                    "FROM range(60) t(i)", [mn, T0])
        passed = key != "zz"
        _insert(con, "month_ule_verdict", {
            "mn": mn, "source_type": stype, "month": MONTH, "production_hours": 700,
            "valid_hours": 700, "compliant_hours": 690 if passed else 600,
            "compliance_ratio": (690 if passed else 600) / 700, "ule_pass": passed})
        _insert(con, "trust_score", {"mn": mn, "month": MONTH,
                                     "trust": {"cs": 92.0, "zz": 61.0, "yq": 80.0}[key],
                                     "events": 1, "explanation": "[]"})
        _insert(con, "quality_event", {
            "month": MONTH, "detector": "constant", "mn": mn, "pollutant": "so2",
            "start_ts": T0 + dt.timedelta(hours=30), "end_ts": T0 + dt.timedelta(hours=33),
            "severity": "medium", "evidence": json.dumps({"value": 21.0, "minutes": 240})})
        con.execute("INSERT INTO rejected_traffic (received_at, peer, mn, reason) VALUES "
                    "(?, '10.0.0.9:5000', ?, 'wrong_password')", [T0, mn])
        if _has(con, "retrofit_plan"):
            _insert(con, "retrofit_plan", {"programme": "cement_ule", "enterprise_id": eid,
                                           "line": f"{name}一号线", "district_code": district,
                                           "planned_done": dt.date(2026, 12, 31),
                                           "created_by": "test"})
    con.execute("INSERT INTO rejected_traffic (received_at, peer, mn, reason) VALUES "
                "(?, '10.0.0.8:5000', 'UNKNOWN_MN_1', 'unknown_mn')", [T0])
    for name, role, scope in (
        ("admin", "admin", []),
        ("reg_hunan", "regulator", ["43"]),
        ("reg_changsha", "regulator", ["4301"]),
        ("ent_cs", "enterprise", [str(w.ent["cs"])]),
        ("ent_zz", "enterprise", [ENTERPRISES["zz"][3]]),  # by credit code
        ("maint_yq", "maintainer", [w.mn["yq"]]),
    ):
        add_user(con, name, role, PASSWORD, scope)
    con.close()
    w.visible = {
        "admin": {"cs", "zz", "yq"}, "reg_hunan": {"cs", "zz"}, "reg_changsha": {"cs"},
        "ent_cs": {"cs"}, "ent_zz": {"zz"}, "maint_yq": {"yq"}, "anonymous": set(),
    }
    return w


def test_world_builds(tmp_path: Path) -> None:
    w = build_world(tmp_path / "w.duckdb")
    con = duckdb.connect(str(w.path), read_only=True)
    assert con.execute("SELECT count(*) FROM flue_hour").fetchone()[0] == 3 * HOURS
    assert con.execute("SELECT count(*) FROM app_user").fetchone()[0] == 6
    assert con.execute("SELECT count(*) FROM month_ule_verdict").fetchone()[0] == 3
    con.close()
