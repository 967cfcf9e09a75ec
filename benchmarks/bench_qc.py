"""Benchmark of remote quality control (``lantian qc``) on a generated demo province.

Run by hand (never from the test suite)::

    .venv/bin/python benchmarks/bench_qc.py --points 100 --days 30 --runs 3

Generates ``benchmarks/data/qc_<points>x<days>/`` once (Parquet, the demo generator with
labelled faults), then times in the same process:

* a bare DuckDB scan of the same Parquet files: one ``SELECT count(*)`` and the ``sum`` of
  every column the detectors read;
* every detector of ``lantian qc`` (Ibis → DuckDB, executed one by one as the command does),
  including the hours they compute themselves;

and prints the median of ``--runs`` runs, each detector's share, peak memory (max RSS) and
precision/recall per detector against the ground truth. Times are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLS = ("so2_mg_m3", "nox_mg_m3", "pm_mg_m3", "so2_zs", "nox_zs", "pm_zs", "o2_pct",
        "flow_m3_s", "temp_c")
FLAGS = ("so2_flag", "nox_flag", "pm_flag", "o2_flag", "flow_flag")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--start", default="2026-01-01")
    ap.add_argument("--lake", type=Path, default=None,
                    help="time qc on the engine's province lake (gen_province.py) instead")
    ap.add_argument("--month", default=None, help="month of the lake (YYYY-MM)")
    ap.add_argument("--max-points", type=int, default=None,
                    help="lake mode: only the first N points (scaling runs)")
    args = ap.parse_args()
    if args.lake is not None:
        return lake_mode(args)

    from lantian.demo.evaluate import read_truth, score
    from lantian.demo.generate import generate
    from lantian.demo.load import demo_backend
    from lantian.engine.quality import DETECTORS, load_thresholds
    from lantian.engine.quality.inputs import limit_memory, read_inputs
    from lantian.engine.quality.run import detector_events

    data = HERE / "data" / f"qc_{args.points}x{args.days}"
    if not (data / "registry.json").exists():
        t = time.perf_counter()
        s = generate(data, points=args.points, days=args.days, start=args.start, seed=2026)
        print(f"generated {s.rows:,} minute rows in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
    month = args.start[:7]
    con = demo_backend(data)
    limit_memory(con)  # as `lantian qc` does: 5 GB, spill to a temporary directory
    rows = con.con.sql("SELECT count(*) FROM flue_minute").fetchall()[0][0]
    sums = ", ".join(f"sum({c})" for c in COLS)
    counts = ", ".join(f"count({c})" for c in FLAGS)
    scan_sql = f"SELECT count(*), {sums}, {counts} FROM flue_minute"

    scan_times, qc_times = [], []
    per: dict[str, list[float]] = {d: [] for d in DETECTORS}
    events = None
    for _ in range(args.runs):
        t = time.perf_counter()
        con.con.sql(scan_sql).fetchall()
        scan_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        kw = read_inputs(con, month, load_thresholds())
        parts = detector_events(**kw, materialize=lambda x: x.cache())
        frames = []
        t1 = time.perf_counter()
        for name, expr in parts.items():
            frames.append(con.execute(expr))
            per[name].append(time.perf_counter() - t1)
            t1 = time.perf_counter()
        qc_times.append(time.perf_counter() - t)
        import pandas as pd

        events = pd.concat([f for f in frames if len(f)], ignore_index=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB → GiB
    scan, qc = statistics.median(scan_times), statistics.median(qc_times)
    truth = read_truth(data / "events.csv")
    sc = score(events, truth, DETECTORS)
    alarms = score(events[events["severity"].isin(["medium", "high"])], truth, DETECTORS)

    print(f"### qc on {args.points} points × {args.days} days ({rows:,} minute rows)\n")
    print(f"- bare DuckDB scan (count + sums of {len(COLS)} columns, counts of "
          f"{len(FLAGS)} flags): median {scan:.2f} s of {args.runs}")
    print(f"- all 12 detectors incl. their hours: median {qc:.2f} s "
          f"({qc / scan:.1f}× the bare scan); peak RSS {peak:.2f} GiB")
    print("- per detector (median s): " + ", ".join(
        f"{d} {statistics.median(v):.2f}" for d, v in per.items() if v))
    print(f"- events {len(events)}; labelled faults {len(truth)}\n")
    print("| detector | faults | events | precision | recall | precision (≥medium) |"
          " recall (≥medium) |")
    print("|---|---|---|---|---|---|---|")
    for d in DETECTORS:
        a, b = sc[d], alarms[d]
        print(f"| {d} | {a.faults} | {a.events} | {a.precision:.2f} | {a.recall:.2f} | "
              f"{b.precision:.2f} | {b.recall:.2f} |")
    return 0


def lake_mode(args) -> int:
    """Time qc over the engine's province lake (no ground truth there: timing only)."""
    import ibis
    import pandas as pd

    from lantian.engine.quality import load_thresholds
    from lantian.engine.quality.inputs import limit_memory, read_inputs
    from lantian.engine.quality.run import detector_events

    pts = pd.read_parquet(args.lake / "points.parquet")
    if args.max_points:
        pts = pts.sort_values("mn").head(args.max_points)
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'Asia/Shanghai'")
    limit_memory(con)
    root = args.lake / "flue_minute" / f"month={args.month}"
    files = [str(root / f"mn={mn}" / "part-0.parquet") for mn in pts["mn"]]
    con.con.execute("CREATE VIEW flue_minute AS SELECT * EXCLUDE (month) FROM read_parquet("
                    + repr(files) + ", hive_partitioning = true, "
                    "hive_types = {'month': VARCHAR, 'mn': VARCHAR})")
    con.create_table("monitoring_point", pd.DataFrame({
        "mn": pts["mn"].astype(str), "outlet_id": 0, "source_type": pts["source_type"],
        "parameters": [["pm", "so2", "nox"]] * len(pts), "flow_unit": "m3/s"}))
    rows = con.con.sql("SELECT count(*) FROM flue_minute").fetchall()[0][0]
    have = {r[0] for r in con.con.sql("DESCRIBE flue_minute").fetchall()}
    cols = [c for c in COLS if c in have]
    flags = [c for c in FLAGS if c in have]
    scan_sql = ("SELECT count(*), " + ", ".join(f"sum({c})" for c in cols) + ", "
                + ", ".join(f"count({c})" for c in flags) + " FROM flue_minute")
    scan_times, qc_times = [], []
    per: dict[str, list[float]] = {}
    n_events = 0
    for _ in range(args.runs):
        t = time.perf_counter()
        con.con.sql(scan_sql).fetchall()
        scan_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        kw = read_inputs(con, args.month, load_thresholds())
        n_events = 0
        for name, expr in detector_events(**kw, materialize=lambda x: x.cache()).items():
            t1 = time.perf_counter()
            n_events += len(con.execute(expr))
            per.setdefault(name, []).append(time.perf_counter() - t1)
        qc_times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    scan, qc = statistics.median(scan_times), statistics.median(qc_times)
    print(f"### qc on the engine lake: {len(pts)} points, {rows:,} minute rows ({args.month})\n")
    print(f"- bare DuckDB scan (count + sums of {len(cols)} columns, counts of {len(flags)} "
          f"flags): median {scan:.2f} s of {args.runs}")
    print(f"- all 12 detectors incl. their hours: median {qc:.2f} s ({qc / scan:.1f}× the "
          f"bare scan); peak RSS {peak:.2f} GiB; {n_events} events")
    print("- per detector (median s): " + ", ".join(
        f"{d} {statistics.median(v):.2f}" for d, v in per.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
