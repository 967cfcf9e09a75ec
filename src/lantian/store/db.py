"""Open the DuckDB file and bring its schema up to date.

Migrations are the files in ``store/migrations`` (``NNNN_name.sql``), applied in name order;
the names applied are recorded in ``schema_migration``, so a database made by an older
Lantian is migrated in place when it is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from lantian.errors import DatabaseLockedError, StoreError

__all__ = ["connect", "migrate", "pending_migrations", "threads", "transaction"]


def _migration_files() -> list[tuple[str, str]]:
    root = resources.files("lantian.store").joinpath("migrations")
    files = sorted(
        (p.name, p.read_text("utf-8")) for p in root.iterdir() if p.name.endswith(".sql")
    )
    return files


def pending_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return the names of migrations not yet applied to ``con``."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_localtimestamp())"
    )
    done = {r[0] for r in con.execute("SELECT name FROM schema_migration").fetchall()}
    return [name for name, _ in _migration_files() if name not in done]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names.

    A new database (no migration applied yet) gets them all as one script in one
    transaction, each still recorded by name (≈ 0.05 s less than one by one).
    """
    files = _migration_files()
    pending = set(pending_migrations(con))
    if files and len(pending) == len(files):
        return _migrate_new(con, files)
    applied = []
    for name, sql in files:
        if name not in pending:
            continue
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migration (name) VALUES (?)", [name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"migration {name} failed: {exc}") from exc
        applied.append(name)
    return applied


def _migrate_new(con: duckdb.DuckDBPyConnection, files: list[tuple[str, str]]) -> list[str]:
    """Apply every migration to a new database as one script, in one transaction."""
    names = [name for name, _ in files]
    con.execute("BEGIN")
    try:
        con.execute("\n;\n".join(sql for _, sql in files))
        con.execute("INSERT INTO schema_migration (name) SELECT unnest(?)", [names])
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"migrations {names[0]} … {names[-1]} failed: {exc}") from exc
    return names


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the Lantian database at ``path``.

    Raises
    ------
    DatabaseLockedError
        When another process (usually ``lantian serve``) holds the file. The message says
        what to do instead.

    """
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(f"database {path} does not exist")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(
                f"{path} is held by another process (is `lantian serve` running on it?): "
                "use the running server's API, or copy the file and work on the copy"
            ) from exc
        raise StoreError(f"cannot open {path}: {exc}") from exc
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    # DuckDB draws its own progress bar on stdout for a query over 2 s: it would break the
    # CLI's `--format json` lines (seen under load: an empty line before the JSON objects)
    con.execute("SET enable_progress_bar = false")
    if not read_only:
        migrate(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: committed at the end, rolled back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def threads(con: duckdb.DuckDBPyConnection, n: int) -> Iterator[None]:
    """Run the block with DuckDB's ``threads`` setting at ``n``; the old one is restored after."""
    row = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute(f"SET threads = {int(n)}")
    try:
        yield
    finally:
        if row is not None:
            con.execute(f"SET threads = {int(row[0])}")
