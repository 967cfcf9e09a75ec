"""Forwarding to an upstream platform waits for the upstream's 9014 (same QN), with retries."""

from __future__ import annotations

import asyncio
import socket

import duckdb
import pytest

from lantian.hj212 import Framer, build_data_reply, build_packet, parse_packet
from lantian.hj212.forward import ForwardState, reply_key, wants_reply
from lantian.hj212.gateway import Gateway
from test_gateway_helpers import Client, fast_settings, minute_packet, mn_of, register

pytestmark = pytest.mark.timeout(60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeUpstream:
    """A provincial platform that answers each packet's A bit with a 9014 — except the first
    ``drop`` times it sees a QN, when it stays silent."""

    def __init__(self, drop: int = 0) -> None:
        self.drop = drop
        self.got: list[bytes] = []
        self.seen: dict[str, int] = {}
        self.server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", port)

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fr = Framer()
        while data := await reader.read(65536):
            for f in fr.feed(data):
                if not isinstance(f, bytes):
                    continue
                self.got.append(f)
                pkt = parse_packet(f, strict=False)
                n = self.seen[pkt.qn] = self.seen.get(pkt.qn, 0) + 1
                if pkt.needs_reply and n > self.drop:
                    writer.write(build_data_reply(pkt))
        writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def _queue_len(gw: Gateway) -> int:
    return int(await gw._run_db(lambda: gw._store.con.execute(
        "SELECT count(*) FROM forward_queue").fetchone()[0]))


async def _until(cond, timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not await cond():
        assert asyncio.get_running_loop().time() < end, "condition not reached in time"
        await asyncio.sleep(0.02)


def _gateway(db_path, up_port: int, **changes) -> Gateway:
    s = fast_settings(forward_retry_interval_s=0.05, reply_timeout_s=0.3, **changes)
    return Gateway(db_path, s, forward_to=f"127.0.0.1:{up_port}")


async def _send(port: int, packets: list[tuple[str, bytes]]) -> None:
    c = await Client().connect(port)
    for qn, raw in packets:
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn) is not None
    await c.close()


async def test_packet_stays_queued_until_upstream_acks_and_is_resent_after_a_dropped_ack(
        db_path):
    register(db_path, [mn_of(1)])
    up_port = _free_port()
    up = FakeUpstream(drop=1)
    await up.start(up_port)
    gw = _gateway(db_path, up_port)
    await gw.start("127.0.0.1", 0)
    port = gw._server.sockets[0].getsockname()[1]
    try:
        packets = [minute_packet(mn_of(1), m) for m in range(3)]
        await _send(port, packets)
        await _until(lambda: _async(len(up.got) >= 3))
        # first sends unanswered: still queued (the reply timeout has not passed yet)
        assert await _queue_len(gw) == 3
        await _until(lambda: _queue_len_is(gw, 0))
        assert [f for f in up.got] == [r.rstrip(b"\r\n") for _, r in packets] * 2
        assert gw.status.counts["forward_unanswered"] == 3
        assert gw.status.counts["forwarded"] == 3
    finally:
        await gw.stop()
        up.close()


async def test_frames_without_the_a_bit_leave_the_queue_once_sent(db_path):
    register(db_path, [mn_of(1)])
    up_port = _free_port()
    up = FakeUpstream(drop=99)  # never answers
    await up.start(up_port)
    gw = _gateway(db_path, up_port)
    await gw.start("127.0.0.1", 0)
    port = gw._server.sockets[0].getsockname()[1]
    try:
        c = await Client().connect(port)
        _, raw = minute_packet(mn_of(1), 0, flag=4)  # no A bit: no 9014 anywhere
        await c.send(raw)
        await _until(lambda: _async(len(up.got) == 1))
        await _until(lambda: _queue_len_is(gw, 0))
        await c.close()
        assert gw.status.counts["forward_unanswered"] == 0
    finally:
        await gw.stop()
        up.close()


async def test_unanswered_frames_survive_a_restart_and_are_delivered_later(db_path):
    register(db_path, [mn_of(1)])
    up_port = _free_port()
    up = FakeUpstream(drop=99)
    await up.start(up_port)
    gw = _gateway(db_path, up_port)
    await gw.start("127.0.0.1", 0)
    port = gw._server.sockets[0].getsockname()[1]
    try:
        await _send(port, [minute_packet(mn_of(1), 0)])
        await _until(lambda: _async(gw.status.counts["forward_unanswered"] >= 1))
    finally:
        await gw.stop()
        up.close()
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*), min(attempts) FROM forward_queue").fetchone() == (1, 1)
    con.close()
    up2 = FakeUpstream()
    await up2.start(up_port)
    gw = _gateway(db_path, up_port)
    await gw.start("127.0.0.1", 0)
    try:
        await _until(lambda: _queue_len_is(gw, 0))
        assert len(up2.got) == 1
    finally:
        await gw.stop()
        up2.close()


async def _async(v: bool) -> bool:
    return v


async def _queue_len_is(gw: Gateway, n: int) -> bool:
    return await _queue_len(gw) == n


def test_reply_matching_by_qn_and_mn_in_2017_and_2005():
    up = build_packet(st="31", cn="2051", pw="1", mn="M1", flag=5, qn="20240301080000123",
                      data_time="20240301080000", values={"a21026": {"Avg": 1.0}})
    assert wants_reply(up) == ("20240301080000123", "M1")
    assert reply_key(build_data_reply(parse_packet(up))) == ("20240301080000123", "M1")
    no_a = build_packet(st="31", cn="2051", pw="1", mn="M1", flag=4, qn="20240301080000123",
                        data_time="20240301080000")
    assert wants_reply(no_a) is None
    old = build_packet(st="32", cn="2051", pw="1", mn="88888880000001", flag=1,
                       qn="20240301080000555", data_time="20240301080000", version="2005")
    assert wants_reply(old) == ("20240301080000555", "88888880000001")
    assert reply_key(build_data_reply(parse_packet(old))) == ("20240301080000555",
                                                              "88888880000001")
    assert reply_key(up) is None  # an upload is not an answer
    assert reply_key(b"##garbage") is None


def test_backoff_doubles_up_to_two_to_the_retries():
    st = ForwardState()
    assert [st.backoff(a, 5.0, 3) for a in range(1, 7)] == [5.0, 10.0, 20.0, 40.0, 40.0, 40.0]
