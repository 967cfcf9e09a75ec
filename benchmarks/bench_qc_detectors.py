"""Time of ``level_shift`` and ``spike`` with and without their screens (engineer "qcstats", s5).

Re-run (the engine's province lake, ``benchmarks/gen_province.py``)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_detectors.py \\
        --lake benchmarks/data/province --sizes 500 --runs 3

On the first N points of the lake, as ``lantian qc`` reads them (``read_inputs``), the
running hours and the long hour frame (``hour_long``) are built once and kept
(``.cache()``, as ``qc`` keeps them). Then, alternately ``--runs`` times each:
``level_shift(hl, th, load=flow)`` and ``spike(hl, th, minutes=..., materialize=cache)``
(candidate runs and the minute test included), each with ``screen=False`` (rolling windows
over every hour: the session-4 path) and ``screen=True`` (block-quantile bounds, windows for
the few hours that pass). Prints the medians (wall-clock seconds), the ratio, the events of
each path and whether they are identical, the share of hours / series the screens pass,
and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_engine():
    import bench_engine  # this script's own folder

    return bench_engine


def _key(df):
    cols = ["mn", "detector", "pollutant", "start", "end", "severity", "evidence"]
    return sorted(map(tuple, df[cols].astype(str).values.tolist()))


def kept_hours(lake: Path, month: str, n: int):
    """The first ``n`` points of ``lake`` as ``lantian qc`` reads them, hours kept.

    Returns ``(con, th, narrow, hours, hl, seconds)``: the DuckDB backend, the thresholds,
    the narrow minute table, the running hours and ``hour_long`` (both ``.cache()``d) and the
    seconds building them took. Shared with ``bench_qc_spike.py``.
    """
    from lantian.engine import backends
    from lantian.engine.hours import column_of, valid_hours
    from lantian.engine.quality import load_thresholds, process
    from lantian.engine.quality import statistics as st
    from lantian.engine.quality.inputs import limit_memory, read_inputs

    be = _bench_engine()
    be.MONTH = month
    th = load_thresholds()
    con = backends.connect("duckdb", db=be.registry_db(lake), lake=be.subset(lake, n))
    limit_memory(con)
    kw = read_inputs(con, month, th)
    keys = list(kw.get("keys", ("pm", "so2", "nox")))
    minute = kw["minute"]
    wanted = {"mn", "ts"}
    for k in (*keys, "o2", "flow", "temp"):
        wanted |= {column_of(k), f"{k}_flag"}
    narrow = minute.select(*[c for c in minute.columns if c in wanted or c.endswith("_flag")])
    t0 = time.perf_counter()
    vh = valid_hours(narrow, keys)
    cols = ["mn", "ts", "flow_raw"]
    for k in (*keys, "o2"):
        cols += [column_of(k), f"{k}_valid"]
    hours = process.running_hours(vh.select(*cols), th).cache()
    hl = st.hour_long(hours, keys, kw["limits"]).cache()
    return con, th, narrow, hours, hl, time.perf_counter() - t0


def lake_parser(doc: str) -> argparse.ArgumentParser:
    """The options of a benchmark on the first N points of the province lake.

    ``--lake``, ``--month``, ``--sizes`` (numbers of points), ``--runs``; shared with
    ``bench_qc_frames.py``.
    """
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--lake", type=Path, default=HERE / "data" / "province")
    ap.add_argument("--month", default="2024-06")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500])
    ap.add_argument("--runs", type=int, default=3)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = lake_parser(__doc__).parse_args(argv)

    from lantian.engine.quality import statistics as st

    for n in args.sizes:
        con, th, narrow, hours, hl, build = kept_hours(args.lake, args.month, n)
        load = hours.filter(hours.running).select("mn", "ts", load=hours.flow_raw)
        nhl = con.execute(hl.count())
        nser = con.execute(hl.select("mn", "pollutant").distinct().count())
        pass_ser = con.execute(st.shift_screen(hl, th).count())
        pass_h = con.execute(st.spike_windows(hl, th).count())

        def job(name, screen, hl=hl, load=load, narrow=narrow, th=th):
            if name == "level_shift":
                return st.level_shift(hl, th, load=load, screen=screen)
            return st.spike(hl, th, minutes=narrow, materialize=lambda t: t.cache(),
                            screen=screen)

        times: dict[tuple[str, bool], list[float]] = {}
        events = {}
        for _ in range(args.runs):
            for name in ("level_shift", "spike"):
                for screen in (False, True):
                    t1 = time.perf_counter()  # building counts: materialize executes
                    events[name, screen] = con.execute(job(name, screen))
                    times.setdefault((name, screen), []).append(time.perf_counter() - t1)
        la = os.getloadavg()
        print(f"{n} points: {nhl} stacked running hours in {nser} series; hours+hour_long "
              f"kept {build:.1f} s; screens pass {pass_ser} series (level_shift), "
              f"{pass_h} hours ({100 * pass_h / max(nhl, 1):.2f} %, spike)")
        for name in ("level_shift", "spike"):
            a = statistics.median(times[name, False])
            b = statistics.median(times[name, True])
            same = _key(events[name, False]) == _key(events[name, True])
            print(f"  {name}: windows {a:.2f} s, screened {b:.2f} s (x{a / b:.1f}); events "
                  f"{len(events[name, False])} / {len(events[name, True])}, identical "
                  f"{same}; runs {[round(x, 2) for x in times[name, False]]} / "
                  f"{[round(x, 2) for x in times[name, True]]}")
        print(f"  load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
        con.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
