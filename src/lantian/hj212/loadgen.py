"""HJ 212 load generator for the gateway benchmarks (run as its own process).

``python -m lantian.hj212.loadgen MODE --port P --conns N ...`` prints one JSON object:

- ``closed``: N connections, each sends a minute packet (Flag=5) and waits for its 9014
  before the next; packets acknowledged per second over the measuring window.
- ``open``: N loggers, each sends its minute data once a minute at its own offset and
  real-time data every 30 s (≈ N/60 + N/30 packets/s, whatever the replies do); the
  acknowledgement latency (send → 9014) percentiles [ms].
- ``burst``: N loggers connect, then all send one packet at the same instant; the time until
  the last 9014 arrives [s].

MNs are ``<prefix><index>`` (registered beforehand); DataTimes start at ``--base`` (CST) so
that every run sends new periods. Packets are built before the clock starts (closed loop).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import resource
import sys
import time
from functools import partial
from typing import Any

from lantian.hj212.builder import build_packet
from lantian.hj212.gwcodec import now_cst
from lantian.hj212.scan import crc16_segments

__all__ = ["main", "make_packets", "mn_of"]

_FMT = "%Y%m%d%H%M%S"
_VALUES: dict[str, dict[str, float | str]] = {
    "a34013": {"Min": 4.1, "Avg": 5.2, "Max": 6.3, "ZsAvg": 6.0, "Flag": "N"},
           "a21026": {"Min": 18.0, "Avg": 21.5, "Max": 25.1, "ZsAvg": 24.0, "Flag": "N"},
           "a21002": {"Min": 40.2, "Avg": 45.0, "Max": 52.7, "ZsAvg": 50.1, "Flag": "N"},
           "a19001": {"Min": 10.1, "Avg": 10.6, "Max": 11.2, "Flag": "N"},
           "a00000": {"Min": 90.1, "Avg": 95.0, "Max": 99.2, "Flag": "N"},
           "a01012": {"Avg": 115.0, "Flag": "N"}, "a01013": {"Avg": -0.3, "Flag": "N"},
           "a01014": {"Avg": 6.1, "Flag": "N"}}


def mn_of(prefix: str, i: int) -> str:
    """MN of logger ``i``: the prefix padded with the index to 24 characters."""
    return f"{prefix}{i:0{24 - len(prefix)}d}"


def make_packets(mn: str, pw: str, cn: str, times: list[dt.datetime], seq0: int = 0) -> list[bytes]:
    """Frames (with CRLF) for ``times``: one template, QN/DataTime substituted, CRC redone."""
    t0 = times[0].strftime(_FMT)
    tmpl = build_packet(st="31", cn=cn, pw=pw, mn=mn, flag=5, qn=t0 + "000", data_time=t0,
                        values=_VALUES)
    seg = tmpl[6:-6]
    qpos = seg.index(b"QN=") + 3
    dpos = seg.index(b"DataTime=") + 9
    segs = []
    for k, t in enumerate(times):
        ts = t.strftime(_FMT).encode()
        s = bytearray(seg)
        s[qpos : qpos + 17] = ts + b"%03d" % ((seq0 + k) % 1000)
        s[dpos : dpos + 14] = ts
        segs.append(bytes(s))
    crcs = crc16_segments(segs).tolist()  # compiled, = crc16_hj212 of each (tested in scan)
    return [b"##%04d%s%04X\r\n" % (len(s), s, c) for s, c in zip(segs, crcs, strict=True)]


def _qn_of_reply(frame: bytes) -> bytes:
    i = frame.find(b"QN=")
    return frame[i + 3 : i + 20] if i >= 0 else b""


class _Base(asyncio.Protocol):
    def __init__(self) -> None:
        self.t: asyncio.Transport | None = None
        self.buf = b""
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        while (k := buf.find(b"\n")) >= 0:
            self.on_frame(buf[:k])
            buf = buf[k + 1 :]
        self.buf = buf

    def on_frame(self, frame: bytes) -> None:
        raise NotImplementedError


class _Closed(_Base):
    def __init__(self, packets: list[bytes], stats: dict[str, Any]) -> None:
        super().__init__()
        self.packets = packets
        self.i = 0
        self.stats = stats
        self.sent_at = 0.0  # time.perf_counter() when the outstanding packet was written [s]

    def send_next(self) -> None:
        if self.t is not None and not self.t.is_closing():
            self.sent_at = time.perf_counter()
            self.t.write(self.packets[self.i % len(self.packets)])
            self.i += 1

    def on_frame(self, frame: bytes) -> None:
        st = self.stats
        st["acks_all"] += 1  # warm-up and measured window (CPU per packet over the run)
        if st["measuring"]:
            st["acks"] += 1
            st["lat"].append(time.perf_counter() - self.sent_at)
        if st["running"]:
            self.send_next()


class _Open(_Base):
    def __init__(self, stats: dict[str, Any]) -> None:
        super().__init__()
        self.sent: dict[bytes, float] = {}
        self.stats = stats

    def on_frame(self, frame: bytes) -> None:
        t0 = self.sent.pop(_qn_of_reply(frame), None)
        if t0 is not None:
            self.stats["lat"].append(time.perf_counter() - t0)


def _freeze_gc() -> None:
    """Keep the load generator's own garbage collector out of the measurement (session 6).

    The prepared packets and connections outlive many young collections, so with CPython's
    default thresholds the generator's full collections grow with its heap and throttle
    the load it offers (session 6, shared machine: the session-5 generator drove the bare
    server at 17-30 k packets/s at 1,000 connections, the same generator with a large
    long-lived heap at 27-51 k; benchmarks/RESULTS.md, session 6 gwloop). The same setting
    as ``lantian serve``'s ``[runtime]``: freeze what exists, rare full collections.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 1000)


async def _connect_all(n: int, host: str, port: int, factory: Any) -> list[Any]:
    loop = asyncio.get_running_loop()
    protos: list[Any] = []
    for start in range(0, n, 500):
        res = await asyncio.gather(*(loop.create_connection(partial(factory, i), host, port)
                                     for i in range(start, min(n, start + 500))))
        protos.extend(p for _, p in res)
    return protos


async def closed_loop(a: argparse.Namespace) -> dict[str, Any]:
    """Run the closed loop: each connection keeps exactly one packet outstanding."""
    base = dt.datetime.fromisoformat(a.base)
    per = max(20, a.pool // a.conns)
    stats: dict[str, Any] = {"acks": 0, "acks_all": 0, "running": True, "measuring": False,
                             "lat": []}
    pools = [make_packets(mn_of(a.prefix, i), a.pw, "2051",
                          [base + dt.timedelta(minutes=k) for k in range(per)])
             for i in range(a.conns)]
    _freeze_gc()
    t_conn = time.perf_counter()
    protos = await _connect_all(a.conns, a.host, a.port, lambda i: _Closed(pools[i], stats))
    connect_s = time.perf_counter() - t_conn
    for p in protos:
        p.send_next()
    await asyncio.sleep(a.warmup)
    stats["measuring"] = True
    t0 = time.perf_counter()
    await asyncio.sleep(a.duration)
    stats["measuring"] = False
    elapsed = time.perf_counter() - t0
    stats["running"] = False
    acks = stats["acks"]
    for p in protos:
        if p.t is not None:
            p.t.close()
    wrapped = sum(1 for p in protos if p.i > len(p.packets))
    return {"mode": "closed", "conns": a.conns, "seconds": round(elapsed, 3), "acks": acks,
            "rate": round(acks / elapsed, 1), "acks_all": stats["acks_all"],
            "connect_s": round(connect_s, 2),
            "pool_per_conn": per, "conns_reusing_packets": wrapped,
            "lost_conns": sum(p.lost for p in protos), **round_trips(stats["lat"])}


def round_trips(lat: list[float]) -> dict[str, float | None]:
    """Closed-loop round trip (packet written → its 9014 read) percentiles [ms].

    Session 7: with one packet outstanding per connection, rate = connections ÷ mean round
    trip, so the distribution says whether a closed-loop rate is bound by how long a packet
    waits for its group commit (the batch in progress, then its own) or by CPU.
    """
    if not lat:
        return {"rtt_p50_ms": None, "rtt_p90_ms": None, "rtt_p99_ms": None,
                "rtt_mean_ms": None}
    xs = sorted(lat)

    def pct(q: float) -> float:
        return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 2)

    return {"rtt_p50_ms": pct(0.50), "rtt_p90_ms": pct(0.90), "rtt_p99_ms": pct(0.99),
            "rtt_mean_ms": round(1000 * sum(xs) / len(xs), 2)}


async def open_loop(a: argparse.Namespace) -> dict[str, Any]:
    """Run the open loop: minute data once a minute, real-time every 30 s, per-logger offsets."""
    stats: dict[str, Any] = {"lat": []}
    _freeze_gc()
    protos = await _connect_all(a.conns, a.host, a.port, lambda i: _Open(stats))
    loop = asyncio.get_running_loop()
    n = a.conns
    events = []  # (offset s, logger, cn)
    for i in range(n):
        off_m = 60.0 * i / n
        off_r = (30.0 * i / n + 7.3) % 30.0
        events += [(off_m + k * 60.0, i, "2051") for k in range(int(a.duration // 60) + 1)]
        events += [(off_r + k * 30.0, i, "2011") for k in range(int(a.duration // 30) + 1)]
    events = sorted(e for e in events if e[0] < a.duration)
    base = dt.datetime.fromisoformat(a.base)
    start = loop.time()
    sent = 0
    for off, i, cn in events:
        delay = start + off - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        p = protos[i]
        # real-time data carries the logger's clock (= platform clock: no drift, no 1012);
        # minute data the period start, new periods for every run
        t = now_cst().replace(microsecond=0) if cn == "2011" else base + dt.timedelta(
            minutes=int(off // 60))
        raw = make_packets(mn_of(a.prefix, i), a.pw, cn, [t], seq0=i)[0]
        if p.t is not None and not p.t.is_closing():
            p.sent[raw[9:26]] = time.perf_counter()  # "##LLLLQN=" + 17 digits
            p.t.write(raw)
            sent += 1
    await asyncio.sleep(a.grace)
    lat = sorted(stats["lat"])
    elapsed = loop.time() - start
    for p in protos:
        if p.t is not None:
            p.t.close()

    def pct(q: float) -> float | None:
        return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None

    return {"mode": "open", "conns": n, "seconds": round(elapsed, 1), "sent": sent,
            "acked": len(lat), "offered_rate": round(sent / a.duration, 1),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(1000 * lat[-1], 2)
            if lat else None}


async def burst(a: argparse.Namespace) -> dict[str, Any]:
    """Run the burst: every logger sends one packet at the same instant; time to drain."""
    stats: dict[str, Any] = {"lat": []}
    protos = await _connect_all(a.conns, a.host, a.port, lambda i: _Open(stats))
    base = dt.datetime.fromisoformat(a.base)
    raws = [make_packets(mn_of(a.prefix, i), a.pw, "2051", [base], seq0=i)[0]
            for i in range(a.conns)]
    await asyncio.sleep(0.5)
    t0 = time.perf_counter()
    for p, raw in zip(protos, raws, strict=True):
        p.sent[raw[9:26]] = t0
        p.t.write(raw)
    deadline = t0 + a.grace
    while len(stats["lat"]) < a.conns and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    drain = time.perf_counter() - t0
    for p in protos:
        p.t.close()
    return {"mode": "burst", "conns": a.conns, "acked": len(stats["lat"]),
            "drain_s": round(drain, 3)}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run one load pattern and print its JSON result."""
    ap = argparse.ArgumentParser(prog="python -m lantian.hj212.loadgen")
    ap.add_argument("mode", choices=["closed", "open", "burst"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--grace", type=float, default=10.0)
    ap.add_argument("--pool", type=int, default=100_000)
    ap.add_argument("--prefix", default="LTBENCH")
    ap.add_argument("--pw", default="123456")
    ap.add_argument("--base", default="2020-01-01T00:00:00")
    a = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # 10,000 connections need more than the usual 1,024 files
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fn = {"closed": closed_loop, "open": open_loop, "burst": burst}[a.mode]
    sys.stdout.write(json.dumps(asyncio.run(fn(a))) + "\n")


if __name__ == "__main__":
    main()
