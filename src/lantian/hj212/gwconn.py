"""Per-connection side of the HJ 212 gateway: framing, backpressure, idle tracking, status.

One :class:`Connection` is one data logger's TCP connection; it frames bytes with the codec's
``Framer`` (resync on ``##``, at most ``max_frame`` bytes buffered) and hands complete frames
to :meth:`lantian.hj212.gateway.Gateway.on_frame`. Reading pauses while the connection has
``max_pending_per_conn`` packets waiting for the commit; a peer that does not read its
replies is aborted beyond ``write_buffer_max``.

Receiving (session 5): a :class:`asyncio.BufferedProtocol` reading into one receive buffer
shared by every connection of the event loop (:class:`ReceiveBuffer`; the bytes are copied
out before the callback returns, and callbacks never interleave on one loop). asyncio's plain
``Protocol`` calls ``sock.recv(262144)``, which allocates and shrinks a 256 KiB object per
read: ≈ 14 µs of CPU per read of a 700-byte packet on the benchmark machine, against ≈ 0.5 µs
for ``recv_into`` a buffer that is already there (benchmarks/RESULTS.md, "Session 5").
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from lantian.hj212 import gwcodec

if TYPE_CHECKING:
    from collections.abc import Callable

    from lantian.hj212.gateway import Gateway

_monotonic = time.monotonic

__all__ = ["Connection", "GatewayStatus", "ReceiveBuffer", "name_os_thread", "raise_nofile_limit",
           "whole_frame"]


def name_os_thread() -> None:
    """Give the calling thread's OS thread its Python name (Linux ``prctl(PR_SET_NAME)``).

    An executor initializer: ``/proc/PID/task/TID/comm`` then names the gateway's threads
    (``lantian-db_0``, ``lantian-decode_0``), so the benchmark can report CPU per thread;
    threads DuckDB starts inherit the name of the thread that started them. A no-op where
    ``prctl`` is missing.
    """
    import ctypes
    import threading

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, threading.current_thread().name[:15].encode(), 0, 0, 0)


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the open-files soft limit to the hard limit; return (soft, hard) afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class GatewayStatus:
    """Counters and state shown by logs and the status endpoint."""

    accepting: bool = True
    reason: str = ""
    connections: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    #: more fields computed when asked (the materialiser's lag behind the journal)
    extra: Callable[[], dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"accepting": self.accepting, "reason": self.reason,
                "connections": self.connections, **dict(self.counts),
                **(self.extra() if self.extra is not None else {})}


_FRAME_LENGTHS = {b"%04d" % k: k + 10 for k in range(10_000)}
"""Length field (4 ASCII digits) → bytes of the whole frame without CRLF (## + 4 + L + 4)."""


def whole_frame(data: bytes, max_frame: int) -> bytes | None:
    """Return the frame when ``data`` is exactly one well-formed frame plus CRLF, else None.

    ``##`` + 4-digit length ``L`` + ``L`` bytes + 4 CRC characters + CRLF, no other ``##``
    and no line feed before the CRLF, at most ``max_frame`` bytes without the CRLF: the
    codec's :class:`~lantian.hj212.framer.Framer` cuts exactly this frame from such a read
    (``tests/test_gateway_framing_fast.py``). The framer's stream offsets, used only in
    its error reports, do not count bytes taken here; the gateway only counts errors.

    Session 8: the length field is looked up (no ``int``), and ``##`` is searched only after
    a ``#`` is found by ``memchr`` (a two-byte ``bytes.find`` over a 570-byte frame cost
    ≈ 1 µs, a one-byte one ≈ 0.1 µs; the usual frame has no ``#`` after its start).
    """
    total = len(data) - 2
    if total > max_frame or _FRAME_LENGTHS.get(data[2:6]) != total \
            or data[:2] != b"##" or data[total:] != b"\r\n":
        return None
    if data.find(b"\n") != total + 1:  # the first line feed is the final one
        return None
    k = data.find(b"#", 2)
    if k >= 0 and data.find(b"##", k) >= 0:
        return None
    frame = data[:total]
    return frame.rstrip(b"\r") if frame[-1] == 13 else frame


class ReceiveBuffer:
    """One receive buffer for all connections of an event loop [bytes].

    ``size`` bounds one read (asyncio reads at most this many bytes per ready socket); the
    per-connection memory bound stays the framer's ``max_frame``.
    """

    __slots__ = ("buf", "view")

    def __init__(self, size: int = 65536) -> None:
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)


class Connection(asyncio.BufferedProtocol):
    """One logger connection: framing, backpressure, idle tracking."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.rx: ReceiveBuffer = gw.rx_buffer
        self.framer = gwcodec.Framer(max_frame=gw.settings.max_frame)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.last_rx = time.monotonic()
        self.auth_failures = 0
        self.pending = 0
        self.paused = False
        self.mn: str | None = None
        self.auth_closed = False  # closed after auth failures: later queued frames are dropped

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection with the gateway (asyncio callback)."""
        # a stream transport (uvloop's is not a subclass of asyncio.Transport)
        self.transport = cast("asyncio.Transport", transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        s = self.gw.settings
        self.transport.set_write_buffer_limits(high=s.write_buffer_high)
        self.gw.conns.add(self)
        self.gw.status.connections = len(self.gw.conns)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection (asyncio callback)."""
        self.gw.conns.discard(self)
        self.gw.status.connections = len(self.gw.conns)
        if self.mn and self.gw.by_mn.get(self.mn) is self:
            del self.gw.by_mn[self.mn]

    def pause_writing(self) -> None:
        """Abort a peer that does not read its replies (asyncio callback)."""
        t = self.transport
        if t is not None and t.get_write_buffer_size() > self.gw.settings.write_buffer_max:
            self.gw.status.counts["closed_write_buffer"] += 1
            t.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        """Return the shared receive buffer (asyncio ``BufferedProtocol`` callback)."""
        return self.rx.view

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the shared buffer: copy them out and frame them.

        The usual read (one whole frame, nothing buffered) goes straight to the gateway
        (session 8: :meth:`data_received`'s call and checks were ≈ 1 µs of each packet).
        """
        data = bytes(self.rx.view[:nbytes])
        framer = self.framer
        if not framer.buffered:
            frame = whole_frame(data, framer.max_frame)
            if frame is not None:
                self.last_rx = _monotonic()
                self.gw.on_frame(self, frame)
                return
        self.data_received(data)

    def data_received(self, data: bytes) -> None:
        """Frame the bytes and hand each complete frame to the gateway (asyncio callback).

        The usual read is exactly one whole frame with its CRLF (a logger sends one packet
        and waits for the reply): :func:`whole_frame` recognises it with a few byte
        comparisons and the codec's ``Framer`` is skipped (same frame, tested); anything
        else goes through the ``Framer``.
        """
        self.last_rx = time.monotonic()
        framer = self.framer
        if not framer.buffered:
            frame = whole_frame(data, framer.max_frame)
            if frame is not None:
                self.gw.on_frame(self, frame)
                return
        for item in framer.feed(data):
            if isinstance(item, bytes | bytearray):
                self.gw.on_frame(self, bytes(item))
            else:
                self.gw.status.counts["frame_errors"] += 1
            if self.transport is None or self.transport.is_closing():
                return

    def write(self, data: bytes) -> None:
        """Send a reply or request unless closing; abort beyond ``write_buffer_max``."""
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)
            if t.get_write_buffer_size() > self.gw.settings.write_buffer_max:
                self.gw.status.counts["closed_write_buffer"] += 1
                t.abort()

    def close(self) -> None:
        """Close the connection (pending replies are still written)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def add_pending(self, n: int) -> None:
        """Count packets waiting for the commit; pause/resume reading around the limit."""
        self.pending += n
        t = self.transport
        if t is None:
            return
        if self.pending >= self.gw.settings.max_pending_per_conn and not self.paused:
            self.paused = True
            t.pause_reading()
        elif self.paused and self.pending < self.gw.settings.max_pending_per_conn // 2:
            self.paused = False
            if not t.is_closing():
                t.resume_reading()
