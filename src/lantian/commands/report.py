"""``lantian report``: monthly ULE reports (HTML + PDF), bulletins and Excel ledgers.

Files go to ``--out DIR`` (created if missing). With ``--format json`` one JSON line per file
written is printed on stdout; a rich progress bar and the summary go to stderr. Times are
China Standard Time (中国标准时间).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from lantian.commands._common import DbOption, OutputFormat, echo_err, emit_json, fail, open_db

__all__ = ["register", "report_app"]

report_app = typer.Typer(help="Reports and ledgers (报告与台账). Times are China Standard Time.",
                         no_args_is_help=True)

MonthOpt = Annotated[str, typer.Option("--month", help="Month YYYY-MM (CST)")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output directory (created if missing)")]
BureauOpt = Annotated[str | None, typer.Option(
    "--bureau", help="Issuing bureau for the heading (default $LANTIAN_BUREAU or 生态环境局)")]
FmtOpt = Annotated[OutputFormat, typer.Option("--format", help="json (JSON Lines) or table")]


class Lang(StrEnum):
    """Language of the report's values (headings are bilingual)."""

    zh = "zh"
    en = "en"


LangOpt = Annotated[Lang, typer.Option(
    "--lang", help="zh (default) or en: language of the values of the production-control, "
    "alert, grade and emissions sections")]


def _bureau(value: str | None) -> str | None:
    return value or os.environ.get("LANTIAN_BUREAU") or None


def _bar() -> Progress:
    """Return a transient rich progress bar on stderr (stdout stays clean for JSON)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[label]}"), console=Console(stderr=True),
                    transient=True)


@report_app.command("monthly")
def monthly(
    db: DbOption,
    month: MonthOpt,
    out: OutOpt,
    enterprise: Annotated[str | None, typer.Option(
        "--enterprise", help="Enterprise id or exact name (default: every enterprise)")] = None,
    bureau: BureauOpt = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="HTML only")] = False,
    format: FmtOpt = OutputFormat.table,
    lang: LangOpt = Lang.zh,
) -> None:
    """Monthly ULE assessment report per enterprise: HTML and PDF into --out."""
    from lantian.reports.monthly import resolve_enterprise, write_monthly

    with open_db(db) as con:
        if enterprise is not None:
            ids = [resolve_enterprise(con, enterprise)]
        else:
            ids = [r[0] for r in con.execute("SELECT id FROM enterprise ORDER BY id")
                   .fetchall()]
        if not ids:
            fail("no enterprises in the database")
        with _bar() as bar:
            task = bar.add_task(f"report {month}", total=len(ids), label="")
            rows = write_monthly(
                con, month, ids, out, bureau=_bureau(bureau), pdf=not no_pdf, lang=lang.value,
                progress=lambda done, total, label: bar.update(task, completed=done,
                                                               label=label))
    for r in rows:
        if format is OutputFormat.json:
            emit_json(r)
        else:
            verdict = {True: "达标 pass", False: "不达标 fail", None: "—"}[r["ule_pass"]]
            typer.echo(f"{r['enterprise']}  {verdict}  {r['pdf'] or r['html']}")
    echo_err(f"wrote {len(rows)} monthly report(s) for {month} into {out}")


@report_app.command("bulletin")
def bulletin(
    db: DbOption,
    month: MonthOpt,
    out: OutOpt,
    district: Annotated[str | None, typer.Option(
        "--district", help="District code prefix (43 = province, 4301 = city)")] = None,
    bureau: BureauOpt = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="HTML only")] = False,
    format: FmtOpt = OutputFormat.table,
    lang: LangOpt = Lang.zh,
) -> None:
    """Province/city monthly bulletin: ULE pass/fail, worst outlets, alarms, AQ ranking."""
    from lantian.reports.bulletin import write_bulletin

    if district is not None and not district.isdigit():
        fail(f"--district must be digits (an administrative code prefix), got {district!r}")
    with open_db(db) as con, _bar() as bar:
        task = bar.add_task(f"bulletin {month}", total=1, label="assess")
        rec = write_bulletin(con, month, out, district=district,
                             bureau=_bureau(bureau), pdf=not no_pdf, lang=lang.value)
        bar.update(task, completed=1, label="")
    if format is OutputFormat.json:
        emit_json(rec)
    else:
        typer.echo(rec["pdf"] or rec["html"])
    echo_err(f"bulletin {month}: {rec['passed']} pass, {rec['failed']} fail, "
             f"{rec['unassessed']} not assessed")


@report_app.command("ledgers")
def ledgers(db: DbOption, month: MonthOpt, out: OutOpt, format: FmtOpt = OutputFormat.table,
            ) -> None:
    """Excel ledgers of one month (register, verdicts, exceedances, quality, transport)."""
    from lantian.reports.excel import ledger_rows, write_ledgers

    with open_db(db) as con, _bar() as bar:
        task = bar.add_task(f"ledgers {month}", total=2, label="assess")
        sheets = ledger_rows(con, month)
        bar.update(task, completed=1, label="write")
        path = write_ledgers(sheets, out / f"ledgers_{month}.xlsx",
                             subtitle=f"{month}（中国标准时间）")
        bar.update(task, completed=2, label="")
    rec = {"month": month, "xlsx": str(path), **{f"{k}_rows": len(v) for k, v in sheets.items()}}
    if format is OutputFormat.json:
        emit_json(rec)
    else:
        typer.echo(str(path))
    echo_err(f"wrote {path} ({', '.join(f'{k} {len(v)}' for k, v in sheets.items())} rows)")


def register(app: typer.Typer) -> None:
    """Attach the ``report`` group to the root app."""
    app.add_typer(report_app, name="report")
