"""Registry commands: ``lantian registry add-point`` and ``lantian registry list``.

Contracts (issue 2, keep stable)::

    lantian registry add-point --db PATH --mn MN --password PW [--outlet NAME]
                               [--source-type TYPE] [--enterprise NAME]
    lantian registry list --db PATH --format json

``add-point`` registers a data logger (or updates the one with that MN), reusing an
enterprise or outlet of the given name, and prints the point as one JSON line. ``list``
writes one JSON object per point: ``{"mn", "outlet", "enterprise", "source_type",
"protocol", "parameters", "flow_unit", "active"}`` (passwords and keys are not printed).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lantian.commands._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    echo_err,
    emit_json,
    emit_rows,
    fail,
)
from lantian.errors import LantianError

__all__ = ["register", "registry_app"]

registry_app = typer.Typer(
    help="Registry of monitoring points (监测点位登记): data loggers by MN.",
    no_args_is_help=True,
)


_FIELDS = (
    "mn",
    "outlet",
    "enterprise",
    "source_type",
    "protocol",
    "parameters",
    "flow_unit",
    "active",
)


def _public(point: Any) -> dict[str, Any]:
    out = {f: getattr(point, f) for f in _FIELDS}
    out["parameters"] = list(point.parameters)
    return out


@registry_app.command("add-point")
def add_point_cmd(
    db: DbOption,
    mn: Annotated[str, typer.Option("--mn", help="Data-logger id (HJ 212 MN) as sent.")],
    password: Annotated[str, typer.Option("--password", help="HJ 212 PW the logger sends.")],
    outlet: Annotated[str | None, typer.Option("--outlet", help="Outlet name (排放口).")] = None,
    source_type: Annotated[
        str | None, typer.Option("--source-type", help="cement_kiln, coke_oven_stack, …")
    ] = None,
    enterprise: Annotated[
        str | None, typer.Option("--enterprise", help="Enterprise name (企业).")
    ] = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", help="Glossary key monitored (so2, nox, …); repeatable."),
    ] = None,
    flow_unit: Annotated[
        str, typer.Option("--flow-unit", help="Unit of a00000 as sent: m3/s or m3/h.")
    ] = "m3/s",
    sm4_key: Annotated[
        str | None, typer.Option("--sm4-key", help="HJ 212-2025 SM4 key, 32 hex digits.")
    ] = None,
) -> None:
    """Register a data logger (登记数采仪); an existing MN is updated."""
    from lantian.ledger.registry import add_point
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            point = add_point(
                con,
                mn=mn,
                password=password,
                outlet=outlet,
                source_type=source_type,
                enterprise=enterprise,
                parameters=parameter,
                flow_unit=flow_unit,
                sm4_key=sm4_key,
            )
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    echo_err(f"registered / 已登记 {point.mn}")
    emit_json(_public(point))


@registry_app.command("list")
def list_cmd(
    db: DbOption,
    format: FormatOption = OutputFormat.table,
) -> None:
    """List registered monitoring points (点位列表)."""
    from lantian.ledger.registry import list_points
    from lantian.store.db import connect

    try:
        con = connect(db)
        try:
            points = [_public(p) for p in list_points(con)]
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    if format is OutputFormat.json:
        emit_rows(points)
        return
    if format is OutputFormat.csv:
        import csv
        import sys

        w = csv.DictWriter(sys.stdout, fieldnames=list(_FIELDS))
        w.writeheader()
        for p in points:
            w.writerow({**p, "parameters": " ".join(p["parameters"])})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("MN", "outlet 排放口", "enterprise 企业", "source type", "protocol", "active")
    for p in points:
        table.add_row(
            p["mn"],
            p["outlet"] or "",
            p["enterprise"] or "",
            p["source_type"] or "",
            p["protocol"] or "",
            "yes" if p["active"] else "no",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``registry`` group."""
    app.add_typer(registry_app, name="registry")
