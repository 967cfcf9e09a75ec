"""Benchmark of ``lantian import packets`` (issue 2: target ≥50,000 packets/s).

Generates flue-gas minute packets (HJ 212-2017, CN 2051, 11 factors with Avg/Min/Max/ZsAvg/
Cou/Flag as a CEMS sends them) with the codec's ``build_packet`` for ``--loggers`` data
loggers, writes them to a file, then times, each on a fresh database:

* ``import``: the CLI ``lantian import packets FILE --db NEW`` in a subprocess (wall-clock,
  including interpreter start, decoding, storage, the final CHECKPOINT);
* ``decode``: the codec's columnar bulk decoder alone over the same lines (no storage);
* ``raw-load``: DuckDB reading the file's lines straight into a table (no decoding) — the
  floor for putting these bytes into DuckDB.

Prints one JSON object per measurement (median of ``--runs``; wall-clock and CPU seconds,
CPU = user + system of all threads, the steadier figure on a shared machine).

    .venv/bin/python benchmarks/bench_import.py --packets 200000 --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# factor -> (typical value, decimals of the code table's format N n.m)
FACTORS = {
    "a34013": (5.0, 0),
    "a21026": (18.4, 2),
    "a21002": (35.1, 1),
    "a21005": (0.120, 3),
    "a21001": (1.1, 3),
    "a19001": (9.8, 1),
    "a00000": (152.3, 1),
    "a01011": (12.6, 2),
    "a01012": (118.0, 1),
    "a01013": (0.21, 3),
    "a01014": (8.9, 1),
}
CONC = {"a34013", "a21026", "a21002", "a21005", "a21001"}


def _r(v: float, nd: int) -> float | int:
    return round(v) if nd == 0 else round(v, nd)


def generate(path: Path, packets: int, loggers: int) -> None:
    """Minute packets like a flue-gas CEMS logger sends (about 700 bytes each)."""
    from lantian.hj212 import build_packet

    t0 = dt.datetime(2024, 1, 1)
    mns = [f"0100{i:020X}" for i in range(loggers)]
    with path.open("wb") as fh:
        for i in range(packets):
            mn = mns[i % loggers]
            t = t0 + dt.timedelta(minutes=i // loggers)
            values = {}
            for code, (base, nd) in FACTORS.items():
                v = _r(base * (1 + 0.05 * ((i * 7 + len(code)) % 11 - 5) / 5), nd)
                f = {"Avg": v}
                if code in CONC:
                    f.update(Min=_r(v * 0.9, nd), Max=_r(v * 1.1, nd), ZsAvg=_r(v * 1.2, nd))
                elif code == "a00000":
                    f["Cou"] = round(v * 60, 1)
                f["Flag"] = "N"
                values[code] = f
            ts = t.strftime("%Y%m%d%H%M%S")
            fh.write(
                build_packet(
                    st="31",
                    cn="2051",
                    pw="123456",
                    mn=mn,
                    data_time=ts,
                    qn=ts + "000",
                    values=values,
                )
            )


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_import(path: Path, work: Path) -> tuple[float, float]:
    db = work / f"imp-{time.monotonic_ns()}.duckdb"
    env = dict(os.environ, LANTIAN_NO_PROGRESS="1")
    c = _child_cpu()
    t = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "lantian"),
            "import",
            "packets",
            str(path),
            "--db",
            str(db),
            "--format",
            "json",
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t, _child_cpu() - c


def run_decode(path: Path) -> tuple[float, float]:
    from lantian.hj212.columnar import decode_batch

    lines = path.read_bytes().split(b"\n")
    c = time.process_time()
    t = time.perf_counter()
    for k in range(0, len(lines), 50_000):
        decode_batch(lines[k : k + 50_000])
    return time.perf_counter() - t, time.process_time() - c


def run_raw_load(path: Path, work: Path) -> tuple[float, float]:
    import duckdb

    con = duckdb.connect(str(work / f"raw-{time.monotonic_ns()}.duckdb"))
    c = time.process_time()
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE raw AS SELECT line::BLOB AS raw "
        "FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\\x01', "
        "quote = '', escape = '', header = false)",
        [str(path)],
    )
    con.execute("CHECKPOINT")
    el = time.perf_counter() - t, time.process_time() - c
    con.close()
    return el


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--loggers", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        path = work / "packets.txt"
        generate(path, args.packets, args.loggers)
        size = path.stat().st_size
        common = {
            "packets": args.packets,
            "loggers": args.loggers,
            "bytes": size,
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}",
            "load_avg": os.getloadavg()[0],
        }
        for name, fn in (
            ("import", lambda: run_import(path, work)),
            ("decode", lambda: run_decode(path)),
            ("raw-load", lambda: run_raw_load(path, work)),
        ):
            runs = [fn() for _ in range(args.runs)]
            med = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            out = {
                **common,
                "what": name,
                "wall_s": [round(w, 2) for w, _ in runs],
                "cpu_s": [round(c, 2) for _, c in runs],
                "median_wall_s": round(med, 2),
                "median_cpu_s": round(cpu, 2),
                "packets_per_s_wall": round(args.packets / med),
                "packets_per_cpu_s": round(args.packets / cpu),
                "load_avg_after": os.getloadavg()[0],
            }
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
