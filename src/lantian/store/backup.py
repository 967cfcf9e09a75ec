"""Consistent backups of a Lantian database (``lantian store backup``) and their restore.

A backup is DuckDB's ``EXPORT DATABASE`` in Parquet: a folder with ``schema.sql``,
``load.sql`` and one Parquet file per table, written from one transaction, so it is
consistent even while this process keeps writing afterwards. DuckDB lets one process hold a
database file: while ``lantian serve`` runs on it, back up through the server, or stop it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from lantian.errors import ConfigurationError, StoreError
from lantian.store.db import migrate

__all__ = ["backup", "restore"]


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def backup(con: duckdb.DuckDBPyConnection, out_dir: str | Path) -> Path:
    """Write a consistent copy of the database to the new or empty folder ``out_dir``.

    Raises
    ------
    ConfigurationError
        When ``out_dir`` exists and is not an empty folder (a backup never overwrites).
    StoreError
        When DuckDB cannot write the copy.

    """
    out = Path(out_dir).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigurationError(f"backup folder {out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    try:
        con.execute("CHECKPOINT")
        con.execute(f"EXPORT DATABASE {_q(out)} (FORMAT parquet)")
    except duckdb.Error as exc:
        raise StoreError(f"backup to {out} failed: {exc}") from exc
    return out


def restore(backup_dir: str | Path, db_path: str | Path) -> duckdb.DuckDBPyConnection:
    """Create the database ``db_path`` from a backup folder; return it open and migrated.

    Raises
    ------
    ConfigurationError
        When ``db_path`` already exists or ``backup_dir`` is not a backup.

    """
    src = Path(backup_dir).resolve()
    dst = Path(db_path)
    if dst.exists():
        raise ConfigurationError(f"{dst} exists: restore only into a new file")
    if not (src / "schema.sql").is_file():
        raise ConfigurationError(f"{src} is not a backup folder (no schema.sql)")
    con = duckdb.connect(str(dst))
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        con.execute(f"IMPORT DATABASE {_q(src)}")
        migrate(con)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"restore from {src} failed: {exc}") from exc
    return con
