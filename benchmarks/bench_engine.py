"""Benchmark of the ULE engine on a province-month of minute data (issue 3, DESIGN.md §6).

For each size (points) it measures, each in a fresh subprocess (peak RSS = ru_maxrss):

* ``scan``   — one bare DuckDB ``SELECT count(*)`` plus ``sum`` of every numeric column the
  rules read (``min`` of the flag strings and ``ts``) over the same Parquet files;
* ``engine`` — ``lantian.engine.assess.assess_month`` on DuckDB (valid hours, production
  hours, O2 conversion, hourly and monthly verdicts), executed to pandas;
* ``pandas`` — the same rules as straightforward vectorised pandas (read Parquet, group by
  hour, …), at the sizes given with ``--pandas-points``.

Data: ``benchmarks/gen_province.py --out benchmarks/data/province --points 5000 --days 30``.
Re-run (one command; the lock keeps two benchmarks from running at once)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_engine.py \
        --data benchmarks/data/province --points 500 5000 --pandas-points 500 --repeat 3

Each line of output is one size; ``load_avg`` gives the 1-minute load average before and
after that size (the machine is shared: above 2 on 2 cores the times are inflated).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MONTH = "2024-06"
NUM = [
    "pm_mg_m3",
    "so2_mg_m3",
    "nox_mg_m3",
    "nh3_mg_m3",
    "nmhc_mg_m3",
    "o2_pct",
    "flow_m3_s",
    "temp_c",
]
FLAGS = [
    "pm_flag",
    "so2_flag",
    "nox_flag",
    "nh3_flag",
    "nmhc_flag",
    "o2_flag",
    "flow_flag",
    "temp_flag",
]
MEM = os.environ.get("BENCH_DUCKDB_MEMORY", "6GB")


def subset(data: Path, n: int) -> Path:
    """Lake root holding the first ``n`` points (hard links into the full lake)."""
    src = data / "flue_minute" / f"month={MONTH}"
    dirs = sorted(p for p in src.iterdir() if p.name.startswith("mn="))
    if n >= len(dirs):
        return data
    root = data.parent / f"{data.name}_{n}"
    dst = root / "flue_minute" / f"month={MONTH}"
    if not dst.exists():
        dst.mkdir(parents=True)
        for d in dirs[:n]:  # hard links: DuckDB's ** glob does not follow symlinked folders
            (dst / d.name).mkdir()
            for f in d.glob("*.parquet"):
                os.link(f, dst / d.name / f.name)
    return root


def registry_db(data: Path) -> Path:
    """DuckDB file with the points (source types) of the generated province."""
    import duckdb

    from lantian.store import db as store_db

    path = data / "registry.duckdb"
    if path.exists():
        return path
    con = store_db.connect(path)
    pts = duckdb.read_parquet(str(data / "points.parquet")).df()
    pts["id"] = range(1, len(pts) + 1)
    con.register("pts", pts)
    con.execute("INSERT INTO outlet (id, name, source_type) SELECT id, mn, source_type FROM pts")
    con.execute(
        "INSERT INTO monitoring_point (mn, password, outlet_id, source_type) "
        "SELECT mn, 'pw', id, source_type FROM pts"
    )
    con.close()
    return path


def run_scan(root: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEM}'")
    sums = ", ".join([f"sum({c})" for c in NUM] + [f"min({c})" for c in FLAGS] + ["min(ts)"])
    glob = str(root / "flue_minute" / "**" / "*.parquet")
    t0 = time.perf_counter()
    row = con.execute(
        f"SELECT count(*), {sums} FROM read_parquet('{glob}', hive_partitioning = true)"
    ).fetchone()
    return {"seconds": time.perf_counter() - t0, "rows": row[0]}


def run_engine(root: Path, data: Path) -> dict:
    from lantian.engine import backends
    from lantian.engine.assess import assess_month

    t0 = time.perf_counter()
    con = backends.connect("duckdb", db=registry_db(data), lake=root, memory_limit=MEM)
    df = assess_month(con, MONTH).execute()
    seconds = time.perf_counter() - t0
    # what DuckDB really ran with (session 6: the engine's swings at 5,000 points)
    settings = dict(con.con.sql("SELECT name, value FROM duckdb_settings() "
                                "WHERE name IN ('threads', 'memory_limit')").fetchall())
    return {
        "seconds": seconds,
        "duckdb": settings,
        "points": len(df),
        "compliant_hours": int(df.compliant_hours.sum()),
        "production_hours": int(df.production_hours.sum()),
        "ule_pass": int(df.ule_pass.fillna(False).sum()),
    }


def run_pandas(root: Path, data: Path) -> dict:
    """The rules of issue 3 as plain vectorised pandas (no Ibis)."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    from lantian.catalog.limits import applicable_limits

    t0 = time.perf_counter()
    files = sorted((root / "flue_minute" / f"month={MONTH}").glob("mn=*/*.parquet"))
    parts = []
    for f in files:
        p = pd.read_parquet(f, columns=["ts", *NUM, *FLAGS])
        p["mn"] = f.parent.name[3:]
        parts.append(p)
    df = pd.concat(parts, ignore_index=True)
    del parts
    pts = pd.read_parquet(data / "points.parquet").set_index("mn")
    keys = ["pm", "so2", "nox", "nh3", "nmhc"]
    df["hour"] = df.ts.dt.floor("h")
    agg = {}
    f_any = np.zeros(len(df), dtype=bool)
    for k, col in [(k, f"{k}_mg_m3") for k in keys] + [("o2", "o2_pct"), ("flow", "flow_m3_s")]:
        flag = df[f"{k}_flag"]
        ok = (flag.fillna("N") == "N") & df[col].notna()
        df[f"{k}__v"] = df[col].where(ok)
        df[f"{k}__ok"] = ok
        f_any |= (flag == "F").to_numpy()
        agg[col] = (f"{k}__v", "mean")
        agg[f"{k}_n"] = (f"{k}__ok", "sum")
        agg[f"{k}_present"] = (col, "count")
    df["f_any"] = f_any
    agg["minutes"] = ("ts", "size")
    agg["f_minutes"] = ("f_any", "sum")
    agg["flow_raw"] = ("flow_m3_s", "mean")
    h = df.groupby(["mn", "hour"]).agg(**agg)
    del df
    start = dt.datetime.fromisoformat(f"{MONTH}-01")
    grid = pd.MultiIndex.from_product(
        [h.index.get_level_values(0).unique(), pd.date_range(start, periods=720, freq="h")],
        names=["mn", "hour"],
    )
    h = h.reindex(grid)
    for c in h.columns:
        if c.endswith(("_n", "_present")) or c in ("minutes", "f_minutes"):
            h[c] = h[c].fillna(0)
    h = h.reset_index()
    f_hour = (h.minutes > 0) & (h.f_minutes * 100 > h.minutes * 50)
    med = h[~f_hour & h.flow_raw.notna()].groupby("mn").flow_raw.median()
    thr = h.mn.map(med) * 0.05
    h["production"] = ~(f_hour & (h.flow_raw < thr))
    o2ok = (h.o2_n >= 45) & (h.o2_pct < 21)
    within = pd.Series(True, index=h.index)
    present = h.groupby("mn")[[f"{k}_present" for k in keys]].transform("sum")
    lim_cache = {st: applicable_limits(st, start.date()) for st in pts.source_type.unique()}
    stype = h.mn.map(pts.source_type)
    n_lim = pd.Series(0, index=h.index)
    for k in keys:
        lim = stype.map(
            {st: (v[k].limit_mg_m3 if k in v else np.nan) for st, v in lim_cache.items()}
        )
        ref = stype.map(
            {
                st: (v[k].o2_ref_pct if k in v and v[k].o2_ref_pct is not None else np.nan)
                for st, v in lim_cache.items()
            }
        )
        lim = lim.where(present[f"{k}_present"] > 0)
        mean = h[f"{k}_mg_m3"]
        judged = np.where(ref.isna(), mean, (mean * (21 - ref) / (21 - h.o2_pct)).where(o2ok))
        ok = (h[f"{k}_n"] >= 45) & pd.notna(judged)
        within &= lim.isna() | (ok & (judged <= lim))
        n_lim += lim.notna()
    h["compliant"] = h.production & within & (n_lim > 0)
    m = h.groupby("mn").agg(
        production_hours=("production", "sum"), compliant_hours=("compliant", "sum")
    )
    m["ule_pass"] = m.compliant_hours * 100 >= 95 * m.production_hours
    return {
        "seconds": time.perf_counter() - t0,
        "points": len(m),
        "compliant_hours": int(m.compliant_hours.sum()),
        "production_hours": int(m.production_hours.sum()),
        "ule_pass": int(m.ule_pass.sum()),
    }


def child(kind: str, root: Path, data: Path) -> None:
    fn = {
        "scan": lambda: run_scan(root),
        "engine": lambda: run_engine(root, data),
        "pandas": lambda: run_pandas(root, data),
    }[kind]
    out = fn()
    out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(out))


def measure(kind: str, root: Path, data: Path) -> dict:
    cp = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--root", str(root), "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    if cp.returncode != 0:
        return {
            "error": cp.stderr.strip().splitlines()[-1] if cp.stderr else "failed",
            "peak_rss_gib": None,
            "seconds": None,
        }
    return json.loads(cp.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("benchmarks/data/province"))
    ap.add_argument("--points", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--pandas-points", type=int, nargs="*", default=[500])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--root", type=Path)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.root, a.data)
        return
    registry_db(a.data)
    for n in a.points:
        root = subset(a.data, n)
        load_before = os.getloadavg()[0]
        res: dict[str, list[dict]] = {"scan": [], "engine": []}
        for _ in range(a.repeat):  # interleaved, so load changes hit both alike
            res["scan"].append(measure("scan", root, a.data))
            res["engine"].append(measure("engine", root, a.data))
        if n in a.pandas_points:
            res["pandas"] = [measure("pandas", root, a.data) for _ in range(max(1, a.repeat - 1))]
        summary: dict = {"points": n, "load_avg": [load_before, os.getloadavg()[0]]}
        for kind, runs in res.items():
            secs = [r["seconds"] for r in runs if r.get("seconds") is not None]
            summary[kind] = {
                "median_s": statistics.median(secs) if secs else None,
                "runs_s": [round(s, 2) for s in secs],
                "peak_rss_gib": max((r["peak_rss_gib"] or 0) for r in runs),
                "detail": {k: v for k, v in runs[-1].items() if k not in ("seconds",)},
            }
        if summary["scan"]["median_s"] and summary["engine"]["median_s"]:
            summary["engine_over_scan"] = (
                summary["engine"]["median_s"] / summary["scan"]["median_s"]
            )
        if "pandas" in summary and summary["pandas"]["median_s"] and summary["engine"]["median_s"]:
            summary["pandas_over_engine"] = (
                summary["pandas"]["median_s"] / summary["engine"]["median_s"]
            )
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
