"""Journal-first acknowledgement: journal + keys commit, values by the materialiser.

Store level (no sockets): a "crash" is closing the DuckDB connection without writing the
pending values (what ``kill -9`` leaves: the journal commit is durable, the values held in
memory are gone). Gateway level: the 9014 comes after the journal commit, the values follow,
the lag is on the status.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lantian.hj212.gwbatch import decode_journal
from lantian.hj212.gwstore import GatewayStore
from lantian.store.materialise import failures, unmaterialised, watermark
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

VALUE_TABLES = ("flue_rtd", "flue_minute", "flue_hour", "flue_day", "value_long")


def _frames(mn: int, minutes: range, cn: str = "2051") -> list[bytes]:
    return [minute_packet(mn_of(mn), m, cn=cn, so2=1.0 + m)[1].rstrip(b"\r\n")
            for m in minutes]


def _store(store: GatewayStore, frames: list[bytes]) -> list[str]:
    """Store ``frames`` through the gateway's batch path (decode, column batch, commit)."""
    return store.store_batch(decode_journal(frames))


def _crash(store: GatewayStore) -> None:
    """Close without writing the pending values (the journal commits are durable)."""
    store.con.close()


def _values(con) -> dict[str, list[tuple]]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in VALUE_TABLES}


def _journal_ids(con, verdict: str = "accepted") -> list[int]:
    return [r[0] for r in con.execute(
        "SELECT id FROM packet_journal WHERE verdict = ? ORDER BY id", [verdict]).fetchall()]


def test_values_follow_the_journal_and_the_watermark_covers_them(tmp_path):
    store = GatewayStore(tmp_path / "a.duckdb")
    try:
        frames = _frames(1, range(5)) + _frames(2, range(3), cn="2011")
        assert _store(store, frames) == ["accepted"] * 8
        con = store.con
        assert _journal_ids(con) == list(range(1, 9))  # journalled and keys claimed ...
        assert con.execute("SELECT count(*) FROM packet_key").fetchone()[0] == 8
        assert _values(con)["flue_minute"] == []  # ... values not yet
        assert store.materialiser.pending_packets == 8
        assert store.materialise() == 8
        assert store.materialiser.pending_packets == 0
        assert watermark(con) == 8
        got = con.execute("SELECT packet_id, so2_mg_m3 FROM flue_minute ORDER BY 1").fetchall()
        assert got == [(i + 1, 1.0 + i) for i in range(5)]
        assert con.execute("SELECT count(*) FROM flue_rtd").fetchone()[0] == 3
        lag = store.materialiser.lag()
        assert lag["materialise_pending_packets"] == 0 and lag["materialised_up_to_id"] == 8
        assert lag["materialise_max_pending_packets"] == 8
    finally:
        store.close()


def test_restart_replays_exactly_the_unmaterialised_tail(tmp_path):
    """After a crash only the journal lines above the watermark without values are replayed,
    and the tables end up as a store that wrote the values in the acknowledging commit."""
    first, second = _frames(1, range(4)), _frames(2, range(3)) + _frames(1, range(4, 6))
    store = GatewayStore(tmp_path / "jf.duckdb")
    _store(store, first)
    store.materialise()  # ids 1-4 materialised, watermark 4
    _store(store, second)  # ids 5-9 journalled and acknowledged, values in memory only
    _crash(store)

    store = GatewayStore(tmp_path / "jf.duckdb")
    try:
        assert [i for i, _ in unmaterialised(store.con)] == [5, 6, 7, 8, 9]
        done = store.catch_up(decode_journal)
        assert (done.replayed, done.written, done.failed) == (5, 5, [])
        assert watermark(store.con) == 9
        assert unmaterialised(store.con) == []
        assert store.catch_up(decode_journal).replayed == 0  # idempotent
        jf_values = _values(store.con)
    finally:
        store.close()

    ref = GatewayStore(tmp_path / "ref.duckdb", journal_first=False)  # sessions 1-3 path
    try:
        _store(ref, first)
        _store(ref, second)
        assert _values(ref.con) == jf_values
        assert len(jf_values["flue_minute"]) == 9
    finally:
        ref.close()


def test_per_packet_path_lines_are_not_replayed(tmp_path):
    """Lines whose values were written with the journal (per-packet path) are skipped."""
    from lantian.hj212 import gwcodec
    from lantian.hj212.gwstore import Incoming

    store = GatewayStore(tmp_path / "a.duckdb")
    _store(store, _frames(1, range(2)))  # ids 1-2 pending
    per = _frames(3, range(2))
    at = dt.datetime(2024, 3, 1, 9, 0)
    store.store_batch([Incoming(gwcodec.parse_packet(f, strict=False), f, "p:1", at)
                       for f in per])  # ids 3-4, values in the same commit
    _store(store, _frames(1, range(2, 3)))  # id 5 pending
    _crash(store)
    store = GatewayStore(tmp_path / "a.duckdb")
    try:
        assert [i for i, _ in unmaterialised(store.con)] == [1, 2, 5]
        assert store.catch_up(decode_journal).written == 3
        ids = store.con.execute("SELECT packet_id FROM flue_minute ORDER BY 1").fetchall()
        assert [i for (i,) in ids] == [1, 2, 3, 4, 5]
    finally:
        store.close()


def test_duplicates_across_the_materialise_boundary(tmp_path):
    """A retransmission of a packet whose values are still pending is a duplicate; after a
    crash and catch-up its values are there exactly once, from the first copy."""
    store = GatewayStore(tmp_path / "a.duckdb")
    p = _frames(1, range(3))
    assert _store(store, p) == ["accepted"] * 3  # ids 1-3 pending
    assert _store(store, [p[1], *_frames(1, range(3, 4))]) == ["duplicate", "accepted"]
    _crash(store)
    store = GatewayStore(tmp_path / "a.duckdb")
    try:
        assert [i for i, _ in unmaterialised(store.con)] == [1, 2, 3, 5]
        store.catch_up(decode_journal)
        assert _store(store, [p[1]]) == ["duplicate"]  # and again after the restart
        store.materialise()
        rows = store.con.execute(
            "SELECT packet_id, ts FROM flue_minute ORDER BY ts").fetchall()
        assert [r[0] for r in rows] == [1, 2, 3, 5]
        assert _journal_ids(store.con, "duplicate") == [4, 6]
    finally:
        store.close()


def test_failed_materialisation_is_reported_not_lost_and_does_not_block(tmp_path):
    """A packet whose value row cannot be written (its (MN, DataTime) already taken in
    ``flue_minute`` by a row from elsewhere) is recorded in ``materialise_failure``; the
    packets before and after it are written and the watermark moves past it."""
    store = GatewayStore(tmp_path / "a.duckdb")
    try:
        con = store.con
        con.execute("INSERT INTO flue_minute (mn, ts, packet_id, so2_mg_m3) VALUES"
                    " (?, TIMESTAMP '2024-03-01 08:01:00', 999, 77.0)", [mn_of(1)])
        assert _store(store, _frames(1, range(3))) == ["accepted"] * 3  # ids 1-3
        assert store.materialise() == 2
        got = con.execute("SELECT packet_id, so2_mg_m3 FROM flue_minute ORDER BY ts").fetchall()
        assert got == [(1, 1.0), (999, 77.0), (3, 3.0)]
        (fail,) = failures(con)
        assert fail[0] == 2 and "values not written" in fail[1]
        verdict = con.execute("SELECT verdict FROM packet_journal WHERE id = 2").fetchone()
        assert verdict == ("accepted",)  # not lost
        assert watermark(con) == 3
        assert store.materialiser.lag()["materialise_failures"] == 1
        # later packets are not held up, and the failed one is not replayed again
        assert _store(store, _frames(1, range(3, 5))) == ["accepted"] * 2
        assert store.materialise() == 2
        assert unmaterialised(con) == []
    finally:
        store.close()


def test_a_line_that_no_longer_decodes_is_reported_on_catch_up(tmp_path):
    store = GatewayStore(tmp_path / "a.duckdb")
    _store(store, _frames(1, range(2)))
    store.con.execute("UPDATE packet_journal SET raw = 'garbage'::BLOB WHERE id = 1")
    _crash(store)
    store = GatewayStore(tmp_path / "a.duckdb")
    try:
        done = store.catch_up(decode_journal)
        assert (done.replayed, done.written) == (2, 1)
        assert [f[0] for f in failures(store.con)] == [1]
        assert "decoded again after a restart" in failures(store.con)[0][1]
        assert watermark(store.con) == 2 and unmaterialised(store.con) == []
    finally:
        store.close()


async def test_ack_after_journal_commit_values_after_interval_lag_on_status(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path, materialise_interval_s=3600.0,
                                   materialise_max_pending=5, journal_log=False)
    try:
        c = await Client().connect(port)
        await send_minutes(c, mn_of(1), range(3))
        cur = gw.connection.cursor()
        assert cur.execute("SELECT count(*) FROM packet_journal"
                           " WHERE verdict = 'accepted'").fetchone()[0] == 3
        assert cur.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 0
        st = gw.status.as_dict()
        assert st["materialise_pending_packets"] == 3 and st["materialise_lag_s"] >= 0
        await send_minutes(c, mn_of(1), range(3, 6))  # reaching max_pending wakes it
        await until_materialised(gw)  # not asserted here (as before): the rows are checked
        assert cur.execute("SELECT count(*) FROM flue_minute").fetchone()[0] >= 5
        cur.close()
        await c.close()
    finally:
        await gw.stop()
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 6  # stop writes all
    con.close()


def test_many_small_commits_materialised_in_one_run_store_the_full_write_rows(tmp_path):
    """The materialiser joins the pending batches (one routing pass); the rows are those of
    the values written in each acknowledging commit (simulator log: wide and long rows)."""
    from test_gateway_batch import _frames as sim_frames

    frames = sim_frames(300)
    chunks = [frames[k:k + 7] for k in range(0, len(frames), 7)]
    jf = GatewayStore(tmp_path / "jf.duckdb")
    ref = GatewayStore(tmp_path / "ref.duckdb", journal_first=False)
    try:
        v1 = [v for c in chunks for v in _store(jf, c)]
        v2 = [v for c in chunks for v in _store(ref, c)]
        assert v1 == v2 and "duplicate" in v1
        runs = jf.materialiser.stats.runs
        assert jf.materialise() == v1.count("accepted")
        assert jf.materialiser.stats.runs == runs + 1  # one run for all the chunks
        got, want = _values(jf.con), _values(ref.con)
        assert got == want
        assert len(got["value_long"]) > 500 and len(got["flue_minute"]) > 0
    finally:
        jf.close()
        ref.close()


def test_merge_batches_maps_code_ids_of_different_name_tables():
    """Batches whose code tables are not prefixes of one another are merged through one
    table: every item keeps its code and suffix, item rows are renumbered."""
    import dataclasses

    import numpy as np

    from lantian.store.journal_write import merge_batches

    a = decode_journal(_frames(1, range(2)))
    b = decode_journal(_frames(2, range(3), cn="2011"))
    assert b.code_table is not None and b.item_code_id is not None
    perm = np.arange(len(b.code_table))[::-1]  # the same names in another order
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    b = dataclasses.replace(b, code_table=b.code_table[perm], item_code_id=inv[b.item_code_id])
    assert list(b.code_table[b.item_code_id]) == list(b.item_code)
    m = merge_batches([a, b])
    assert len(m) == 5 and m.mn == [*a.mn, *b.mn]
    assert list(m.code_table[m.item_code_id]) == [*a.item_code, *b.item_code]
    assert list(m.suffix_table[m.item_suffix_id]) == [*a.item_suffix, *b.item_suffix]
    assert list(m.item_row) == [*a.item_row, *(b.item_row + 2)]


def test_pending_values_bounded_dropped_and_reread_from_the_journal(tmp_path):
    """Past ``memory_max`` waiting packets (e.g. while materialiser transactions fail) the
    values are dropped from memory and read back from the journal at the next run; the
    tables end up as the full write's."""
    frames = _frames(1, range(4)) + _frames(2, range(3))
    store = GatewayStore(tmp_path / "jf.duckdb", memory_max=3)
    try:
        _store(store, frames[:2])
        assert store.materialiser.pending_packets == 2
        _store(store, frames[2:5])  # 5 > 3: dropped from memory
        _store(store, frames[5:])  # and what follows until the next run
        assert store.materialiser.pending_packets == 7
        assert len(store.materialiser._pending) == 0
        assert store.materialiser.lag()["materialise_pending_packets"] == 7
        assert store.materialise() == 7
        assert store.materialiser.pending_packets == 0 and watermark(store.con) == 7
        jf_values = _values(store.con)
        _store(store, _frames(3, range(2)))  # below the bound again: kept in memory
        assert len(store.materialiser._pending) == 1
    finally:
        store.close()
    ref = GatewayStore(tmp_path / "ref.duckdb", journal_first=False)
    try:
        _store(ref, frames)
        assert _values(ref.con) == jf_values
    finally:
        ref.close()
