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


def _bench_detectors():
    import bench_qc_detectors  # this script's own folder

    return bench_qc_detectors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, default=HERE / "data" / "province")
    ap.add_argument("--month", default="2024-06")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
