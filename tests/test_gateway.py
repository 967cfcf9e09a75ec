"""Loopback tests of the HJ 212 gateway (127.0.0.1 only)."""

from __future__ import annotations

import asyncio

import duckdb
import pytest

from test_gateway_helpers import (
    PW,
    Client,
    block_ack_write,
    minute_packet,
    mn_of,
    register,
    start_gateway,
)

pytestmark = pytest.mark.timeout(60)


def _db(db_path):
    return duckdb.connect(str(db_path), read_only=True)


async def test_ack_same_qn_after_commit_and_values_stored(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        qn, raw = minute_packet(mn_of(1), 0, so2=12.5)
        await c.send(raw)
        reply = await c.wait_for("9014", qn=qn)
        assert reply is not None and reply.st == "91" and reply.mn == mn_of(1)
        await c.close()
    finally:
        await gw.stop()
    con = _db(db_path)
    rows = con.execute("SELECT mn, ts, so2_mg_m3, so2_flag, o2_pct FROM flue_minute").fetchall()
    assert [(r[0], r[1].isoformat(), r[2], r[3], r[4]) for r in rows] == [
        (mn_of(1), "2024-03-01T08:00:00", 12.5, "N", 10.5)
    ]
    j = con.execute("SELECT verdict, cn, qn FROM packet_journal").fetchall()
    assert j == [("accepted", "2051", qn)]


async def test_no_ack_before_the_commit_returns(db_path):
    """The 9014 waits for the durable commit: block the commit, no reply may come."""
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    release = block_ack_write(gw)  # file journal: the fsync; else the DuckDB commit
    try:
        c = await Client().connect(port)
        qn, raw = minute_packet(mn_of(1), 0)
        await c.send(raw)
        assert await c.wait_for("9014", timeout=0.5) is None
        release.set()
        assert (await c.wait_for("9014", timeout=5, qn=qn)) is not None
        await c.close()
    finally:
        release.set()
        await gw.stop()


async def test_retransmission_acknowledged_but_stored_once(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        qn, raw = minute_packet(mn_of(1), 5)
        for _ in range(3):
            await c.send(raw)
            assert await c.wait_for("9014", qn=qn) is not None
        await c.close()
    finally:
        await gw.stop()
    con = _db(db_path)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 1
    verdicts = [r[0] for r in con.execute(
        "SELECT verdict FROM packet_journal ORDER BY id").fetchall()]
    assert verdicts == ["accepted", "duplicate", "duplicate"]


async def test_200_concurrent_loggers_every_acknowledged_packet_is_stored(db_path):
    n, per = 200, 5
    mns = [mn_of(i) for i in range(n)]
    register(db_path, mns)
    gw, port = await start_gateway(db_path)
    acked: set[tuple[str, str]] = set()

    async def logger(mn: str) -> None:
        c = await Client().connect(port)
        for m in range(per):
            qn, raw = minute_packet(mn, m, so2=float(m))
            await c.send(raw)
            if await c.wait_for("9014", qn=qn, timeout=20) is not None:
                acked.add((mn, qn))
        await c.close()

    try:
        await asyncio.gather(*(logger(mn) for mn in mns))
        assert gw.status.counts["batches"] < n * per  # group commit: batches hold many
    finally:
        await gw.stop()
    assert len(acked) == n * per
    con = _db(db_path)
    stored = set(con.execute(
        "SELECT mn, qn FROM packet_journal WHERE verdict = 'accepted'").fetchall())
    assert acked <= stored
    per_mn = con.execute("SELECT count(DISTINCT mn), count(*) FROM flue_minute").fetchone()
    assert per_mn == (n, n * per)


async def test_unknown_mn_and_wrong_password_never_acknowledged(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        bad_pw = await Client().connect(port)
        for m in range(3):  # auth_fail_limit = 3 in gateway.toml
            _, raw = minute_packet(mn_of(1), m, pw="000000")
            await bad_pw.send(raw)
        unknown = await Client().connect(port)
        _, raw = minute_packet(mn_of(99), 0)
        await unknown.send(raw)
        assert await unknown.wait_for("9014", timeout=0.5) is None
        assert await bad_pw.closed_by_peer(timeout=3)
        assert gw.status.counts["closed_auth"] == 1
        assert gw.status.counts["rejected_wrong_password"] == 3
        assert gw.status.counts["rejected_unknown_mn"] == 1
        await unknown.close()
        await bad_pw.close()
    finally:
        await gw.stop()
    con = _db(db_path)
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 0
    counts = dict(con.execute(
        "SELECT reason, count(*) FROM rejected_traffic GROUP BY reason").fetchall())
    assert counts == {"wrong_password": 3, "unknown_mn": 1}


async def test_garbage_oversized_and_slow_peers_do_not_block_others(db_path):
    register(db_path, [mn_of(1), mn_of(2)])
    gw, port = await start_gateway(db_path)
    try:
        garbage = await Client().connect(port)
        oversized = await Client().connect(port)
        slow = await Client().connect(port)
        _, half = minute_packet(mn_of(2), 0)
        await slow.send(half[: len(half) // 2])  # then stalls
        await oversized.send(b"##9999" + b"A" * 30000)  # no end within the frame limit
        await garbage.send(bytes(range(256)) * 40)
        good = await Client().connect(port)
        loop = asyncio.get_running_loop()
        for m in range(20):
            t0 = loop.time()
            qn, raw = minute_packet(mn_of(1), m)
            await good.send(raw)
            await garbage.send(b"\x00##xx\r\n" * 50)
            assert await good.wait_for("9014", qn=qn, timeout=2) is not None
            assert loop.time() - t0 < 1.0
        # memory per connection stays bounded by the framer's limit
        for conn in gw.conns:
            assert conn.framer.buffered <= gw.settings.max_frame
        await slow.send(half[len(half) // 2 :])  # the slow writer finishes: acknowledged
        assert await slow.wait_for("9014", timeout=2) is not None
        assert gw.status.counts["frame_errors"] > 0
        for c in (garbage, oversized, slow, good):
            await c.close()
    finally:
        await gw.stop()
    con = _db(db_path)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 21


async def test_idle_connection_is_closed(db_path):
    gw, port = await start_gateway(db_path, idle_timeout_s=0.2)
    try:
        c = await Client().connect(port)
        assert await c.closed_by_peer(timeout=3)
        assert gw.status.counts["closed_idle"] == 1
        await c.close()
    finally:
        await gw.stop()


class _FakeTransport(asyncio.Transport):
    """A transport whose peer never reads: everything written stays buffered."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0
        self.aborted = False

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def get_write_buffer_size(self):
        return self.buffered

    def write(self, data):
        self.buffered += len(data)

    def is_closing(self):
        return self.aborted

    def abort(self):
        self.aborted = True


async def test_peer_that_never_reads_its_replies_is_closed(db_path):
    """Write buffer bounded: beyond write_buffer_max the connection is aborted."""
    from lantian.hj212.gateway import _Conn

    gw, _ = await start_gateway(db_path, write_buffer_max=2000)
    try:
        conn = _Conn(gw)
        t = _FakeTransport()
        conn.connection_made(t)
        n = 0
        while not t.aborted and n < 1000:
            conn.write(b"x" * 100)
            n += 1
        assert t.aborted and n == 21  # 21 x 100 B > 2000 B
        assert gw.status.counts["closed_write_buffer"] == 1
        conn.connection_lost(None)
    finally:
        await gw.stop()


async def test_disk_nearly_full_stops_acknowledging_and_says_why(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path, min_free_bytes=1 << 62)
    try:
        c = await Client().connect(port)
        for _ in range(40):
            if not gw.status.accepting:
                break
            await asyncio.sleep(0.05)
        assert not gw.status.accepting
        assert "disk nearly full" in gw.status.reason
        _, raw = minute_packet(mn_of(1), 0)
        await c.send(raw)
        assert await c.wait_for("9014", timeout=0.5) is None
        assert gw.status.counts["not_acknowledged_disk"] == 1
        await c.close()
    finally:
        await gw.stop()
    con = _db(db_path)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 0
    assert con.execute(
        "SELECT kind FROM gateway_alert WHERE cleared_at IS NULL").fetchall() == [("disk_full",)]


async def test_registry_change_is_picked_up_without_restart(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        qn, raw = minute_packet(mn_of(7), 0)
        await c.send(raw)
        assert await c.wait_for("9014", timeout=0.3) is None
        # registered while the gateway runs (through the gateway's own connection)
        from lantian.ledger.registry import add_point

        await gw._run_db(lambda: add_point(gw._store.con, mn=mn_of(7), password=PW))
        await asyncio.sleep(1.1)  # unknown-MN refresh is rate-limited to once a second
        qn, raw = minute_packet(mn_of(7), 1)
        await c.send(raw)
        await asyncio.sleep(0.2)
        await c.send(raw)  # the first one may have triggered the refresh
        assert await c.wait_for("9014", qn=qn, timeout=3) is not None
        await c.close()
    finally:
        await gw.stop()


async def test_forwarding_relays_accepted_packets_after_upstream_comes_back(db_path):
    from lantian.hj212 import Framer, build_data_reply, parse_packet

    up_port = _free_port()
    register(db_path, [mn_of(1)])
    from lantian.hj212.gateway import Gateway
    from test_gateway_helpers import fast_settings

    # file journal: frames are queued for upstream in the materialiser's transaction
    gw = Gateway(db_path, fast_settings(forward_retry_interval_s=0.1,
                                        materialise_interval_s=0.05),
                 forward_to=f"127.0.0.1:{up_port}")
    port = await gw.start("127.0.0.1", 0)
    got: list[bytes] = []

    async def upstream(reader, writer):  # answers each packet with its 9014
        fr = Framer()
        while data := await reader.read(65536):
            for f in fr.feed(data):
                if isinstance(f, bytes):
                    got.append(f)
                    writer.write(build_data_reply(parse_packet(f, strict=False)))
        writer.close()

    server = None
    try:
        c = await Client().connect(port)
        sent = []
        for m in range(3):
            qn, raw = minute_packet(mn_of(1), m)
            await c.send(raw)
            assert await c.wait_for("9014", qn=qn) is not None
            sent.append(raw.rstrip(b"\r\n"))
        await c.send(raw)  # a duplicate is not forwarded again
        assert await c.wait_for("9014") is not None
        # upstream down: kept in the queue. Poll with a deadline (a hang guard, not a
        # timing assertion): on a loaded machine the first retry may come late.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        q = -1
        while loop.time() < deadline:
            q = await gw._run_db(lambda: gw._store.con.execute(
                "SELECT count(*) FROM forward_queue").fetchone()[0])
            if q == 3 and gw.status.counts["forward_failures"] >= 1:
                break
            await asyncio.sleep(0.05)
        assert gw.status.counts["forward_failures"] >= 1
        assert q == 3
        server = await asyncio.start_server(upstream, "127.0.0.1", up_port)
        deadline = loop.time() + 60
        while len(got) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert got == sent
        # the queue rows go once the upstream's 9014s are read back (on the database
        # thread, after the relay): wait for that instead of racing gw.stop()
        deadline = loop.time() + 60
        while loop.time() < deadline:
            q = await gw._run_db(lambda: gw._store.con.execute(
                "SELECT count(*) FROM forward_queue").fetchone()[0])
            if q == 0:
                break
            await asyncio.sleep(0.05)
        await c.close()
    finally:
        await gw.stop()
        if server is not None:
            server.close()
    con = _db(db_path)
    assert con.execute("SELECT count(*) FROM forward_queue").fetchone()[0] == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_settings_file_rejects_unknown_and_missing_keys(tmp_path):
    from importlib import resources

    from lantian.errors import ConfigurationError
    from lantian.hj212.gwsettings import load_settings

    text = resources.files("lantian.catalog").joinpath("data/gateway.toml").read_text("utf-8")
    s = load_settings()
    assert (s.reply_timeout_s, s.retries) == (10.0, 3)  # HJ 212-2017 Table 1
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("clock_drift_s = 120.0", "clock_drift_seconds = 120.0"), "utf-8")
    with pytest.raises(ConfigurationError, match="clock_drift_seconds"):
        load_settings(bad)
    bad.write_text(text.replace("idle_timeout_s = 300.0", ""), "utf-8")
    with pytest.raises(ConfigurationError, match="idle_timeout_s"):
        load_settings(bad)


async def test_split_message_parts_each_acknowledged_and_values_joined(db_path):
    """PNUM/PNO parts (HJ 212-2017 §6.3.3, C.50): a 9014 per part, one row with all values."""
    from lantian.hj212 import build_packet

    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        parts = [
            ("20240301090000001", 1, {"a21026": {"Avg": 21.5, "Flag": "N"}}),
            ("20240301090000002", 2, {"a19001": {"Avg": 10.6, "Flag": "N"}}),
        ]
        for qn, pno, values in parts:
            raw = build_packet(st="31", cn="2051", pw=PW, mn=mn_of(1), flag=7, qn=qn,
                               data_time="20240301090000", values=values, pnum=2, pno=pno)
            await c.send(raw)
            assert await c.wait_for("9014", qn=qn) is not None, pno
        await c.close()
    finally:
        await gw.stop()
    con = _db(db_path)
    rows = con.execute("SELECT so2_mg_m3, o2_pct FROM flue_minute").fetchall()
    assert rows == [(21.5, 10.6)]
    verdicts = [r[0] for r in con.execute(
        "SELECT verdict FROM packet_journal ORDER BY id").fetchall()]
    assert verdicts == ["rejected:split part 0001/0002 held for reassembly", "accepted"]
