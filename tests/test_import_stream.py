"""The parallel import writes each block into the open transaction as it arrives (session 12).

* a block is INSERTed while later blocks of its transaction are still being decoded
  (:class:`lantian.store.bulkpool._Writer` hands pieces over one by one;
  :meth:`PacketStore.store_stream` writes them into one transaction, COMMIT at its end);
* a failure inside a transaction rolls that transaction back and keeps the ones before;
* an error of the writer (DuckDB) stops the import with that error, without hanging;
* ``store_stream``: an error raised by the parts rolls back, and the store goes on with the
  same journal ids;
* the import writes with :data:`~lantian.store.bulkpool.IMPORT_DUCKDB_THREADS` DuckDB threads
  and gives the connection its setting back.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import duckdb
import pytest

from lantian.errors import InputFileError, StoreError
from lantian.hj212.columnar import column_decoder, decode_columns
from lantian.store import ingest
from lantian.store.blocks import ship_block
from lantian.store.bulk import ImportSummary
from lantian.store.bulkpool import IMPORT_DUCKDB_THREADS, _Writer, import_file_parallel
from lantian.store.columns import ColumnBatch
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from lantian.store.prepared import prepare_batch
from test_import_packets import flue_file
from test_import_parallel import fail_on_third_chunk


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_block_is_written_before_the_later_blocks_of_its_transaction_arrive(
        tmp_path, monkeypatch):
    lines = flue_file(tmp_path / "f.txt", 6)  # 12 packets
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))
    cut = sum(map(len, lines[:4]))
    spool = tmp_path / "spool"
    spool.mkdir()
    blocks = [ship_block(decode_columns, str(path), 0, cut, 1, "f", str(spool)),
              ship_block(decode_columns, str(path), cut, path.stat().st_size - cut, 5, "f",
                         str(spool))]
    written = threading.Event()
    real = ingest.write_prepared

    def spy(con, p, base):
        got = real(con, p, base)
        written.set()
        return got

    monkeypatch.setattr(ingest, "write_prepared", spy)
    con = connect(tmp_path / "d.duckdb")
    summary = ImportSummary(source="f")
    writer = _Writer(PacketStore(con), summary, batch_size=12, progress=None)
    try:
        first: Future = Future()
        first.set_result(blocks[0])
        writer.add(first)  # 4 of the transaction's 12 lines; the rest not decoded yet
        assert written.wait(30), "the first block was not written before the second came"
        assert summary.lines == 0  # not committed: the transaction is still open
        second: Future = Future()
        second.set_result(blocks[1])
        writer.add(second)  # fills the transaction: COMMIT
        writer.flush()
        writer.wait()
    finally:
        writer.close()
    assert (summary.lines, summary.accepted) == (12, 12)
    assert _count(con, "packet_journal") == _count(con, "flue_minute") == 12
    con.close()


def test_a_failure_inside_a_transaction_rolls_it_back_and_keeps_the_ones_before(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 10)  # 20 packets; line 13 breaks the decoder
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))
    con = connect(tmp_path / "d.duckdb")
    store = PacketStore(con)
    with pytest.raises(InputFileError, match="third chunk"):  # blocks of one line each
        import_file_parallel(store, path, fail_on_third_chunk, source="f",
                             workers=1, batch_size=8, chunk_bytes=1)
    # lines 1-8 committed; 9-12 were written into the open transaction, then rolled back
    assert _count(con, "packet_journal") == _count(con, "flue_minute") == 8
    got = import_file_parallel(store, path, column_decoder(True), source="f", workers=1,
                               batch_size=8, chunk_bytes=1)
    assert (got.accepted, got.duplicate) == (12, 8)
    assert con.execute("SELECT min(id), max(id), count(*) FROM packet_journal").fetchone() == (
        1, 28, 28)
    con.close()


def test_a_writer_error_stops_the_import_with_it(tmp_path, monkeypatch):
    lines = flue_file(tmp_path / "f.txt", 10)
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))
    real = ingest.write_prepared
    calls = [0]

    def broken(con, p, base):
        calls[0] += 1
        if calls[0] == 7:  # inside the second transaction
            raise duckdb.IOException("disk full")
        return real(con, p, base)

    monkeypatch.setattr(ingest, "write_prepared", broken)
    con = connect(tmp_path / "d.duckdb")
    with pytest.raises(StoreError, match="disk full"):
        import_file_parallel(PacketStore(con), path, column_decoder(True), source="f",
                             workers=1, batch_size=4, chunk_bytes=1)
    assert _count(con, "packet_journal") == 4
    con.close()


def test_store_stream_rolls_back_when_the_parts_fail(tmp_path):
    lines = [ln.rstrip(b"\r\n") for ln in flue_file(tmp_path / "f.txt", 3)]
    cb = ColumnBatch(raw=lines, source=[f"file:f:{i + 1}" for i in range(len(lines))],
                     received_at=[None] * len(lines), **decode_columns(lines))
    con = connect(tmp_path / "d.duckdb")
    store = PacketStore(con)

    def parts():
        yield prepare_batch(cb)
        raise InputFileError("stopped")

    with pytest.raises(InputFileError, match="stopped"):
        store.store_stream(parts())
    assert _count(con, "packet_journal") == _count(con, "packet_key") == 0
    assert store.store_stream(iter([prepare_batch(cb), prepare_batch(cb)])) == (
        1, ["accepted"] * 6 + ["duplicate"] * 6)
    assert store.store_stream(iter([])) == (13, [])
    con.close()


def test_the_import_writes_with_its_duckdb_threads_and_restores_the_setting(
        tmp_path, monkeypatch):
    lines = flue_file(tmp_path / "f.txt", 4)
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))
    real = ingest.write_prepared
    seen: set[int] = set()

    def spy(con, p, base):
        seen.add(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        return real(con, p, base)

    monkeypatch.setattr(ingest, "write_prepared", spy)
    con = connect(tmp_path / "d.duckdb")
    con.execute("SET threads = 3")
    got = import_file_parallel(PacketStore(con), path, column_decoder(True), source="f",
                               workers=1, batch_size=4, chunk_bytes=1)
    assert got.accepted == 8
    assert seen == {IMPORT_DUCKDB_THREADS}
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
    con.close()


def test_a_failure_before_the_first_block_ends_the_writer_and_restores_the_setting(
        tmp_path, monkeypatch):
    """The writer thread waits for pieces from its start: an import that fails before any
    (here the worker pool cannot be made) must end it, not wait for it forever."""
    from lantian.store import bulkpool

    lines = flue_file(tmp_path / "f.txt", 4)
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))

    def no_pool(*args, **kwargs):
        raise OSError("no processes")

    monkeypatch.setattr(bulkpool, "ProcessPoolExecutor", no_pool)
    con = connect(tmp_path / "d.duckdb")
    con.execute("SET threads = 3")
    raised: list[BaseException] = []

    def run():
        try:
            import_file_parallel(PacketStore(con), path, column_decoder(True), source="f",
                                 workers=1, batch_size=4)
        except BaseException as exc:  # the test checks which
            raised.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)  # a hang guard, not a timing: the import fails at once
    assert not t.is_alive(), "the import hung: its writer thread was never ended"
    assert [type(e) for e in raised] == [OSError]
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
    assert _count(con, "packet_journal") == 0
    con.close()
