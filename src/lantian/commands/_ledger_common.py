"""Helpers of the ledger command modules (private): dates, opening the database, rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from lantian.commands._common import OutputFormat, emit_rows, fail, open_db

__all__ = ["engine_ule_verdicts", "ledger_date", "run_on_db", "show_rows"]

R = TypeVar("R")


def ledger_date(text: str | None, name: str) -> dt.date:
    """Parse ``YYYY-MM-DD`` (None = today, CST) or exit with a one-line reason."""
    from lantian.ledger._data import now_cst

    if text is None:
        return now_cst().date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{name} {text!r} is not YYYY-MM-DD")


def run_on_db(fn: Callable[[Any], R], db: Path) -> R:
    """Open ``db`` (created and migrated if missing), call ``fn(con)``, close.

    A Lantian error (or a missing file) exits with its reason on stderr.
    """
    try:
        with open_db(db) as con:
            return fn(con)
    except OSError as exc:
        fail(str(exc))


def show_rows(rows: list[dict[str, Any]], fmt: OutputFormat, cols: tuple[str, ...]) -> None:
    """Write rows as JSON Lines (``--format json``) or tab-separated columns."""
    if fmt is OutputFormat.json:
        emit_rows(rows)
        return
    for r in rows:
        typer.echo("\t".join(str(r.get(c, "")) for c in cols))


def engine_ule_verdicts(db: Path, month: str) -> dict[str, bool]:
    """Return {mn: ULE passed} computed by the engine (as ``lantian assess``) for ``month``.

    Used where the engine's ``month_ule_verdict`` table has nothing for the month.
    """
    from lantian.engine import backends
    from lantian.engine.assess import assess_month

    be = backends.connect("duckdb", db=db)
    try:
        rows = assess_month(be, month).to_pyarrow().to_pylist()
    finally:
        be.disconnect()
    return {r["mn"]: bool(r["ule_pass"]) for r in rows if r.get("ule_pass") is not None}
