"""``lantian marks``: enterprise condition marks (标记) and their review.

::

    lantian marks add --db PATH (--mn MN | --outlet ID) --kind KIND --start T --end T
                      --reason TEXT --who NAME
    lantian marks review ID --db PATH --decision accepted|rejected --who NAME [--note TEXT]
    lantian marks list --db PATH [--status pending] [--format json]

Times ``YYYY-MM-DDTHH:MM:SS`` (or with a space), China Standard Time.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from lantian.commands._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    echo_err,
    emit_json,
    fail,
    open_db,
)

__all__ = ["register"]

marks_app = typer.Typer(help="Enterprise condition marks (标记), CST.", no_args_is_help=True)


def _ts(text: str, name: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        fail(f"{name} {text!r} is not YYYY-MM-DDTHH:MM:SS (CST)")


@marks_app.command("add")
def add(
    db: DbOption,
    kind: Annotated[str, typer.Option("--kind", help="stopped starting shutting_down faulty …")],
    start: Annotated[str, typer.Option("--start", help="Period start, CST.")],
    end: Annotated[str, typer.Option("--end", help="Period end, CST.")],
    reason: Annotated[str, typer.Option("--reason")],
    who: Annotated[str, typer.Option("--who")],
    mn: Annotated[str | None, typer.Option("--mn", help="Monitoring point MN.")] = None,
    outlet: Annotated[int | None, typer.Option("--outlet", help="Outlet id.")] = None,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Enter a mark (before the deadline; within the annual cap)."""
    from lantian.ledger.marks import submit_mark

    s, e = _ts(start, "--start"), _ts(end, "--end")
    with open_db(db) as con:
        mark_id = submit_mark(con, kind=kind, start=s, end=e, reason=reason, who=who,
                              outlet_id=outlet, mn=mn)
    echo_err(f"mark {mark_id} entered, pending review / 标记已提交待审核")
    if format is OutputFormat.json:
        emit_json({"id": mark_id, "status": "pending"})


@marks_app.command("review")
def review(
    mark_id: Annotated[int, typer.Argument(help="Mark id.")],
    db: DbOption,
    decision: Annotated[str, typer.Option("--decision", help="accepted or rejected")],
    who: Annotated[str, typer.Option("--who")],
    note: Annotated[str, typer.Option("--note")] = "",
) -> None:
    """Accept or reject a pending mark (regulator)."""
    from lantian.ledger.marks import review_mark

    with open_db(db) as con:
        review_mark(con, mark_id, decision, who, note)
    echo_err(f"mark {mark_id} {decision}")


@marks_app.command("list")
def list_marks(
    db: DbOption,
    status: Annotated[str | None, typer.Option("--status")] = None,
    format: FormatOption = OutputFormat.table,
) -> None:
    """List marks (start/end CST)."""
    sql = ("SELECT id, outlet_id, mn, kind, start_ts AS start, end_ts AS \"end\", status, reason,"
           " entered_by, entered_at, reviewed_by, reviewed_at, review_note FROM enterprise_mark")
    with open_db(db) as con:
        cur = con.execute(sql + (" WHERE status = ?" if status else "") + " ORDER BY id",
                          [status] if status else [])
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        if format is OutputFormat.json:
            emit_json(r)
        else:
            typer.echo(f"{r['id']}\t{r['mn'] or r['outlet_id']}\t{r['kind']}\t{r['start']}"
                       f"\t{r['end']}\t{r['status']}\t{r['reason']}")


def register(app: typer.Typer) -> None:
    """Add the ``marks`` group."""
    app.add_typer(marks_app, name="marks")
