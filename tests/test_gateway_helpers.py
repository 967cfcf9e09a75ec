"""Helpers shared by the gateway tests: a loopback HJ 212 client and packet builders."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from pathlib import Path

from lantian.hj212 import Framer, build_packet, parse_packet
from lantian.hj212.gateway import Gateway
from lantian.hj212.gwsettings import load_settings
from lantian.ledger.registry import add_point
from lantian.store.db import connect

PW = "123456"


def mn_of(i: int) -> str:
    return f"LTTEST{i:018d}"


def register(db_path: Path, mns: list[str], password: str = PW) -> None:
    con = connect(db_path)
    try:
        for mn in mns:
            add_point(con, mn=mn, password=password, source_type="cement_kiln")
    finally:
        con.close()


def fast_settings(**changes: object):
    """Packaged settings with short timers for tests."""
    base = load_settings()
    return base.with_(**{"batch_wait_s": 0.002, "sweep_interval_s": 0.05, **changes})


def minute_packet(mn: str, minute: int, *, pw: str = PW, flag: int = 5, so2: float = 12.5,
                  base: dt.datetime = dt.datetime(2024, 3, 1, 8, 0), cn: str = "2051",
                  seq: int = 0) -> tuple[str, bytes]:
    """One minute-data packet (period start ``base + minute``); return (QN, frame with CRLF)."""
    t = base + dt.timedelta(minutes=minute)
    qn = t.strftime("%Y%m%d%H%M%S") + f"{seq % 1000:03d}"
    raw = build_packet(st="31", cn=cn, pw=pw, mn=mn, flag=flag, qn=qn,
                       data_time=t.strftime("%Y%m%d%H%M%S"),
                       values={"a21026": {"Avg": so2, "Flag": "N"},
                               "a19001": {"Avg": 10.5, "Flag": "N"}})
    return qn, raw


class Client:
    """A data logger on a loopback connection."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.framer = Framer()
        self.inbox: list = []

    async def connect(self, port: int) -> Client:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    async def send(self, raw: bytes) -> None:
        assert self.writer is not None
        self.writer.write(raw)
        await self.writer.drain()

    async def read_packets(self, timeout: float) -> list:
        """Read what arrives within ``timeout`` seconds; return decoded packets."""
        assert self.reader is not None
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), end - loop.time())
            except TimeoutError:
                break
            if not data:
                break
            for f in self.framer.feed(data):
                if isinstance(f, bytes):
                    self.inbox.append(parse_packet(f))
        out, self.inbox = self.inbox, []
        return out

    async def wait_for(self, cn: str, timeout: float = 5.0, qn: str | None = None):
        """Wait for a packet with that CN (and QN); return it or None."""
        assert self.reader is not None
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for i, p in enumerate(self.inbox):
                if p.cn == cn and (qn is None or p.qn == qn):
                    return self.inbox.pop(i)
            left = end - loop.time()
            if left <= 0:
                return None
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except TimeoutError:
                return None
            if not data:
                return None
            for f in self.framer.feed(data):
                if isinstance(f, bytes):
                    self.inbox.append(parse_packet(f))

    async def closed_by_peer(self, timeout: float) -> bool:
        assert self.reader is not None
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()


async def start_gateway(db_path: Path, **changes: object) -> tuple[Gateway, int]:
    gw = Gateway(db_path, fast_settings(**changes))
    port = await gw.start("127.0.0.1", 0)
    return gw, port


def block_ack_write(gw: Gateway) -> threading.Event:
    """Hold the gateway's acknowledging write (the file journal's fsync, or the DuckDB
    commit without it) until the returned event is set (at most 10 s)."""
    release = threading.Event()
    store = gw._store
    assert store is not None
    name = "log_batch" if store.log is not None else "store_batch"
    real = getattr(store, name)

    def blocked(items, *args):
        release.wait(10)
        return real(items, *args)

    setattr(store, name, blocked)
    return release


async def send_minutes(c: Client, mn: str, minutes: range) -> None:
    """Send one minute packet of ``mn`` per minute in ``minutes``; assert each is acknowledged."""
    for m in minutes:
        qn, raw = minute_packet(mn, m)
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn, timeout=5) is not None


async def until_materialised(gw: Gateway, tries: int = 100, pause_s: float = 0.05) -> bool:
    """Wait until the gateway's status shows no packet waiting for DuckDB; False if it never did.

    ``tries`` looks at the status ``pause_s`` [s] apart.
    """
    for _ in range(tries):
        if gw.status.as_dict()["materialise_pending_packets"] == 0:
            return True
        await asyncio.sleep(pause_s)
    return gw.status.as_dict()["materialise_pending_packets"] == 0
