"""Relay accepted packets to an upstream platform (bureau → provincial platform), off by default.

Accepted frames are queued in the ``forward_queue`` table in the database (so the queue
survives restarts) by the gateway's writer, and sent in order by :func:`forward_loop` over
one TCP connection to ``host:port``. A frame leaves the queue once it has been written to
the upstream socket and drained; when the upstream is unreachable the loop retries every
``forward_retry_interval_s`` seconds (``gateway.toml``), and the queue keeps growing on disk.
Replies from upstream (9014 …) are read and discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

__all__ = ["forward_loop", "parse_target"]

log = logging.getLogger("lantian.gateway.forward")


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


async def _drain_replies(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def forward_loop(gw: Any) -> None:
    """Send queued frames of ``gw.forward_to`` until cancelled."""
    target: str = gw.forward_to
    host, port = parse_target(target)
    interval = gw.settings.forward_retry_interval_s
    batch = gw.settings.forward_batch_max
    store = gw._store
    writer: asyncio.StreamWriter | None = None
    sink: asyncio.Task[None] | None = None
    try:
        while True:
            rows = await gw._run_db(store.peek_forward, target, batch)
            if not rows:
                await asyncio.sleep(interval / 10)
                continue
            try:
                if writer is None or writer.is_closing():
                    reader, writer = await asyncio.open_connection(host, port)
                    sink = asyncio.create_task(_drain_replies(reader))
                for _, raw in rows:
                    writer.write(raw if raw.endswith(b"\r\n") else raw + b"\r\n")
                await writer.drain()
            except OSError as exc:
                log.warning("upstream %s unreachable (%s); %d+ frames kept", target, exc,
                            len(rows))
                gw.status.counts["forward_failures"] += 1
                writer = None
                await asyncio.sleep(interval)
                continue
            await gw._run_db(store.drop_forward, [i for i, _ in rows])
            gw.status.counts["forwarded"] += len(rows)
    finally:
        if sink is not None:
            sink.cancel()
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
