"""``make demo``: build the demo province once, create accounts, serve it with live loggers.

``python -m lantian.demo.run --db demo/lantian-demo.duckdb [--no-serve] [--points N] [--days D]``

1. If the database holds no demo province yet (no ``demo.build`` entry in ``audit_log``), it
   generates one (:func:`lantian.demo.generate.generate`: minute history of ``--days`` days
   ending yesterday, China Standard Time, labelled faults), loads it
   (:func:`lantian.demo.load.load_demo`), fills the ledgers
   (:func:`lantian.ledger.demo.demo_ledgers`) and the air-quality tables (synthetic hourly
   station data for the demo districts, :func:`synthetic_aq`). Re-runs reuse the database.
2. It creates a first administrator and one demo account per role (regulator scoped to a
   district, enterprise, maintainer) and prints their passwords once, on stdout. If an
   administrator exists already, it says so and creates nothing.
3. Unless ``--no-serve``: starts ``lantian serve`` on the file (a child process) and runs the
   HJ 212 simulator (:func:`lantian.hj212.simulator.run_fleet`) in this process, one logger
   per registered demo point (its MN and password), until Ctrl-C, which stops both.

All times are China Standard Time (UTC+8) wall-clock. Messages are bilingual (Chinese first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lantian.errors import ConfigurationError, LantianError
from lantian.store.db import connect

__all__ = [
    "BuildSummary",
    "build_demo",
    "demo_fleet",
    "ensure_accounts",
    "has_demo",
    "logger_hours",
    "main",
    "months_between",
    "synthetic_aq",
]

BUILD_ACTION = "demo.build"  # audit_log action that marks a database holding the demo
ADMIN_NAME = "admin"
# demo source types the simulator has no profile for -> the closest simulator profile
_SIM_PROFILE = {"coal_power_boiler": "coal_boiler"}
# typical urban levels of the synthetic stations: pollutant -> (mean, sd) [µg/m3; CO mg/m3]
_AQ_LEVELS = {"so2": (12, 5), "no2": (32, 12), "pm10": (70, 25), "pm2_5": (42, 18),
              "co": (0.8, 0.3), "o3": (70, 35)}


@dataclass(frozen=True)
class BuildSummary:
    """What :func:`build_demo` stored (all zero when the database had the demo already)."""

    built: bool
    points: int
    minute_rows: int
    ledger_rows: dict[str, int]
    aq_station_hours: int
    first_day: str
    last_day: str


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def yesterday_cst() -> dt.date:
    """Yesterday's date in China Standard Time (UTC+8), whatever the machine's zone."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)


def has_demo(db: str | Path) -> bool:
    """Tell whether ``db`` exists and a demo province was built into it."""
    if not Path(db).exists():
        return False
    con = connect(db)
    try:
        row = con.execute("SELECT count(*) FROM audit_log WHERE action = ?",
                          [BUILD_ACTION]).fetchone()
        return bool(row and row[0])
    finally:
        con.close()


def synthetic_aq(points: list[dict], first: dt.date, last: dt.date,
                 seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic hourly air quality, one station per demo district (China Standard Time).

    Returns ``(stations, long)``: the station registry (``station,name,city,district,lon,lat``)
    and hourly values in the long layout of ``lantian aq import``
    (``station,time,pollutant,value``; ``time`` = start of the hour, CST; µg/m³, CO mg/m³).
    Values follow a diurnal cycle (O3 peaks in the afternoon, the rest at night) with
    log-normal noise; they are demo data, not measurements.
    """
    rng = np.random.default_rng(seed)
    districts = sorted({(p["district_code"], p["district_name"]) for p in points})
    stations = pd.DataFrame({
        "station": [f"DEMO{code}" for code, _ in districts],
        "name": [f"{name}演示站 (demo)" for _, name in districts],
        "city": "湖南演示市", "district": [name for _, name in districts],
        "lon": [112.9 + 0.1 * i for i in range(len(districts))],
        "lat": [28.2 + 0.05 * i for i in range(len(districts))]})
    hours = pd.date_range(pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta(hours=23),
                          freq="h")
    hod = hours.hour.to_numpy()
    frames = []
    for st in stations["station"]:
        for pol, (mean, sd) in _AQ_LEVELS.items():
            phase = 15 if pol == "o3" else 3
            cycle = 1 + 0.35 * np.cos(2 * np.pi * (hod - phase) / 24)
            sigma = np.sqrt(np.log(1 + (sd / mean) ** 2))
            vals = mean * cycle * rng.lognormal(-sigma**2 / 2, sigma, len(hours))
            frames.append(pd.DataFrame({
                "station": st, "time": hours.strftime("%Y-%m-%dT%H:%M:%S"), "pollutant": pol,
                "value": np.round(vals, 2 if pol == "co" else 1)}))
    return stations, pd.concat(frames, ignore_index=True)


def _load_aq(db: str | Path, points: list[dict], first: dt.date, last: dt.date, seed: int,
             work: Path) -> int:
    from lantian.store.aq_readers import read_hourly, read_stations
    from lantian.store.aq_tables import upsert_hours, upsert_stations

    stations, long = synthetic_aq(points, first, last, seed)
    st_csv, long_csv = work / "aq_stations.csv", work / "aq_long.csv"
    stations.to_csv(st_csv, index=False)
    long.to_csv(long_csv, index=False)
    hourly = read_hourly(long_csv, "long", period_start=True)
    con = connect(db)
    try:
        upsert_stations(con, read_stations(st_csv))
        return int(upsert_hours(con, hourly, "long"))
    finally:
        con.close()


def build_demo(db: str | Path, *, points: int = 48, days: int = 30, seed: int = 2026,
               last_day: dt.date | None = None) -> BuildSummary:
    """Generate and load the demo province into ``db`` unless it is there already.

    ``days`` days of minute history end on ``last_day`` (default: yesterday, CST).
    """
    last = last_day or yesterday_cst()
    first = last - dt.timedelta(days=days - 1)
    if has_demo(db):
        return BuildSummary(False, 0, 0, {}, 0, first.isoformat(), last.isoformat())
    import json

    from lantian.demo.generate import generate
    from lantian.demo.load import load_demo
    from lantian.ledger.demo import demo_ledgers

    Path(db).parent.mkdir(parents=True, exist_ok=True)
    if Path(db).exists():
        con = connect(db, read_only=True)
        try:
            row = con.execute("SELECT count(*) FROM monitoring_point").fetchone()
        finally:
            con.close()
        if row and row[0]:
            raise ConfigurationError(
                f"{db} holds {row[0]} monitoring points but no finished demo build (an earlier "
                "build was interrupted, or this is not a demo database): delete the file or "
                "choose another --db")
    with tempfile.TemporaryDirectory(prefix="lantian-demo-") as tmp:
        work = Path(tmp)
        t0 = time.monotonic()
        _say(f"生成演示省 generating the demo province: {points} points, {days} days "
             f"({first} .. {last}, CST) …")
        generate(work / "province", points=points, days=days, start=first.isoformat(), seed=seed)
        _say(f"  generated in {time.monotonic() - t0:.0f} s; loading into {db} …")
        loaded = load_demo(db, work / "province")
        reg = json.loads((work / "province" / "registry.json").read_text("utf-8"))["points"]
        con = connect(db)
        try:
            con.execute("BEGIN")
            ledgers = demo_ledgers(con, np.random.default_rng(seed), today=last + dt.timedelta(1))
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        _say(f"  台账 ledgers: {ledgers}")
        hours = logger_hours(db)
        _say(f"  小时数据 logger hour rows (2061) from the minutes: {hours}")
        aq = _load_aq(db, reg, first, last, seed, work)
        _say(f"  空气质量 air quality: {aq} station-hours (synthetic demo stations)")
    for month in months_between(first, last):
        _say(f"  超低排放评估 ULE assessment {month} (lantian assess) …")
        _lantian(["assess", "--db", str(db), "--month", month, "--format", "json"])
        _say(f"  远程质控 quality control {month} (lantian qc) …")
        _lantian(["qc", "--db", str(db), "--month", month, "--format", "json"])
    con = connect(db)
    try:
        con.execute("INSERT INTO audit_log (who, action, target, detail) VALUES "
                    "('system', ?, ?, ?)", [BUILD_ACTION, str(db),
                                            f"points={points} days={days} seed={seed} "
                                            f"first={first} last={last}"])
    finally:
        con.close()
    _say(f"  done in {time.monotonic() - t0:.0f} s")
    return BuildSummary(True, loaded.points, loaded.minute_rows, ledgers, aq,
                        first.isoformat(), last.isoformat())


def months_between(first: dt.date, last: dt.date) -> list[str]:
    """Return the months ``YYYY-MM`` from ``first`` to ``last`` inclusive (CST dates)."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _lantian(args: list[str]) -> None:
    """Run ``lantian ARGS`` in a child process (stdout discarded, stderr passed on)."""
    cmd = [sys.executable, "-c", "from lantian.cli import main; main()", *args]
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False)  # noqa: S603 - own CLI
    if res.returncode != 0:
        raise ConfigurationError(f"`lantian {' '.join(args)}` failed (exit {res.returncode})")


def logger_hours(db: str | Path) -> int:
    """Write the hour rows a data logger would send (CN 2061) from the demo's minute rows.

    The generator writes minute data only; real loggers also send hour data, which the web
    charts and the emission ledgers read from ``flue_hour``. Per MN and hour (label = start of
    the hour, CST, as ``DataTime`` of 2061 data): ``Avg`` and ``ZsAvg`` the mean of the minutes,
    ``Min``/``Max`` over the minutes, ``Flag`` the most frequent minute flag, and ``Cou``
    [kg] the sum over the minutes of concentration [mg/m³] × flow [m³/s] × 60 s / 10⁶.
    Returns the number of rows written (existing hours are kept).
    """
    con = connect(db)
    try:
        cols = [r[0] for r in con.execute("DESCRIBE flue_hour").fetchall()]
        have = {r[0]: r[1] for r in con.execute("DESCRIBE flue_minute").fetchall()}
        keys = [c[: -len("_mg_m3")] for c in cols if c.endswith("_mg_m3")]
        sel = ["mn", "date_trunc('hour', ts) AS ts", "min(packet_id) AS packet_id"]
        for c in cols:
            if c in ("mn", "ts", "packet_id"):
                continue
            key = c.rsplit("_", 1)[0]
            if c.endswith("_min") and key in keys:
                sel.append(f"min({key}_mg_m3) AS {c}")
            elif c.endswith("_max") and key in keys:
                sel.append(f"max({key}_mg_m3) AS {c}")
            elif c.endswith("_cou") and key in keys:
                sel.append(f"sum({key}_mg_m3 * flow_m3_s * 60 / 1e6) AS {c}")
            elif c.endswith("_flag") and c in have:
                sel.append(f"mode({c}) AS {c}")
            elif have.get(c) == "DOUBLE":
                sel.append(f"avg({c}) AS {c}")
            elif c in have:
                sel.append(f"any_value({c}) AS {c}")
        before = con.execute("SELECT count(*) FROM flue_hour").fetchone()[0]
        con.execute(f"INSERT OR IGNORE INTO flue_hour BY NAME SELECT {', '.join(sel)} "
                    "FROM flue_minute GROUP BY mn, date_trunc('hour', ts)")
        return int(con.execute("SELECT count(*) FROM flue_hour").fetchone()[0] - before)
    finally:
        con.close()


def ensure_accounts(db: str | Path) -> dict[str, str] | None:
    """Create ``admin`` and one demo account per role; return name → password, or None.

    None when an administrator exists already (nothing is created, no password shown).
    Scopes: ``regulator`` the district of the first demo enterprise, ``enterprise`` that
    enterprise's credit code, ``maintainer`` its first monitoring point (MN).
    """
    from lantian.api.auth import add_user, generate_password

    con = connect(db)
    try:
        if con.execute("SELECT 1 FROM app_user WHERE role = 'admin'").fetchone():
            return None
        row = con.execute(
            "SELECT e.district_code, e.credit_code, e.id, p.mn FROM enterprise e "
            "JOIN outlet o ON o.enterprise_id = e.id JOIN monitoring_point p ON p.outlet_id = o.id "
            "WHERE e.district_code IS NOT NULL ORDER BY e.id, p.mn LIMIT 1").fetchone()
        plan: list[tuple[str, str, list[str]]] = [(ADMIN_NAME, "admin", [])]
        if row is not None:
            district, credit, ent_id, mn = row
            plan += [("regulator", "regulator", [str(district)]),
                     ("enterprise", "enterprise", [str(credit or ent_id)]),
                     ("maintainer", "maintainer", [str(mn)])]
        made: dict[str, str] = {}
        con.execute("BEGIN")
        for name, role, scope in plan:
            if con.execute("SELECT 1 FROM app_user WHERE name = ?", [name]).fetchone():
                continue
            pw = generate_password()
            add_user(con, name, role, pw, scope)
            made[name] = pw
        con.execute("COMMIT")
        return made
    finally:
        con.close()


def demo_fleet(db: str | Path, limit: int | None = None) -> list:
    """Return simulator loggers for the registered demo points (their MN, password, source type)."""
    from lantian.hj212.simulator import PROFILES, LoggerSpec

    con = connect(db, read_only=True)
    try:
        rows = con.execute("SELECT mn, password, source_type FROM monitoring_point "
                           "WHERE mn LIKE 'LT43%' ORDER BY mn").fetchall()
    finally:
        con.close()
    fleet = []
    for mn, pw, st in rows[:limit]:
        prof = _SIM_PROFILE.get(st, st)
        fleet.append(LoggerSpec(mn, pw, prof if prof in PROFILES else "coal_boiler"))
    return fleet


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until ``host:port`` accepts TCP connections; raise if ``proc`` dies or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"lantian serve exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def start_serve(db: str | Path, host: str, gateway_port: int, http_port: int) -> subprocess.Popen:
    """Start ``lantian serve`` as a child process (its log goes to this stderr)."""
    cmd = [sys.executable, "-c", "from lantian.cli import main; main()", "serve", "--db", str(db),
           "--host", host, "--gateway-port", str(gateway_port), "--http-port", str(http_port)]
    return subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and arguments


def stop_serve(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM (the server commits what is queued and closes), then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


async def _stream(fleet: list, host: str, port: int, rate: float, chunk: float) -> None:
    """Run the fleet in chunks of ``chunk`` s so its minute data stays near now (CST)."""
    from lantian.hj212.simulator import run_fleet

    n = 0
    while True:
        n += 1
        stats = await run_fleet(fleet, host, port, rate=rate, duration=chunk, seed=n)
        _say(f"模拟数采仪 simulated loggers: {dict(stats)}")


def _print_accounts(db: Path, made: dict[str, str] | None) -> None:
    if made is None:
        print(f"管理员已存在 an administrator exists already in {db}; no account created.\n"
              f"  忘记密码 forgot the password? Create another administrator:\n"
              f"  .venv/bin/lantian users add --db {db} --name admin2 --role admin\n"
              f"  (prints a new password once), or delete {db} and run `make demo` again.",
              flush=True)
        return
    print("账户 accounts (密码只显示这一次 passwords are shown only this once):", flush=True)
    for name, pw in made.items():
        print(f"  {name:<11} {pw}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lantian.demo.run``; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m lantian.demo.run",
                                 description="Build and serve the Lantian demo province (CST).")
    ap.add_argument("--db", type=Path, default=Path("demo/lantian-demo.duckdb"))
    ap.add_argument("--points", type=int, default=48, help="monitoring points (default 48)")
    ap.add_argument("--days", type=int, default=30, help="days of minute history (default 30)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-serve", action="store_true", help="build the database and exit")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--gateway-port", type=int, default=9212)
    ap.add_argument("--http-port", type=int, default=8000)
    ap.add_argument("--loggers", type=int, default=None,
                    help="live simulated loggers (default: every demo point)")
    ap.add_argument("--rate", type=float, default=1.0, help="simulator speed-up (1 = real time)")
    ap.add_argument("--duration", type=float, default=None,
                    help="stop after this many seconds (default: until Ctrl-C)")
    a = ap.parse_args(argv)
    if a.points < 1 or a.days < 1:
        _say("error: --points and --days must be at least 1")
        return 2
    try:
        s = build_demo(a.db, points=a.points, days=a.days, seed=a.seed)
        if not s.built:
            _say(f"演示数据已存在 {a.db} holds the demo province already; reusing it "
                 f"(delete the file to rebuild).")
        _print_accounts(a.db, ensure_accounts(a.db))
        fleet = demo_fleet(a.db, a.loggers)
    except (LantianError, OSError) as exc:
        _say(f"error: {exc}")
        return 1
    if a.no_serve:
        return 0
    proc = start_serve(a.db, a.host, a.gateway_port, a.http_port)
    try:
        wait_port(a.host, a.gateway_port, proc)
        if a.http_port:
            wait_port(a.host, a.http_port, proc)
        print(f"\n登录 log in: http://{a.host}:{a.http_port}/  (user admin; times are China "
              f"Standard Time)\nHJ 212 网关 gateway: {a.host}:{a.gateway_port}; "
              f"{len(fleet)} simulated loggers streaming. Ctrl-C 停止 stops.", flush=True)
        chunk = 300.0 if a.duration is None else a.duration
        with contextlib.suppress(asyncio.TimeoutError):
            asyncio.run(asyncio.wait_for(_stream(fleet, a.host, a.gateway_port, a.rate, chunk),
                                         a.duration))
    except KeyboardInterrupt:
        _say("\n停止 stopping …")
    except (RuntimeError, TimeoutError) as exc:
        _say(f"error: {exc}")
        stop_serve(proc)
        return 1
    finally:
        rc = stop_serve(proc)
    _say(f"lantian serve stopped (exit {rc}); the database {a.db} is kept.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
