"""Talk-back: history requests on gaps, set-time on drift, 1013 → 9013 + 1012, offline alerts."""

from __future__ import annotations

import asyncio
import datetime as dt

import duckdb
import pytest

from lantian.hj212 import build_packet
from lantian.hj212.gwcodec import now_cst
from lantian.hj212.talkback import (
    HistoryRequest,
    LoggerState,
    SetTime,
    TalkbackSettings,
    is_offline,
    observe,
)
from test_gateway_helpers import PW, Client, minute_packet, mn_of, register, start_gateway

pytestmark = pytest.mark.timeout(60)
S = TalkbackSettings()  # the defaults equal gateway.toml (checked below)
T0 = dt.datetime(2024, 3, 1, 8, 0)


def test_defaults_match_the_settings_file():
    from lantian.hj212.gwsettings import load_settings

    assert load_settings().talkback == S


def test_minute_gap_asks_for_the_missing_minutes_only():
    st = LoggerState("MN")
    now = T0
    assert observe(st, "2051", T0, now, S) == []
    assert observe(st, "2051", T0 + dt.timedelta(minutes=1), now, S) == []
    # 08:02..08:04 missing: next is 08:05 -> ask BeginTime 08:02, EndTime 08:04
    acts = observe(st, "2051", T0 + dt.timedelta(minutes=5), now, S)
    assert acts == [HistoryRequest("2051", T0 + dt.timedelta(minutes=2),
                                   T0 + dt.timedelta(minutes=4), "minute_gap")]
    # re-sent history moves nothing back and asks nothing
    assert observe(st, "2051", T0 + dt.timedelta(minutes=3), now, S) == []
    assert st.last_minute == T0 + dt.timedelta(minutes=5)


def test_hour_gap_and_request_rate_limit():
    st = LoggerState("MN")
    now = T0
    observe(st, "2061", T0, now, S)
    acts = observe(st, "2061", T0 + dt.timedelta(hours=3), now, S)
    assert acts == [HistoryRequest("2061", T0 + dt.timedelta(hours=1),
                                   T0 + dt.timedelta(hours=2), "hour_gap")]
    # another gap 10 s later is not asked for (history_request_min_interval_s = 60)
    acts = observe(st, "2061", T0 + dt.timedelta(hours=5), now + dt.timedelta(seconds=10), S)
    assert acts == []


def test_drift_beyond_threshold_sets_clock_once():
    st = LoggerState("MN")
    now = T0
    assert observe(st, "2011", now + dt.timedelta(seconds=119), now, S) == []
    acts = observe(st, "2011", now - dt.timedelta(seconds=300), now, S)
    assert acts == [SetTime(-300.0)]
    # within clock_set_min_interval_s no second 1012
    assert observe(st, "2011", now - dt.timedelta(seconds=300),
                   now + dt.timedelta(seconds=30), S) == []


def test_offline_after_factor_times_rtd_interval():
    st = LoggerState("MN", last_seen=T0)
    # 30 s x 10 = 300 s
    assert not is_offline(st, T0 + dt.timedelta(seconds=300), S)
    assert is_offline(st, T0 + dt.timedelta(seconds=301), S)


async def test_gap_in_minute_data_sends_2051_history_request(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        for m in (0, 1, 4):
            qn, raw = minute_packet(mn_of(1), m)
            await c.send(raw)
            assert await c.wait_for("9014", qn=qn) is not None
        req = await c.wait_for("2051", timeout=3)
        assert req is not None
        assert req.params["BeginTime"] == "20240301080200"
        assert req.params["EndTime"] == "20240301080300"
        assert req.needs_reply and req.mn == mn_of(1) and req.pw == PW
        # the logger answers with the two missing minutes: stored, no new request
        for m in (2, 3):
            qn, raw = minute_packet(mn_of(1), m)
            await c.send(raw)
            assert await c.wait_for("9014", qn=qn) is not None
        assert await c.wait_for("2051", timeout=0.3) is None
        await c.close()
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 5
    rows = con.execute("SELECT cn, reason, begin_time, end_time FROM gateway_command").fetchall()
    assert rows == [("2051", "minute_gap", T0 + dt.timedelta(minutes=2),
                     T0 + dt.timedelta(minutes=3))]


async def test_clock_drift_in_realtime_data_sends_1012(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        t = (now_cst() - dt.timedelta(minutes=15)).replace(microsecond=0)
        raw = build_packet(st="31", cn="2011", pw=PW, mn=mn_of(1), flag=5,
                           qn=t.strftime("%Y%m%d%H%M%S") + "001",
                           data_time=t.strftime("%Y%m%d%H%M%S"),
                           values={"a21026": {"Rtd": 10.0, "Flag": "N"}})
        before = now_cst().replace(microsecond=0)
        await c.send(raw)
        assert await c.wait_for("9014") is not None
        req = await c.wait_for("1012", timeout=3)
        assert req is not None
        sent = dt.datetime.strptime(req.params["SystemTime"], "%Y%m%d%H%M%S")
        assert before <= sent <= now_cst()
        await c.close()
    finally:
        await gw.stop()


async def test_time_calibration_request_gets_9013_and_1012(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        raw = build_packet(st="31", cn="1013", pw=PW, mn=mn_of(1), flag=4,
                           qn="20240301080000123")
        await c.send(raw)
        ack = await c.wait_for("9013", qn="20240301080000123")
        assert ack is not None and ack.st == "91"
        assert await c.wait_for("1012", timeout=3) is not None
        await c.close()
    finally:
        await gw.stop()


async def test_silent_logger_raises_offline_alert_and_clears_it(db_path):
    register(db_path, [mn_of(1)])
    # offline after 0.05 s x 4 = 0.2 s of silence
    gw, port = await start_gateway(db_path)
    gw.settings = gw.settings.with_(
        talkback=TalkbackSettings(rtd_interval_s=0.05, offline_factor=4))
    try:
        c = await Client().connect(port)
        qn, raw = minute_packet(mn_of(1), 0)
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn) is not None
        for _ in range(60):
            if gw.status.counts["offline_alerts"]:
                break
            await asyncio.sleep(0.05)
        assert gw.status.counts["offline_alerts"] == 1
        qn, raw = minute_packet(mn_of(1), 1)
        await c.send(raw)  # back online: the alert is cleared
        assert await c.wait_for("9014", qn=qn) is not None
        await asyncio.sleep(0.1)
        await c.close()
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute("SELECT mn, kind, cleared_at IS NOT NULL FROM gateway_alert").fetchall()
    assert rows[0] == (mn_of(1), "offline", True)


async def test_2025_heartbeat_with_a_bit_is_answered_and_counts_as_seen(db_path):
    """9015 heartbeat (HJ 212-2025, reference §13, unverified): 9014 with its QN."""
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        raw = build_packet(st="31", cn="9015", pw=PW, mn=mn_of(1), flag=9,
                           qn="20260301080000123", version="2025")
        await c.send(raw)
        ack = await c.wait_for("9014", qn="20260301080000123")
        assert ack is not None and ack.version == "2025"
        assert gw.loggers[mn_of(1)].last_seen is not None
        await c.close()
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 0


async def test_many_loggers_dropping_at_once_get_one_open_alert_each(db_path):
    mns = [mn_of(i) for i in range(60)]
    register(db_path, mns)
    gw, port = await start_gateway(db_path)
    gw.settings = gw.settings.with_(
        talkback=TalkbackSettings(rtd_interval_s=0.05, offline_factor=4))
    try:
        for mn in mns:
            c = await Client().connect(port)
            qn, raw = minute_packet(mn, 0)
            await c.send(raw)
            assert await c.wait_for("9014", qn=qn) is not None
            await c.close()
        for _ in range(100):
            if gw.status.counts["offline_alerts"] >= len(mns):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # more sweeps: no second alert while one is open
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute("SELECT mn, count(*) FROM gateway_alert WHERE kind = 'offline'"
                       " AND cleared_at IS NULL GROUP BY mn").fetchall()
    assert sorted(rows) == [(mn, 1) for mn in mns]


def test_gateway_modules_export_what_they_declare():
    import importlib

    for name in ("gateway", "gwcodec", "gwsettings", "gwstore", "talkback", "forward",
                 "simulator", "loadgen", "gwbatch", "gwconn", "gwreply", "gwtalk",
                 "gwwriter", "reassembly"):
        mod = importlib.import_module(f"lantian.hj212.{name}")
        assert mod.__all__, name
        for attr in mod.__all__:
            assert hasattr(mod, attr), (name, attr)
    from lantian.hj212.gateway import Gateway

    assert {"start", "stop", "connection", "refresh_registry"} <= set(dir(Gateway))


async def test_a_batch_writes_every_9014_before_its_talk_back(db_path):
    """Session 11: the talk-back of a committed batch runs once its replies are all written;
    each logger's history request still follows its own 9014 on its connection."""
    from lantian.hj212 import gwbatch, parse_packet
    from lantian.hj212.gateway import Gateway
    from lantian.hj212.gwconn import Connection
    from lantian.hj212.gwreply import data_replies
    from lantian.hj212.gwwriter import CommitJob
    from test_gateway_helpers import fast_settings

    wire: list[tuple[int, str]] = []  # (connection, CN) in the order written

    class Recording:
        def __init__(self, k: int) -> None:
            self.k = k

        def get_extra_info(self, _name: str) -> tuple[str, int]:
            return ("127.0.0.1", 4000 + self.k)

        def set_write_buffer_limits(self, high: int) -> None:
            pass

        def write(self, data: bytes) -> None:
            wire.append((self.k, parse_packet(data.rstrip(b"\r\n")).cn))

        def get_write_buffer_size(self) -> int:
            return 0

        def is_closing(self) -> bool:
            return False

    gw = Gateway(db_path, fast_settings())
    conns = []
    for k in range(3):
        c = Connection(gw)
        c.connection_made(Recording(k))
        conns.append(c)
        c.pending = 1
        # minute 0 seen before; loggers 0 and 2 now send minute 3 (a gap), logger 1 minute 1
        gw.loggers[mn_of(k)] = LoggerState(mn_of(k), last_minute=T0)
    frames = [minute_packet(mn_of(k), 1 if k == 1 else 3)[1].rstrip(b"\r\n") for k in range(3)]
    heads = gwbatch.heads_of(gwbatch.decode_uploads(frames))
    replies = data_replies(heads, now_cst())
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fut.set_result((["journalled"] * 3, 0.0))
    job = CommitJob(fut, [(c, h, h) for c, h in zip(conns, heads, strict=True)],
                    frozenset({"journalled"}), replies, 0.0, loop.create_future())
    try:
        gw._answer(job)
    finally:
        gw._db.shutdown()
        gw._mat.shutdown()
        gw._decoder.shutdown()
    assert wire == [(0, "9014"), (1, "9014"), (2, "9014"), (0, "2051"), (2, "2051")]
    assert gw.status.counts["acked"] == 3 and [c.pending for c in conns] == [0, 0, 0]
    assert gw.loggers[mn_of(1)].last_minute == T0 + dt.timedelta(minutes=1)
