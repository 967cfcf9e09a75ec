"""``make demo`` driver (``python -m lantian.demo.run``) at a tiny scale: build, accounts, serve."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest

from lantian.demo.run import (
    demo_fleet,
    free_port,
    logger_hours,
    main,
    months_between,
    start_serve,
    stop_serve,
    synthetic_aq,
    wait_port,
    yesterday_cst,
)
from lantian.store.db import connect

pytestmark = pytest.mark.timeout(300)


def _run(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lantian.demo.run", "--db", str(db), "--points", "6",
         "--days", "2", "--no-serve", *extra],
        capture_output=True, text=True, timeout=240, check=False)


def _count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    db = tmp_path_factory.mktemp("demo") / "sub" / "demo.duckdb"  # parent folder is created
    return db, _run(db)


def test_build_fills_registry_minutes_ledgers_aq(built) -> None:
    db, res = built
    assert res.returncode == 0, res.stderr
    assert _count(db, "SELECT count(*) FROM monitoring_point") == 6
    assert _count(db, "SELECT count(DISTINCT mn) FROM flue_minute") == 6
    # two days of minutes ending yesterday (CST): at most 6 × 2 × 1440 rows, fewer where the
    # generator injected data gaps (labelled faults), but most of them
    n = _count(db, "SELECT count(*) FROM flue_minute")
    assert 0.8 * 6 * 2 * 1440 <= n <= 6 * 2 * 1440
    last = yesterday_cst()
    con = duckdb.connect(str(db), read_only=True)
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM flue_minute").fetchone()
    con.close()
    assert lo == dt.datetime.combine(last - dt.timedelta(days=1), dt.time(0, 0))
    assert hi == dt.datetime.combine(last, dt.time(23, 59))
    for table in ("gate_record", "enterprise_mark", "retrofit_plan", "plant_vehicle",
                  "maintenance_record"):
        assert _count(db, f"SELECT count(*) FROM {table}") > 0, table
    stations = _count(db, "SELECT count(*) FROM aq_station")
    assert stations == _count(db, "SELECT count(DISTINCT district_code) FROM enterprise")
    assert _count(db, "SELECT count(DISTINCT station) FROM aq_hour") == stations
    assert _count(db, "SELECT count(*) FROM audit_log WHERE action = 'demo.build'") == 1
    # logger hour rows: one per point and hour that has minutes
    assert _count(db, "SELECT count(*) FROM flue_hour") == _count(
        db, "SELECT count(DISTINCT (mn, date_trunc('hour', ts))) FROM flue_minute")
    # remote quality control ran over the demo month(s): one trust score per point and month
    months = len(months_between(last - dt.timedelta(days=1), last))
    assert _count(db, "SELECT count(*) FROM trust_score") == 6 * months
    # the ULE assessment ran too: one stored verdict per point and month with minute data
    assert _count(db, "SELECT count(*) FROM month_ule_verdict") == _count(
        db, "SELECT count(DISTINCT (mn, strftime(ts, '%Y-%m'))) FROM flue_minute")


def test_logger_hours_worked_example(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    con = connect(db)
    con.execute("INSERT INTO flue_minute (mn, ts, packet_id, so2_mg_m3, so2_flag, so2_zs, "
                "flow_m3_s, o2_pct) VALUES "
                "('M1', '2026-11-01 08:00:00', 1, 10, 'N', 12, 100, 9),"
                "('M1', '2026-11-01 08:59:00', 2, 20, 'N', 24, 200, 11),"
                "('M1', '2026-11-01 09:00:00', 3, 30, 'D', 36, 100, 10)")
    con.close()
    assert logger_hours(db) == 2
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT ts, so2_mg_m3, so2_min, so2_max, so2_zs, so2_cou, so2_flag, "
                       "flow_m3_s, o2_pct FROM flue_hour ORDER BY ts").fetchall()
    con.close()
    # hour 08:00 (CST, period start): mean 15, min 10, max 20, ZsAvg 18; Cou =
    # (10 mg/m3 × 100 m3/s + 20 × 200) × 60 s / 1e6 = 0.3 kg; flow mean 150, O2 mean 10
    h8 = rows[0]
    assert h8[0] == dt.datetime(2026, 11, 1, 8)
    assert h8[1:5] == (15.0, 10.0, 20.0, 18.0)
    assert h8[5] == pytest.approx(0.3)
    assert h8[6:] == ("N", 150.0, 10.0)
    assert rows[1][0] == dt.datetime(2026, 11, 1, 9) and rows[1][6] == "D"
    assert rows[1][5] == pytest.approx(30 * 100 * 60 / 1e6)
    assert logger_hours(db) == 0  # hours already there are kept, nothing doubled


def test_months_between() -> None:
    assert months_between(dt.date(2026, 11, 30), dt.date(2027, 2, 1)) == [
        "2026-11", "2026-12", "2027-01", "2027-02"]
    assert months_between(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == ["2026-03"]


def test_accounts_created_once_with_working_passwords(built) -> None:
    from lantian.api.auth import authenticate

    db, res = built
    lines = [ln.split() for ln in res.stdout.splitlines() if ln.startswith("  ")]
    passwords = {ln[0]: ln[1] for ln in lines if len(ln) == 2}
    assert set(passwords) == {"admin", "regulator", "enterprise", "maintainer"}
    con = duckdb.connect(str(db))
    try:
        for name, pw in passwords.items():
            principal = authenticate(con, name, pw)
            assert principal is not None, name
        assert authenticate(con, "admin", "wrong-password") is None
        roles = dict(con.execute("SELECT name, role FROM app_user").fetchall())
        scopes = dict(con.execute("SELECT u.name, s.code FROM app_user u "
                                  "JOIN app_user_scope s ON s.user_id = u.id").fetchall())
        districts = {r[0] for r in con.execute("SELECT district_code FROM enterprise").fetchall()}
        mns = {r[0] for r in con.execute("SELECT mn FROM monitoring_point").fetchall()}
    finally:
        con.close()
    assert roles == {"admin": "admin", "regulator": "regulator", "enterprise": "enterprise",
                     "maintainer": "maintainer"}
    assert scopes["regulator"] in districts
    assert scopes["maintainer"] in mns


def test_rerun_reuses_database_and_keeps_admin(built, capsys) -> None:
    db, _ = built
    minutes = _count(db, "SELECT count(*) FROM flue_minute")
    rc = main(["--db", str(db), "--points", "6", "--days", "2", "--no-serve"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "exists already" in out
    assert "users add" in out  # says how to get a new administrator
    assert "reusing" in err
    assert _count(db, "SELECT count(*) FROM app_user") == 4
    assert _count(db, "SELECT count(*) FROM flue_minute") == minutes
    assert _count(db, "SELECT count(*) FROM audit_log WHERE action = 'demo.build'") == 1


def test_bad_size_is_refused(tmp_path: Path, capsys) -> None:
    rc = main(["--db", str(tmp_path / "x.duckdb"), "--points", "0", "--no-serve"])
    assert rc != 0
    assert "--points" in capsys.readouterr().err
    assert not (tmp_path / "x.duckdb").exists()


def test_refuses_a_database_with_other_data(tmp_path: Path, capsys) -> None:
    from lantian.ledger.registry import add_point

    db = tmp_path / "mine.duckdb"
    con = connect(db)
    add_point(con, mn="MYOWNMN0001", password="123456", source_type="coal_boiler",
              outlet="1号排口", enterprise="某企业")
    con.close()
    rc = main(["--db", str(db), "--points", "2", "--days", "1", "--no-serve"])
    assert rc == 1
    assert "no finished demo build" in capsys.readouterr().err
    assert _count(db, "SELECT count(*) FROM monitoring_point") == 1
    assert _count(db, "SELECT count(*) FROM app_user") == 0


def test_serve_accepts_live_packets_from_demo_fleet(built, tmp_path: Path) -> None:
    from lantian.hj212.simulator import run_fleet

    db, _ = built
    fleet = demo_fleet(db)
    assert {s.mn for s in fleet} == {r[0] for r in duckdb.connect(str(db), read_only=True)
                                     .execute("SELECT mn FROM monitoring_point").fetchall()}
    journal = _count(db, "SELECT count(*) FROM packet_journal")
    rtd = _count(db, "SELECT count(*) FROM flue_rtd")
    gw, http = free_port(), free_port()
    proc = start_serve(db, "127.0.0.1", gw, http)
    try:
        wait_port("127.0.0.1", gw, proc)
        wait_port("127.0.0.1", http, proc)
        assert httpx.get(f"http://127.0.0.1:{http}/", follow_redirects=True,
                         timeout=30).status_code == 200
        stats = asyncio.run(run_fleet(fleet, "127.0.0.1", gw, rate=20, duration=4, seed=1,
                                         timeout=2))
    finally:
        rc = stop_serve(proc)
    assert rc == 0
    assert stats["connect_failed"] == 0
    assert _count(db, "SELECT count(*) FROM packet_journal") > journal
    assert _count(db, "SELECT count(*) FROM flue_rtd") > rtd
    # every live packet came from a registered demo MN
    assert _count(db, "SELECT count(DISTINCT mn) FROM flue_rtd") == len(fleet)


def test_synthetic_aq_one_station_per_district_hourly() -> None:
    pts = [{"district_code": "430102", "district_name": "芙蓉区"},
           {"district_code": "430102", "district_name": "芙蓉区"},
           {"district_code": "430211", "district_name": "天元区"}]
    stations, long = synthetic_aq(pts, dt.date(2026, 3, 1), dt.date(2026, 3, 3))
    assert list(stations["station"]) == ["DEMO430102", "DEMO430211"]
    # 2 stations × 3 days × 24 hours × 6 pollutants
    assert len(long) == 2 * 3 * 24 * 6
    assert long["time"].min() == "2026-03-01T00:00:00"
    assert long["time"].max() == "2026-03-03T23:00:00"
    assert (long["value"] > 0).all()
    assert set(long["pollutant"]) == {"so2", "no2", "pm10", "pm2_5", "co", "o3"}
