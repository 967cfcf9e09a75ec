"""Gateway benchmarks: the Lantian gateway beside a bare asyncio server, same load generator.

Run by hand (never as a timed test), one benchmark at a time on the machine::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_gateway.py \
        --prefix 8888 --runs 2 --duration 8 --open-duration 15
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_gateway.py parts

A/B in the same run (session 4): ``--ab-settings FILE`` adds a third server, ``gateway-B``,
``lantian serve --settings FILE`` (e.g. ``[materialise] journal_first = false``: the values
in the acknowledging commit, as in sessions 1-3), interleaved with the other two::

    sed 's/^journal_first = true/journal_first = false/' src/lantian/catalog/data/gateway.toml \
        > /tmp/rowcommit.toml
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_gateway.py \
        --prefix 8888 --runs 2 --duration 8 --open-duration 15 --ab-settings /tmp/rowcommit.toml

Session 5 (engineer "gwloop"): ``--ab-src DIR`` runs gateway-B from another source tree
(``PYTHONPATH=DIR``), e.g. the session-4 code as the "before" of an A/B in the same run::

    rm -rf /tmp/gw-before && mkdir -p /tmp/gw-before
    git archive 969028b src | tar -x -C /tmp/gw-before
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_gateway.py \
        --prefix 8888 --runs 2 --duration 8 --open-duration 15 --ab-src /tmp/gw-before/src

Session 6 (engineer "gwloop"; the brief's command, B = the tree at the start of session 6)::

    mkdir -p /tmp/gw-before && git archive 9e5ab1a src | tar -x -C /tmp/gw-before
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_gateway.py \
        --prefix 8888 --runs 2 --duration 8 --open-duration 15 --ab-src /tmp/gw-before/src
    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_gateway.py \
        --prefix 8888 --runs 3 --open-duration 15 --only open --ab-src /tmp/gw-before/src

Closed-loop rows now also carry ``acks_all`` (every acknowledgement, warm-up included),
``cpu_us_per_packet_all`` / ``threads_us_per_packet_all`` (the server's CPU over those: the
per-window figures divide the warm-up's CPU by the window's packets too) and ``loadavg_1m``;
the load generator prepares ``--pool`` distinct packets (400,000: none sent twice).

Session 7 (engineer "gwloop7"): closed-loop rows carry the round trip of each packet in the
window (written → its 9014 read; ``rtt_p50_ms``, ``rtt_p90_ms``, ``rtt_p99_ms``,
``rtt_mean_ms``: with one packet outstanding per connection, rate = connections ÷ mean round
trip), and gateway rows the writer's timeline per batch (``cycle_ms_per_batch``: ``commit`` =
handed to the log writer → durable, ``answer_wait`` = durable → the loop starts answering,
``answer`` = the answers, ``idle`` = the log writer's gap between one batch becoming durable
and the next being handed over).

Session 8 (engineer "gwloop8"): ``--ab-bare`` (with ``--ab-src``) adds ``bare-B``, the bare
server with gateway-B's ``PYTHONPATH``, so that a change of the environment (another event
loop, e.g. uvloop through a ``sitecustomize`` on the A side's path) is compared as
gateway / bare against gateway-B / bare-B in the same run.

Each gateway row carries ``threads_us_per_packet``: the server's CPU per acknowledged packet
split by OS thread name (``/proc/PID/task/*/comm``): ``loop`` = the event-loop (main) thread,
``lantian-db_0`` = the database thread and the DuckDB threads it started, ``lantian-decode_`` =
the decoder thread, others as named (threads are named by the gateway since session 5; an
older tree's threads all show as ``lantian``).

Journal-first (session 4): after the load the script waits ``--settle`` seconds (default 2.5,
more than the materialiser's 1 s interval) before reading the server's CPU, so the CPU per
packet includes the materialiser's runs; each gateway run writes ``--status-file`` and the
rows carry the materialiser's figures (CPU, max lag, packets waiting at most, the time from
the last journal commit to the run that wrote its values = the wide tables' catch-up) and a
closed-loop rate counted until the wide tables caught up (``rate_caught_up``).

``parts`` measures, in this process, the CPU per packet of each stage of the gateway's batch
path (decode, batch building, the store's commit, 9014 replies + talk-back) at batch sizes
60 and 1,000 — where the gateway's time goes, without sockets.

Servers and the load generator run as separate processes:

- **bare**: an asyncio server (this file, ``bare`` sub-command) that only frames (the codec's
  ``Framer``) and acknowledges each frame with a 9014 carrying its QN: no parsing, no
  authentication, no storage;
- **gateway**: ``lantian serve --http-port 0`` over a DuckDB file with the MNs registered,
  acknowledging only after the group commit.

Load (``python -m lantian.hj212.loadgen``): closed loop at 1,000 and 10,000 connections
(acknowledged packets/s), open loop of 10,000 loggers with minute data spread over the
minute plus real-time data every 30 s (~500 packets/s; p99 acknowledgement latency), and a
burst of 1,000 loggers sending in the same second (time to drain). Prints JSON lines and a
Markdown table for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "LTBENCH"
PW = "123456"


# -- the bare server --------------------------------------------------------------------
def run_bare(port: int) -> None:
    from lantian.hj212.crc import crc16_hj212
    from lantian.hj212.framer import Framer

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    class Bare(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t
            self.f = Framer()

        def data_received(self, data):
            out = []
            for fr in self.f.feed(data):
                if isinstance(fr, bytes):
                    i = fr.find(b"QN=")
                    qn = fr[i + 3 : i + 20] if i >= 0 else b"00000000000000000"
                    seg = b"QN=" + qn + b";ST=91;CN=9014;PW=123456;MN=x;Flag=4;CP=&&&&"
                    out.append(b"##%04d" % len(seg) + seg + b"%04X\r\n" % crc16_hj212(seg))
            if out:
                self.t.write(b"".join(out))

    async def main():
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(Bare, "127.0.0.1", port, backlog=4096)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("bare listening", port, file=sys.stderr, flush=True)
        await stop.wait()
        srv.close()

    asyncio.run(main())


# -- where the time goes ------------------------------------------------------------------
def run_parts(repeats: int = 25) -> None:
    """CPU per packet of each stage of the batch path, medians of ``repeats`` batches."""
    import datetime as dt

    sys.path.insert(0, str(ROOT / "src"))
    from lantian.hj212 import gwbatch, gwcodec
    from lantian.hj212.gwreply import data_replies
    from lantian.hj212.gwsettings import load_settings
    from lantian.hj212.gwstore import GatewayStore
    from lantian.hj212.loadgen import make_packets, mn_of
    from lantian.hj212.talkback import LoggerState, observe

    tmp = Path(tempfile.mkdtemp(prefix="lantian-bench-parts-"))
    register(tmp / "p.duckdb", 10_000)
    register(tmp / "full.duckdb", 10_000)
    store = GatewayStore(tmp / "p.duckdb")  # journal-first (the default)
    full = GatewayStore(tmp / "full.duckdb", journal_first=False)  # sessions 1-3
    tb = load_settings().talkback

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    day = 0
    for n in (20, 60, 1000):
        per: dict[str, list[float]] = {}
        for k in range(repeats + 1):
            day += 1
            base = dt.datetime(2030, 1, 1) + dt.timedelta(days=day)
            frames = [make_packets(mn_of(PREFIX, i), PW, "2051", [base])[0].rstrip(b"\r\n")
                      for i in range(n)]
            now = gwcodec.now_cst()
            marks = [cpu()]
            d = gwbatch.decode_uploads(frames)
            marks.append(cpu())
            rows = list(range(n))
            heads = [gwbatch.head_of(d, i) for i in rows]
            batch = gwbatch.column_batch(d, rows, frames, ["127.0.0.1:1"] * n, [now] * n)
            marks.append(cpu())
            store.store_batch(batch)
            marks.append(cpu())
            data_replies(heads, now)
            states: dict[str, LoggerState] = {}
            for h in heads:
                st = states.setdefault(h.mn or "", LoggerState(h.mn or ""))
                observe(st, h.cn or "", gwcodec.data_time_to_datetime(h.data_time or ""), now, tb)
            marks.append(cpu())
            full.store_batch(batch)  # the same batch, values in the commit (other file)
            full_cpu = cpu() - marks[-1]
            # the materialiser runs about every 500 packets (1 s at the open loop's rate)
            if store.materialiser.pending_packets >= 500 or k == repeats:
                m0, pending = cpu(), store.materialiser.pending_packets
                store.materialise()
                if k:
                    per.setdefault("materialise (every ~500 packets)", []).append(
                        1e6 * (cpu() - m0) / pending)
            if k == 0:
                continue  # first batch: one-time set-up costs
            for name, a, b in zip(("decode", "batch+heads", "journal-first commit",
                                   "replies+talk-back"), marks, marks[1:], strict=False):
                per.setdefault(name, []).append(1e6 * (b - a) / n)
            per.setdefault("full commit (journal_first=false)", []).append(1e6 * full_cpu / n)
        for name, xs in per.items():
            print(json.dumps({"batch": n, "stage": name,
                              "cpu_us_per_packet": round(statistics.median(xs), 1)}))
    store.close()
    full.close()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}", file=sys.stderr)


# -- orchestration ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not listen")


SETTINGS: dict[str, str] = {}  # server kind -> --settings file
SOURCES: dict[str, str] = {}  # server kind -> PYTHONPATH (another source tree)


def start_server(kind: str, port: int, db: Path, log, status: Path | None = None
                 ) -> subprocess.Popen:
    py = sys.executable
    if kind.startswith("bare"):
        cmd = [py, __file__, "bare", "--port", str(port)]
    else:
        cmd = [str(Path(py).with_name("lantian")), "serve", "--db", str(db),
               "--gateway-port", str(port), "--http-port", "0", "--log-level", "WARNING"]
        if kind in SETTINGS:
            cmd += ["--settings", SETTINGS[kind]]
        if status is not None:
            cmd += ["--status-file", str(status)]
    env = dict(os.environ)
    if kind in SOURCES:
        env["PYTHONPATH"] = SOURCES[kind]
    elif kind == "bare-B" and "gateway-B" in SOURCES:  # the bare server in B's environment
        env["PYTHONPATH"] = SOURCES["gateway-B"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
    wait_port(port, proc)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load(mode: str, port: int, conns: int, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "lantian.hj212.loadgen", mode, "--port", str(port),
           "--conns", str(conns), "--prefix", PREFIX, "--pw", PW, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"loadgen failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def register(db: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from lantian.hj212.loadgen import mn_of
    from lantian.store.db import connect

    con = connect(db)
    width = len(mn_of(PREFIX, 0)) - len(PREFIX)
    con.execute("INSERT INTO monitoring_point (mn, password, source_type) SELECT ? ||"
                " lpad(i::VARCHAR, ?, '0'), ?, 'cement_kiln' FROM range(?) t(i)"
                " ON CONFLICT DO NOTHING", [PREFIX, width, PW, n])
    assert con.execute("SELECT count(*) FROM monitoring_point WHERE mn = ?",
                       [mn_of(PREFIX, n - 1)]).fetchone()[0] == 1
    con.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads [s] (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per OS thread name of a process (``loop`` for the main thread)."""
    out: dict[str, float] = {}
    tck = os.sysconf("SC_CLK_TCK")
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "loop" if t.name == str(pid) else (t / "comm").read_text().strip()
            f = (t / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[f"{name}#{t.name}"] = (int(f[11]) + int(f[12])) / tck
    return out


def thread_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per thread name between two :func:`thread_cpu` readings."""
    out: dict[str, float] = {}
    for key, c in after.items():
        name = key.split("#", 1)[0]
        out[name] = out.get(name, 0.0) + c - before.get(key, 0.0)
    return out


# Session 6: the load generator's default pool (100,000) made each of 10,000 connections
# repeat its 20 packets after ≈ 9,000 packets/s × 11 s: duplicates, which the gateway's
# materialiser treats more cheaply than new packets. 400,000 (40 per connection at 10,000;
# ≈ 3 s to prepare) keeps every packet new up to ≈ 36,000 packets/s over warm-up + 8 s.
POOL = 400_000
SETTLE_S = 2.5  # after the load, before reading the CPU: the materialiser's last run [s]

MATERIALISE_KEYS = ("materialise_cpu_s", "materialise_max_lag_s",
                    "materialise_max_pending_packets", "materialise_catch_up_s",
                    "materialise_runs", "materialise_failures",
                    "journal_log_fsyncs", "journal_log_records")  # file journal (session 5)
# Session 7: the writer's timeline per batch (gwwriter._note_cycle), summed over the run [µs]
CYCLE_KEYS = ("cycle_commit_us", "cycle_answer_wait_us", "cycle_answer_us", "cycle_idle_us")


def settle(pid: int, cap: float = 30.0) -> None:
    """Wait ``SETTLE_S``, then until the server's CPU stops moving (cap ``cap`` s).

    Session 6 (gwmat's request in /work/briefs/s6/gw6.md): with a niced materialiser the
    catch-up can outlast a fixed 2.5 s; its CPU belongs to the run. Quiet = less than 20 ms
    of CPU (all threads) over 0.5 s twice in a row.
    """
    time.sleep(SETTLE_S)
    end = time.monotonic() + cap
    quiet, last = 0, cpu_seconds(pid)
    while quiet < 2 and time.monotonic() < end:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.02 else 0
        last = now


def scenario(kind: str, db: Path, log, mode: str, conns: int, extra: list[str]) -> dict:
    port = free_port()
    status = None
    if not kind.startswith("bare"):  # a fresh file each run: no stale gaps, same size every time
        db = db.with_name(f"run-{time.monotonic_ns()}.duckdb")
        register(db, 10_000)
        status = db.with_suffix(".status.json")
    proc = start_server(kind, port, db, log, status)
    try:
        cpu0, threads0 = cpu_seconds(proc.pid), thread_cpu(proc.pid)
        res = load(mode, port, conns, extra)
        if not kind.startswith("bare"):
            settle(proc.pid)
        cpu = cpu_seconds(proc.pid) - cpu0
        threads = thread_delta(threads0, thread_cpu(proc.pid))
    finally:
        stop_server(proc)
    if status is not None and status.exists():
        final = json.loads(status.read_text())
        res.update({k: final.get(k) for k in MATERIALISE_KEYS})
        batches = final.get("cycle_batches") or 0
        res["cycle_batches"] = batches
        if batches:  # mean per batch [ms]: commit (log + fsync), wait, answer, log idle
            res["cycle_ms_per_batch"] = {k[6:-3]: round(final.get(k, 0) / batches / 1000, 2)
                                         for k in CYCLE_KEYS}
        catch = final.get("materialise_catch_up_s") or 0.0
        if mode == "closed" and res.get("seconds"):
            res["rate_caught_up"] = round(res["acks"] / (res["seconds"] + catch), 1)
    acked = res.get("acks") or res.get("acked") or 0
    # server CPU per acknowledged packet [µs]; includes connection set-up and idle polling
    res["server_cpu_s"] = round(cpu, 2)
    res["cpu_us_per_packet"] = round(1e6 * cpu / acked, 1) if acked else None
    res["threads_us_per_packet"] = {k: round(1e6 * v / acked, 1) for k, v in
                                    sorted(threads.items()) if acked and v >= 0.01}
    acked_all = res.get("acks_all") or 0  # closed loop: warm-up + window (session 6)
    if acked_all:  # the run's CPU (connect, warm-up, window, settle) over every ack
        res["cpu_us_per_packet_all"] = round(1e6 * cpu / acked_all, 1)
        res["threads_us_per_packet_all"] = {k: round(1e6 * v / acked_all, 1) for k, v in
                                            sorted(threads.items()) if v >= 0.01}
    res["server"] = kind
    res["loadavg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", nargs="?", default="all", choices=["all", "bare", "parts"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--open-duration", type=float, default=30.0)
    ap.add_argument("--quick", action="store_true", help="one short run each (smoke test)")
    ap.add_argument("--prefix", default=PREFIX,
                    help="MN prefix (padded with digits to 24 characters); an all-digit MN "
                         "takes the codec's vectorised path, 'LTBENCH' its per-packet path")
    ap.add_argument("--ab-settings", default=None,
                    help="settings file of a second gateway (gateway-B) run beside the first")
    ap.add_argument("--ab-src", default=None,
                    help="source tree (PYTHONPATH) of gateway-B, e.g. a git archive of an "
                         "older commit's src/: the 'before' of an A/B in the same run")
    ap.add_argument("--ab-bare", action="store_true",
                    help="with --ab-src: also run the bare server with gateway-B's PYTHONPATH "
                         "(bare-B), e.g. when the A side runs on another event loop (session 8)")
    ap.add_argument("--settle", type=float, default=SETTLE_S,
                    help="seconds after the load before the server's CPU is read")
    ap.add_argument("--pool", type=int, default=POOL,
                    help="closed loop: distinct packets the load generator prepares (no "
                         "packet sent twice below pool / (warm-up + duration) packets/s)")
    ap.add_argument("--conns", default="1000,10000",
                    help="closed loop: comma-separated connection counts (session 7)")
    ap.add_argument("--only", default="closed,open,burst",
                    help="comma-separated scenarios to run (closed, open, burst)")
    a = ap.parse_args()
    globals()["PREFIX"] = a.prefix
    globals()["SETTLE_S"] = a.settle
    kinds: tuple[str, ...] = ("bare", "gateway")
    if a.ab_settings:
        SETTINGS["gateway-B"] = str(Path(a.ab_settings).resolve())
    if a.ab_src:
        SOURCES["gateway-B"] = str(Path(a.ab_src).resolve())
    if a.ab_settings or a.ab_src:
        kinds = ("bare", "gateway", "gateway-B")
    if a.ab_bare and a.ab_src:
        kinds = ("bare", "gateway", "bare-B", "gateway-B")
    only = set(a.only.split(","))
    if a.cmd == "bare":
        run_bare(a.port)
        return
    if a.cmd == "parts":
        run_parts()
        return
    if a.quick:
        a.runs, a.duration, a.open_duration = 1, 5.0, 10.0
    tmp = Path(tempfile.mkdtemp(prefix="lantian-bench-"))
    db = tmp / "bench.duckdb"
    register(db, 10_000)
    log = (tmp / "servers.log").open("ab")
    results: list[dict] = []
    run_no = 0

    def base() -> list[str]:  # new DataTimes for every run: nothing is a duplicate
        nonlocal run_no
        run_no += 1
        return ["--base", f"{2000 + run_no}-01-01T00:00:00"]

    for conns in [int(c) for c in a.conns.split(",")] if "closed" in only else ():
        for _ in range(a.runs):
            for kind in kinds:
                results.append(scenario(kind, db, log, "closed", conns,
                                        ["--duration", str(a.duration), "--pool",
                                         str(a.pool), *base()]))
    for _ in range(max(1, a.runs - 1)) if "open" in only else ():
        for kind in kinds:
            results.append(scenario(kind, db, log, "open", 10_000,
                                    ["--duration", str(a.open_duration), "--grace", "5",
                                     *base()]))
    for _ in range(a.runs) if "burst" in only else ():
        for kind in kinds:
            results.append(scenario(kind, db, log, "burst", 1000, ["--grace", "60", *base()]))
    (tmp / "results.jsonl").write_text("\n".join(json.dumps(r) for r in results) + "\n")
    summarise(results)
    print(f"raw results in {tmp}/results.jsonl", file=sys.stderr)


def summarise(results: list[dict]) -> None:
    def med(kind: str, mode: str, key: str, conns: int) -> float:
        xs = [r[key] for r in results if r["server"] == kind and r["mode"] == mode
              and r["conns"] == conns and r.get(key) is not None]
        return statistics.median(xs) if xs else float("nan")

    gws = sorted({r["server"] for r in results} - {"bare"})
    print("\n| measure | bare asyncio | " + " | ".join(gws) + " | "
          + " | ".join(f"{g} / bare" for g in gws) + " |")
    print("|---|---|" + "---|" * (2 * len(gws)))

    def row(label: str, mode: str, key: str, conns: int, fmt: str, ratio: str) -> None:
        b = med("bare", mode, key, conns)
        gs = [med(g, mode, key, conns) for g in gws]
        cells = [format(b, fmt)] + [format(g, fmt) for g in gs]
        ratios = [format(g / b, ratio) if b == b and b else "" for g in gs]
        print(f"| {label} | " + " | ".join(cells + ratios) + " |")

    for conns in (1000, 10_000):
        row(f"closed loop, {conns:,} connections [packets/s]", "closed", "rate", conns,
            ",.0f", ".0%")
        row(f"closed loop, {conns:,} connections, until the wide tables caught up "
            "[packets/s]", "closed", "rate_caught_up", conns, ",.0f", ".0%")
    for key in ("p50_ms", "p99_ms"):
        row(f"open loop 10,000 loggers, {key[:3]} ack latency [ms]", "open", key, 10_000,
            ".1f", ".1f")
    row("burst of 1,000 loggers, time to drain [s]", "burst", "drain_s", 1000, ".2f", ".1f")
    for conns in (1000, 10_000):
        row(f"closed loop, {conns:,} connections, server CPU per packet [µs]", "closed",
            "cpu_us_per_packet", conns, ".0f", ".1f")
        row(f"closed loop, {conns:,} connections, server CPU per packet over every ack "
            "(warm-up included) [µs]", "closed", "cpu_us_per_packet_all", conns, ".0f", ".1f")
    for mode, conns in (("closed", 1000), ("closed", 10_000), ("open", 10_000)):
        for key in ("materialise_cpu_s", "materialise_max_lag_s", "materialise_catch_up_s",
                    "materialise_max_pending_packets"):
            row(f"{mode} {conns:,}: {key}", mode, key, conns, ".2f", ".1f")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
