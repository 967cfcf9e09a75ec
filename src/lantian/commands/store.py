"""Storage commands: ``lantian store backup|restore|roll`` and ``lantian lake export|import``.

::

    lantian store backup --db PATH --out DIR        consistent copy (EXPORT DATABASE, Parquet)
    lantian store restore --from DIR --db PATH      new database file from a backup
    lantian store roll --db PATH --lake DIR --keep-months N
    lantian lake export --db PATH --root DIR [--month YYYY-MM]
    lantian lake import --db PATH --root DIR

Each prints one JSON summary object on stdout and a line for people on stderr. Months are
China Standard Time calendar months.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from lantian.commands._common import DbOption, echo_err, emit_json, fail
from lantian.errors import LantianError

__all__ = ["lake_app", "register", "store_app"]

T = TypeVar("T")

store_app = typer.Typer(help="Backups and retention of the database (存储).", no_args_is_help=True)
lake_app = typer.Typer(help="Parquet lake of past months (数据湖).", no_args_is_help=True)


def _on_db(db: Path, action: Callable[[Any], T]) -> T:
    """Open ``db``, run ``action(con)``, close; exit with the one-line reason on failure."""
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            return action(con)
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)


DirOption = Annotated[Path, typer.Option("--out", help="New or empty folder for the backup.")]


@store_app.command("backup")
def backup_cmd(db: DbOption, out: DirOption) -> None:
    """Write a consistent backup of the database to a folder (备份)."""
    from lantian.hj212.gwstore import journal_dir
    from lantian.store.backup import backup

    path = _on_db(db, lambda con: backup(con, out, journal_dir(db)))
    echo_err(f"backup written to {path}")
    emit_json({"db": str(db), "backup": str(path)})


@store_app.command("restore")
def restore_cmd(
    source: Annotated[Path, typer.Option("--from", help="Backup folder.")],
    db: DbOption,
) -> None:
    """Create a new database file from a backup folder (恢复)."""
    from lantian.hj212.gwstore import journal_dir
    from lantian.store.backup import restore

    try:
        restore(source, db, journal_dir(db)).close()
    except LantianError as exc:
        fail(exc)
    echo_err(f"restored {db} from {source}")
    emit_json({"db": str(db), "backup": str(source)})


@store_app.command("roll")
def roll_cmd(
    db: DbOption,
    lake: Annotated[Path, typer.Option("--lake", help="Lake folder.")],
    keep_months: Annotated[
        int,
        typer.Option("--keep-months", min=0, help="Whole months kept in DuckDB before this one."),
    ] = 3,
) -> None:
    """Move older months of journal and minute data into the Parquet lake (归档)."""
    from lantian.store.lake import roll

    moved = _on_db(db, lambda con: roll(con, lake, keep_months))
    echo_err("rows moved to the lake: " + ", ".join(f"{t} {n}" for t, n in moved.items()))
    emit_json({"lake": str(lake), "moved": moved})


RootOption = Annotated[Path, typer.Option("--root", help="Lake folder.")]


@lake_app.command("export")
def lake_export_cmd(
    db: DbOption,
    root: RootOption,
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (CST); all if omitted.")
    ] = None,
) -> None:
    """Write tables to the lake, month by month and MN by MN (导出到数据湖)."""
    from lantian.store.lake import export_lake

    rows = _on_db(db, lambda con: export_lake(con, root, month))
    echo_err("rows in the lake: " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    emit_json({"root": str(root), "month": month, "rows": rows})


@lake_app.command("import")
def lake_import_cmd(db: DbOption, root: RootOption) -> None:
    """Copy lake rows back into the database (rows already there are kept) (从数据湖导入)."""
    from lantian.store.lake import import_lake

    rows = _on_db(db, lambda con: import_lake(con, root))
    echo_err("rows added: " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    emit_json({"root": str(root), "added": rows})


def register(app: typer.Typer) -> None:
    """Add the ``store`` and ``lake`` groups."""
    app.add_typer(store_app, name="store")
    app.add_typer(lake_app, name="lake")
