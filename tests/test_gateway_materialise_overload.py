"""Materialiser under overload (session 6): its own niced thread, a bounded lag.

The log materialiser runs on ``lantian-mat`` at ``[materialise] nice`` (acknowledgements
first, DuckDB catches up after a burst); ``[materialise] max_lag_s`` bounds how far DuckDB
may fall behind in a sustained overload (the log writer waits before the next append).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest

from lantian.errors import StoreError
from lantian.hj212.gwstore import GatewayStore, decode_log
from test_gateway_helpers import (
    Client,
    minute_packet,
    mn_of,
    register,
    send_minutes,
    start_gateway,
    until_materialised,
)

pytestmark = pytest.mark.timeout(60)

AT = dt.datetime(2024, 3, 1, 9, 0, 0)  # receive time, CST


def _batch(mn: int, minutes: range):
    frames = [minute_packet(mn_of(mn), m)[1].rstrip(b"\r\n") for m in minutes]
    return decode_log(frames, ["10.1.1.1:4000"] * len(frames), [AT] * len(frames))


def _threads() -> dict[str, list[int]]:
    """OS thread ids of this process by name (``/proc/self/task/*/comm``)."""
    out: dict[str, list[int]] = {}
    for t in Path("/proc/self/task").iterdir():
        try:
            name = (t / "comm").read_text().strip()
        except OSError:
            continue
        out.setdefault(name, []).append(int(t.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(os, "setpriority"),
                    reason="needs Linux per-thread priorities")
async def test_materialiser_runs_on_its_own_niced_thread(db_path):
    register(db_path, [mn_of(1)])
    base = os.getpriority(os.PRIO_PROCESS, 0)
    gw, port = await start_gateway(db_path, materialise_nice=7, materialise_interval_s=3600.0,
                                   materialise_max_pending=2)
    try:
        c = await Client().connect(port)
        await send_minutes(c, mn_of(1), range(2))  # two pending wake the materialiser
        assert await until_materialised(gw)
        names = _threads()
        (mat,) = names["lantian-mat_0"]
        assert os.getpriority(os.PRIO_PROCESS, mat) == min(base + 7, 19)
        # nothing else is niced: the loop, the log writer, the database thread and the
        # DuckDB workers it started keep the process's priority
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
        for tid in names["lantian-jlog_0"] + names["lantian-db_0"]:
            assert os.getpriority(os.PRIO_PROCESS, tid) == base
        cur = gw.connection.cursor()
        assert cur.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 2
        cur.close()
        await c.close()
    finally:
        await gw.stop()


def test_append_waits_while_duckdb_lags_more_than_max_lag(tmp_path):
    store = GatewayStore(tmp_path / "t.duckdb", journal_log=True, max_lag_s=0.2)
    lm = store.log_materialiser
    assert lm is not None
    try:
        store.log_batch(_batch(1, range(3)))  # lag 0: no wait
        assert lm.stats.throttled == 0
        time.sleep(0.3)  # the oldest waiting record is now 0.3 s old > 0.2 s
        done = threading.Event()
        t = threading.Thread(target=lambda: (store.log_batch(_batch(2, range(2))), done.set()))
        t.start()
        assert not done.wait(0.4)  # the log writer waits for DuckDB ...
        assert store.pending_values == 3  # ... and has not appended its records
        assert store.materialise() == 3  # one run: the oldest waiting record is gone
        assert done.wait(5)
        t.join(5)
        assert lm.stats.throttled == 1 and lm.stats.throttled_s >= 0.4
        assert store.materialise() == 2
        assert store.con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 5
        assert store.lag()["materialise_throttled"] == 1
    finally:
        store.close()


def test_no_wait_while_the_materialiser_fails_or_after_unthrottle(tmp_path, monkeypatch):
    store = GatewayStore(tmp_path / "f.duckdb", journal_log=True, max_lag_s=0.05)
    lm = store.log_materialiser
    assert lm is not None
    try:
        store.log_batch(_batch(1, range(2)))
        time.sleep(0.1)

        def broken(*a, **k):
            raise StoreError("disk I/O error")

        monkeypatch.setattr(lm, "_write", broken)
        with pytest.raises(StoreError):
            store.materialise()
        t0 = time.monotonic()
        store.log_batch(_batch(2, range(2)))  # DuckDB fails: the log keeps acknowledging
        assert time.monotonic() - t0 < 0.05 and lm.stats.throttled == 0
        monkeypatch.undo()
        assert store.materialise() == 4  # re-read from the log after the failure
        store.log_batch(_batch(3, range(1)))
        time.sleep(0.1)
        store.unthrottle()  # the gateway is stopping: no append waits for a run any more
        t0 = time.monotonic()
        store.log_batch(_batch(4, range(1)))
        assert time.monotonic() - t0 < 0.05 and lm.stats.throttled == 0
        assert store.materialise() == 2
        assert store.con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 6
    finally:
        store.close()


async def test_stop_under_throttle_does_not_hang_and_keeps_every_ack(db_path):
    """An append waiting for DuckDB while the gateway stops: stop returns, nothing lost."""
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path, materialise_interval_s=3600.0,
                                   materialise_max_pending=10**9, materialise_max_lag_s=0.1)
    try:
        c = await Client().connect(port)
        qn, raw = minute_packet(mn_of(1), 0)
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn, timeout=5) is not None
        await asyncio.sleep(0.2)  # lag 0.2 s > 0.1 s and the materialiser never runs
        qn1, raw1 = minute_packet(mn_of(1), 1)
        await c.send(raw1)
        assert await c.wait_for("9014", qn=qn1, timeout=0.5) is None  # held back
    finally:
        await asyncio.wait_for(gw.stop(), 10)
    reply = await c.wait_for("9014", qn=qn1, timeout=2)  # answered while stopping
    await c.close()
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    n = con.execute("SELECT count(*) FROM flue_minute").fetchone()[0]
    con.close()
    assert n == 2 and reply is not None


def test_duckdb_threads_setting_runs_queries_on_the_calling_thread(tmp_path):
    """``[materialise] duckdb_threads = 1``: no DuckDB worker does the niced thread's work."""
    store = GatewayStore(tmp_path / "d.duckdb", journal_log=True, duckdb_threads=1)
    try:
        assert store.con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
        assert store._cursor.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    finally:
        store.close()
    from lantian.hj212.gwsettings import load_settings

    assert load_settings().duckdb_threads == 1  # the packaged setting
