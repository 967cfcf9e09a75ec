"""Migration 0802: ``packet_journal.raw`` compressed with ZSTD (issue 2, session 12).

* a new database stores the journal's raw bytes ZSTD-compressed (DuckDB's own choice was
  DICT_FSST), the bytes read back unchanged;
* a database of the older schema is upgraded in place: every row kept in id order, the
  columns, types and NOT NULLs unchanged, and the store goes on with the next ids.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from lantian.store import db
from lantian.store.ingest import Incoming, PacketStore

NEW = "0802_journal_raw_zstd.sql"
JOURNAL = "SELECT * FROM packet_journal ORDER BY id"
COLUMNS = ("SELECT column_name, is_nullable, data_type FROM information_schema.columns "
           "WHERE table_name = 'packet_journal' ORDER BY ordinal_position")


class _P:
    """A decoded minute packet as the store reads it (the codec's Packet has these fields)."""

    def __init__(self, t: str) -> None:
        self.mn, self.cn, self.st, self.qn, self.version = "MNZ", "2051", "31", None, "2017"
        self.data_time = t
        self.values = {"a21026": {"Avg": 1.5, "Flag": "N"}}


def _items(n: int, start: int = 0) -> list[Incoming]:
    rx = dt.datetime(2024, 5, 1, 10, 0, 5)
    t0 = dt.datetime(2024, 5, 1)
    out = []
    for i in range(start, start + n):
        t = (t0 + dt.timedelta(minutes=i)).strftime("%Y%m%d%H%M%S")
        raw = f"##0100QN={t}000;ST=31;CN=2051;MN=MNZ;CP=&&DataTime={t};a21026-Avg={i % 97}&&"
        out.append(Incoming(raw.encode(), "10.0.0.1:5000", rx, packet=_P(t)))
    return out


def _raw_compression(con: duckdb.DuckDBPyConnection) -> set[str]:
    con.execute("CHECKPOINT")
    rows = con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('packet_journal') "
        "WHERE column_name = 'raw' AND segment_type = 'BLOB'").fetchall()
    return {r[0] for r in rows}


def test_a_new_database_keeps_the_raw_bytes_zstd_compressed(tmp_path):
    con = db.connect(tmp_path / "new.duckdb")
    items = _items(3000)
    PacketStore(con).ingest(items)
    assert _raw_compression(con) == {"ZSTD"}
    got = [bytes(r[0]) for r in con.execute("SELECT raw FROM packet_journal ORDER BY id")
           .fetchall()]
    assert got == [it.raw for it in items]
    con.close()


def _old_database(path) -> duckdb.DuckDBPyConnection:
    """A database with every migration before :data:`NEW` (the session-11 schema)."""
    con = duckdb.connect(str(path))
    db.pending_migrations(con)
    for name, sql in db._migration_files():
        if name < NEW:
            con.execute(sql)
            con.execute("INSERT INTO schema_migration (name) VALUES (?)", [name])
    return con


def test_an_old_database_is_upgraded_with_every_journal_row_kept(tmp_path):
    path = tmp_path / "old.duckdb"
    old = _old_database(path)
    store = PacketStore(old)
    first = store.ingest(_items(3000) + _items(2))  # two retransmissions at the end
    assert [v.verdict for v in first[-3:]] == ["accepted", "duplicate", "duplicate"]
    assert _raw_compression(old) != {"ZSTD"}  # DuckDB's own choice
    before = old.execute(JOURNAL).fetchall()
    columns = old.execute(COLUMNS).fetchall()
    old.close()

    con = db.connect(path)  # applies the pending migration
    assert db.pending_migrations(con) == []
    assert con.execute(JOURNAL).fetchall() == before
    assert con.execute(COLUMNS).fetchall() == columns
    assert _raw_compression(con) == {"ZSTD"}
    again = PacketStore(con).ingest(_items(2, start=2999))
    assert [(v.packet_id, v.verdict) for v in again] == [(3003, "duplicate"),
                                                          (3004, "accepted")]
    con.close()
