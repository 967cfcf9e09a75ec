"""``lantian demo``: the demo province (generate, load). Times are China Standard Time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lantian.commands._common import DbOption, echo_err, emit_json, fail
from lantian.errors import LantianError

__all__ = ["register"]

demo_app = typer.Typer(help="Demo province with labelled faults (演示数据).", no_args_is_help=True)


@demo_app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    points: Annotated[int, typer.Option("--points", help="Number of monitoring points.")],
    days: Annotated[int, typer.Option("--days", help="Days of minute data.")],
    start: Annotated[str, typer.Option("--start", help="First day YYYY-MM-DD.")] = "2026-01-01",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or hj212.")] = "parquet",
    fault_share: Annotated[
        float, typer.Option("--fault-share", help="Share of points with faults.")
    ] = 0.6,
) -> None:
    """Generate minute data, registry, O&M records and ground truth (events.csv)."""
    from lantian.demo.generate import generate

    try:
        import datetime as dt

        dt.date.fromisoformat(start)
    except ValueError:
        fail(f"--start must be YYYY-MM-DD, got {start!r}")
    try:
        s = generate(out, points=points, days=days, start=start, seed=seed, fmt=fmt,
                     fault_share=fault_share)
    except LantianError as exc:
        fail(exc)
    echo_err(f"demo: {s.points} points, {s.rows} minute rows, {s.faults} labelled faults "
             f"written to {s.out}")
    emit_json({"out": str(s.out), "points": s.points, "rows": s.rows, "faults": s.faults,
               "events": s.events})


@demo_app.command("load")
def load_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder written by `demo generate`.")],
    db: DbOption,
) -> None:
    """Register the demo points and load their data into the database."""
    from lantian.demo.load import load_demo

    try:
        s = load_demo(db, directory)
    except LantianError as exc:
        fail(exc)
    emit_json({"points": s.points, "minute_rows": s.minute_rows, "param_rows": s.param_rows,
               "maintenance_rows": s.maintenance_rows})


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command group."""
    app.add_typer(demo_app, name="demo")
