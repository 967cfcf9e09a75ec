"""Transport ledger commands: ``lantian import gate-records``, ``import vehicles``, ``transport``.

Contracts (issue 8, keep stable)::

    lantian import gate-records FILE --db PATH
    lantian transport --db PATH --month YYYY-MM --format json

``transport`` writes one JSON object per enterprise with gate records in the month:
``{"enterprise", "month", "clean_ratio", "road_tonnes", "clean_tonnes",
"non_compliant_road_trips", "pass"}``; times and months are China Standard Time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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
from lantian.commands._groups import import_app
from lantian.errors import LantianError

__all__ = ["register"]

FileArg = Annotated[Path, typer.Argument(help="CSV (UTF-8) or .xlsx file.")]


def _import_file(
    file: Path, db: Path, fmt: OutputFormat, what: str,
    read: Callable[[Path], Any], store: Callable[[Any, Any], tuple[int, list[str]]],
) -> None:
    """Read and check ``file`` with ``read``, store it with ``store``, report on stderr."""
    from lantian.store.db import connect

    try:
        items = read(file)
        con = connect(db)
        try:
            n, added = store(con, items)
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    for name in added:
        echo_err(f"enterprise added to the registry / 新增企业: {name}")
    echo_err(f"imported {n} {what} from {file.name}")
    if fmt is OutputFormat.json:
        emit_json({"file": file.name, "rows": n, "enterprises_added": added})


def import_gate_records(
    file: FileArg,
    db: DbOption,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Import gate records (门禁记录).

    Columns: enterprise,time,plate,direction,mode,material,tonnes,emission_stage,fuel.
    """
    from lantian.ledger.gate_records import read_gate_records, store_gate_records

    _import_file(file, db, format, "gate records", read_gate_records,
                 lambda con, recs: store_gate_records(con, recs, file.name))


def import_vehicles(
    file: FileArg,
    db: DbOption,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Import in-plant vehicles and non-road machinery (厂内车辆/非道路移动机械).

    Columns: enterprise,category,ident,kind,emission_stage,fuel,power_kw,made_on.
    """
    from lantian.ledger.fleet import read_fleet, store_fleet

    _import_file(file, db, format, "vehicles/machines", read_fleet, store_fleet)


def transport(
    db: DbOption,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (CST).")],
    format: FormatOption = OutputFormat.table,
) -> None:
    """Monthly clean-transport ratio per enterprise (清洁运输比例).

    Passes at ≥0.8, or when every road trip used a NEV or China VI vehicle.
    """
    import ibis

    from lantian.ledger.transport import clean_transport_month, month_bounds
    from lantian.store.db import connect

    try:
        month_bounds(month)
        con = connect(db)
        try:
            ib = ibis.duckdb.from_connection(con)
            expr = clean_transport_month(ib.table("gate_record"), ib.table("enterprise"), month)
            rows = expr.to_pyarrow().to_pylist()
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    if format is OutputFormat.json:
        emit_rows(rows)
    else:
        for r in rows:
            ratio = "—" if r["clean_ratio"] is None else f"{r['clean_ratio']:.3f}"
            typer.echo(
                f"{r['enterprise']}\t{month}\tratio {ratio}\troad {r['road_tonnes']:g} t\t"
                f"clean {r['clean_tonnes']:g} t\tnon-compliant road trips "
                f"{r['non_compliant_road_trips']}\t{'PASS' if r['pass'] else 'FAIL'}"
            )
    echo_err(f"{len(rows)} enterprise(s) with gate records in {month} (CST)")


def register(app: typer.Typer) -> None:
    """Add the transport commands."""
    import_app.command("gate-records")(import_gate_records)
    import_app.command("vehicles")(import_vehicles)
    app.command("transport")(transport)
