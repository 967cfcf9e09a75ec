"""Helpers shared by all CLI commands: JSON Lines output, errors, common options."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from lantian.errors import LantianError

__all__ = [
    "DbOption",
    "FormatOption",
    "OutputFormat",
    "echo_err",
    "emit_json",
    "emit_rows",
    "fail",
    "open_db",
    "to_jsonable",
]


class OutputFormat(str, Enum):  # noqa: UP042 (typer shows str-Enum choices by value)
    """Output formats shared by listing commands."""

    json = "json"
    table = "table"
    csv = "csv"


DbOption = Annotated[
    Path,
    typer.Option("--db", help="DuckDB file (created and migrated if missing)."),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="json: JSON Lines on stdout; table: human-readable."),
]


def to_jsonable(value: Any) -> Any:
    """Convert a value to something :func:`json.dumps` writes as DESIGN.md §7 asks.

    Times become ISO ``YYYY-MM-DDTHH:MM:SS`` (China Standard Time, no zone suffix), NaN and
    missing values become ``null``, numpy scalars become JSON numbers.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    # numpy / pandas scalars
    item = getattr(value, "item", None)
    if callable(item):
        return to_jsonable(item())
    if hasattr(value, "to_pydatetime"):
        return to_jsonable(value.to_pydatetime())
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    return str(value)


def emit_json(obj: Mapping[str, Any]) -> None:
    """Write one JSON object as a line on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), ensure_ascii=False) + "\n")


def emit_rows(rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSON Lines; return how many were written."""
    n = 0
    for row in rows:
        emit_json(row)
        n += 1
    sys.stdout.flush()
    return n


def echo_err(message: str) -> None:
    """Write a message for people on stderr."""
    typer.echo(message, err=True)


def fail(message: str | LantianError, code: int = 1) -> NoReturn:
    """Exit with a one-line reason on stderr."""
    text = str(message).replace("\n", " ")
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(code)


@contextmanager
def open_db(db: Path) -> Iterator[Any]:
    """Open ``db`` (created and migrated if missing) for one command, and close it.

    A Lantian error raised while opening or inside the block exits with its one-line reason
    on stderr (DESIGN.md §7); the connection is closed either way.
    """
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            yield con
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
