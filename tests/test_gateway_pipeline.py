"""The pipelined writer: the next batch is handed over while a commit runs, and nothing is
answered before its own commit returned — also when the gateway stops meanwhile."""

from __future__ import annotations

import asyncio
import threading

import duckdb
import pytest

from test_gateway_helpers import Client, minute_packet, mn_of, register, start_gateway

pytestmark = pytest.mark.timeout(60)


def _block_first_commit(gw) -> tuple[threading.Event, list[int]]:
    release, sizes = threading.Event(), []
    # file journal: the acknowledging step is the log's append + fsync
    name = "log_batch" if gw._store.log is not None else "store_batch"
    real = getattr(gw._store, name)

    def blocked(items, *args):
        sizes.append(len(items))
        if len(sizes) == 1:
            release.wait(10)
        return real(items, *args)

    setattr(gw._store, name, blocked)
    return release, sizes


async def _until(cond, timeout: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < end
        await asyncio.sleep(0.01)


async def test_next_batch_is_handed_over_during_a_commit_and_answered_after_its_own(db_path):
    register(db_path, [mn_of(i) for i in range(6)])
    gw, port = await start_gateway(db_path, pipeline=True, pipeline_min=1)
    release, sizes = _block_first_commit(gw)
    try:
        first = await Client().connect(port)
        qn_a, raw_a = minute_packet(mn_of(0), 0)
        await first.send(raw_a)
        await _until(lambda: len(sizes) == 1)  # A's commit is running (blocked)
        others = [await Client().connect(port) for _ in range(5)]
        sent = []
        for i, c in enumerate(others, start=1):
            qn, raw = minute_packet(mn_of(i), 0)
            await c.send(raw)
            sent.append(qn)
        await _until(lambda: len(gw._jobs) == 2)  # B decoded and handed over behind A
        assert gw._jobs[0].size == 1 and 1 <= gw._jobs[1].size <= 5
        assert await first.wait_for("9014", timeout=0.2) is None
        assert await others[0].wait_for("9014", timeout=0.05) is None
        release.set()
        assert await first.wait_for("9014", qn=qn_a) is not None
        for c, qn in zip(others, sent, strict=True):
            assert await c.wait_for("9014", qn=qn) is not None
        assert sizes[0] == 1 and sum(sizes) == 6
        for c in [first, *others]:
            await c.close()
    finally:
        release.set()
        await gw.stop()


async def test_stop_during_a_commit_still_answers_what_it_stores(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    release, sizes = _block_first_commit(gw)
    c = await Client().connect(port)
    qn, raw = minute_packet(mn_of(1), 0)
    await c.send(raw)
    await _until(lambda: len(sizes) == 1)
    stopping = asyncio.create_task(gw.stop())
    await asyncio.sleep(0.1)
    release.set()
    assert await c.wait_for("9014", qn=qn) is not None
    await stopping
    await c.close()
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 1


@pytest.mark.parametrize("changes", [{"pipeline": True}, {"pipeline_min": 1}])
async def test_no_batch_starts_beside_a_running_commit_below_pipeline_min_or_unpipelined(
        db_path, changes):
    """Pipelined, below ``pipeline_min`` waiting packets, and always when pipelining is off
    (the default), commits stay one after another (fewer, larger commits: each has a fixed
    cost)."""
    register(db_path, [mn_of(i) for i in range(4)])
    gw, port = await start_gateway(db_path, **changes)
    assert gw.settings.pipeline_min == changes.get("pipeline_min", 100)
    assert gw.settings.pipeline == changes.get("pipeline", False)
    release, sizes = _block_first_commit(gw)
    try:
        clients = [await Client().connect(port) for _ in range(4)]
        qns = []
        for i, c in enumerate(clients):
            qn, raw = minute_packet(mn_of(i), 0)
            await c.send(raw)
            qns.append(qn)
            if i == 0:
                await _until(lambda: len(sizes) == 1)
        await asyncio.sleep(0.2)
        assert len(gw._jobs) == 1 and len(gw._raw) == 3
        release.set()
        for c, qn in zip(clients, qns, strict=True):
            assert await c.wait_for("9014", qn=qn) is not None
            await c.close()
        assert sizes == [1, 3]
    finally:
        release.set()
        await gw.stop()
