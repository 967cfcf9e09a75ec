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
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_engine():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_engine", HERE / "bench_engine.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, default=HERE / "data" / "province")
    ap.add_argument("--month", default="2024-06")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)

    import os

    from lantian.engine import backends
    from lantian.engine.hours import column_of, valid_hours
    from lantian.engine.quality import load_thresholds, process
    from lantian.engine.quality import statistics as st
    from lantian.engine.quality.inputs import limit_memory, read_inputs

    be = _bench_engine()
    be.MONTH = args.month
    th = load_thresholds()
    for n in args.sizes:
        root = be.subset(args.lake, n)
        con = backends.connect("duckdb", db=be.registry_db(args.lake), lake=root)
        limit_memory(con)
        kw = read_inputs(con, args.month, th)
        keys = list(kw.get("keys", ("pm", "so2", "nox")))
        minute = kw["minute"]
        wanted = {"mn", "ts"}
        for k in (*keys, "o2", "flow", "temp"):
            wanted |= {column_of(k), f"{k}_flag"}
        narrow = minute.select(*[c for c in minute.columns
                                 if c in wanted or c.endswith("_flag")])
        t0 = time.perf_counter()
        vh = valid_hours(narrow, keys)
        cols = ["mn", "ts", "flow_raw"]
        for k in (*keys, "o2"):
            cols += [column_of(k), f"{k}_valid"]
        hours = process.running_hours(vh.select(*cols), th).cache()
        hl = st.hour_long(hours, keys, kw["limits"]).cache()
        build = time.perf_counter() - t0
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


if __name__ == "__main__":
    sys.exit(main())
