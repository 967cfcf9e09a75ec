"""Time added by ``spike``'s minute-level abruptness test (engineer "qc-spike", session 3).

Re-run (the engine's province lake, ``benchmarks/gen_province.py``)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_spike.py \
        --lake benchmarks/data/province --sizes 500 --runs 3

On the first N points of the lake, as ``lantian qc`` reads them (``read_inputs``), the long
hour frame of ``spike`` is built once and kept (``.cache()``, as ``qc`` keeps it), then
``spike(hl, th)`` (hourly shoulder test only) and ``spike(hl, th, minutes=...,
materialize=cache)`` (minutes of the candidate runs; the time includes keeping the candidate
runs) are executed alternately ``--runs`` times each. Prints the medians, the
difference (the time the minute test adds) and the events of each. Wall-clock seconds.

``--blind SEED [--points N --days D]`` (qcspike9, session 9) instead times what the minute
candidates add (``spike_candidates(hl, th, blocks=...)``, :func:`~lantian.engine.quality
.spikes.minute_candidates`) on one case of ``benchmarks/qc_blind.py``: the minute blocks and
the long hours are built and kept once (``.cache()``), then ``spike`` with the candidates
of the hours only and with the block candidates too are executed alternately ``--runs``
times each (wall and process CPU seconds, medians, events of each), and the block scan
itself once per run (qcspike11: it carries spike's one-minute steps since session 11)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_spike.py \
        --blind 1 --points 40 --days 31 --runs 5

``--frames DIR`` (qcspike14, session 14) times the monthly job's kept spike candidates alone
(``spike_candidates(hl, th, blocks=...)``, "kept 5" of ``bench_qc.py --child job``) at the
job's scale and memory limit (``limit_memory``: 5 GB, spilling to a new temporary directory,
capped at ``--max-temp``), from the job's kept block scan and long hours written once by
``--dump-from LAKE`` (the job up to its kept long hours: ``DIR/blocks.parquet`` and
``DIR/hl.parquet``; at 5,000 points ~6 min and 0.9 GB)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_spike.py \
        --frames /tmp/p5000 --dump-from benchmarks/data/province5000
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_spike.py --frames /tmp/p5000

Where ``spike_candidates`` takes the caller's ``materialize`` hook (qcspike15) it gets
``t.cache()`` (the job keeps them compressed, ``job.compressed_keep``), so its candidate
blocks are kept as their own frames as in the job; an older tree (``PYTHONPATH``) is timed
without it, for an A/B.
Prints the candidate rows, wall and process CPU seconds, peak RSS and the load average
(a failure, e.g. DuckDB out of memory or over ``--max-temp``, is printed as it is).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_detectors():
    import bench_qc_detectors  # this script's own folder

    return bench_qc_detectors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, default=HERE / "data" / "province")
    ap.add_argument("--month", default="2024-06")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--blind", type=int, default=None, help="time the minute candidates on "
                    "this seed of benchmarks/qc_blind.py instead of the lake")
    ap.add_argument("--points", type=int, default=40)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--frames", type=Path, default=None, help="time the job's kept spike "
                    "candidates on the kept frames written to this directory")
    ap.add_argument("--dump-from", type=Path, default=None, help="with --frames: first write "
                    "the job's kept frames of this lake there")
    ap.add_argument("--max-temp", default="15GB", help="with --frames: DuckDB's "
                    "max_temp_directory_size")
    args = ap.parse_args(argv)
    if args.frames is not None:
        if args.dump_from is not None:
            _dump_frames(args.dump_from, args.month, args.frames)
        return _frames(args.frames, args.max_temp)
    if args.blind is not None:
        return _blind(args.blind, args.points, args.days, args.runs)

    import os

    from lantian.engine.quality import statistics as st

    det = _bench_detectors()
    for n in args.sizes:
        con, th, narrow, _hours, hl, build = det.kept_hours(args.lake, args.month, n)
        times: dict[str, list[float]] = {"hourly": [], "minutes": []}
        events: dict[str, int] = {}
        for _ in range(args.runs):
            for name, with_minutes in (("hourly", False), ("minutes", True)):
                t1 = time.perf_counter()  # building counts: materialize executes
                expr = (st.spike(hl, th, minutes=narrow, materialize=lambda t: t.cache())
                        if with_minutes else st.spike(hl, th))
                events[name] = len(con.execute(expr))
                times[name].append(time.perf_counter() - t1)
        med = {k: statistics.median(v) for k, v in times.items()}
        load = os.getloadavg()[0]
        print(f"{n} points: hours+hour_long kept {build:.1f} s; spike hourly-only "
              f"{med['hourly']:.2f} s ({events['hourly']} events), with minutes "
              f"{med['minutes']:.2f} s ({events['minutes']} events); added "
              f"{med['minutes'] - med['hourly']:+.2f} s; runs {times}; load {load:.2f}")
        con.disconnect()
    return 0


def _blind(seed: int, points: int, days: int, runs: int) -> int:
    """Time ``spike`` with and without the block candidates on one qc_blind case."""
    import os

    import ibis
    import qc_blind  # this script's own folder

    from lantian.engine.quality import load_thresholds, process
    from lantian.engine.quality import statistics as st
    from lantian.engine.quality.blocks import block_hours, minute_blocks
    from lantian.engine.quality.inputs import point_limits

    case = qc_blind.build_case(seed, points, days)
    con = ibis.duckdb.connect()
    th = load_thresholds()
    keys = ["pm", "so2", "nox"]
    minute = con.create_table("flue_minute", case.minute, overwrite=True)
    limits = point_limits(case.points, pd_date(case.month))
    blocks = minute_blocks(minute, keys, th).cache()
    hours = process.running_hours(block_hours(blocks, keys, th), th).cache()
    hl = st.hour_long(hours, keys, limits).cache()
    times: dict[str, list[float]] = {"hours": [], "blocks": [], "scan": []}
    cpu: dict[str, list[float]] = {"hours": [], "blocks": [], "scan": []}
    events: dict[str, int] = {}
    for _ in range(runs):
        # the block scan itself (every detector's one read of the minutes; since session 11
        # it carries spike's one-minute steps dx_k, a window over the minutes), kept as
        # lantian qc keeps it
        t0, c0 = time.perf_counter(), time.process_time()
        con.create_table("bench_scan", minute_blocks(minute, keys, th), temp=True,
                         overwrite=True)
        times["scan"].append(time.perf_counter() - t0)
        cpu["scan"].append(time.process_time() - c0)
        for name, b in (("hours", None), ("blocks", blocks)):
            t0, c0 = time.perf_counter(), time.process_time()
            c = st.spike_candidates(hl, th, blocks=b).cache()
            events[name] = len(con.execute(st.spike(hl, th, minutes=minute, candidates=c)))
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"blind seed {seed}, {len(case.minute):,} minute rows: spike from hourly candidates "
          f"{med['hours']:.2f} s wall / {mcpu['hours']:.2f} s CPU ({events['hours']} events), "
          f"with block candidates {med['blocks']:.2f} / {mcpu['blocks']:.2f} s "
          f"({events['blocks']} events); block scan {med['scan']:.2f} / {mcpu['scan']:.2f} s; "
          f"runs {times}; load {os.getloadavg()[0]:.2f}")
    return 0


def _dump_frames(lake: Path, month: str, out: Path) -> None:
    """Write the monthly job's kept block scan (1st kept frame) and long hours (4th)."""
    import bench_qc  # this script's own folder

    from lantian.engine import backends
    from lantian.engine.quality import load_thresholds
    from lantian.engine.quality.inputs import limit_memory, read_inputs
    from lantian.engine.quality.job import assess_and_detect

    out.mkdir(parents=True, exist_ok=True)
    con = backends.connect("duckdb", db=bench_qc.bench_engine().registry_db(lake), lake=lake)
    limit_memory(con)
    kw = read_inputs(con, month, load_thresholds())
    blocks_written = []

    class _Done(Exception):
        pass

    def keep(t):
        # known by their columns (the job keeps other frames between them); the block
        # table is written when the hours are kept: the job appends point ranges to it
        # after keeping it (keep_shared_blocks)
        c = t.cache()
        if "block" in c.columns and any(x.startswith("hi_") for x in c.columns):
            blocks_written.append(c)
        if set(c.columns) == {"mn", "ts", "pollutant", "value", "idx"} and blocks_written:
            blocks_written[-1].to_parquet(out / "blocks.parquet")
            c.to_parquet(out / "hl.parquet")
            raise _Done
        return c

    try:
        assess_and_detect(con, kw, materialize=keep)
    except _Done:
        if blocks_written:
            return
    raise RuntimeError("the job kept no block scan or no long hours: not written")


def _frames(d: Path, max_temp: str) -> int:
    """Time ``spike_candidates`` kept (a temporary table) on the dumped frames of ``d``."""
    import inspect
    import os
    import resource

    import ibis

    from lantian.engine.quality import load_thresholds
    from lantian.engine.quality import statistics as st
    from lantian.engine.quality.inputs import limit_memory

    con = ibis.duckdb.connect()
    limit_memory(con)
    con.raw_sql(f"SET max_temp_directory_size = '{max_temp}'")
    th = load_thresholds()
    blocks = con.create_table("blocks", con.read_parquet(d / "blocks.parquet"), temp=True)
    hl = con.create_table("hl", con.read_parquet(d / "hl.parquet"), temp=True)
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        # the job's hook where the code takes one (its frames kept as it keeps them)
        kw = ({"materialize": lambda t: t.cache()} if "materialize" in
              inspect.signature(st.spike_candidates).parameters else {})
        rows = st.spike_candidates(hl, th, blocks=blocks, **kw).cache().count().execute()
    except Exception as ex:  # e.g. DuckDB out of memory: the figure is the failure
        rows = f"failed: {str(ex).splitlines()[0]}"
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"spike candidates kept: {rows} rows, {wall:.1f} s wall, {cpu:.1f} CPU-s, "
          f"peak RSS {peak:.2f} GiB (blocks {blocks.count().execute():,}, hours "
          f"{hl.count().execute():,}); load {os.getloadavg()}")
    return 0


def pd_date(month: str):
    """The first day of ``month`` (``YYYY-MM``)."""
    import datetime as dt

    return dt.date.fromisoformat(month + "-01")


if __name__ == "__main__":
    sys.exit(main())
