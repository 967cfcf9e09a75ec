"""Consistent backups of a Lantian database (``lantian store backup``) and their restore.

A backup is DuckDB's ``EXPORT DATABASE`` in Parquet: a folder with ``schema.sql``,
``load.sql`` and one Parquet file per table, written from one transaction, so it is
consistent even while this process keeps writing afterwards. DuckDB lets one process hold a
database file: while ``lantian serve`` runs on it, back up through the server, or stop it.

The gateway acknowledges a packet once it is in the file journal log (segment files beside
the database, :mod:`lantian.store.journal_log`); DuckDB gets it within about a second, or at
the next start after a crash. So a backup also copies the log's segment files
(``journal_log/``, after the database's export: they reach at least as far as its
watermark) and a restore puts them beside the new database, where the next ``lantian serve``
replays what lies past the watermark. Nothing acknowledged is missing from a backup.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from lantian.errors import ConfigurationError, StoreError
from lantian.store.db import migrate

__all__ = ["backup", "restore"]


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


LOG_FOLDER = "journal_log"
"""Sub-folder of a backup holding the journal log's segment files."""


def _copy_segments(src: Path | None, dst: Path) -> int:
    """Copy the ``*.seg`` files of ``src`` (if it exists) into ``dst``; return how many."""
    if src is None or not src.is_dir():
        return 0
    segments = sorted(src.glob("*.seg"))
    if segments:
        dst.mkdir(parents=True, exist_ok=True)
    for seg in segments:  # a torn tail of a segment being written is cut when it is opened
        shutil.copyfile(seg, dst / seg.name)
    return len(segments)


def backup(con: duckdb.DuckDBPyConnection, out_dir: str | Path,
           journal_dir: str | Path | None = None) -> Path:
    """Write a consistent copy of the database to the new or empty folder ``out_dir``.

    ``journal_dir``: the database's file journal log (``<db>.journal``); its segment files
    are copied to ``out_dir/journal_log`` after the export.

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
    try:
        _copy_segments(Path(journal_dir) if journal_dir else None, out / LOG_FOLDER)
    except OSError as exc:
        raise StoreError(f"backup of the journal log {journal_dir} failed: {exc}") from exc
    return out


def restore(backup_dir: str | Path, db_path: str | Path,
            journal_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Create the database ``db_path`` from a backup folder; return it open and migrated.

    ``journal_dir``: where the new database's journal log lives (``<db>.journal``); the
    backup's journal-log segments are copied there (the next ``lantian serve`` replays
    those past the watermark). It must not hold segments already.

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
    log_dir = Path(journal_dir) if journal_dir else None
    if log_dir is not None and any(log_dir.glob("*.seg")):
        raise ConfigurationError(f"{log_dir} holds journal-log segments: restore only into "
                                 "a new place")
    con = duckdb.connect(str(dst))
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        con.execute(f"IMPORT DATABASE {_q(src)}")
        migrate(con)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"restore from {src} failed: {exc}") from exc
    if log_dir is not None:
        try:
            _copy_segments(src / LOG_FOLDER, log_dir)
        except OSError as exc:
            con.close()
            raise StoreError(f"restore of the journal log to {log_dir} failed: {exc}") from exc
    return con
