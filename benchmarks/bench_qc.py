"""Benchmark of remote quality control (``lantian qc``) on a generated demo province.

Run by hand (never from the test suite). The time target of DESIGN.md §6 (``qc`` ≤ 1× the
engine's ``assess_month`` on the same data), on the engine's province lake
(``benchmarks/gen_province.py``; subsets of the first N points are hard-linked by
``bench_engine.subset``)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc.py \
        --lake benchmarks/data/province --sizes 500 5000 --runs 3

(engine, qc and the monthly job each in a fresh subprocess, interleaved; prints medians,
per-detector and per-kept-frame times, peak RSS, events and the load average). Session 6
(qcspeed): every lake measurement also prints the share of the lake's Parquet bytes in the
page cache just before it (``fincore``), DuckDB's ``threads`` / ``memory_limit`` and, for the
job, the most DuckDB spilled to its temporary directory; ``--cold`` drops the page cache
(``sync; echo 3 > /proc/sys/vm/drop_caches``, root) before every measurement, to time the
engine and the job on a cold lake (why the engine alone swung 22–81 s in session 5).
The 5,000-point figures of issue 4::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc.py \
        --lake benchmarks/data/province --sizes 5000 --runs 2 --kinds job The monthly
job is :func:`lantian.engine.quality.job.assess_and_detect`: the engine's ``assess_month``
and every detector from one scan of the minutes; the time qc adds to the engine is
``job − engine``, printed as a ratio of the engine alone (DESIGN.md §6 target ≤ 1).
``qc-cmd`` / ``job-cmd`` time :func:`lantian.commands.qc.run_qc` (what ``lantian qc`` /
``lantian qc --assess`` run, storing aside): inputs, history probe, points with data.
Precision/recall and time on a generated demo province with labelled faults::

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
import contextlib
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLS = ("so2_mg_m3", "nox_mg_m3", "pm_mg_m3", "so2_zs", "nox_zs", "pm_zs", "o2_pct",
        "flow_m3_s", "temp_c")
FLAGS = ("so2_flag", "nox_flag", "pm_flag", "o2_flag", "flow_flag")
MAX_TEMP_ENV = "LANTIAN_BENCH_MAX_TEMP"
KINDS = ("engine", "qc", "job", "qc-cmd", "job-cmd", "scan", "blocks")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--start", default="2026-01-01")
    ap.add_argument("--lake", type=Path, default=None,
                    help="time qc on the engine's province lake (gen_province.py) instead")
    ap.add_argument("--month", default="2024-06", help="month of the lake (YYYY-MM)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100],
                    help="lake mode: numbers of points (first N of the lake)")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS,
                    help="lake mode: what to time (default all; engine is always timed)")
    ap.add_argument("--cold", action="store_true",
                    help="lake mode: drop the page cache before every measurement (root)")
    ap.add_argument("--events-out", type=Path, default=None,
                    help="lake mode: the job writes its events and verdicts (sorted) to "
                         "DIR/job_<points>.parquet and .verdicts.parquet, for an A/B")
    ap.add_argument("--compare-events", type=Path, nargs=2, default=None, metavar="FILE",
                    help="compare two job_<points>.parquet files of --events-out and exit")
    ap.add_argument("--chunk-points", type=int, default=None,
                    help="lake mode: points per range of the job's block scan "
                         "(lantian.engine.quality.job.CHUNK_POINTS; e.g. to check at 100 "
                         "points that the ranges change no event)")
    ap.add_argument("--max-temp", default=None, metavar="SIZE",
                    help="cap DuckDB's spill (max_temp_directory_size, e.g. 8GB) in every "
                         "measurement (children inherit it as LANTIAN_BENCH_MAX_TEMP)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.max_temp:
        os.environ[MAX_TEMP_ENV] = args.max_temp
    if args.compare_events is not None:
        return compare_events(*args.compare_events)
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
    _limit(con, limit_memory)  # as `lantian qc` does: 5 GB, spill to a temporary directory
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


def _limit(con, limit_memory):
    """``limit_memory(con)`` as ``lantian qc`` calls it, then ``--max-temp``'s spill cap if given.

    The cap is set here, not passed, so the harness also runs a tree whose
    ``limit_memory`` has no cap (session 17: a 5,000-point job spilled 35 GB).
    """
    path = limit_memory(con)
    cap = os.environ.get(MAX_TEMP_ENV)
    if cap and getattr(con, "name", "") == "duckdb":
        con.raw_sql(f"SET max_temp_directory_size = '{cap}'")
    return path


def _duck_settings(con) -> dict:
    """DuckDB's ``threads`` and ``memory_limit`` of a backend (what the run really used)."""
    rows = con.con.sql("SELECT name, value FROM duckdb_settings() WHERE name IN "
                       "('threads', 'memory_limit', 'max_temp_directory_size')").fetchall()
    return dict(rows)


def _dir_mb(path) -> float:
    """Size of a directory tree [MB] (DuckDB's spill files), 0 when absent."""
    if not path:
        return 0.0
    total = 0
    for p in Path(path).rglob("*"):
        with contextlib.suppress(OSError):  # a spill file removed while we look
            total += p.stat().st_size
    return total / 1e6


def _cpu() -> float:
    """CPU seconds of this process so far, every thread (DuckDB's included)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _keeper(per: dict[str, float], con=None, cpu: dict[str, float] | None = None):
    """Return a ``materialize`` hook that keeps a frame and times it in ``per``.

    With ``con``, as the job keeps it (session 15: ``job.compressed_keep``, compressed in
    memory; older code: ``.cache()``, a temporary table); without, ``.cache()``. Each frame
    is named by its number, the function that kept it (session 18) and its size; with
    ``cpu`` its CPU seconds (every thread) go there under the same name.
    """
    from lantian.engine.quality import job as jobmod

    cached = []
    make = (jobmod.compressed_keep(con) if con is not None and hasattr(jobmod, "compressed_keep")
            else lambda t: t.cache())

    def keep(t):
        caller = sys._getframe(1).f_code.co_name  # who kept it: frames named across commits
        t1, c1 = time.perf_counter(), _cpu()
        c = make(t)
        cached.append(c)
        dt, dc = time.perf_counter() - t1, _cpu() - c1
        rows = c.count().execute()  # a kept table: cheap; names the frame by its size
        name = f"(kept {len(cached)} {caller}: {rows:,}x{len(c.columns)})"
        per[name] = dt
        if cpu is not None:
            cpu[name] = dc
        return c

    return keep


def _time_appends(con, per: dict[str, float], cpu: dict[str, float]) -> None:
    """Time the job's ``INSERT`` appends and ``CHECKPOINT`` s (wall in ``per``, CPU in ``cpu``).

    Wraps ``con.raw_sql``: the appends of :func:`lantian.engine.quality.job.keep_by_point_ranges`
    (the block scan's ranges after the first two) run inside ``(build)`` and were not
    named before session 18; ``(checkpoints)`` sums every compression of a kept frame
    (also inside the kept frames' times).
    """
    raw = con.raw_sql

    def timed(sql, *a, **k):
        text = sql if isinstance(sql, str) else ""
        name = ("(appends)" if text.startswith("INSERT") else
                "(checkpoints)" if text.startswith("CHECKPOINT") else None)
        t1, c1 = time.perf_counter(), _cpu()
        out = raw(sql, *a, **k)
        if name is not None:
            per[name] = per.get(name, 0.0) + time.perf_counter() - t1
            cpu[name] = cpu.get(name, 0.0) + _cpu() - c1
        return out

    con.raw_sql = timed


def _qc_child(root: Path, data: Path, month: str) -> dict:
    """Run ``lantian qc``'s detectors on a lake root as the command does; time each one."""
    from lantian.engine import backends
    from lantian.engine.quality import load_thresholds
    from lantian.engine.quality.inputs import limit_memory, read_inputs
    from lantian.engine.quality.run import detector_events

    t0 = time.perf_counter()
    con = backends.connect("duckdb", db=bench_engine().registry_db(data), lake=root)
    _limit(con, limit_memory)
    kw = read_inputs(con, month, load_thresholds())
    per: dict[str, float] = {}
    n_events = 0
    keep = _keeper(per)

    t1 = time.perf_counter()
    parts = detector_events(**kw, materialize=keep)
    per["(build)"] = time.perf_counter() - t1
    for name, expr in parts.items():
        t1 = time.perf_counter()
        n_events += len(con.execute(expr))
        per[name] = time.perf_counter() - t1
    return {"seconds": time.perf_counter() - t0, "events": n_events, "per": per}


_EVENT_ORDER = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]


def _write_events(out: Path, n: int, frames: list, verdicts) -> None:
    """Write the job's events and monthly verdicts, sorted, for :func:`compare_events`."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    ev = pd.concat(frames, ignore_index=True)[_EVENT_ORDER]
    ev.sort_values(_EVENT_ORDER).reset_index(drop=True).to_parquet(out / f"job_{n}.parquet")
    v = verdicts[sorted(verdicts.columns)].sort_values("mn").reset_index(drop=True)
    v.to_parquet(out / f"job_{n}.verdicts.parquet")


def compare_events(a: Path, b: Path) -> int:
    """Print whether two ``--events-out`` event files (and their verdicts) are identical.

    Returns 0 when both are, 1 otherwise (the differing events counted per detector).
    """
    import pandas as pd

    ea, eb = pd.read_parquet(a), pd.read_parquet(b)
    va = pd.read_parquet(a.with_suffix(".verdicts.parquet"))
    vb = pd.read_parquet(b.with_suffix(".verdicts.parquet"))
    same_e, same_v = ea.equals(eb), va.equals(vb)
    print(f"events {len(ea)} / {len(eb)}: {'identical' if same_e else 'DIFFERENT'}; "
          f"verdicts {len(va)} / {len(vb)} points: {'identical' if same_v else 'DIFFERENT'}")
    if not same_e:
        m = ea.merge(eb, how="outer", indicator=True)
        print(m[m["_merge"] != "both"].groupby(["detector", "_merge"]).size().to_string())
    return 0 if same_e and same_v else 1


def _job_child(root: Path, data: Path, month: str, events_out: Path | None = None) -> dict:
    """The monthly job: the engine's ``assess_month`` and every detector on one minute scan.

    :func:`lantian.engine.quality.job.assess_and_detect` as a monthly pipeline runs it: the
    shared block table is kept once (as :func:`_keeper` keeps it), then the verdicts and
    each detector are executed. ``per`` gives the shared scan, the verdicts and each
    detector; ``cpu_per`` the same steps' CPU seconds (every thread: comparable under load),
    with ``(appends)`` and ``(checkpoints)`` (:func:`_time_appends`); ``kept_mb`` the memory
    of the kept tables after the build (``duckdb_memory()``, in memory and spilled).
    """
    from lantian.engine import backends
    from lantian.engine.quality import load_thresholds
    from lantian.engine.quality.inputs import limit_memory, read_inputs
    from lantian.engine.quality.job import assess_and_detect

    t0 = time.perf_counter()
    con = backends.connect("duckdb", db=bench_engine().registry_db(data), lake=root)
    spill = _limit(con, limit_memory)
    kw = read_inputs(con, month, load_thresholds())
    per: dict[str, float] = {}
    cpu: dict[str, float] = {}
    keep = _keeper(per, con, cpu)
    _time_appends(con, per, cpu)
    spilled = [0.0]

    def step(name: str, t1: float, c1: float) -> None:
        per[name], cpu[name] = time.perf_counter() - t1, _cpu() - c1

    t1, c1 = time.perf_counter(), _cpu()
    verdicts, parts = assess_and_detect(con, kw, materialize=keep)
    step("(build)", t1, c1)
    spilled[0] = max(spilled[0], _dir_mb(spill))
    kept_mb = _kept_mb(con)
    t1, c1 = time.perf_counter(), _cpu()
    df = con.execute(verdicts)
    step("assess_month", t1, c1)
    n_events = 0
    frames = []
    for name, expr in parts.items():
        spilled[0] = max(spilled[0], _dir_mb(spill))
        t1, c1 = time.perf_counter(), _cpu()
        frames.append(con.execute(expr))
        n_events += len(frames[-1])
        step(name, t1, c1)
    seconds = time.perf_counter() - t0
    if events_out is not None:  # after the clock: writing is not the job's time
        _write_events(events_out, len(df), frames, df)
    return {"seconds": seconds, "events": n_events, "per": per, "cpu_per": cpu,
            "points": len(df), "compliant_hours": int(df.compliant_hours.sum()),
            "production_hours": int(df.production_hours.sum()),
            "duckdb": _duck_settings(con), "spill_mb": round(spilled[0], 1),
            "kept_mb": kept_mb}


def _kept_mb(con) -> float:
    """Memory of DuckDB's tables [MB], in memory and spilled (``duckdb_memory()``)."""
    row = con.con.sql("SELECT sum(memory_usage_bytes + temporary_storage_bytes) / 1e6 "
                      "FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'").fetchall()
    return round(float(row[0][0] or 0.0), 1)


def _blocks_child(root: Path, data: Path, month: str) -> dict:
    """The monthly job's shared block scan alone (its kept 1), as the job builds it.

    :func:`lantian.engine.quality.job.shared_blocks` of the month kept as the job keeps it
    (session 14: ``keep_shared_blocks``, in ranges of the registry's points; older code: one
    scan; session 15: compressed in memory, ``compressed_keep``; older: a temporary table).
    ``per`` gives the per-thread CPU seconds of the scan (``threads``: how many threads
    worked more than 1 s, and the two busiest), to tell a scan that runs on one core from
    one that runs on both.
    """
    from lantian.engine import backends
    from lantian.engine.assess import month_keys
    from lantian.engine.quality import job as jobmod
    from lantian.engine.quality import load_thresholds
    from lantian.engine.quality.inputs import limit_memory, read_inputs

    con = backends.connect("duckdb", db=bench_engine().registry_db(data), lake=root)
    spill = _limit(con, limit_memory)
    kw = read_inputs(con, month, load_thresholds())
    minute = kw["minute"]
    args = (minute, kw["keys"], month_keys(minute), kw["thresholds"])
    before = _thread_cpu()
    t0 = time.perf_counter()
    keep = (jobmod.compressed_keep(con) if hasattr(jobmod, "compressed_keep")
            else lambda t: t.cache())
    if hasattr(jobmod, "keep_shared_blocks"):  # as assess_and_detect keeps it
        kept = jobmod.keep_shared_blocks(con, keep, *args,
                                         points=jobmod.scan_points(con, kw))
    else:
        kept = jobmod.shared_blocks(*args).cache()
    seconds = time.perf_counter() - t0
    per = sorted((v - before.get(k, 0.0) for k, v in _thread_cpu().items()), reverse=True)
    rows = int(kept.count().execute())
    return {"seconds": seconds, "rows": rows, "columns": len(kept.columns),
            "busy_threads": sum(1 for v in per if v > 1.0),
            "top_thread_cpu_s": [round(v, 1) for v in per[:2]],
            "duckdb": _duck_settings(con), "spill_mb": round(_dir_mb(spill), 1),
            "kept_mb": _kept_mb(con)}


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process (``/proc/self/task``; Linux)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            f = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            out[tid] = (int(f[11]) + int(f[12])) / tick  # utime + stime
    return out


def _command_child(root: Path, data: Path, month: str, assess: bool) -> dict:
    """``lantian qc`` (``--assess``: the monthly job) as the command runs it, storing aside.

    :func:`lantian.commands.qc.run_qc` on the lake: inputs, earlier months for
    ``pinned_under_limit`` (none in the lake), the kept block scan, every detector, the
    points with data and, with ``assess``, the engine's monthly verdicts from the same scan.
    """
    from lantian.commands.qc import run_qc

    t0 = time.perf_counter()
    verdicts: list[dict] | None = [] if assess else None
    events, _ = run_qc(bench_engine().registry_db(data), month, lake=root, verdicts=verdicts)
    out = {"seconds": time.perf_counter() - t0, "events": len(events)}
    if verdicts is not None:
        out |= {"points": len(verdicts),
                "compliant_hours": sum(v["compliant_hours"] for v in verdicts),
                "production_hours": sum(v["production_hours"] for v in verdicts)}
    return out


def bench_engine():
    """The engine benchmark module (its lake subsets, registry and ``run_engine``)."""
    import bench_engine as mod  # this script's own folder

    return mod


def _child_main(kind: str, root: Path, data: Path, month: str,
                events_out: Path | None = None) -> None:
    import json

    be = bench_engine()
    be.MONTH = month
    children = {"qc": _qc_child, "job": lambda r, d, m: _job_child(r, d, m, events_out),
                "qc-cmd": lambda r, d, m: _command_child(r, d, m, False),
                "job-cmd": lambda r, d, m: _command_child(r, d, m, True),
                "blocks": _blocks_child}
    if kind == "scan":  # the bare DuckDB scan of bench_engine (issue 3's yardstick)
        children["scan"] = lambda r, d, m: be.run_scan(r)
    child = children.get(kind)
    out = child(root, data, month) if child else be.run_engine(root, data)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_rss_gib"] = ru.ru_maxrss / 2**20
    # CPU seconds of the whole child (DuckDB's threads included): on a shared machine the
    # wall time swings with other work, the CPU time much less (session 7)
    out["cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
    print(json.dumps(out))


def _resident(root: Path) -> float | None:
    """Share of the lake's Parquet bytes in the page cache (``fincore``), or ``None``."""
    import shutil
    import subprocess

    files = [str(p) for p in (root / "flue_minute").rglob("*.parquet")]
    if not files or shutil.which("fincore") is None:
        return None
    res = size = 0
    for i in range(0, len(files), 1000):
        cp = subprocess.run(["fincore", "-b", "-n", "-o", "RES,SIZE", *files[i:i + 1000]],
                            capture_output=True, text=True, check=False)
        for line in cp.stdout.split("\n"):
            parts = line.split()
            if len(parts) == 2:
                res, size = res + int(parts[0]), size + int(parts[1])
    return res / size if size else None


def _drop_caches() -> None:
    """Write dirty pages and drop the page cache (root): the next read comes from disk."""
    import subprocess

    subprocess.run(["sync"], check=False)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def _measure(kind: str, root: Path, data: Path, month: str, cold: bool = False,
             events_out: Path | None = None, chunk_points: int | None = None) -> dict:
    import json
    import subprocess

    if cold:
        _drop_caches()
    cached = _resident(root)

    extra = [] if events_out is None else ["--events-out", str(events_out)]
    if chunk_points is not None:
        extra += ["--chunk-points", str(chunk_points)]
    cp = subprocess.run([sys.executable, __file__, "--child", kind, "--root", str(root),
                         "--lake", str(data), "--month", month, *extra],
                        capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        tail = cp.stderr.strip().splitlines()[-1] if cp.stderr.strip() else "failed"
        return {"error": tail, "seconds": None, "peak_rss_gib": None, "cached": cached}
    return json.loads(cp.stdout.strip().splitlines()[-1]) | {"cached": cached}


def lake_mode(args) -> int:
    """Time qc beside the engine's ``assess_month`` on the engine's province lake.

    Each measurement runs in a fresh subprocess (peak RSS = its max RSS), engine and qc
    interleaved so a change of machine load hits both alike. No ground truth there: timing
    only (the events count is printed so runs of different code can be compared).
    """
    import os

    if args.child:
        if args.chunk_points is not None:
            from lantian.engine.quality import job

            job.CHUNK_POINTS = args.chunk_points
        _child_main(args.child, args.root, args.lake, args.month, args.events_out)
        return 0
    be = bench_engine()
    be.MONTH = args.month
    be.registry_db(args.lake)
    for n in args.sizes:
        root = be.subset(args.lake, n)
        res: dict[str, list[dict]] = {k: [] for k in KINDS if k in args.kinds or k == "engine"}
        loads = []
        for _ in range(args.runs):
            for kind in res:
                loads.append(os.getloadavg()[0])
                res[kind].append(_measure(kind, root, args.lake, args.month, args.cold,
                                          args.events_out, args.chunk_points))
        loads.append(os.getloadavg()[0])
        med = {}
        for kind, rs in res.items():
            secs = [r["seconds"] for r in rs if r.get("seconds") is not None]
            med[kind] = statistics.median(secs) if secs else None
            errs = [r["error"] for r in rs if r.get("error")]
            peak = max((r.get("peak_rss_gib") or 0) for r in rs)
            shown = None if med[kind] is None else round(med[kind], 2)
            cached = [None if r.get("cached") is None else round(100 * r["cached"])
                      for r in rs]
            extra = "".join(f", {k} {[r.get(k) for r in rs]}"
                            for k in ("cpu_s", "duckdb", "spill_mb", "kept_mb", "busy_threads",
                                      "top_thread_cpu_s", "rows")
                            if any(r.get(k) is not None for r in rs))
            print(f"{n} points {kind}: median {shown} s, runs {[round(s, 2) for s in secs]}, "
                  f"peak RSS {peak:.2f} GiB, lake in page cache before each run {cached} %"
                  + extra + (f", errors {errs}" if errs else ""), flush=True)
        for kind in ("qc", "job"):
            ok = [r for r in res.get(kind, []) if r.get("per")]
            if ok:
                per = {k: statistics.median(r["per"][k] for r in ok) for k in ok[-1]["per"]}
                print(f"{n} points {kind} per step (median s): "
                      + ", ".join(f"{k} {v:.2f}" for k, v in per.items())
                      + f"; events {ok[-1]['events']}", flush=True)
            ok = [r for r in ok if r.get("cpu_per")]
            if ok:  # session 18: CPU seconds per step, comparable under load
                cpu = {k: statistics.median(r["cpu_per"][k] for r in ok if k in r["cpu_per"])
                       for k in ok[-1]["cpu_per"]}
                print(f"{n} points {kind} per step (median CPU-s): "
                      + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()), flush=True)
        same = {(r.get("points"), r.get("compliant_hours"), r.get("production_hours"))
                for r in res["engine"] + res.get("job", []) + res.get("job-cmd", [])
                if r.get("seconds") is not None}
        print(f"{n} points engine and job verdict totals (points, compliant h, production h): "
              f"{sorted(same)} ({'same' if len(same) == 1 else 'DIFFERENT'})", flush=True)
        loadtxt = f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}"
        if med["engine"] and med.get("qc"):
            print(f"{n} points qc / engine = {med['qc'] / med['engine']:.2f}; {loadtxt}",
                  flush=True)
        if med.get("scan") and med.get("job"):
            print(f"{n} points job / bare DuckDB scan = {med['job'] / med['scan']:.2f}; "
                  f"engine / scan = {med['engine'] / med['scan']:.2f}", flush=True)
        for kind in ("job", "job-cmd"):
            if med["engine"] and med.get(kind):
                added = med[kind] - med["engine"]
                print(f"{n} points monthly {kind} (engine + qc on one scan) {med[kind]:.2f} s; "
                      f"added by qc = {kind} - engine = {added:.2f} s = "
                      f"{added / med['engine']:.2f} x the engine; {loadtxt}", flush=True)
        if med["engine"] and med.get("qc-cmd"):
            print(f"{n} points lantian qc (run_qc) / engine = "
                  f"{med['qc-cmd'] / med['engine']:.2f}; {loadtxt}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
