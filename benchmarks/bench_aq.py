"""Benchmark: the yearly air-quality table of the Beijing multi-site data (12 stations, 2013–17).

Times, for the same hourly frame already in memory (reading the CSVs is timed separately):

* ``ibis-duckdb``: ``daily_stats`` → ``period_stats(period="year")`` executed on DuckDB
  (hourly table registered in an in-memory DuckDB);
* ``pandas``: the straightforward pandas implementation in ``aq_pandas_reference.py``
  (daily → yearly), the baseline.

Both produce the same table (checked here and in tests/test_aq_stats.py). Prints one JSON
line per run and a summary with medians. Usage::

    .venv/bin/python benchmarks/bench_aq.py [--runs 5] [--scale 1] [--data DIR]

``--scale N`` replicates the 12 stations N times under new names, to see how both grow.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aq_pandas_reference as ref

from lantian.engine.aq_stats import daily_stats, period_stats
from lantian.store.aq_readers import read_beijing

ROOT = Path(__file__).resolve().parent.parent


def run_ibis(hourly):
    con = ibis.duckdb.connect()
    h = ibis.memtable(hourly[["station", "ts", "so2", "no2", "pm10", "pm2_5", "co", "o3"]])
    return con.execute(period_stats(daily_stats(h), period="year"))


def run_pandas(hourly):
    return ref.yearly(ref.daily(hourly))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--scale", type=int, default=1, help="replicate the 12 stations N times (N × 420,768 rows)"
    )
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("LANTIAN_DATASETS", ROOT.parent / "shared" / "datasets"))
        / "beijing-multisite-aq",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    hourly = read_beijing(args.data)
    read_s = time.perf_counter() - t0
    if args.scale > 1:
        copies = []
        for k in range(args.scale):
            c = hourly.copy()
            c["station"] = c["station"] + f"_{k}"
            copies.append(c)
        hourly = pd.concat(copies, ignore_index=True)
    print(json.dumps({"step": "read", "rows": len(hourly), "seconds": round(read_s, 3)}))
    times: dict[str, list[float]] = {"ibis-duckdb": [], "pandas": []}
    out = {}
    for i in range(args.runs):
        for name, fn in (("ibis-duckdb", run_ibis), ("pandas", run_pandas)):
            t = time.perf_counter()
            out[name] = fn(hourly)
            dt_s = time.perf_counter() - t
            times[name].append(dt_s)
            print(json.dumps({"run": i, "impl": name, "seconds": round(dt_s, 3)}))
    a = out["ibis-duckdb"].sort_values(["station", "period"]).reset_index(drop=True)
    b = out["pandas"].sort_values(["station", "period"]).reset_index(drop=True)
    for c in ("pm2_5", "o3_8h", "co_p95", "o3_8h_p90", "good_days", "heavy_days"):
        np.testing.assert_allclose(a[c].astype(float), b[c].astype(float), rtol=1e-9, err_msg=c)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "summary": "beijing yearly table",
                "scale": args.scale,
                "rows": len(hourly),
                "stations": int(hourly["station"].nunique()),
                "runs": args.runs,
                "median_s": {k: round(v, 3) for k, v in med.items()},
                "pandas_over_ibis": round(med["pandas"] / med["ibis-duckdb"], 2),
                "machine": f"{platform.machine()} {os.cpu_count()} CPU",
                "python": platform.python_version(),
                "load_avg": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
