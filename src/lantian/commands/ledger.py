"""``lantian ledger``: registry history, Excel ledgers, holiday notices (台账).

Sub-commands::

    lantian ledger load-holidays FILE --db PATH --who NAME
    lantian ledger export-registry FILE.xlsx --db PATH
    lantian ledger import-registry FILE.xlsx --db PATH --who NAME [--valid-from YYYY-MM-DD]
    lantian ledger history ENTITY KEY --db PATH [--format json]

Times and dates are China Standard Time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from lantian.commands._common import DbOption, FormatOption, OutputFormat, echo_err, emit_rows, fail
from lantian.errors import LantianError

__all__ = ["register"]

ledger_app = typer.Typer(help="Ledgers (台账): registry history, Excel, holiday notices.",
                         no_args_is_help=True)
WhoOption = Annotated[str, typer.Option("--who", help="Who makes the change (audit).")]


@ledger_app.command("load-holidays")
def load_holidays(
    file: Annotated[Path, typer.Argument(help="CSV day,kind,name,source of an official notice.")],
    db: DbOption,
    who: WhoOption,
) -> None:
    """Load a year's official holiday notice (节假日安排通知) as data."""
    from lantian.ledger.workdays import load_holiday_notice
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            n = load_holiday_notice(con, file, who)
        finally:
            con.close()
    except (LantianError, OSError) as exc:
        fail(str(exc))
    echo_err(f"loaded {n} days from {file.name} / 已载入节假日 {n} 天")


@ledger_app.command("export-registry")
def export_registry(
    file: Annotated[Path, typer.Argument(help="Excel workbook to write (.xlsx).")],
    db: DbOption,
) -> None:
    """Write the current registry as a bureau-style Excel workbook (one sheet per ledger)."""
    from lantian.ledger.registry_io import export_registry as _export
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            counts = _export(con, file)
        finally:
            con.close()
    except (LantianError, OSError) as exc:
        fail(str(exc))
    echo_err("exported " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@ledger_app.command("import-registry")
def import_registry(
    file: Annotated[Path, typer.Argument(help="Excel workbook in the export layout.")],
    db: DbOption,
    who: WhoOption,
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="Date the changes take effect (CST).")
    ] = None,
) -> None:
    """Import a registry workbook; changes are versioned; a bad cell rejects the whole file."""
    from lantian.ledger.registry_io import import_registry as _import
    from lantian.store.db import connect

    try:
        when = dt.date.fromisoformat(valid_from) if valid_from else dt.date.today()
    except ValueError:
        fail(f"--valid-from {valid_from!r} is not YYYY-MM-DD")
    try:
        con = connect(db)
        try:
            counts = _import(con, file, who=who, valid_from=when)
        finally:
            con.close()
    except (LantianError, OSError) as exc:
        fail(str(exc))
    echo_err("changed " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@ledger_app.command("history")
def history(
    entity: Annotated[str, typer.Argument(help="enterprise, line, outlet, monitoring_point, …")],
    key: Annotated[str, typer.Argument(help="Natural key (see docs/ledgers.md).")],
    db: DbOption,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Every version of one registry record, oldest first (valid_from/valid_to CST)."""
    from lantian.ledger.history import versions
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            rows = [v.as_dict() for v in versions(con, entity, key)]
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    if format is OutputFormat.json:
        emit_rows(rows)
    else:
        for r in rows:
            end = r["valid_to"] or "…"
            typer.echo(f"{r['valid_from']} → {end}  {r['changed_by']}  {r['attrs']}")


def register(app: typer.Typer) -> None:
    """Add the ``ledger`` group."""
    app.add_typer(ledger_app, name="ledger")
