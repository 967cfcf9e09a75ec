"""``lantian qc``: remote quality control (远程质控) of one month, and O&M record import.

``lantian qc --db PATH --month YYYY-MM [--engine duckdb|spark] --format json`` prints one
JSON object per event ``{"mn", "detector", "pollutant", "start", "end", "severity",
"evidence": {...}}``; with ``--scores`` one per point ``{"mn", "trust", "events"}``. Events
and scores are also stored (``quality_event``, ``trust_score``) unless the database is held
by a running server. Times are China Standard Time. ``--assess`` makes the run the monthly
job: the engine's monthly ULE verdicts (超低排放月度评估, the ``lantian assess`` objects) come
from the same one scan of the minutes and are stored in ``month_ule_verdict`` as ``lantian
assess --store`` does; stdout is unchanged.

``lantian qc import-maintenance FILE --db PATH`` imports the O&M contractor's maintenance and
calibration records (CSV or Excel).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lantian.commands._common import DbOption, echo_err, emit_json, fail
from lantian.errors import DatabaseLockedError, LantianError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register", "run_qc"]

qc_app = typer.Typer(help="Remote quality control (远程质控). Times are China Standard Time.")

_EVENT_KEYS = ("mn", "detector", "pollutant", "start", "end", "severity", "evidence")


def run_qc(db: Path, month: str, engine: str = "duckdb", lake: Path | None = None,
           detectors: list[str] | None = None,
           verdicts: list[dict[str, Any]] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Detect the month's events; return (events frame, points with minute data).

    With ``verdicts`` (a list to fill) the run is the monthly job: the engine's monthly ULE
    verdicts (the ``lantian assess`` contract objects, :func:`lantian.engine.assess
    .monthly_record`) are computed from the same scan of the minutes
    (:func:`lantian.engine.quality.job.assess_and_detect`) and appended to it.
    """
    import pandas as pd

    from lantian.engine.assess import month_keys, monthly_record
    from lantian.engine.backends import cache_table, connect
    from lantian.engine.quality import DETECTORS, load_thresholds
    from lantian.engine.quality.blocks import minute_blocks
    from lantian.engine.quality.frames import empty_events
    from lantian.engine.quality.inputs import history_minutes, limit_memory, read_inputs
    from lantian.engine.quality.job import (
        assess_and_detect,
        compressed_keep,
        keep_by_point_ranges,
        keep_shared_blocks,
        release_kept,
        scan_points,
    )
    from lantian.engine.quality.run import detector_events

    th = load_thresholds()
    con = connect(engine, db=db, lake=lake, month=month)
    spill = limit_memory(con)  # DuckDB: bounded memory, spills to a temporary directory
    try:
        kw = read_inputs(con, month, th)
        if engine != "duckdb":  # the lake has no analyser parameters or O&M records
            _side_tables(con, kw, db, month, th)
        if engine == "duckdb":  # earlier months for pinned_under_limit (none: first month)
            kw["history_minutes"] = history_minutes(con, month, kw["limits"], kw["keys"], th)
        if kw["params"] is None:
            echo_err("warning: no analyser parameters (value_long) on this engine: "
                     "calibration_change skipped")
        # keep the shared running minutes and hours once instead of once per detector;
        # DuckDB: compressed in an attached in-memory database (qcmem15: at 5,000 points
        # the uncompressed temporary tables spilled 4.6 GB, compressed 1.6 GB)
        cached: list[Any] = []
        kept = compressed_keep(con) if engine == "duckdb" else None

        def keep(t: Any) -> Any:
            if kept is not None:
                return kept(t)
            c = cache_table(con, t)
            cached.append(c)
            return c

        # the one scan of the minutes (per point and 30-minute block), kept: every detector
        # and, for the monthly job, the engine's hours come from it
        # (on DuckDB in ranges of the registry's points: both cores, small hash tables)
        points = scan_points(con, kw)
        if verdicts is None:
            blocks = keep_by_point_ranges(
                con, keep, lambda t: minute_blocks(t, kw["keys"], th), kw["minute"], points)
            parts = detector_events(**kw, detectors=detectors or DETECTORS, materialize=keep,
                                    blocks=blocks)
        else:
            blocks = keep_shared_blocks(con, keep, kw["minute"], kw["keys"],
                                        month_keys(kw["minute"]), th, points=points)
            month_v, parts = assess_and_detect(con, kw, detectors=detectors or DETECTORS,
                                               materialize=keep, blocks=blocks)
            verdicts += [monthly_record(r) for r in con.execute(month_v).to_dict("records")]
        frames = [con.execute(expr) for expr in parts.values()]
        # the points with minute data, from the kept blocks (not one more read of the minutes)
        mns = con.execute(blocks.select("mn").distinct())["mn"].tolist()
        for c in cached:  # drop the temporary tables while the connection is open
            c.release()
        release_kept(con)  # the compressed kept frames go with their database
        events = pd.concat([f for f in frames if len(f)] or [con.execute(empty_events())],
                           ignore_index=True)
    finally:
        disconnect = getattr(con, "disconnect", None)
        if callable(disconnect):
            disconnect()
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
    events = events.sort_values(["mn", "start", "detector"], kind="stable").reset_index(drop=True)
    return events, mns


def _side_tables(con: Any, kw: dict[str, Any], db: Path, month: str, th: Any) -> None:
    """Prepare the small inputs for an engine reading the Parquet lake (Spark).

    The lake has no analyser parameters or O&M records: they are read from the DuckDB file
    (:func:`~lantian.engine.quality.records.read_side_tables`). Every in-memory table is
    registered as a view, because Spark's cached tables cannot refer to inline memtables.
    """
    import ibis

    from lantian.engine.quality.inputs import analyser_ranges
    from lantian.engine.quality.records import read_side_tables

    side = read_side_tables(db, month)
    if kw["params"] is None and len(side["params"]):
        kw["params"] = ibis.memtable(side["params"])
    if kw["maintenance"] is None:
        kw["maintenance"] = ibis.memtable(side["maintenance"])
    for name in ("limits", "points", "params", "maintenance"):
        if kw[name] is not None:
            kw[name] = con.create_view(f"qc_{name}", kw[name], overwrite=True)
    kw["ranges"] = analyser_ranges(kw["params"], kw["limits"], th)


def _store(db: Path, month: str, events: pd.DataFrame, scores: pd.DataFrame, *,
           verdicts: list[dict[str, Any]] | None = None, engine: str = "duckdb") -> None:
    from lantian.store.db import connect
    from lantian.store.verdicts import save_month_verdicts

    con = connect(db)
    try:
        con.execute("BEGIN")
        con.execute("DELETE FROM quality_event WHERE month = ?", [month])
        con.execute("DELETE FROM trust_score WHERE month = ?", [month])
        if len(events):
            ev = events.assign(month=month)[["month", "detector", "mn", "pollutant", "start",
                                             "end", "severity", "evidence"]]
            con.register("_qc_ev", ev)
            con.execute("INSERT INTO quality_event (month, detector, mn, pollutant, start_ts, "
                        "end_ts, severity, evidence) SELECT * FROM _qc_ev")
            con.unregister("_qc_ev")
        if len(scores):
            sc = scores.assign(month=month, explanation=scores["explanations"].map(
                lambda x: json.dumps(x, ensure_ascii=False)))[
                ["mn", "month", "trust", "events", "explanation"]]
            con.register("_qc_sc", sc)
            con.execute("INSERT INTO trust_score (mn, month, trust, events, explanation) "
                        "SELECT * FROM _qc_sc")
            con.unregister("_qc_sc")
        con.execute("COMMIT")
        if verdicts is not None:  # the monthly job: what `lantian assess --store` keeps
            n = save_month_verdicts(con, verdicts, engine=engine)
            echo_err(f"stored {n} monthly verdicts in month_ule_verdict")
    finally:
        con.close()


@qc_app.callback(invoke_without_command=True)
def qc(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="Month YYYY-MM (CST).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark.")] = "duckdb",
    lake: Annotated[Path | None, typer.Option("--lake", help="Parquet lake root.")] = None,
    scores: Annotated[bool, typer.Option("--scores", help="Trust score per point.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Explain each score.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="zh (default) or en.")] = "zh",
    fmt: Annotated[str, typer.Option("--format", help="json (JSON Lines) or table.")] = "json",
    assess: Annotated[bool, typer.Option(
        "--assess", help="Monthly job: also assess the month (ULE verdicts, stored as "
        "`lantian assess --store` does) from the same scan of the minutes.")] = False,
) -> None:
    """Run every quality detector over one month; print events or trust scores.

    ``--assess`` makes it the monthly job: the engine's monthly verdicts come from the same
    one scan of the minutes and are stored in ``month_ule_verdict`` (stdout unchanged).
    """
    if ctx.invoked_subcommand is not None:
        return
    if db is None or month is None:
        fail("qc needs --db PATH and --month YYYY-MM")
    if fmt not in ("json", "table"):
        fail(f"unknown --format {fmt!r}: use json or table")
    if lang not in ("zh", "en"):
        fail(f"unknown --lang {lang!r}: use zh or en")
    from lantian.engine.quality.trust import trust_scores

    verdicts: list[dict[str, Any]] | None = [] if assess else None
    try:
        events, mns = run_qc(db, month, engine, lake, verdicts=verdicts)
        score = trust_scores(events, mns, lang=lang)
    except LantianError as exc:
        fail(exc)
    try:
        _store(db, month, events, score, verdicts=verdicts, engine=engine)
    except DatabaseLockedError as exc:
        echo_err(f"warning: results not stored: {exc}")
    rows: list[dict[str, Any]] = []
    if scores:
        for r in score.to_dict("records"):
            row = {"mn": r["mn"], "trust": float(r["trust"]), "events": int(r["events"])}
            if explain:
                row["explanations"] = r["explanations"]
            rows.append(row)
    else:
        for rec in events.to_dict("records"):
            ev: dict[str, Any] = {str(k): rec[k] for k in _EVENT_KEYS}
            ev["evidence"] = json.loads(ev["evidence"]) if ev["evidence"] else {}
            rows.append(ev)
    if fmt == "json":
        for out in rows:
            emit_json(out)
    else:
        for out in rows:
            typer.echo("  ".join(f"{k}={v}" for k, v in out.items()))
    echo_err(f"qc {month}: {len(events)} events on {len(score)} points "
             f"(times China Standard Time)")


@qc_app.command("import-maintenance")
def import_maintenance(
    file: Annotated[Path, typer.Argument(help="CSV or Excel file of the O&M contractor.")],
    db: DbOption,
    fmt: Annotated[str, typer.Option("--format", help="json or table.")] = "json",
) -> None:
    """Import maintenance and calibration records (运维记录) from CSV or Excel."""
    from lantian.engine.quality.maintenance import insert_records, read_maintenance
    from lantian.store.db import connect

    try:
        records = read_maintenance(file)
        con = connect(db)
        try:
            con.execute("BEGIN")
            n = insert_records(con, records)
            con.execute("COMMIT")
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    out = {"file": str(file), "read": len(records), "imported": n}
    if fmt == "json":
        emit_json(out)
    else:
        typer.echo(f"imported {n} of {len(records)} records from {file}")


def register(app: typer.Typer) -> None:
    """Add the ``qc`` command group."""
    app.add_typer(qc_app, name="qc")
