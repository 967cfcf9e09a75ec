"""Relay accepted packets to an upstream platform (bureau → provincial platform), off by default.

Accepted frames are queued in the ``forward_queue`` table by the gateway's writer in the
same commit that stores them (so the queue survives restarts), and sent in order by
:func:`forward_loop` over one TCP connection to ``host:port``.

A frame whose Flag has the A bit (HJ 212-2017 §6.3.2: the sender wants a reply) leaves the
queue only when the upstream platform answers it with a 9014 carrying the same QN (and MN;
HJ/T 212-2005 replies carry the QN inside CP). When no such reply comes within
``reply_timeout_s`` (HJ 212-2017 Table 1), or the connection drops, the frame is sent again
after a back-off that doubles from ``forward_retry_interval_s`` up to ``2**retries`` times
that interval (``gateway.toml``); its ``attempts`` count is kept in the queue. A frame
without the A bit leaves the queue once written to the socket and drained. While the
upstream is unreachable the queue keeps growing on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from lantian.hj212 import gwcodec

__all__ = ["ForwardState", "forward_loop", "parse_target", "reply_key", "wants_reply"]

log = logging.getLogger("lantian.gateway.forward")

Key = tuple[str, str]  # (QN, MN) as sent


def parse_target(target: str) -> tuple[str, int]:
    """Split ``host:port``.

    Raises
    ------
    ValueError
        When the port is missing or not a number.

    """
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"forward target {target!r} is not host:port")
    return host, int(port)


def _header(raw: bytes) -> dict[str, str]:
    """Header fields (before ``CP=``) of a frame, as sent; empty when unreadable."""
    start = raw.find(b"QN=") if raw.startswith(b"##") else -1
    if start < 0:
        start = 6
    end = raw.find(b"CP=", start)
    if end < 0:
        return {}
    out: dict[str, str] = {}
    for item in raw[start:end].split(b";"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode("ascii", "replace")] = v.decode("utf-8", "replace")
    return out


def wants_reply(raw: bytes) -> Key | None:
    """``(QN, MN)`` of a frame whose Flag has the A bit (bit 0), else None."""
    h = _header(raw)
    flag = h.get("Flag", "")
    if not (flag.isascii() and flag.isdigit() and int(flag) & 1) or "QN" not in h:
        return None
    return h["QN"], h.get("MN", "")


def reply_key(frame: bytes) -> Key | None:
    """``(QN, MN)`` a 9014 data reply answers, or None for anything else.

    HJ 212-2017/2025: the header QN; HJ/T 212-2005: the ``QN`` inside CP.
    """
    try:
        pkt = gwcodec.parse_packet(frame, strict=False)
    except gwcodec.PacketError:
        return None
    if pkt.cn != "9014" or not pkt.crc_ok:
        return None
    qn = pkt.params.get("QN") if pkt.version == "2005" else pkt.qn
    return (qn, pkt.mn or "") if qn else None


@dataclass
class ForwardState:
    """In-memory side of the relay: frames waiting for their 9014, back-off times."""

    in_flight: dict[int, tuple[Key, float]] = field(default_factory=dict)  # id → key, deadline
    not_before: dict[int, tuple[float, Key]] = field(default_factory=dict)  # id → time [s]
    acked: set[Key] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def backoff(self, attempts: int, interval: float, retries: int) -> float:
        """Seconds before the next send after ``attempts`` unanswered ones [s]."""
        return float(min(interval * 2 ** max(0, attempts - 1), interval * 2 ** retries))


async def _read_replies(reader: asyncio.StreamReader, st: ForwardState) -> None:
    framer = gwcodec.Framer()
    while data := await reader.read(65536):
        for item in framer.feed(data):
            if isinstance(item, bytes | bytearray) and (key := reply_key(bytes(item))):
                st.acked.add(key)
                st.wake.set()
    st.wake.set()  # connection closed


async def forward_loop(gw: Any) -> None:
    """Send queued frames of ``gw.forward_to`` until cancelled (module docstring)."""
    target: str = gw.forward_to
    host, port = parse_target(target)
    s = gw.settings
    interval, batch = s.forward_retry_interval_s, s.forward_batch_max
    store, counts = gw._store, gw.status.counts
    st = ForwardState()
    writer: asyncio.StreamWriter | None = None
    sink: asyncio.Task[None] | None = None
    down = 0  # consecutive failed connection attempts
    try:
        while True:
            rows = await gw._run_db(store.peek_forward, target, batch)
            mono = time.monotonic()
            done = _settle(st, rows, mono)
            expired = [i for i, (_, deadline) in st.in_flight.items() if deadline <= mono]
            if writer is not None and (writer.is_closing() or (sink is not None and sink.done())):
                expired = list(st.in_flight)  # connection lost: nothing more will be answered
                writer.close()
                writer = None
            if expired:
                await _expire(gw, st, expired, rows, mono, interval, s.retries)
            if done:
                await gw._run_db(store.drop_forward, done)
                counts["forwarded"] += len(done)
                continue
            due = [(i, raw) for i, raw, _ in rows
                   if i not in st.in_flight and st.not_before.get(i, (0.0,))[0] <= mono]
            if not due:
                await _idle(st, rows, mono, interval)
                continue
            try:
                if writer is None or writer.is_closing():
                    if sink is not None:
                        sink.cancel()
                    reader, writer = await asyncio.open_connection(host, port)
                    sink = asyncio.create_task(_read_replies(reader, st))
                for _, raw in due:
                    writer.write(raw if raw.endswith(b"\r\n") else raw + b"\r\n")
                await writer.drain()
                down = 0
            except OSError as exc:
                down += 1
                log.warning("upstream %s unreachable (%s); %d+ frames kept", target, exc,
                            len(rows))
                counts["forward_failures"] += 1
                writer = None
                await asyncio.sleep(st.backoff(down, interval, s.retries))
                continue
            deadline = time.monotonic() + s.reply_timeout_s
            plain = []
            for i, raw in due:
                key = wants_reply(raw)
                if key is None:
                    plain.append(i)
                else:
                    st.in_flight[i] = (key, deadline)
            counts["forward_sent"] += len(due)
            if plain:
                await gw._run_db(store.drop_forward, plain)
                counts["forwarded"] += len(plain)
    finally:
        if sink is not None:
            sink.cancel()
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _settle(st: ForwardState, rows: list[tuple[int, bytes, int]], mono: float) -> list[int]:
    """Ids of sent frames the upstream has answered (also late answers, after a timeout)."""
    if not st.acked:
        return []
    sent = [(i, k) for i, (k, _) in st.in_flight.items()]
    sent += [(i, k) for i, (_, k) in st.not_before.items()]
    done = sorted({i for i, k in sent if k in st.acked})
    for i in done:
        st.in_flight.pop(i, None)
        st.not_before.pop(i, None)
    st.acked.clear()  # answers to nothing we sent (unknown QN) are dropped
    return done


async def _expire(gw: Any, st: ForwardState, ids: list[int], rows: list[tuple[int, bytes, int]],
                  mono: float, interval: float, retries: int) -> None:
    """Frames whose reply did not come: count the attempt, back off, send again later."""
    attempts = {i: a for i, _, a in rows}
    for i in ids:
        key, _ = st.in_flight.pop(i)
        st.not_before[i] = (mono + st.backoff(attempts.get(i, 0) + 1, interval, retries), key)
    log.warning("upstream did not answer %d forwarded packets in time; will resend", len(ids))
    await gw._run_db(gw._store.note_forward_attempt, ids)
    # counted once the attempt is in the queue table: the status never runs ahead of what a
    # restart will find (test_unanswered_frames_survive_a_restart… waits on this count)
    gw.status.counts["forward_unanswered"] += len(ids)


async def _idle(st: ForwardState, rows: list[tuple[int, bytes, int]], mono: float,
                interval: float) -> None:
    """Wait for an answer, the next deadline or back-off end, or new frames to send."""
    waits = [d for _, d in st.in_flight.values()]
    waits += [st.not_before[i][0] for i, _, _ in rows if i in st.not_before]
    timeout = min([interval / 10, *(max(0.0, w - mono) for w in waits)])
    st.wake.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(st.wake.wait(), timeout=max(timeout, 0.001))
