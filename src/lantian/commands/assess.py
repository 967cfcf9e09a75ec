"""``lantian assess``: monthly ultra-low-emission (超低排放) assessment.

Contracts (issue 3, keep stable)::

    lantian assess --db PATH --month YYYY-MM [--engine duckdb|spark] --format json
    lantian assess --db PATH --month YYYY-MM --detail hours --mn MN --format json

The first writes one JSON object per monitoring point with minute data in the month:
``{"mn", "source_type", "month", "production_hours", "valid_hours", "compliant_hours",
"compliance_ratio", "ule_pass", "exceedance_hours": {pollutant: n}, "invalid_hours":
{pollutant: n}}`` (``compliance_ratio`` unrounded; ``null`` with ``ule_pass`` ``null`` where a
point has no limited pollutant or no production hour). The second writes one object per
clock hour (``ts`` = hour start, ISO, China Standard Time) with the hourly means, the
O2-converted values (``<k>_ref_mg_m3``), validity per pollutant, ``production`` and
``compliant``.

``--engine spark`` reads the Parquet lake: ``--lake DIR``, or by default a lake next to the
database (``<db stem>.lake``) into which the month is exported from the database on every
run, so Spark sees exactly what DuckDB sees.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from lantian.commands._common import DbOption, OutputFormat, echo_err, emit_json, fail

__all__ = ["register"]


class Engine(StrEnum):
    """Execution engines of the assessment."""

    duckdb = "duckdb"
    spark = "spark"


class Detail(StrEnum):
    """Detail levels of ``assess``."""

    hours = "hours"


def assess(
    db: DbOption,
    month: Annotated[str, typer.Option("--month", help="Month YYYY-MM (CST)")],
    engine: Annotated[Engine, typer.Option("--engine", help="duckdb or spark")] = Engine.duckdb,
    detail: Annotated[
        Detail | None, typer.Option("--detail", help="hours: one row per hour of --mn")
    ] = None,
    mn: Annotated[str | None, typer.Option("--mn", help="Monitoring point (MN)")] = None,
    lake: Annotated[
        Path | None, typer.Option("--lake", help="Parquet lake root (Spark; default next to --db)")
    ] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="json (JSON Lines) or table")
    ] = OutputFormat.table,
    store: Annotated[
        bool,
        typer.Option(
            "--store/--no-store",
            help="Keep the monthly verdicts in the database (table month_ule_verdict)",
        ),
    ] = True,
) -> None:
    """Assess ULE compliance of each monitoring point for one month (times CST)."""
    from lantian.engine import backends
    from lantian.engine.assess import assess_month, hour_record, monthly_record
    from lantian.errors import LantianError

    if detail is not None and mn is None:
        fail("--detail hours needs --mn MN")
    t0 = time.perf_counter()
    try:
        backends.month_bounds(month)
        if engine is Engine.spark:
            if lake is None:
                if not db.exists():
                    backends.connect("duckdb", db=db)  # create and migrate
                lake = db.parent / f"{db.stem}.lake"
                backends.export_month_to_lake(db, lake, month)
            con = backends.connect("spark", db=db, lake=lake, month=month)
        else:
            con = backends.connect("duckdb", db=db)
        expr = assess_month(con, month, detail=detail is not None, mn=mn)
        df = expr.execute()
        con.disconnect()
    except LantianError as exc:
        fail(exc)
    rows = df.to_dict("records")
    shape = hour_record if detail is not None else monthly_record
    records = [shape(r) for r in rows]
    if detail is not None and not records:
        fail(f"no minute data for point {mn} in {month}")
    if store and detail is None:
        _store(db, records, engine.value)
    if format is OutputFormat.json:
        for rec in records:
            emit_json(rec)
    else:
        _print_table(records, detail is not None)
    took = time.perf_counter() - t0
    echo_err(
        f"assessed {len(records)} {'hours' if detail else 'points'} of {month} "
        f"on {engine.value} in {took:.1f} s"
    )


def _store(db: Path, records: list[dict[str, Any]], engine: str) -> None:
    """Keep the verdicts; a database held by ``lantian serve`` is reported, not an error."""
    from lantian.errors import DatabaseLockedError
    from lantian.store.db import connect
    from lantian.store.verdicts import save_month_verdicts

    try:
        con = connect(db)
    except DatabaseLockedError as exc:
        echo_err(f"warning: verdicts not stored: {exc}")
        return
    try:
        n = save_month_verdicts(con, records, engine=engine)
    finally:
        con.close()
    echo_err(f"stored {n} monthly verdicts in month_ule_verdict")


def _print_table(records: list[dict[str, Any]], hours: bool) -> None:
    if hours:
        for r in records:
            typer.echo(
                f"{r['ts']}  production={r['production']!s:5}  compliant={r['compliant']!s:5}  "
                + "  ".join(
                    f"{k}={r[k]:.2f}" for k in r if k.endswith("_ref_mg_m3") and r[k] is not None
                )
            )
        return
    typer.echo(
        f"{'mn':24} {'source_type':18} {'prod_h':>6} {'valid_h':>7} {'ok_h':>6} {'ratio':>7} ULE"
    )
    for r in records:
        ratio = "" if r["compliance_ratio"] is None else f"{r['compliance_ratio']:.4f}"
        verdict = {True: "达标 pass", False: "不达标 fail", None: "—"}[r["ule_pass"]]
        typer.echo(
            f"{r['mn']:24} {r['source_type'] or '':18} {r['production_hours']:>6} "
            f"{r['valid_hours']:>7} {r['compliant_hours']:>6} {ratio:>7} {verdict}"
        )
    echo_err("ratio shown to 4 decimals; ule_pass compares the unrounded ratio with 0.95")


def register(app: typer.Typer) -> None:
    """Add ``lantian assess`` to the root app."""
    app.command("assess")(assess)
