"""API latency over a province-year: p50/p95 of the overview, outlet and quality endpoints.

Generates (once, cached under benchmarks/data/) a DuckDB file holding 5,000 monitoring points
(2,500 enterprises in 14 cities x 3 districts, 2 outlets each) with a year (2026, 8,760 hours)
of hourly rows each, 43.8 M rows of ``flue_hour`` written straight by DuckDB SQL, plus monthly
verdicts, trust scores and quality events. Then starts ``uvicorn`` with ``create_app`` in a
separate process and times HTTP requests from this process (httpx, sequential, warm).
Baseline beside each endpoint: the same core SQL run directly in DuckDB (no HTTP, no JSON).

    .venv/bin/python benchmarks/bench_api.py [--points 5000] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

HERE = Path(__file__).resolve().parent
SECTORS = [
    ("cement", "cement_kiln", "CN-43"),
    ("coking", "coke_oven_stack", "CN-43"),
    ("steel", "sinter_head", None),
    ("power", "coal_power_boiler", None),
]
PASSWORD = "bench-password-1"


def generate(path: Path, points: int) -> None:
    from lantian.api.auth import add_user
    from lantian.store.db import connect

    con = connect(path)
    con.execute("SET memory_limit = '6GB'")
    n_ent = points // 2
    t0 = time.perf_counter()
    con.execute(
        "INSERT INTO enterprise (id, name, credit_code, sector, district_code, grade) "
        "SELECT i, '企业' || i, 'CC' || lpad(i::VARCHAR, 8, '0'), "
        "['cement','coking','steel','power'][1 + i % 4], "
        "'43' || lpad((1 + i % 14)::VARCHAR, 2, '0') || lpad((1 + (i // 14) % 3)::VARCHAR, 2, '0'),"
        " 'B' FROM range(1, ? + 1) t(i)",
        [n_ent],
    )
    con.execute(
        "INSERT INTO outlet (id, enterprise_id, name, source_type, jurisdiction) "
        "SELECT i, 1 + (i - 1) // 2, '排放口' || i, "
        "['cement_kiln','coke_oven_stack','sinter_head','coal_power_boiler']"
        "[1 + ((1 + (i - 1) // 2) % 4)], "
        "CASE WHEN (1 + (i - 1) // 2) % 4 < 2 THEN 'CN-43' END FROM range(1, ? + 1) t(i)",
        [points],
    )
    con.execute(
        "INSERT INTO monitoring_point (mn, password, outlet_id, protocol) "
        "SELECT 'MN' || lpad(i::VARCHAR, 12, '0'), 'pw', i, '2017' FROM range(1, ? + 1) t(i)",
        [points],
    )
    # Same columns as the migration, but the (mn, ts) primary key is added after the bulk
    # load (row-by-row ART maintenance makes a 43.8 M row insert take hours).
    con.execute("CREATE TABLE flue_hour_bench AS SELECT * FROM flue_hour LIMIT 0")
    con.execute("DROP TABLE flue_hour")
    con.execute("ALTER TABLE flue_hour_bench RENAME TO flue_hour")
    chunk = 1000
    for lo in range(1, points + 1, chunk):
        hi = min(points, lo + chunk - 1)
        con.execute(
            "INSERT INTO flue_hour (mn, ts, packet_id, so2_mg_m3, so2_zs, so2_flag, nox_mg_m3, "
            "nox_zs, nox_flag, pm_mg_m3, pm_zs, pm_flag, o2_pct, flow_m3_s) "
            "SELECT 'MN' || lpad(p::VARCHAR, 12, '0'), TIMESTAMP '2026-01-01' + to_hours(h), "
            "p * 10000 + h, 15 + (hash(p, h) % 200) / 10.0, 16 + (hash(p, h) % 220) / 10.0, "
            "CASE WHEN hash(h, p) % 97 = 0 THEN 'M' ELSE 'N' END, "
            "30 + (hash(h, p, 1) % 250) / 10.0, 32 + (hash(h, p, 1) % 270) / 10.0, 'N', "
            "3 + (hash(p, h, 2) % 80) / 10.0, 3.2 + (hash(p, h, 2) % 85) / 10.0, 'N', "
            "10 + (hash(p, h, 3) % 40) / 10.0, 40 + (hash(p, h, 4) % 200) / 10.0 "
            "FROM range(?, ? + 1) a(p), range(0, 8760) b(h) ORDER BY 1, 2",
            [lo, hi],
        )
        print(
            f"  hours of points {lo}-{hi} written ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
        )
    con.execute("ALTER TABLE flue_hour ADD PRIMARY KEY (mn, ts)")
    print(f"  primary key built ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'month_ule_verdict'"
        ).fetchall()
    }
    if not have:
        con.execute(
            "CREATE TABLE month_ule_verdict (mn VARCHAR, source_type VARCHAR, "
            "month VARCHAR, production_hours INTEGER, valid_hours INTEGER, "
            "compliant_hours INTEGER, compliance_ratio DOUBLE, ule_pass BOOLEAN)"
        )
    con.execute(
        "INSERT INTO month_ule_verdict (mn, month, production_hours, valid_hours, compliant_hours,"
        " compliance_ratio, ule_pass) SELECT mn, m, 700, 700, c, c / 700, c / 700 >= 0.95 FROM ("
        "SELECT 'MN' || lpad(p::VARCHAR, 12, '0') AS mn, '2026-' || lpad(k::VARCHAR, 2, '0') AS m,"
        " 640 + hash(p, k) % 61 AS c FROM range(1, ? + 1) a(p), range(1, 13) b(k))",
        [points],
    )
    con.execute(
        "INSERT INTO trust_score (mn, month, trust, events, explanation) "
        "SELECT 'MN' || lpad(p::VARCHAR, 12, '0'), '2026-' || lpad(k::VARCHAR, 2, '0'), "
        "50 + hash(p, k, 9) % 51, 1, '[]' FROM range(1, ? + 1) a(p), range(1, 13) b(k)",
        [points],
    )
    con.execute(
        "INSERT INTO quality_event (month, detector, mn, pollutant, start_ts, end_ts, severity, "
        "evidence) SELECT '2026-' || lpad(k::VARCHAR, 2, '0'), "
        "['constant','zero','spike','missing'][1 + p % 4], 'MN' || lpad(p::VARCHAR, 12, '0'), "
        "'so2', TIMESTAMP '2026-01-05' + to_days(30 * (k - 1)), "
        "TIMESTAMP '2026-01-05 03:00' + to_days(30 * (k - 1)), 'medium', '{\"n\": 3}' "
        "FROM range(1, ? + 1, 5) a(p), range(1, 13) b(k)",
        [points],
    )
    add_user(con, "admin", "admin", PASSWORD)
    add_user(con, "reg_city", "regulator", PASSWORD, ["4301"])
    con.execute("CHECKPOINT")
    con.close()
    print(f"generated {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def time_http(client: httpx.Client, url: str, headers: dict[str, str], runs: int) -> list[float]:
    client.get(url, headers=headers).raise_for_status()  # warm
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return out


def time_sql(path: Path, sql: str, args: list, runs: int) -> float:
    con = duckdb.connect(str(path), read_only=True)
    con.execute(sql, args).fetchall()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        con.execute(sql, args).fetchall()
        out.append((time.perf_counter() - t) * 1000)
    con.close()
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--db", type=Path, default=None)
    a = ap.parse_args()
    path = a.db or HERE / "data" / f"api_{a.points}.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, a.points)
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT count(*) FROM flue_hour").fetchone()[0]
    con.close()
    baselines = {name: time_sql(path, sql, args, 5) for name, _, sql, args in CASES if sql}
    port = _port()
    code = (
        "import sys, uvicorn; from lantian.api.app import create_app; "
        f"uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port={port}, "
        "log_level='warning')"
    )
    srv = subprocess.Popen([sys.executable, "-c", code, str(path)], env=os.environ.copy())
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        for _ in range(200):
            try:
                client.get("/login")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        results = []
        for who in ("admin", "reg_city"):
            tok = client.post("/api/auth/login", json={"name": who, "password": PASSWORD}).json()[
                "token"
            ]
            h = {"Authorization": f"Bearer {tok}"}
            for name, url, _, _ in CASES:
                ms = time_http(client, url, h, a.runs)
                results.append(
                    (who, name, statistics.median(ms), _pct(ms, 0.95), baselines.get(name))
                )
    finally:
        srv.terminate()
        srv.wait(10)
    print(f"flue_hour rows: {rows:,}; points: {a.points}; runs per endpoint: {a.runs}")
    print("| caller | endpoint | p50 ms | p95 ms | bare DuckDB query p50 ms | p50 ratio |")
    print("|---|---|---|---|---|---|")
    for who, name, p50, p95, base in results:
        ratio = f"{p50 / base:.1f}x" if base else "-"
        b = f"{base:.1f}" if base else "-"
        print(f"| {who} | {name} | {p50:.1f} | {p95:.1f} | {b} | {ratio} |")


CASES = [
    (
        "overview",
        "/api/overview?month=2026-06",
        "SELECT * FROM month_ule_verdict WHERE month = ?",
        ["2026-06"],
    ),
    (
        "outlet chart (month of hours)",
        "/api/outlets/27?start=2026-06-01T00:00:00&end=2026-07-01T00:00:00".replace(
            "/api/outlets/27?", "/api/outlets/27/chart?"
        ),
        "SELECT * FROM flue_hour WHERE mn = ? AND ts >= ? AND ts < ?",
        ["MN000000000027", "2026-06-01", "2026-07-01"],
    ),
    (
        "outlet hour data (year, 8,760 rows)",
        "/api/points/MN000000000027/hour?start=2026-01-01T00:00:00"
        "&end=2027-01-01T00:00:00&limit=10000",
        "SELECT * FROM flue_hour WHERE mn = ? AND ts >= ? AND ts < ?",
        ["MN000000000027", "2026-01-01", "2027-01-01"],
    ),
    (
        "quality",
        "/api/quality?month=2026-06",
        "SELECT * FROM quality_event WHERE month = ?",
        ["2026-06"],
    ),
    ("overview page (HTML)", "/overview?month=2026-06", None, None),
]

if __name__ == "__main__":
    main()
