"""The gateway's sweeper and its receive path (session 5, engineer "gwloop").

- the sweeper flags exactly the loggers silent longer than ``rtd_interval_s × offline_factor``
  (strictly: a logger silent exactly that long is not offline), closes exactly the idle
  connections, and lets the event loop run while it sweeps 10,000 loggers;
- a connection reading into the shared receive buffer (``BufferedProtocol``) frames a read
  holding 50 packets plus half a packet, then the rest, exactly as the codec's Framer does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

from lantian.hj212.framer import Framer
from lantian.hj212.gateway import SWEEP_SLICE, Gateway
from lantian.hj212.gwconn import Connection, ReceiveBuffer
from lantian.hj212.talkback import LoggerState, TalkbackSettings, offline_cutoff
from test_gateway_helpers import fast_settings, minute_packet, mn_of


class _IdleConn:
    def __init__(self, last_rx: float) -> None:
        self.last_rx = last_rx
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_offline_cutoff_is_now_minus_factor_times_rtd_interval():
    s = TalkbackSettings(rtd_interval_s=30.0, offline_factor=10.0)
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    assert offline_cutoff(now, s) == dt.datetime(2026, 1, 1, 11, 55, 0)  # 30 s × 10 = 300 s


async def test_sweep_flags_exactly_the_silent_loggers_and_yields_to_the_loop(tmp_path):
    gw = Gateway(tmp_path / "g.duckdb", fast_settings(
        talkback=TalkbackSettings(rtd_interval_s=30.0, offline_factor=10.0)))
    from lantian.hj212 import gwcodec

    now = gwcodec.now_cst()
    n = 10_000
    for i in range(n):
        # even loggers: silent 400 s (> 300 s, offline); odd: 100 s (online)
        gw.loggers[mn_of(i)] = LoggerState(mn_of(i), last_seen=now - dt.timedelta(
            seconds=400 if i % 2 == 0 else 100))
    gw.loggers["never"] = LoggerState("never")  # never seen: not offline
    gw.loggers["old"] = LoggerState("old", last_seen=now - dt.timedelta(days=1), offline=True)
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await gw._sweep()
    stop = True
    await t
    flagged = {mn for mn, _ in gw._went_offline}
    assert flagged == {mn_of(i) for i in range(0, n, 2)}  # already-offline "old" not again
    assert gw.status.counts["offline_alerts"] == n // 2
    assert all(gw.loggers[mn_of(i)].offline == (i % 2 == 0) for i in range(n))
    assert not gw.loggers["never"].offline
    # the loop ran between slices: at least one tick per SWEEP_SLICE states
    assert ticks - before >= (n + 2) // SWEEP_SLICE


async def test_sweep_closes_exactly_the_idle_connections(tmp_path):
    import time

    gw = Gateway(tmp_path / "g.duckdb", fast_settings(idle_timeout_s=300.0))
    mono = time.monotonic()
    idle = [_IdleConn(mono - 301.0) for _ in range(3)]
    busy = [_IdleConn(mono - 10.0) for _ in range(2500)]
    gw.conns.update(idle + busy)  # type: ignore[arg-type]
    await gw._sweep()
    assert all(c.closed for c in idle)
    assert not any(c.closed for c in busy)
    assert gw.status.counts["closed_idle"] == 3


def _conn_with_frames() -> tuple[Connection, list[bytes]]:
    got: list[bytes] = []
    counts: dict[str, int] = {}
    gw = SimpleNamespace(
        settings=fast_settings(), rx_buffer=ReceiveBuffer(65536),
        on_frame=lambda conn, frame: got.append(frame),
        status=SimpleNamespace(counts=counts))
    conn = Connection(gw)  # type: ignore[arg-type]
    conn.transport = SimpleNamespace(is_closing=lambda: False)  # type: ignore[assignment]
    return conn, got


def test_a_read_of_fifty_packets_and_a_half_is_framed_as_the_framer_frames_it():
    packets = [minute_packet(mn_of(i), i)[1] for i in range(51)]
    stream = b"".join(packets)
    cut = sum(len(p) for p in packets[:50]) + len(packets[50]) // 2
    conn, got = _conn_with_frames()
    for chunk, expect in ((stream[:cut], 50), (stream[cut:], 51)):
        conn.rx.buf[: len(chunk)] = chunk  # as asyncio's recv_into fills get_buffer()
        assert conn.get_buffer(-1) is conn.rx.view
        conn.buffer_updated(len(chunk))
        assert len(got) == expect  # after the first read the half packet waits
    assert got == [p.rstrip(b"\r\n") for p in packets]
    assert got == list(Framer().feed(stream))
    assert all(type(f) is bytes for f in got)  # frames are copies, not views of the buffer


def test_frames_do_not_change_when_the_shared_buffer_is_reused():
    a, b = minute_packet(mn_of(1), 1)[1], minute_packet(mn_of(2), 2)[1]
    conn, got = _conn_with_frames()
    other, got2 = _conn_with_frames()
    other.rx = conn.rx  # two connections, one buffer (as in the gateway)
    conn.rx.buf[: len(a)] = a
    conn.buffer_updated(len(a))
    conn.rx.buf[: len(b)] = b
    other.buffer_updated(len(b))
    assert got == [a.rstrip(b"\r\n")] and got2 == [b.rstrip(b"\r\n")]
