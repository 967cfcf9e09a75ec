"""``lantian catalog show``: list the limit catalogue (限值目录).

Contract (issue 3)::

    lantian catalog show [--sector S] [--source-type T] [--on DATE] [--jurisdiction J]
                         [--format json|table]

``--format json`` writes one JSON object per limit row with every catalogue field
(``limit_mg_m3`` and ``o2_ref_pct`` as numbers, dates ISO ``YYYY-MM-DD``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from lantian.commands._common import OutputFormat, echo_err, emit_rows, fail

__all__ = ["register"]

catalog_app = typer.Typer(
    help="Limit catalogue (限值目录): emission limits with source, clause and dates.",
    no_args_is_help=True,
)


@catalog_app.command("show")
def show(
    sector: Annotated[str | None, typer.Option("--sector", help="e.g. cement, coking")] = None,
    source_type: Annotated[
        str | None, typer.Option("--source-type", help="e.g. cement_kiln")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Only rows in force on this date (YYYY-MM-DD)")
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option("--jurisdiction", help="National rows plus this layer, e.g. CN-43"),
    ] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="json (JSON Lines) or table")
    ] = OutputFormat.table,
) -> None:
    """Show catalogue limits [mg/m³, dry standard state, at the reference O2 given]."""
    from lantian.catalog.limits import select_limits
    from lantian.errors import LantianError

    day = None
    if on is not None:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            fail(f"--on must be a date YYYY-MM-DD, got {on!r}")
    try:
        rows = select_limits(
            sector=sector, source_type=source_type, on=day, jurisdiction=jurisdiction
        )
    except LantianError as exc:
        fail(exc)
    if not rows:
        echo_err("no catalogue rows match / 无匹配限值")
    if format is OutputFormat.json:
        emit_rows(r.model_dump(mode="json") for r in rows)
        return
    if format is OutputFormat.csv:
        fail("--format csv is not supported here; use json or table")
    head = f"{'id':32} {'source_type':24} {'poll':5} {'limit':>7} {'O2ref':>5} {'basis':17} "
    head += f"{'jur':6} {'from':10} {'to':10} conf"
    typer.echo(head)
    for r in rows:
        o2 = "" if r.o2_ref_pct is None else f"{r.o2_ref_pct:g}"
        to = "" if r.effective_to is None else r.effective_to.isoformat()
        typer.echo(
            f"{r.id:32} {r.source_type:24} {r.pollutant:5} {r.limit_mg_m3:>7g} {o2:>5} "
            f"{r.basis:17} {r.jurisdiction:6} {r.effective_from.isoformat():10} {to:10} "
            f"[{r.confidence}]"
        )
    echo_err("limits in mg/m³ (dry standard state); O2ref in % (empty = measured concentration)")


def register(app: typer.Typer) -> None:
    """Add ``lantian catalog`` to the root app."""
    app.add_typer(catalog_app, name="catalog")
