"""A new database gets every migration as one script; the schema is the one-by-one schema.

(Session 5: ``store.db.migrate`` runs all migrations of a new database in one transaction.)
"""

from __future__ import annotations

import duckdb
import pytest

from lantian.errors import StoreError
from lantian.store import db

SCHEMA = (
    "SELECT table_name, column_name, data_type, is_nullable, column_default "
    "FROM information_schema.columns ORDER BY table_name, ordinal_position"
)
CONSTRAINTS = (
    "SELECT table_name, constraint_type, constraint_column_names::VARCHAR "
    "FROM duckdb_constraints() ORDER BY ALL"
)


def _one_by_one(con: duckdb.DuckDBPyConnection) -> None:
    db.pending_migrations(con)
    for name, sql in db._migration_files():
        con.execute(sql)
        con.execute("INSERT INTO schema_migration (name) VALUES (?)", [name])


def test_a_new_database_has_the_schema_of_the_migrations_one_by_one(tmp_path):
    ref = duckdb.connect(str(tmp_path / "ref.duckdb"))
    _one_by_one(ref)
    new = db.connect(tmp_path / "new.duckdb")
    names = [n for n, _ in db._migration_files()]
    assert [r[0] for r in new.execute("SELECT name FROM schema_migration ORDER BY name")
            .fetchall()] == names
    assert new.execute(SCHEMA).fetchall() == ref.execute(SCHEMA).fetchall()
    assert new.execute(CONSTRAINTS).fetchall() == ref.execute(CONSTRAINTS).fetchall()
    assert db.migrate(new) == []  # nothing pending on reopening
    new.close()
    again = db.connect(tmp_path / "new.duckdb")
    assert db.pending_migrations(again) == []


def test_an_older_database_gets_only_its_pending_migrations(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    db.pending_migrations(con)
    first, *rest = db._migration_files()
    con.execute(first[1])
    con.execute("INSERT INTO schema_migration (name) VALUES (?)", [first[0]])
    assert db.migrate(con) == [n for n, _ in rest]


def test_a_failing_script_leaves_a_new_database_without_any_migration(tmp_path, monkeypatch):
    files = db._migration_files()
    monkeypatch.setattr(db, "_migration_files", lambda: [*files, ("9999_bad.sql", "CREATE TABL x")])
    con = duckdb.connect(str(tmp_path / "bad.duckdb"))
    with pytest.raises(StoreError, match=r"9999_bad\.sql failed"):
        db.migrate(con)
    assert con.execute("SELECT count(*) FROM schema_migration").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM information_schema.tables "
                       "WHERE table_name = 'packet_journal'").fetchone() == (0,)
