"""Micro-benchmark: the gateway's journal-log materialiser on fixed batches (thread CPU).

The path measured is the live one: gateway frames (``loadgen.make_packets``, CN 2051, the
closed loop's packet) decoded by the gateway's decoder (``gwstore.decode_log``) in batches
of ``--batch`` (the group commit), appended to a file journal log, and copied into DuckDB by
:class:`lantian.store.logmaterialise.LogMaterialiser` in runs of ``--run`` records
(``prepare_batch`` + ``PacketStore.ingest_prepared``: journal line, ``packet_key``,
``flue_minute``, watermark, COMMIT). What is reported is the thread CPU of ``run()``
(:func:`time.thread_time`) per packet, the median over the runs after ``--warm`` first
runs; DuckDB runs with 1 thread (``gateway.toml [materialise] duckdb_threads``), so its
work is on the calling thread. Every run is checked: the rows written equal the packets.

Session 9 (gw9): ``checkpoint_us_per_packet`` = the thread CPU of a ``CHECKPOINT`` after the
measured runs (the warm runs' log is folded before them, uncounted) per measured packet.
DuckDB folds its write-ahead log into the file once it passes ``checkpoint_threshold`` (256 MiB,
≈ 170,000 packets) or every 300 s, on the materialiser's thread; runs shorter than that never
show it (≈ 17 µs/packet beside ≈ 24 for the runs, shared machine), so the sustained cost of the
materialiser is the sum of the two figures.

``--profile FILE`` writes a cProfile of the measured runs (``python -m pstats FILE``).

Examples::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_materialise.py
    .venv/bin/python benchmarks/bench_materialise.py --loggers 1000 --minutes 60 --run 20000
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _packets(loggers: int, minutes: int, prefix: str) -> list[bytes]:
    """Frames in arrival order: every logger's minute k before any logger's minute k + 1."""
    from lantian.hj212.loadgen import make_packets, mn_of

    t0 = dt.datetime(2026, 11, 1)
    times = [t0 + dt.timedelta(minutes=k) for k in range(minutes)]
    per = [make_packets(mn_of(prefix, i), "123456", "2051", times, seq0=i)
           for i in range(loggers)]
    return [per[i][k] for k in range(minutes) for i in range(loggers)]


def measure(a: argparse.Namespace) -> dict[str, Any]:
    """Materialise ``loggers × minutes`` packets; thread CPU per packet of each run."""
    from lantian.hj212.gwstore import decode_log
    from lantian.store.db import connect
    from lantian.store.ingest import PacketStore
    from lantian.store.journal_log import JournalLog
    from lantian.store.logmaterialise import LogMaterialiser

    frames = _packets(a.loggers, a.minutes, a.prefix)
    now = dt.datetime(2026, 11, 23, 12, 0, 0)
    with tempfile.TemporaryDirectory(prefix="lantian-bmat-") as tmp:
        con = connect(Path(tmp) / "m.duckdb")
        con.execute("SET threads = 1")
        con.execute("SET checkpoint_threshold = '256MiB'")
        cur = con.cursor()
        store = PacketStore(cur)
        jlog = JournalLog(Path(tmp) / "m.journal")
        mat = LogMaterialiser(jlog, store, decode_log, memory_max=10 ** 9)
        per_packet: list[float] = []
        run_n: list[int] = []
        prof = cProfile.Profile() if a.profile else None
        pending = 0
        runs = 0
        for s in range(0, len(frames), a.batch):
            raw = frames[s:s + a.batch]
            peers = [f"127.0.0.1:{40000 + (s + i) % 20000}" for i in range(len(raw))]
            received = [now] * len(raw)
            batch = decode_log(raw, peers, received)
            seg, ends = jlog.append_columns(batch.raw, batch.source, received)
            mat.add(batch, seg, ends)
            pending += len(raw)
            if pending < a.run and s + a.batch < len(frames):
                continue
            measured = runs >= a.warm
            if runs == a.warm:  # the warm runs' write-ahead log folded now, not counted
                cur.execute("CHECKPOINT")
            if prof is not None and measured:
                prof.enable()
            t0 = time.thread_time()
            n = mat.run()
            cpu = time.thread_time() - t0
            if prof is not None and measured:
                prof.disable()
            run_n.append(n)
            if measured:
                per_packet.append(cpu / n * 1e6)
            runs += 1
            pending = 0
        t0 = time.thread_time()
        cur.execute("CHECKPOINT")  # the measured runs' log folded into the file
        checkpoint = time.thread_time() - t0
        measured_n = sum(run_n[a.warm:])
        stored = cur.execute("SELECT count(*) FROM flue_minute").fetchone()
        journal = cur.execute("SELECT count(*) FROM packet_journal").fetchone()
        con.close()
    if not stored or stored[0] != len(frames) or not journal or journal[0] != len(frames):
        raise SystemExit(f"rows written {stored} / journal {journal} != {len(frames)} packets")
    if prof is not None:
        prof.dump_stats(a.profile)
    return {
        "packets": len(frames), "batch": a.batch, "run": a.run, "runs_measured": len(per_packet),
        "mat_us_per_packet_median": round(statistics.median(per_packet), 2),
        "mat_us_per_packet_runs": [round(x, 2) for x in per_packet],
        "checkpoint_us_per_packet": round(checkpoint / max(measured_n, 1) * 1e6, 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line (module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--loggers", type=int, default=1000)
    p.add_argument("--minutes", type=int, default=60, help="packets per logger")
    p.add_argument("--batch", type=int, default=750, help="records per journal-log append")
    p.add_argument("--run", type=int, default=5000, help="records per materialiser run")
    p.add_argument("--warm", type=int, default=2, help="first runs not measured")
    p.add_argument("--prefix", default="8888", help="MN prefix (all digits: fast decoder)")
    p.add_argument("--profile", default=None, help="cProfile output file")
    a = p.parse_args(argv)
    json.dump(measure(a), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
