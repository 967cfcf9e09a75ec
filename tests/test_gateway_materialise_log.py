"""File journal log: acknowledged after the log's fsync, DuckDB written by the materialiser.

Store level: a "crash" closes the DuckDB connection and the log file without running the
materialiser (what ``kill -9`` leaves: fsync'd records in the segment files, nothing of them
in DuckDB beyond the watermark). Gateway level: the 9014 after the fsync, the lag on status.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from lantian.hj212.gwbatch import decode_journal
from lantian.hj212.gwstore import GatewayStore, decode_log, journal_dir
from lantian.store.journal_log import JournalLog
from lantian.store.logmaterialise import log_watermark
from lantian.store.materialise import failures
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

TABLES = ("packet_journal", "packet_key", "flue_rtd", "flue_minute", "flue_hour", "flue_day",
          "value_long")
AT = dt.datetime(2024, 3, 1, 9, 0, 0)  # receive time, CST


def _frames(mn: int, minutes: range, cn: str = "2051") -> list[bytes]:
    return [minute_packet(mn_of(mn), m, cn=cn, so2=1.0 + m)[1].rstrip(b"\r\n")
            for m in minutes]


def _batch(frames: list[bytes]):
    n = len(frames)
    return decode_log(frames, ["10.1.1.1:4000"] * n, [AT] * n)


def _open(path, **kw) -> GatewayStore:
    return GatewayStore(path, journal_log=True, **kw)


def _crash(store: GatewayStore) -> None:
    store._cursor.close()  # the packets' cursor: the database instance closes with both
    store.con.close()
    assert store.log is not None
    store.log.close()


def _rows(con, table: str) -> list[tuple]:
    cols = {"packet_journal": "id, mn, cn, qn, data_time, verdict, raw, source, received_at",
            "packet_key": "*"}.get(table, "*")
    return con.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").fetchall()


def _tables(con) -> dict[str, list[tuple]]:
    return {t: _rows(con, t) for t in TABLES}


def test_acknowledged_in_the_log_first_then_duckdb_holds_the_full_write(tmp_path):
    frames = _frames(1, range(4)) + _frames(2, range(2), cn="2011")
    store = _open(tmp_path / "a.duckdb")
    try:
        assert store.log_batch(_batch(frames[:3])) == ["journalled"] * 3
        assert store.log_batch(_batch(frames[3:] + frames[:1])) == ["journalled"] * 4
        assert store.con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 0
        assert store.pending_values == 7
        assert store.materialise() == 7
        assert store.pending_values == 0
        got = _tables(store.con)
        assert log_watermark(store.con) == store.log.end
        lag = store.lag()
        assert lag["materialise_pending_packets"] == 0 and lag["journal_log_records"] == 7
        assert lag["journal_log_fsyncs"] == 2 and lag["materialised_up_to_id"] == 7
    finally:
        store.close()
    ref = GatewayStore(tmp_path / "ref.duckdb", journal_first=False)  # one full write each
    try:
        assert ref.store_batch(_batch(frames[:3])) == ["accepted"] * 3
        assert ref.store_batch(_batch(frames[3:] + frames[:1])) == ["accepted"] * 3 + [
            "duplicate"]
        assert _tables(ref.con) == got  # same ids, verdicts, keys, wide and long rows
    finally:
        ref.close()


def test_restart_replays_exactly_the_tail_past_the_watermark(tmp_path):
    first, second = _frames(1, range(4)), _frames(2, range(3)) + _frames(1, range(4, 6))
    db = tmp_path / "a.duckdb"
    store = _open(db)
    store.log_batch(_batch(first))
    store.materialise()  # ids 1-4 in DuckDB, watermark past record 4
    wm = log_watermark(store.con)
    store.log_batch(_batch(second[:2]))
    store.log_batch(_batch(second[2:] + first[1:2]))  # + a retransmission of record 2
    _crash(store)

    store = _open(db)
    try:
        assert log_watermark(store.con) == wm
        assert [r.raw for _, r in store.log.read(wm)] == second + first[1:2]
        done = store.catch_up(decode_journal)
        assert (done.replayed, done.written) == (6, 6)
        assert log_watermark(store.con) == store.log.end
        assert store.catch_up(decode_journal).replayed == 0  # idempotent
        got = _tables(store.con)
        verdicts = [r[5] for r in got["packet_journal"]]
        assert verdicts == ["accepted"] * 9 + ["duplicate"]  # ids 1-10, each once
    finally:
        store.close()
    ref = GatewayStore(tmp_path / "ref.duckdb", journal_first=False)
    try:
        ref.store_batch(_batch(first))
        ref.store_batch(_batch(second + first[1:2]))
        assert _tables(ref.con) == got
    finally:
        ref.close()


def test_failed_record_is_reported_not_lost_and_does_not_block(tmp_path):
    """A record whose value row cannot be written (its (MN, DataTime) already taken in
    ``flue_minute`` by a row from elsewhere) is journalled alone and listed in
    ``materialise_failure``; the records before and after it are written."""
    store = _open(tmp_path / "a.duckdb")
    try:
        con = store.con
        con.execute("INSERT INTO flue_minute (mn, ts, packet_id, so2_mg_m3) VALUES"
                    " (?, TIMESTAMP '2024-03-01 08:01:00', 999, 77.0)", [mn_of(1)])
        store.log_batch(_batch(_frames(1, range(3))))
        assert store.materialise() == 3
        got = con.execute("SELECT packet_id, so2_mg_m3 FROM flue_minute ORDER BY ts").fetchall()
        (fail,) = failures(con)
        assert got == [(1, 1.0), (999, 77.0), (3, 3.0)]
        assert fail[0] == 2 and "values not written" in fail[1]
        line = con.execute("SELECT verdict, raw FROM packet_journal WHERE id = 2").fetchone()
        assert line == ("accepted", _frames(1, range(1, 2))[0])  # raw bytes kept
        assert store.lag()["materialise_failures"] == 1
        assert log_watermark(con) == store.log.end
        store.log_batch(_batch(_frames(1, range(3, 5))))
        assert store.materialise() == 2
        assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 5
    finally:
        store.close()


def test_segments_deleted_only_behind_the_watermark(tmp_path):
    db = tmp_path / "a.duckdb"
    store = _open(db, segment_bytes=1)  # every append rolls: one batch per segment
    try:
        for m in range(0, 6, 2):
            store.log_batch(_batch(_frames(1, range(m, m + 2))))
        assert store.log.segments() == [1, 2, 3, 4]  # 4: empty, being written
        assert journal_dir(db) == store.log.directory
        store.materialise()
        assert log_watermark(store.con)[0] == 3  # past the last record, in segment 3
        assert store.log.segments() == [3, 4]  # 3 is kept until the watermark leaves it
    finally:
        store.close()


def test_memory_bound_rereads_from_the_log(tmp_path):
    """Past ``memory_max`` waiting records the decoded batches are dropped and the next run
    reads the segment files instead; the rows are the same."""
    db = tmp_path / "a.duckdb"
    store = _open(db, memory_max=5)
    try:
        for m in range(0, 8, 2):
            store.log_batch(_batch(_frames(1, range(m, m + 2))))
        lm = store.log_materialiser
        assert lm is not None and lm.stats.spills >= 1
        assert store.materialise() == 8
        assert lm.stats.replayed == 8
        ids = [r[0] for r in _rows(store.con, "packet_journal")]
        assert ids == list(range(1, 9))
        assert store.con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 8
    finally:
        store.close()


def test_torn_tail_after_a_crash_is_not_replayed(tmp_path):
    db = tmp_path / "a.duckdb"
    store = _open(db)
    store.log_batch(_batch(_frames(1, range(2))))
    _crash(store)
    seg = JournalLog(journal_dir(db)).path_of(1)
    with seg.open("ab") as f:  # a third record cut by the crash (never acknowledged)
        f.write(b"\x50\x00\x00\x00\x01\x02")
    store = _open(db)
    try:
        assert store.log is not None and store.log.stats.truncated_bytes == 6
        assert store.catch_up(decode_journal).written == 2
        assert store.con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 2
    finally:
        store.close()


async def test_gateway_acks_after_the_fsync_values_follow_lag_on_status(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path, materialise_interval_s=3600.0,
                                   materialise_max_pending=5)
    try:
        c = await Client().connect(port)
        await send_minutes(c, mn_of(1), range(3))
        st = gw.status.as_dict()
        assert st["journal_log_records"] == 3 and st["journal_log_fsyncs"] >= 1
        assert st["materialise_pending_packets"] == 3 and st["materialise_lag_s"] >= 0
        cur = gw.connection.cursor()
        assert cur.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 0
        await send_minutes(c, mn_of(1), range(3, 6))  # reaching max_pending wakes it
        assert await until_materialised(gw)
        cur.close()
        await c.close()
    finally:
        await gw.stop()
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 6  # stop writes all
    con.close()


async def test_journal_directory_nearly_full_stops_acknowledging(db_path, monkeypatch):
    """The disk check covers the journal log's directory, not only the database's."""
    from lantian.hj212 import gateway as gwmod

    real = gwmod.free_bytes
    jdir = journal_dir(db_path).resolve()
    monkeypatch.setattr(gwmod, "free_bytes",
                        lambda p: 1024 if p.resolve() == jdir else real(p))
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        for _ in range(40):
            if not gw.status.accepting:
                break
            await asyncio.sleep(0.05)
        assert not gw.status.accepting and "disk nearly full" in gw.status.reason
        _, raw = minute_packet(mn_of(1), 0)
        await c.send(raw)
        assert await c.wait_for("9014", timeout=0.5) is None
        assert gw.status.as_dict()["journal_log_records"] == 0
        await c.close()
    finally:
        await gw.stop()


def test_a_log_younger_than_the_watermark_continues_after_it(tmp_path):
    """The log directory emptied (e.g. restored database): new records must not sort before
    the watermark, or they would never be written."""
    import shutil

    db = tmp_path / "a.duckdb"
    store = _open(db, segment_bytes=1)
    for m in range(0, 4, 2):
        store.log_batch(_batch(_frames(1, range(m, m + 2))))
    store.close()
    assert store.log is not None
    wm = log_watermark_of(db)
    assert wm[0] == 2
    shutil.rmtree(journal_dir(db))
    store = _open(db)
    try:
        assert store.log is not None and store.log.end[0] == wm[0] + 1
        store.log_batch(_batch(_frames(1, range(4, 6))))
        assert store.materialise() == 2
        assert store.con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 6
    finally:
        store.close()


def log_watermark_of(db) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return log_watermark(con)
    finally:
        con.close()


async def test_materialiser_loop_survives_an_unexpected_error(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path, materialise_interval_s=0.05)
    real, calls = gw._store.materialise, []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real()

    gw._store.materialise = flaky
    try:
        c = await Client().connect(port)
        await send_minutes(c, mn_of(1), range(1))
        assert await until_materialised(gw)
        assert gw.status.counts["materialise_errors"] == 1 and len(calls) >= 2
        await c.close()
    finally:
        await gw.stop()
