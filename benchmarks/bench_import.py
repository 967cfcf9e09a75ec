"""Benchmark of ``lantian import packets`` (issue 2: target ≥50,000 packets/s).

Re-run (one command; the lock keeps two benchmarks from running at once)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_import.py \
        --packets 100000 --runs 3
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_import.py \
        --packets 1000000 --loggers 1000 --runs 1 --only import,import-seq --file /tmp/p1m.txt
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_import.py \
        --packets 1000000 --loggers 1000 --runs 1 --only import --file /tmp/p1m.txt --cold

Generates flue-gas minute packets (HJ 212-2017, CN 2051, 11 factors with Avg/Min/Max/ZsAvg/
Cou/Flag as a CEMS sends them) with the codec's ``build_packet`` for ``--loggers`` data
loggers, writes them to a file (``--file`` keeps it for the next run), then times, each on a
fresh database:

* ``startup``: the CLI importing a one-packet file (interpreter start, building the CLI,
  creating and migrating the database) — paid once per run, reported apart;
* ``import``: the CLI ``lantian import packets FILE --db NEW`` in a subprocess (wall-clock,
  including start-up, decoding, storage, the final CHECKPOINT; with the CLI's default
  worker processes, or ``--workers``); ``import_s`` is the CLI's own timing of the import
  loop (without start-up); CPU includes the worker processes; peak RSS is the sum of the
  CLI process and its workers, sampled every 50 ms;
* ``import-seq``: the same with ``--workers 0`` (decoding in a thread of the CLI process,
  the path of session 2) — the baseline of the worker processes;
* ``decode``: the codec's columnar bulk decoder alone over the same lines (no storage);
* ``store``: ``PacketStore.ingest_columns`` alone on batches decoded beforehand;
* ``raw-load``: DuckDB reading the file's lines straight into a table (no decoding) — the
  floor for putting these bytes into DuckDB.

``--timeline`` adds, per import run, where the cores went (thread states and CPU sampled
every 50 ms, :class:`_Timeline`): the share of core time the import left idle at start-up,
in the middle and in its tail, and CPU by thread class (CLI main thread, writer + DuckDB
threads, forkserver, workers) — the pipeline's idle, meaningful on a quiet machine.

``--cold`` drops the page cache before each import run (root only): the input file, the
interpreter's and the libraries' files are then read from the disk. Each import run also
reports its I/O (``io``): bytes the CLI and its workers read from / wrote to the block layer
(``/proc/<pid>/io``, and the CLI process's ``getrusage`` blocks), the whole machine's disk
traffic and busy time over the run (``/proc/diskstats``: includes other processes), the
database file's final size and the largest size its write-ahead log reached.

Prints one JSON object per measurement (median of ``--runs``; wall-clock and CPU seconds,
CPU = user + system of all threads, the steadier figure on a shared machine; the load
average before and after).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# factor -> (typical value, decimals of the code table's format N n.m)
FACTORS = {
    "a34013": (5.0, 0),
    "a21026": (18.4, 2),
    "a21002": (35.1, 1),
    "a21005": (0.120, 3),
    "a21001": (1.1, 3),
    "a19001": (9.8, 1),
    "a00000": (152.3, 1),
    "a01011": (12.6, 2),
    "a01012": (118.0, 1),
    "a01013": (0.21, 3),
    "a01014": (8.9, 1),
}
CONC = {"a34013", "a21026", "a21002", "a21005", "a21001"}


def _r(v: float, nd: int) -> float | int:
    return round(v) if nd == 0 else round(v, nd)


def generate(path: Path, packets: int, loggers: int) -> None:
    """Minute packets like a flue-gas CEMS logger sends (about 700 bytes each)."""
    from lantian.hj212 import build_packet

    t0 = dt.datetime(2024, 1, 1)
    mns = [f"0100{i:020X}" for i in range(loggers)]
    with path.open("wb") as fh:
        for i in range(packets):
            mn = mns[i % loggers]
            t = t0 + dt.timedelta(minutes=i // loggers)
            values = {}
            for code, (base, nd) in FACTORS.items():
                v = _r(base * (1 + 0.05 * ((i * 7 + len(code)) % 11 - 5) / 5), nd)
                f = {"Avg": v}
                if code in CONC:
                    f.update(Min=_r(v * 0.9, nd), Max=_r(v * 1.1, nd), ZsAvg=_r(v * 1.2, nd))
                elif code == "a00000":
                    f["Cou"] = round(v * 60, 1)
                f["Flag"] = "N"
                values[code] = f
            ts = t.strftime("%Y%m%d%H%M%S")
            fh.write(
                build_packet(
                    st="31",
                    cn="2051",
                    pw="123456",
                    mn=mn,
                    data_time=ts,
                    qn=ts + "000",
                    values=values,
                )
            )


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _child_blocks() -> tuple[int, int]:
    """Blocks (512 bytes) read and written by waited-for children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_inblock, r.ru_oublock


def _disk_sectors() -> tuple[int, int, int]:
    """(sectors read, sectors written, ms spent doing I/O) of the whole machine's disks.

    Summed over the ``vd*`` / ``sd*`` / ``nvme*n*`` whole disks of ``/proc/diskstats``
    (machine-wide: includes the other engineers' I/O and the kernel's write-back).
    """
    import re

    r = w = ms = 0
    for line in Path("/proc/diskstats").read_text().splitlines():
        f = line.split()
        if re.fullmatch(r"vd[a-z]|sd[a-z]|nvme\d+n\d+", f[2]):
            r, w, ms = r + int(f[5]), w + int(f[9]), ms + int(f[12])
    return r, w, ms


_TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren … (the decoding workers hang below a forkserver)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(k) for k in (task / "children").read_text().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _io(pid: int) -> dict[str, int] | None:
    """``/proc/<pid>/io`` (rchar, wchar, read_bytes, write_bytes …) or None when gone."""
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    return {k: int(v) for k, v in (line.split(": ") for line in text.splitlines())}


def _drop_caches() -> None:
    """Write back dirty pages and drop the page cache (root only; cold-cache runs)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


#: I/O figures of the last :func:`run_import` (bytes; sizes of the database and its WAL).
LAST_IO: dict[str, int] = {}

#: ``--timeline`` figures of the last :func:`run_import` (see :class:`_Timeline`).
LAST_TIMELINE: dict[str, Any] = {}


def _threads(pid: int) -> dict[int, tuple[str, float]]:
    """``{tid: (state letter, CPU s)}`` of the threads of ``pid`` (empty when it is gone)."""
    out: dict[int, tuple[str, float]] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            f = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (f[0], (int(f[11]) + int(f[12])) / _TICK)
    return out


class _Timeline:
    """Where an import's cores go: per-thread state and CPU sampled every 50 ms.

    Classes: the CLI's main thread, its other threads (the writer thread and DuckDB's),
    the forkserver (a child of the CLI) and the decoding workers (its children). A sample's
    *runnable* count is the import's threads in state R (running or waiting for a core):
    on a machine with nothing else running, ``max(0, cores − runnable) / cores`` of the
    cores idle then — the share the pipeline leaves idle (start-up, stalls, the
    single-threaded tail), which wall-clock rates on a loaded machine cannot show. Phases:
    ``start`` until a worker first runs, ``tail`` after a worker last runs.
    """

    def __init__(self, cli: int) -> None:
        self.cli = cli
        self.samples: list[tuple[float, int, int]] = []  # (t, runnable, workers runnable)
        self.cpu: dict[tuple[str, int], float] = {}

    def sample(self, t: float) -> None:
        kids = {}
        try:
            for task in Path(f"/proc/{self.cli}/task").iterdir():
                for k in (task / "children").read_text().split():
                    kids[int(k)] = "forkserver"
        except OSError:
            return
        for fs in list(kids):
            for k in _descendants(fs):
                kids[k] = "workers"
        runnable = workers = 0
        for pid, cls in [(self.cli, "cli"), *kids.items()]:
            for tid, (state, cpu) in _threads(pid).items():
                c = ("cli_main" if tid == pid else "cli_threads") if cls == "cli" else cls
                self.cpu[(c, tid)] = cpu
                if state == "R":
                    runnable += 1
                    workers += cls == "workers"
        self.samples.append((t, runnable, workers))

    def summary(self, wall: float) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        s = self.samples
        if not s:
            return {}
        w = [i for i, x in enumerate(s) if x[2]]
        first, last = (w[0], w[-1]) if w else (len(s), len(s) - 1)

        def idle(part: list[tuple[float, int, int]]) -> float | None:
            if not part:
                return None
            return round(sum(max(0, cores - r) for _, r, _ in part) / (cores * len(part)), 3)

        cpu: dict[str, float] = {}
        for (c, _), v in self.cpu.items():
            cpu[c] = cpu.get(c, 0.0) + v
        return {
            "samples": len(s),
            "cores": cores,
            "idle_core_share": idle(s),
            "start_s": round(s[first][0], 2) if w else None,
            "start_idle_core_share": idle(s[:first]),
            "middle_idle_core_share": idle(s[first:last + 1]),
            "tail_s": round(wall - s[last][0], 2) if w else None,
            "tail_idle_core_share": idle(s[last + 1:]),
            "runnable_share": {
                str(k): round(sum(1 for _, r, _ in s if min(r, cores) == k) / len(s), 3)
                for k in range(cores + 1)
            },
            "cpu_s_by_thread_class": {k: round(v, 2) for k, v in sorted(cpu.items())},
        }


def run_import(
    path: Path,
    work: Path,
    batch_size: int | None = None,
    workers: int | None = None,
    cold: bool = False,
    timeline: bool = False,
) -> tuple[float, float, float, float, float]:
    """Time one CLI import on a fresh database.

    Returns (wall s, CPU s of the CLI and its workers, the CLI's own import seconds, peak RSS
    MB of the CLI and its workers, CPU s of the CLI process alone). The workers' CPU is read
    from ``/proc`` every 50 ms (up to 50 ms per worker may be missed at its end). With
    ``cold`` the page cache is dropped first (the input file is read from the disk). With
    ``timeline``, :data:`LAST_TIMELINE` gets :class:`_Timeline`'s figures.

    :data:`LAST_IO` gets the bytes the CLI process and its workers read from and wrote to
    the block layer (``/proc/<pid>/io`` read_bytes / write_bytes, last seen every 50 ms), the
    bytes they asked the kernel for (rchar / wchar), the database file's final size and the
    largest size its WAL reached.
    """
    import threading

    if cold:
        _drop_caches()

    db = work / f"imp-{time.monotonic_ns()}.duckdb"
    env = dict(os.environ, LANTIAN_NO_PROGRESS="1")
    extra = ["--batch-size", str(batch_size)] if batch_size else []
    if workers is not None:
        extra += ["--workers", str(workers)]
    c = _child_cpu()
    blocks0 = _child_blocks()
    disk0 = _disk_sectors()
    t = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "lantian"),
            "import",
            "packets",
            str(path),
            "--db",
            str(db),
            "--format",
            "json",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    peak = [0]
    cpu_of: dict[int, float] = {}  # descendants' CPU, last seen (they are not our children)
    io_of: dict[int, dict[str, int]] = {}  # the CLI's and its descendants' I/O, last seen
    wal = db.with_name(db.name + ".wal")
    wal_peak = [0]
    tl = _Timeline(proc.pid) if timeline else None

    def sample() -> None:
        while proc.poll() is None:
            if tl is not None:
                tl.sample(time.perf_counter() - t)
            kids = _descendants(proc.pid)
            peak[0] = max(peak[0], _rss_kb(proc.pid) + sum(map(_rss_kb, kids)))
            for k in kids:
                if (c := _cpu_s(k)) is not None:
                    cpu_of[k] = c
            for k in [proc.pid, *kids]:
                if (io := _io(k)) is not None:
                    io_of[k] = io
            with contextlib.suppress(OSError):
                wal_peak[0] = max(wal_peak[0], wal.stat().st_size)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    wall, cpu = time.perf_counter() - t, _child_cpu() - c
    disk1 = _disk_sectors()
    blocks1 = _child_blocks()
    sampler.join()
    cli_cpu = cpu
    cpu += sum(cpu_of.values())  # the workers (forked by a forkserver, never our children)
    if proc.returncode:
        raise SystemExit(f"import failed with exit code {proc.returncode}")
    LAST_IO.clear()
    for key in ("rchar", "wchar", "read_bytes", "write_bytes"):
        LAST_IO[key] = sum(io.get(key, 0) for io in io_of.values())
    LAST_IO["cli_read_bytes_rusage"] = (blocks1[0] - blocks0[0]) * 512
    LAST_IO["cli_write_bytes_rusage"] = (blocks1[1] - blocks0[1]) * 512
    LAST_IO["machine_disk_read_bytes"] = (disk1[0] - disk0[0]) * 512
    LAST_IO["machine_disk_write_bytes"] = (disk1[1] - disk0[1]) * 512
    LAST_IO["machine_disk_busy_ms"] = disk1[2] - disk0[2]
    LAST_IO["db_bytes"] = db.stat().st_size
    LAST_IO["wal_peak_bytes"] = wal_peak[0]
    LAST_TIMELINE.clear()
    if tl is not None:
        LAST_TIMELINE.update(tl.summary(wall))
    for p in work.glob(db.name + "*"):
        p.unlink()
    return wall, cpu, float(json.loads(out)["seconds"]), peak[0] / 1024, cli_cpu


def run_store(path: Path, work: Path, batch_size: int) -> tuple[float, float]:
    """``ingest_columns`` alone (decoded beforehand), including the final CHECKPOINT."""
    from lantian.hj212.columnar import column_decoder
    from lantian.store.columns import ColumnBatch
    from lantian.store.db import connect
    from lantian.store.ingest import PacketStore, cst_now

    lines = path.read_bytes().split(b"\n")
    lines = lines[:-1] if not lines[-1] else lines
    decode = column_decoder(True)
    batches = []
    for k in range(0, len(lines), batch_size):
        raws = lines[k : k + batch_size]
        batches.append(
            ColumnBatch(
                raw=raws,
                source=[f"file:b:{k + i + 1}" for i in range(len(raws))],
                received_at=[cst_now()] * len(raws),
                **decode(raws),
            )
        )
    db = work / f"store-{time.monotonic_ns()}.duckdb"
    con = connect(db)
    store = PacketStore(con)
    c = time.process_time()
    t = time.perf_counter()
    for b in batches:
        store.ingest_columns(b)
    store.checkpoint()
    el = time.perf_counter() - t, time.process_time() - c
    con.close()
    return el


def run_decode(path: Path) -> tuple[float, float]:
    from lantian.hj212.columnar import decode_batch

    lines = path.read_bytes().split(b"\n")
    c = time.process_time()
    t = time.perf_counter()
    for k in range(0, len(lines), 50_000):
        decode_batch(lines[k : k + 50_000])
    return time.perf_counter() - t, time.process_time() - c


def run_raw_load(path: Path, work: Path) -> tuple[float, float]:
    import duckdb

    con = duckdb.connect(str(work / f"raw-{time.monotonic_ns()}.duckdb"))
    c = time.process_time()
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE raw AS SELECT line::BLOB AS raw "
        "FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\\x01', "
        "quote = '', escape = '', header = false)",
        [str(path)],
    )
    con.execute("CHECKPOINT")
    el = time.perf_counter() - t, time.process_time() - c
    con.close()
    return el


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=100_000)
    ap.add_argument("--loggers", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--batch-size", type=int, default=None, help="passed to the CLI (default: the CLI's own)"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        help="passed to the CLI for 'import' (default: the CLI's own, one per CPU)",
    )
    ap.add_argument(
        "--only",
        default="startup,import,import-seq,decode,store,raw-load",
        help="comma-separated measurements",
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="drop the page cache before each import run (root; the input is read from disk)",
    )
    ap.add_argument(
        "--timeline",
        action="store_true",
        help="per import run, where the cores go: idle share (start, middle, tail) and CPU "
        "by thread class, from thread states sampled every 50 ms",
    )
    ap.add_argument(
        "--file",
        type=Path,
        default=None,
        help="packet file to reuse (generated there when missing)",
    )
    args = ap.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        path = args.file or work / "packets.txt"
        if not path.exists():
            generate(path, args.packets, args.loggers)
        one = work / "one.txt"
        with path.open("rb") as fh:
            one.write_bytes(fh.readline())
        size = path.stat().st_size
        common = {
            "packets": args.packets,
            "loggers": args.loggers,
            "bytes": size,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}",
        }
        store_batch = args.batch_size or 50_000
        tests: dict[str, Any] = {
            "startup": lambda: run_import(one, work)[:2],
            "import": lambda: run_import(path, work, args.batch_size, args.workers, args.cold,
                                         args.timeline),
            "import-seq": lambda: run_import(path, work, args.batch_size, 0, args.cold),
            "decode": lambda: run_decode(path),
            "store": lambda: run_store(path, work, store_batch),
            "raw-load": lambda: run_raw_load(path, work),
        }
        for name, fn in tests.items():
            if name not in only:
                continue
            load_before = os.getloadavg()[0]
            runs, ios, timelines = [], [], []
            for _ in range(args.runs):
                runs.append(fn())
                ios.append(dict(LAST_IO))
                timelines.append(dict(LAST_TIMELINE))
            n = 1 if name == "startup" else args.packets
            med = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            out = {
                **common,
                "what": name,
                "wall_s": [round(r[0], 2) for r in runs],
                "cpu_s": [round(r[1], 2) for r in runs],
                "median_wall_s": round(med, 2),
                "median_cpu_s": round(cpu, 2),
                "packets_per_s_wall": round(n / med) if name != "startup" else None,
                "packets_per_cpu_s": round(n / cpu) if name != "startup" else None,
                "load_avg_before": load_before,
                "load_avg_after": os.getloadavg()[0],
            }
            if name.startswith("import"):
                loop = statistics.median(r[2] for r in runs)
                out["median_import_loop_s"] = round(loop, 2)
                out["packets_per_s_import_loop"] = round(n / loop)
                out["peak_rss_mb"] = [round(r[3]) for r in runs]
                cli = statistics.median(r[4] for r in runs)
                # the CLI process alone (reading, assembling, DuckDB) and the rest (workers,
                # forkserver); per packet [µs]
                out["cli_cpu_s"] = round(cli, 2)
                out["cli_us_per_packet"] = round(cli / n * 1e6, 1)
                out["workers_us_per_packet"] = round((cpu - cli) / n * 1e6, 1)
                out["cold_cache"] = args.cold
                out["io"] = ios
                if args.timeline and name == "import":
                    out["timeline"] = timelines
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
