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

``--loads`` (DuckDB or Spark; on Spark the default lake gets the months the loads need: the
quarter to date and the three months before it) adds emission loads (HJ 75-2017) without
changing any key above: each monthly object gets ``load_kg`` {pollutant: measured kg},
``load_hours`` {pollutant: hours with a measured load}, ``substituted_load_kg``
{pollutant: kg substituted for invalid production hours}, ``substituted_hours`` and
``unsubstituted_hours`` {pollutant: h}, ``capture_rate`` {pollutant: quarter-to-date valid
share of production hours, 0–1} (substitution only for PM, SO2, NOx); the monthly loads are
kept in table ``month_load`` (with ``--store``). With ``--detail hours`` each hour gets
``flow_m3_h`` [m³/h], ``<k>_load_kg_h`` [kg/h, measured], ``<k>_substituted`` and
``<k>_sub_load_kg_h`` [kg/h]. See :mod:`lantian.engine.loads`.
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
    loads: Annotated[
        bool,
        typer.Option(
            "--loads",
            help="Add emission loads [kg], HJ 75 substituted loads and the quarterly capture "
            "rate (DuckDB engine)",
        ),
    ] = False,
) -> None:
    """Assess ULE compliance of each monitoring point for one month (times CST)."""
    from lantian.engine import backends
    from lantian.engine.assess import (
        assess_hours,
        assess_month,
        hour_record,
        monthly_record,
        monthly_results,
    )
    from lantian.engine.capture import load_span
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
                # loads also need the quarter to date and the months before it (load_span)
                for m in load_span(month)[0] if loads else [month]:
                    backends.export_month_to_lake(db, lake, m)
            con = backends.connect("spark", db=db, lake=lake, month=month)
        else:
            con = backends.connect("duckdb", db=db)
        if loads:
            # the month's hours computed once, for the verdicts and the loads
            verdicts = assess_hours(con, month, mn=mn).cache()
            expr = (
                verdicts.order_by(["mn", "ts"])
                if detail is not None
                else monthly_results(con, verdicts, month)
            )
            df = expr.execute()
            load_rows = _load_rows(con, month, mn, detail is not None, verdicts)
            verdicts.release()  # before the connection closes
        else:
            df = assess_month(con, month, detail=detail is not None, mn=mn).execute()
            load_rows = None
        con.disconnect()
    except LantianError as exc:
        fail(exc)
    rows = df.to_dict("records")
    shape = hour_record if detail is not None else monthly_record
    records = [shape(r) for r in rows]
    if detail is not None and not records:
        fail(f"no minute data for point {mn} in {month}")
    if load_rows is not None:
        _merge_loads(records, load_rows, detail is not None)
    if store and detail is None:
        _store(db, records, engine.value, with_loads=loads)
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


def _load_rows(
    con: Any, month: str, mn: str | None, hours: bool, month_hours: Any
) -> list[dict[str, Any]]:
    """Hourly (``hours``) or monthly load rows of the month (:mod:`lantian.engine.loads`)."""
    from lantian.engine.backends import month_bounds
    from lantian.engine.loads import load_hours, month_load_totals

    kept: list[Any] = []
    try:
        h = load_hours(con, month, mn=mn, month_hours=month_hours, kept=kept)
        if hours:
            start, end = month_bounds(month)
            expr = h.filter((h.ts >= start) & (h.ts < end)).order_by("ts")
        else:
            expr = month_load_totals(h, month)
        return list(expr.execute().to_dict("records"))
    finally:
        for t in kept:  # temporary tables dropped before the connection closes
            t.release()


def _merge_loads(
    records: list[dict[str, Any]], load_rows: list[dict[str, Any]], hours: bool
) -> None:
    """Add the load keys to the contract objects in place (existing keys untouched)."""
    from lantian.engine.loads import hour_load_record, month_load_record

    if hours:
        by_ts = {r["ts"]: hour_load_record(r) for r in load_rows}
        for rec in records:
            rec.update(by_ts.get(rec["ts"], {}))
        return
    by_mn = {r["mn"]: month_load_record(r) for r in load_rows}
    for rec in records:  # a point without load rows gets the same keys, with empty maps
        rec.update(by_mn.get(rec["mn"]) or month_load_record({}))


def _store(db: Path, records: list[dict[str, Any]], engine: str, *, with_loads: bool) -> None:
    """Keep the verdicts; a database held by ``lantian serve`` is reported, not an error."""
    from lantian.errors import DatabaseLockedError
    from lantian.store.db import connect
    from lantian.store.month_loads import save_month_loads
    from lantian.store.verdicts import save_month_verdicts

    try:
        con = connect(db)
    except DatabaseLockedError as exc:
        echo_err(f"warning: verdicts not stored: {exc}")
        return
    try:
        n = save_month_verdicts(con, records, engine=engine)
        n_loads = save_month_loads(con, records, engine=engine) if with_loads else None
    finally:
        con.close()
    echo_err(f"stored {n} monthly verdicts in month_ule_verdict")
    if n_loads is not None:
        echo_err(f"stored {n_loads} monthly loads in month_load")


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
        for k, kg in r.get("load_kg", {}).items():
            line = f"    {k} 排放量 load {kg:.3f} kg"
            if k in r["substituted_load_kg"]:
                alpha = r["capture_rate"][k]
                line += (
                    f" + 替代 substituted {r['substituted_load_kg'][k]:.3f} kg"
                    f" ({r['substituted_hours'][k]} h, open {r['unsubstituted_hours'][k]} h,"
                    f" 捕集率 capture {'—' if alpha is None else f'{alpha * 100:.1f}%'})"
                )
            typer.echo(line)
    echo_err("ratio shown to 4 decimals; ule_pass compares the unrounded ratio with 0.95")


def register(app: typer.Typer) -> None:
    """Add ``lantian assess`` to the root app."""
    app.command("assess")(assess)
