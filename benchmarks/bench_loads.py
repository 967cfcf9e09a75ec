"""Benchmark: what ``lantian assess --loads`` adds to the monthly assessment (issue 3 loads).

Data: July 2024, the first month of Q3, so the quarter-to-date capture rate covers the data
(a lake holding only the last month of a quarter would count the two silent months before
it as invalid production hours, α < 75 %, and nothing would be substituted)::

    .venv/bin/python benchmarks/gen_province.py --out benchmarks/data/province_q3 \
        --points 500 --days 31 --start 2024-07-01

Re-run (one command)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_loads.py \
        --data benchmarks/data/province_q3 --month 2024-07 --points 100 500 --repeat 3

For each size, each in a fresh subprocess (peak RSS = ru_maxrss), on the same Parquet files:

* ``engine`` — ``assess_month`` (the monthly ULE verdicts, DuckDB), executed;
* ``loads``  — ``load_hours`` + ``month_load_totals`` (hourly loads, HJ 75 substitution by
  the quarter-to-date capture rate, monthly totals), executed — the extra work of
  ``--loads`` (the 3 months of history before the quarter are empty reads here);
* ``both``   — what ``assess --loads`` runs: the month's hours once (cached), the monthly
  verdicts and the loads from them.

Prints one JSON line per run and a median summary per size to stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_engine
from bench_engine import MEM, registry_db, subset

MONTH = "2024-07"


def run_engine(root: Path, data: Path) -> dict:
    from lantian.engine import backends
    from lantian.engine.assess import assess_month

    t0 = time.perf_counter()
    con = backends.connect("duckdb", db=registry_db(data), lake=root, memory_limit=MEM)
    df = assess_month(con, MONTH).execute()
    return {"seconds": time.perf_counter() - t0, "points": len(df)}


def run_loads(root: Path, data: Path) -> dict:
    from lantian.engine import backends
    from lantian.engine.loads import load_hours, month_load_totals

    t0 = time.perf_counter()
    con = backends.connect("duckdb", db=registry_db(data), lake=root, memory_limit=MEM)
    df = month_load_totals(load_hours(con, MONTH), MONTH).execute()
    return {
        "seconds": time.perf_counter() - t0,
        "points": len(df),
        "so2_load_t": float(df.so2_load_kg.sum()) / 1000,
        "so2_sub_t": float(df.so2_sub_kg.sum()) / 1000,
        "so2_sub_hours": int(df.so2_sub_hours.sum()),
        "so2_unsub_hours": int(df.so2_unsub_hours.sum()),
    }


def run_both(root: Path, data: Path) -> dict:
    """What ``assess --loads`` runs: the month's hours once, verdicts and loads from them."""
    from lantian.engine import backends
    from lantian.engine.assess import assess_hours, monthly_results
    from lantian.engine.loads import load_hours, month_load_totals

    t0 = time.perf_counter()
    con = backends.connect("duckdb", db=registry_db(data), lake=root, memory_limit=MEM)
    hours = assess_hours(con, MONTH).cache()
    df = monthly_results(con, hours, MONTH).execute()
    loads = month_load_totals(load_hours(con, MONTH, month_hours=hours), MONTH).execute()
    return {"seconds": time.perf_counter() - t0, "points": len(df),
            "so2_sub_t": float(loads.so2_sub_kg.sum()) / 1000}


def child(kind: str, data: Path, n: int) -> None:
    root = subset(data, n)
    out = {"engine": run_engine, "loads": run_loads, "both": run_both}[kind](root, data)
    out.update(kind=kind, points_requested=n,
               peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("benchmarks/data/province_q3"))
    ap.add_argument("--month", default=MONTH)
    ap.add_argument("--points", type=int, nargs="+", default=[100])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "N"))
    a = ap.parse_args()
    globals()["MONTH"] = bench_engine.MONTH = a.month  # bench_engine.subset reads its MONTH
    if a.child:
        child(a.child[0], a.data, int(a.child[1]))
        return
    for n in a.points:
        res: dict[str, list[dict]] = {"engine": [], "loads": [], "both": []}
        for _ in range(a.repeat):
            for kind in ("engine", "loads", "both"):
                p = subprocess.run([sys.executable, __file__, "--data", str(a.data), "--month",
                                    a.month, "--child", kind, str(n)],
                                   capture_output=True, text=True, check=True)
                rec = json.loads(p.stdout.strip().splitlines()[-1])
                res[kind].append(rec)
                print(json.dumps(rec), flush=True)
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items()}
        print(json.dumps({"points": n, "engine_median_s": med["engine"],
                          "loads_median_s": med["loads"],
                          "loads_over_engine": med["loads"] / med["engine"],
                          "both_median_s": med["both"],
                          "both_over_engine": med["both"] / med["engine"],
                          "peak_rss_gib": max(r["peak_rss_gib"] for v in res.values()
                                              for r in v)}), flush=True)


if __name__ == "__main__":
    main()
