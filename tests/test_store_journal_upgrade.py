"""Migration 0801: ``packet_journal`` without its PRIMARY KEY index (issue 2, session 7).

The journal's ids come from the one writer (``PacketStore``: ``max(id) + 1`` when it opens);
the ART index on ``id`` only cost time. A database created by the older schema is upgraded
in place: every row kept, in id order, the NOT NULL columns unchanged, ids still unique and
increasing after the upgrade, retransmissions still duplicates.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from lantian.store import db
from lantian.store.ingest import Incoming, PacketStore

NEW = "0801_journal_without_index.sql"
JOURNAL = "SELECT * FROM packet_journal ORDER BY id"


def _old_database(path) -> duckdb.DuckDBPyConnection:
    """A database with every migration before :data:`NEW` (the session-6 schema)."""
    con = duckdb.connect(str(path))
    db.pending_migrations(con)
    for name, sql in db._migration_files():
        if name >= NEW:
            continue
        con.execute(sql)
        con.execute("INSERT INTO schema_migration (name) VALUES (?)", [name])
    return con


class _P:
    """A decoded minute packet as the store reads it (the codec's Packet has these fields)."""

    def __init__(self, t: str, so2: float) -> None:
        self.mn, self.cn, self.st, self.qn, self.version = "MNU", "2051", "31", None, "2017"
        self.data_time = t
        self.values = {"a21026": {"Avg": so2, "Flag": "N"}}


def _items(*times: str) -> list[Incoming]:
    rx = dt.datetime(2024, 5, 1, 10, 0, 5)
    return [Incoming(b"##" + t.encode(), "10.0.0.1:5000", rx, packet=_P(t, 1.5))
            for t in times]


def _index_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = 'packet_journal' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall()
    return [c for r in rows for c in r[0]]


def test_an_old_database_is_upgraded_with_every_journal_row_kept(tmp_path):
    path = tmp_path / "old.duckdb"
    old = _old_database(path)
    assert _index_columns(old) == ["id"]  # the session-6 schema had the index
    store = PacketStore(old)
    first = store.ingest(_items("20240501095900", "20240501100000", "20240501095900"))
    assert [v.verdict for v in first] == ["accepted", "accepted", "duplicate"]
    before = old.execute(JOURNAL).fetchall()
    nullable = old.execute(
        "SELECT column_name, is_nullable, data_type FROM information_schema.columns "
        "WHERE table_name = 'packet_journal' ORDER BY ordinal_position").fetchall()
    old.close()

    con = db.connect(path)  # applies the pending migration
    assert db.pending_migrations(con) == []
    assert _index_columns(con) == []
    assert con.execute(JOURNAL).fetchall() == before
    assert con.execute(
        "SELECT column_name, is_nullable, data_type FROM information_schema.columns "
        "WHERE table_name = 'packet_journal' ORDER BY ordinal_position").fetchall() == nullable

    # the store goes on after the upgrade: ids follow on, retransmissions stay duplicates
    again = PacketStore(con).ingest(_items("20240501100000", "20240501100100"))
    assert [(v.packet_id, v.verdict) for v in again] == [(4, "duplicate"), (5, "accepted")]
    ids = [r[0] for r in con.execute("SELECT id FROM packet_journal ORDER BY id").fetchall()]
    assert ids == [1, 2, 3, 4, 5]
    con.close()


def test_ids_stay_unique_across_reopening_without_the_index(tmp_path):
    path = tmp_path / "new.duckdb"
    for k in range(3):
        con = db.connect(path)
        PacketStore(con).ingest(_items(f"2024050110{k:02d}00", f"2024050111{k:02d}00"))
        con.close()
    con = db.connect(path)
    got = con.execute("SELECT count(*), count(DISTINCT id), min(id), max(id) "
                      "FROM packet_journal").fetchone()
    assert got == (6, 6, 1, 6)
    con.close()
