"""A batch is answered as soon as its commit returns (session 7), not when the writer task
next looks: in the pipelined mode the writer may be waiting for the next batch's decode."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lantian.hj212 import gwbatch
from test_gateway_helpers import (
    Client,
    block_ack_write,
    minute_packet,
    mn_of,
    register,
    start_gateway,
)

pytestmark = pytest.mark.timeout(60)


async def _until(cond, timeout: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < end
        await asyncio.sleep(0.01)


async def test_a_committed_batch_is_answered_while_the_next_one_is_being_decoded(
        db_path, monkeypatch):
    register(db_path, [mn_of(0), mn_of(1)])
    gw, port = await start_gateway(db_path, pipeline=True, pipeline_min=1, decode_thread_min=1)
    release_log = block_ack_write(gw)
    decoding, release_decode = threading.Event(), threading.Event()
    real = gwbatch.sort_uploads
    calls = []

    def slow_second(*args):
        calls.append(len(args[0]))
        if len(calls) == 2:  # the second batch's decode waits until told
            decoding.set()
            release_decode.wait(10)
        return real(*args)

    monkeypatch.setattr(gwbatch, "sort_uploads", slow_second)
    try:
        a, b = await Client().connect(port), await Client().connect(port)
        qn_a, raw_a = minute_packet(mn_of(0), 0)
        await a.send(raw_a)
        await _until(lambda: len(gw._jobs) == 1)  # A handed to the (blocked) log writer
        qn_b, raw_b = minute_packet(mn_of(1), 0)
        await b.send(raw_b)
        await _until(decoding.is_set)  # the writer now waits for B's decode
        assert await a.wait_for("9014", qn=qn_a, timeout=0.2) is None  # A not durable yet
        release_log.set()
        assert await a.wait_for("9014", qn=qn_a) is not None  # answered, B still decoding
        assert not release_decode.is_set() and len(calls) == 2
        release_decode.set()
        assert await b.wait_for("9014", qn=qn_b) is not None
        assert gw.status.counts["acked"] == 2
        await a.close()
        await b.close()
    finally:
        release_log.set()
        release_decode.set()
        await gw.stop()


async def test_a_failed_commit_answers_nothing_and_the_writer_goes_on(db_path):
    register(db_path, [mn_of(0)])
    gw, port = await start_gateway(db_path)
    store = gw._store
    name = "log_batch" if store.log is not None else "store_batch"
    real = getattr(store, name)
    failed = []

    def fail_once(items, *args):
        if not failed:
            failed.append(len(items))
            raise OSError("disk gone")
        return real(items, *args)

    setattr(store, name, fail_once)
    try:
        c = await Client().connect(port)
        qn0, raw0 = minute_packet(mn_of(0), 0)
        await c.send(raw0)
        assert await c.wait_for("9014", qn=qn0, timeout=0.5) is None
        assert gw.status.counts["commit_failures"] == 1 and gw._jobs == []
        qn1, raw1 = minute_packet(mn_of(0), 1)
        await c.send(raw1)
        assert await c.wait_for("9014", qn=qn1) is not None
        await c.close()
    finally:
        await gw.stop()
