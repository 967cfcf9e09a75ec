"""Time of the monthly job's kept frames after the block scan, one by one (qcframes13, s13).

Re-run on two trees (A = the code before, B = after; same session, under the bench lock)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_frames.py \\
        --lake benchmarks/data/province --sizes 500 --runs 3

On the first N points of the lake, as the monthly job reads them
(:func:`lantian.engine.quality.job.shared_blocks`, kept once, with the reference flow and the
running hours), each frame below is built and kept (``.cache()``) ``--runs`` times, in turn:

* ``zero_presence``: :func:`lantian.engine.quality.values.zero_presence` (the job's kept 11);
* ``frozen+near``: :func:`~lantian.engine.quality.blocks.frozen_blocks` kept, then
  :func:`~lantian.engine.quality.values.constant_near`'s ``near`` kept (the job's kept 7, 8).

Prints per frame the median wall-clock and process CPU seconds (DuckDB's threads included:
on a shared machine the CPU time swings much less than the wall time), the rows and a
digest of the sorted result, so the two trees' outputs can be compared, and the load
average.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time


def _digest(df) -> str:
    """Digest of a frame's rows in sorted order (same rows, same digest)."""
    cols = sorted(df.columns)
    rows = sorted(map(tuple, df[cols].astype(str).values.tolist()))
    return hashlib.sha1(repr((cols, rows)).encode()).hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    import bench_engine as be  # this script's own folder
    from bench_qc_detectors import lake_parser

    args = lake_parser(__doc__).parse_args(argv)

    from lantian.engine import backends
    from lantian.engine.assess import month_keys
    from lantian.engine.hours import column_of
    from lantian.engine.quality import load_thresholds, process, values
    from lantian.engine.quality.blocks import block_hours, frozen_blocks
    from lantian.engine.quality.frames import reference_flow
    from lantian.engine.quality.inputs import limit_memory, read_inputs
    from lantian.engine.quality.job import shared_blocks

    be.MONTH = args.month
    th = load_thresholds()
    for n in args.sizes:
        con = backends.connect("duckdb", db=be.registry_db(args.lake),
                               lake=be.subset(args.lake, n))
        limit_memory(con)
        kw = read_inputs(con, args.month, th)
        keys, minute = list(kw["keys"]), kw["minute"]
        t0 = time.perf_counter()
        blocks = shared_blocks(minute, keys, month_keys(minute), th).cache()
        wanted = {"mn", "ts", column_of("flow")}
        narrow = minute.select(*[c for c in minute.columns if c in wanted])
        ref = reference_flow(narrow).cache()
        hours = process.running_hours(block_hours(blocks, keys, th), th).cache()
        build = time.perf_counter() - t0
        chans = [*keys, "o2", "flow"]

        def near(ref=ref, blocks=blocks, chans=chans):
            fz = frozen_blocks(blocks, ref, chans, th).cache()
            return values.constant_near(fz, chans)[1].cache()

        frames = {
            "zero_presence": lambda hours=hours, blocks=blocks, keys=keys, kw=kw:
                values.zero_presence(hours, blocks, keys, ranges=kw["ranges"], th=th).cache(),
            "frozen+near": near,
        }
        wall: dict[str, list[float]] = {k: [] for k in frames}
        cpu: dict[str, list[float]] = {k: [] for k in frames}
        out = {}
        loads = [os.getloadavg()[0]]
        for _ in range(args.runs):
            for name, make in frames.items():
                t1, c1 = time.perf_counter(), time.process_time()
                kept = make()
                wall[name].append(time.perf_counter() - t1)
                cpu[name].append(time.process_time() - c1)
                out[name] = kept.execute()
            loads.append(os.getloadavg()[0])
        print(f"{n} points: block scan, reference flow and hours kept in {build:.1f} s; "
              f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")
        for name in frames:
            print(f"  {name}: median {statistics.median(wall[name]):.2f} s wall, "
                  f"{statistics.median(cpu[name]):.2f} s CPU; runs "
                  f"{[round(x, 2) for x in wall[name]]} / {[round(x, 2) for x in cpu[name]]}; "
                  f"{len(out[name])} rows, digest {_digest(out[name])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
