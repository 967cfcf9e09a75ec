"""Import transactions of exactly the batch size, aligned on DuckDB row groups (session 9).

* a prepared block split at any line (:meth:`PreparedBatch.split`) and written part after
  part stores what the whole block stores: same verdicts, same rows in every table, the
  same protocol versions — duplicates inside the block and across the cut included;
* the parallel import cuts its blocks so that every transaction holds exactly
  ``batch_size`` lines (the last: the rest);
* with a batch size of whole row groups, the first transaction fills the journal's partly
  filled row group (:func:`~lantian.store.bulkpool.first_room`), so the later ones append
  whole row groups; the default batch is one row group.
"""

from __future__ import annotations

import shutil

import pytest

from lantian.hj212.columnar import column_decoder, decode_columns
from lantian.store import bulkpool
from lantian.store.bulk import DUCKDB_ROW_GROUP, IMPORT_BATCH
from lantian.store.bulkpool import first_room, import_file_parallel
from lantian.store.columns import ColumnBatch
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from lantian.store.prepared import PreparedBatch, prepare_batch
from test_import_packets import stored_tables
from test_import_parallel import mixed_lines


def _prepared(lines: list[bytes]) -> PreparedBatch:
    cols = decode_columns(lines)
    return prepare_batch(ColumnBatch(raw=lines,
                                     source=[f"file:f:{i + 1}" for i in range(len(lines))],
                                     received_at=[None] * len(lines), **cols))


def _store(tmp_path, name: str, parts: list[PreparedBatch], per_part: bool):
    template = tmp_path / "template.duckdb"
    if not template.exists():  # migrate once, copy for every case
        connect(template).close()
    shutil.copyfile(template, tmp_path / f"{name}.duckdb")
    con = connect(tmp_path / f"{name}.duckdb")
    store = PacketStore(con)
    verdicts: list[str] = []
    for group in ([[p] for p in parts] if per_part else [parts]):
        verdicts += store.store_prepared(group)[1]
    tables = stored_tables(con)
    tables["protocol"] = con.execute(
        "SELECT mn, protocol FROM monitoring_point ORDER BY ALL").fetchall()
    con.close()
    return verdicts, tables


def _transaction_sizes(monkeypatch) -> list[int]:
    """Lines of every transaction ``PacketStore.store_stream`` writes from now on."""
    sizes: list[int] = []
    real = PacketStore.store_stream

    def spy(self, parts):
        base, texts = real(self, parts)
        sizes.append(len(texts))
        return base, texts

    monkeypatch.setattr(PacketStore, "store_stream", spy)
    return sizes


def test_a_block_split_anywhere_stores_what_the_whole_block_stores(tmp_path):
    lines = mixed_lines(tmp_path)
    whole = _prepared(lines)
    ref_verdicts, ref = _store(tmp_path, "whole", [whole], per_part=False)
    assert ref_verdicts.count("duplicate") == 6 and len(ref["flue_minute"]) > 10
    assert len(ref["value_long"]) > 10
    for at in range(1, whole.n):
        head, tail = whole.split(at)
        assert (head.n, tail.n) == (at, whole.n - at)
        per_part = bool(at % 2)  # one transaction for both parts, or one each
        verdicts, got = _store(tmp_path, f"s{at}", [head, tail], per_part)
        assert verdicts == ref_verdicts, at
        for table in ref:
            assert got[table] == ref[table], (at, per_part, table)


def test_split_refuses_an_empty_part(tmp_path):
    p = _prepared(mixed_lines(tmp_path))
    for at in (0, p.n):
        with pytest.raises(ValueError, match="cannot split"):
            p.split(at)


def test_parallel_import_writes_transactions_of_exactly_the_batch_size(tmp_path, monkeypatch):
    lines = mixed_lines(tmp_path)
    path = tmp_path / "in.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    sizes = _transaction_sizes(monkeypatch)
    con = connect(tmp_path / "d.duckdb")
    got = import_file_parallel(PacketStore(con), path, column_decoder(True), source="f",
                               workers=1, batch_size=7, chunk_bytes=1000)
    tables = stored_tables(con)
    con.close()
    monkeypatch.undo()
    assert sum(sizes) == len(lines) and len(sizes) == -(-len(lines) // 7)
    assert sizes[:-1] == [7] * (len(sizes) - 1)  # blocks of ≈ 4 lines, cut at 7
    con = connect(tmp_path / "ref.duckdb")
    ref = import_file_parallel(PacketStore(con), path, column_decoder(True), source="f",
                               workers=1, batch_size=len(lines), chunk_bytes=1 << 20)
    ref_tables = stored_tables(con)
    con.close()
    assert (got.accepted, got.duplicate, got.rejected) == (ref.accepted, ref.duplicate,
                                                            ref.rejected)
    assert got.rejected_lines == ref.rejected_lines
    for table in ref_tables:
        assert tables[table] == ref_tables[table], table


def test_first_transaction_fills_the_journals_last_row_group():
    rg = DUCKDB_ROW_GROUP
    assert rg == IMPORT_BATCH
    assert first_room(rg, 0) == rg
    assert first_room(rg, 3 * rg) == rg
    assert first_room(rg, 50_000) == rg - 50_000
    assert first_room(2 * rg, rg + 10) == 2 * rg - 10
    assert first_room(1000, 50_000) == 1000  # not whole row groups: no alignment


def test_import_into_a_journal_with_rows_aligns_its_first_transaction(tmp_path, monkeypatch):
    lines = mixed_lines(tmp_path)
    path = tmp_path / "in.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(bulkpool, "DUCKDB_ROW_GROUP", 8)  # a row group of 8 lines
    con = connect(tmp_path / "d.duckdb")
    store = PacketStore(con)
    import_file_parallel(store, path, column_decoder(True), source="f", workers=1,
                         batch_size=5, chunk_bytes=1 << 20)  # 5 rows already there
    sizes = _transaction_sizes(monkeypatch)
    import_file_parallel(store, path, column_decoder(True), source="f", workers=1,
                         batch_size=16, chunk_bytes=1 << 20)
    assert store.journal_rows() == 2 * len(lines)
    con.close()
    # the first import left len(lines) rows: the second fills up to a multiple of 8 first
    assert sizes[0] == 16 - len(lines) % 8
    assert all(s == 16 for s in sizes[1:-1])
