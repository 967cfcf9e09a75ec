"""``lantian retrofit``: retrofit plans, milestones, warnings, progress, dynamic list.

::

    lantian retrofit add-plan --db PATH --programme ID --enterprise NAME --line NAME
                              --planned-done YYYY-MM-DD --who NAME [--district CODE]
    lantian retrofit milestone PLAN --db PATH --milestone NAME --done-on YYYY-MM-DD --who NAME
    lantian retrofit status --db PATH [--today YYYY-MM-DD] [--at-risk-days 30] [--format json]
    lantian retrofit progress --db PATH [--today ...] [--by-district] [--format json]
    lantian retrofit refresh-list --db PATH --month YYYY-MM --who NAME [--format json]
    lantian retrofit notify --db PATH --who NAME [--today YYYY-MM-DD]

Dates are China Standard Time calendar days.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lantian.commands._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    echo_err,
    emit_json,
    fail,
)
from lantian.commands._ledger_common import engine_ule_verdicts
from lantian.commands._ledger_common import ledger_date as _date
from lantian.commands._ledger_common import run_on_db as _run
from lantian.commands._ledger_common import show_rows as _show

__all__ = ["register"]

retrofit_app = typer.Typer(help="Retrofit programmes (改造计划), CST dates.", no_args_is_help=True)
Who = Annotated[str, typer.Option("--who", help="Who makes the entry (audit).")]
Today = Annotated[str | None, typer.Option("--today", help="Reference date (default: today CST).")]


@retrofit_app.command("add-plan")
def add_plan_cmd(
    db: DbOption,
    programme: Annotated[str, typer.Option("--programme")],
    enterprise: Annotated[str, typer.Option("--enterprise")],
    line: Annotated[str, typer.Option("--line")],
    planned_done: Annotated[str, typer.Option("--planned-done", help="Construction done by.")],
    who: Who,
    district: Annotated[str | None, typer.Option("--district")] = None,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Register a retrofit plan for one line (the enterprise/line is added if missing)."""
    from lantian.ledger.retrofit import add_plan

    day = _date(planned_done, "--planned-done")
    pid = _run(lambda con: add_plan(con, programme=programme, enterprise=enterprise, line=line,
                                    planned_done=day, who=who, district_code=district), db)
    echo_err(f"plan {pid} added")
    if format is OutputFormat.json:
        emit_json({"plan_id": pid})


@retrofit_app.command("milestone")
def milestone_cmd(
    plan: Annotated[int, typer.Argument(help="Plan id.")],
    db: DbOption,
    milestone: Annotated[str, typer.Option("--milestone")],
    done_on: Annotated[str, typer.Option("--done-on")],
    who: Who,
    evidence: Annotated[str, typer.Option("--evidence")] = "",
) -> None:
    """Record a milestone reached (in order; stable month not before one month)."""
    from lantian.ledger.retrofit import record_milestone

    day = _date(done_on, "--done-on")
    _run(lambda con: record_milestone(con, plan, milestone, day, who, evidence), db)
    echo_err(f"plan {plan}: {milestone} {day.isoformat()}")


@retrofit_app.command("status")
def status_cmd(
    db: DbOption,
    today: Today = None,
    at_risk_days: Annotated[int, typer.Option("--at-risk-days")] = 30,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Milestones of every plan: done / done_late / overdue / at_risk / pending."""
    from lantian.ledger.retrofit import plan_status

    day = _date(today, "--today")
    rows = _run(lambda con: plan_status(con, day, at_risk_days=at_risk_days), db)
    _show(rows, format, ("plan_id", "enterprise", "line", "milestone", "due", "done_on", "state"))
    bad = sum(r["state"] == "overdue" for r in rows)
    echo_err(f"{bad} overdue, {sum(r['state'] == 'at_risk' for r in rows)} at risk on {day}")


@retrofit_app.command("progress")
def progress_cmd(
    db: DbOption,
    today: Today = None,
    by_district: Annotated[bool, typer.Option("--by-district")] = False,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Progress of each programme target (or per district)."""
    from lantian.ledger.retrofit_progress import programme_progress, progress_by_district

    day = _date(today, "--today")
    if by_district:
        rows = _run(lambda con: progress_by_district(con, day), db)
        _show(rows, format, ("programme", "district_code", "plans", "done", "overdue"))
    else:
        rows = _run(lambda con: programme_progress(con, day), db)
        _show(rows, format, ("programme", "target_date", "target_count", "done", "status"))


@retrofit_app.command("refresh-list")
def refresh_list_cmd(
    db: DbOption,
    month: Annotated[str, typer.Option("--month")],
    who: Who,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Remove listed lines that failed the monthly ULE test; notify the regulator.

    Verdicts come from the engine's ``month_ule_verdict`` table when it has the month, else
    the engine assesses the month now.
    """
    from lantian.errors import LantianError
    from lantian.ledger.retrofit_progress import read_ule_verdicts, refresh_dynamic_list

    verdicts = _run(lambda con: read_ule_verdicts(con, month), db)
    if not verdicts:
        try:
            verdicts = engine_ule_verdicts(db, month)
        except LantianError as exc:
            fail(exc)
    rows = _run(lambda con: refresh_dynamic_list(con, month, who, verdicts), db)
    _show(rows, format, ("plan_id", "enterprise", "line", "failed_points"))
    echo_err(f"{len(rows)} line(s) removed from the dynamic list for {month} "
             f"({len(verdicts)} point verdict(s))")


@retrofit_app.command("notify")
def notify_cmd(db: DbOption, who: Who, today: Today = None) -> None:
    """Notify the regulator of every overdue milestone not yet notified."""
    from lantian.ledger.retrofit_progress import notify_overdue

    day = _date(today, "--today")
    n = _run(lambda con: notify_overdue(con, day, who), db)
    echo_err(f"{n} new overdue notification(s) on {day} (CST)")


def register(app: typer.Typer) -> None:
    """Add the ``retrofit`` group."""
    app.add_typer(retrofit_app, name="retrofit")
