"""The batch path's per-row work off the event loop (session 7): :func:`gwbatch.sort_uploads`
decides plain / rejected / per-packet rows, builds the store batch and the 9014 replies in
one call (the decoder thread's); the loop applies connection state; the writer's timeline
counters; the load generator's closed-loop round trips."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

import numpy as np
import pytest

from lantian.hj212 import build_packet, loadgen
from lantian.hj212.gateway import UPLOAD_CNS
from lantian.hj212.gwbatch import (
    OTHER,
    PLAIN,
    REJECT,
    column_batch,
    decode_uploads,
    heads_of,
    keep_rows,
    sort_uploads,
)
from lantian.hj212.gwreply import data_replies
from lantian.hj212.loadgen import closed_loop, round_trips
from lantian.ledger.registry import MonitoringPoint
from test_gateway_helpers import PW, Client, minute_packet, mn_of, register, start_gateway

NOW = dt.datetime(2024, 3, 1, 8, 30, 0)
AT = dt.datetime(2024, 3, 1, 8, 29, 59)


def _point(mn: str, *, sm4_key: str | None = None, active: bool = True) -> MonitoringPoint:
    return MonitoringPoint(mn=mn, password=PW, outlet_id=None, outlet=None, enterprise_id=None,
                           enterprise=None, source_type="cement_kiln", protocol=None,
                           parameters=(), flow_unit="m3/h", sm4_key=sm4_key, active=active)


def _frames() -> tuple[list[bytes], dict[str, MonitoringPoint], list[int]]:
    """Queued frames of every kind, the registry, and each frame's expected kind."""
    registry = {mn_of(i): _point(mn_of(i)) for i in range(4)}
    registry[mn_of(5)] = _point(mn_of(5), sm4_key="0" * 32)
    registry[mn_of(6)] = _point(mn_of(6), active=False)
    split = build_packet(st="31", cn="2051", pw=PW, mn=mn_of(1), flag=7,
                         qn="20240301080000000", pnum=2, pno=1,
                         data_time="20240301080000", values={"a21026": {"Avg": 1.0}})
    good = minute_packet(mn_of(0), 0)[1].rstrip(b"\r\n")
    cases = [
        (good, PLAIN),
        (minute_packet(mn_of(1), 1, flag=4)[1].rstrip(b"\r\n"), PLAIN),  # no A bit
        (minute_packet(mn_of(9), 1)[1].rstrip(b"\r\n"), REJECT),  # unknown MN
        (minute_packet(mn_of(2), 1, pw="654321")[1].rstrip(b"\r\n"), REJECT),  # wrong PW
        (minute_packet(mn_of(6), 1)[1].rstrip(b"\r\n"), REJECT),  # inactive point
        (good[:-4] + b"0000", OTHER),  # bad CRC
        (split, OTHER),  # split message: the reassembler
        (minute_packet(mn_of(5), 1)[1].rstrip(b"\r\n"), OTHER),  # SM4 key: per packet
        (build_packet(st="31", cn="1013", pw=PW, mn=mn_of(3), flag=5,
                      qn="20240301080000000"), OTHER),  # not an upload
        (minute_packet(mn_of(3), 2, cn="2061")[1].rstrip(b"\r\n"), PLAIN),
    ]
    return [f for f, _ in cases], registry, [k for _, k in cases]


def _sorted(frames, registry):
    n = len(frames)
    peers = [f"127.0.0.1:{4000 + i}" for i in range(n)]
    received = [AT] * n
    return sort_uploads(frames, peers, received, registry, UPLOAD_CNS, NOW), peers, received


def test_sort_uploads_kinds_and_reasons():
    frames, registry, kinds = _frames()
    s, _, _ = _sorted(frames, registry)
    assert s.kinds == kinds
    assert s.rows == [i for i, k in enumerate(kinds) if k == PLAIN]
    assert [s.reasons[i] for i, k in enumerate(kinds) if k == REJECT] == [
        "unknown_mn", "wrong_password", "inactive"]
    assert all(s.reasons[i] is None for i, k in enumerate(kinds) if k != REJECT)
    assert s.heads == heads_of(decode_uploads(frames))


def test_sort_uploads_builds_the_batch_and_replies_of_the_plain_rows():
    frames, registry, _ = _frames()
    s, peers, received = _sorted(frames, registry)
    d = decode_uploads(frames)
    want = column_batch(d, s.rows, [frames[i] for i in s.rows], [peers[i] for i in s.rows],
                        [received[i] for i in s.rows])
    _same_batch(s.batch, want)
    heads = heads_of(d)
    answered = [heads[i] for i in s.rows if heads[i].needs_reply]
    assert [r for r in s.replies if r is not None] == data_replies(answered, NOW)
    assert [r is None for r in s.replies] == [not heads[i].needs_reply for i in s.rows]
    assert s.replies[1] is None  # Flag=4: no A bit, no 9014


def test_keep_rows_rebuilds_the_batch_without_the_dropped_rows():
    frames, registry, _ = _frames()
    s, peers, received = _sorted(frames, registry)
    first, _second, third = s.rows
    k = keep_rows(s, [first, third], frames, peers, received)
    assert k.rows == [first, third]
    assert k.replies == [s.replies[0], s.replies[2]]
    want = column_batch(decode_uploads(frames), [first, third], [frames[first], frames[third]],
                        [peers[first], peers[third]], [AT, AT])
    _same_batch(k.batch, want)
    none = keep_rows(s, [], frames, peers, received)
    assert none.rows == [] and none.batch is None and none.replies == []


def test_sort_uploads_without_plain_rows_has_no_batch():
    frames, registry, kinds = _frames()
    others = [f for f, k in zip(frames, kinds, strict=True) if k != PLAIN]
    s, _, _ = _sorted(others, registry)
    assert s.rows == [] and s.batch is None and s.replies == []


def _same_batch(a, b) -> None:
    assert a is not None and b is not None
    for name in ("raw", "source", "received_at", "error", "mn", "st", "cn", "qn", "data_time",
                 "version"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("ok", "item_row", "item_code", "item_suffix", "item_num", "item_text",
                 "item_code_id", "item_suffix_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("decode_thread_min", [1, 1000])
async def test_gateway_answers_sorted_rows_and_applies_connection_state(db_path,
                                                                        decode_thread_min):
    """Same replies on the decoder thread and on the loop; a rejected packet is never
    answered; the writer's timeline counters add up per batch."""
    register(db_path, [mn_of(i) for i in range(3)])
    gw, port = await start_gateway(db_path, decode_thread_min=decode_thread_min)
    try:
        good = [await Client().connect(port) for _ in range(3)]
        bad = await Client().connect(port)
        qns = []
        for i, c in enumerate(good):
            qn, raw = minute_packet(mn_of(i), 0)
            await c.send(raw)
            qns.append(qn)
        bad_qn, bad_raw = minute_packet(mn_of(2), 1, pw="000000")
        await bad.send(bad_raw)
        for c, qn in zip(good, qns, strict=True):
            assert await c.wait_for("9014", qn=qn) is not None
        assert await bad.wait_for("9014", qn=bad_qn, timeout=0.3) is None
        counts = gw.status.counts
        assert counts["rejected_wrong_password"] == 1
        assert counts["acked"] == 3
        assert counts["cycle_batches"] == counts["batches"] >= 1
        for key in ("cycle_commit_us", "cycle_answer_wait_us", "cycle_answer_us"):
            assert counts[key] >= 0
        assert gw.by_mn[mn_of(0)] is not None
        for c in [*good, bad]:
            await c.close()
    finally:
        await gw.stop()


def test_round_trips_percentiles():
    lat = [i / 1000 for i in range(1, 101)]  # 1 … 100 ms
    r = round_trips(lat)
    assert r == {"rtt_p50_ms": 51.0, "rtt_p90_ms": 91.0, "rtt_p99_ms": 100.0,
                 "rtt_mean_ms": 50.5}
    assert round_trips([]) == {"rtt_p50_ms": None, "rtt_p90_ms": None, "rtt_p99_ms": None,
                               "rtt_mean_ms": None}


@pytest.mark.timeout(60)
async def test_closed_loop_reports_round_trips(monkeypatch):
    """The closed loop measures each packet's send → 9014 time (a server that answers at once)."""
    monkeypatch.setattr(loadgen, "_freeze_gc", lambda: None)  # keep the test process's gc

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(b"##0000QN=" + line[9:26] + b";CN=9014\r\n")
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    a = argparse.Namespace(host="127.0.0.1", port=port, conns=3, duration=0.3, warmup=0.1,
                           pool=60, prefix="8888", pw=PW, base="2030-01-01T00:00:00")
    try:
        r = await closed_loop(a)
    finally:
        server.close()
        await server.wait_closed()
    assert r["acks"] > 0
    assert 0 < r["rtt_p50_ms"] <= r["rtt_p90_ms"] <= r["rtt_p99_ms"]
    assert r["rtt_mean_ms"] > 0
