"""``lantian ledger``: the ledger commands (台账).

Registry history and Excel ledgers, holiday notices, production control, alerts, grades,
emissions and carbon.

Sub-commands::

    lantian ledger load-holidays FILE --db PATH --who NAME
    lantian ledger export-registry FILE.xlsx --db PATH
    lantian ledger import-registry FILE.xlsx --db PATH --who NAME [--valid-from YYYY-MM-DD]
    lantian ledger snapshot --db PATH --who NAME [--valid-from YYYY-MM-DD]
    lantian ledger history ENTITY KEY --db PATH [--format json]
    lantian ledger load-agreements FILE --db PATH
    lantian ledger production-check --db PATH [--format json]
    lantian ledger load-alerts FILE --db PATH --who NAME
    lantian ledger alert-check --db PATH [--format json]
    lantian ledger alert-measures --db PATH [--format json]
    lantian ledger alert-reduction --db PATH [--baseline-days 7] [--format json]
    lantian ledger loads --db PATH [--by enterprise_id] [--period month|year] [--format json]
    lantian ledger grades --db PATH --month YYYY-MM [--format json]
    lantian ledger retrofit-credit --db PATH [--months 3] [--format json]
    lantian ledger load-production FILE --db PATH
    lantian ledger intensity --db PATH [--format json]
    lantian ledger yoy --db PATH --year YYYY [--by enterprise_id|district_code|outlet_id]
    lantian ledger offsets --db PATH [--format json]

Times and dates are China Standard Time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lantian.commands._common import DbOption, FormatOption, OutputFormat, echo_err, fail
from lantian.commands._ledger_common import (
    engine_ule_verdicts,
    ledger_date,
    run_on_db,
    show_rows,
)

__all__ = ["register"]

ledger_app = typer.Typer(help="Ledgers (台账): registry history, Excel, holidays, production "
                              "control, alerts, grades, emissions and carbon.",
                         no_args_is_help=True)
WhoOption = Annotated[str, typer.Option("--who", help="Who makes the change (audit).")]


@ledger_app.command("load-holidays")
def load_holidays(
    file: Annotated[Path, typer.Argument(help="CSV day,kind,name,source of an official notice.")],
    db: DbOption,
    who: WhoOption,
) -> None:
    """Load a year's official holiday notice (节假日安排通知) as data."""
    from lantian.ledger.workdays import load_holiday_notice

    n = run_on_db(lambda con: load_holiday_notice(con, file, who), db)
    echo_err(f"loaded {n} days from {file.name} / 已载入节假日 {n} 天")


@ledger_app.command("export-registry")
def export_registry(
    file: Annotated[Path, typer.Argument(help="Excel workbook to write (.xlsx).")],
    db: DbOption,
) -> None:
    """Write the current registry as a bureau-style Excel workbook (one sheet per ledger)."""
    from lantian.ledger.registry_io import export_registry as _export

    counts = run_on_db(lambda con: _export(con, file), db)
    echo_err("exported " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@ledger_app.command("import-registry")
def import_registry(
    file: Annotated[Path, typer.Argument(help="Excel workbook in the export layout.")],
    db: DbOption,
    who: WhoOption,
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="Date the changes take effect (CST).")
    ] = None,
) -> None:
    """Import a registry workbook; changes are versioned; a bad cell rejects the whole file."""
    from lantian.ledger.registry_io import import_registry as _import

    when = ledger_date(valid_from, "--valid-from")
    counts = run_on_db(lambda con: _import(con, file, who=who, valid_from=when), db)
    echo_err("changed " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@ledger_app.command("snapshot")
def snapshot(
    db: DbOption,
    who: WhoOption,
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="Date the state took effect (CST).")
    ] = None,
) -> None:
    """Version registry changes made outside the Excel import (history catch-up)."""
    from lantian.ledger.registry_io import snapshot_registry

    when = ledger_date(valid_from, "--valid-from")
    counts = run_on_db(lambda con: snapshot_registry(con, who=who, valid_from=when), db)
    echo_err("versioned " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@ledger_app.command("history")
def history(
    entity: Annotated[str, typer.Argument(help="enterprise, line, outlet, monitoring_point, …")],
    key: Annotated[str, typer.Argument(help="Natural key (see docs/ledgers.md).")],
    db: DbOption,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Every version of one registry record, oldest first (valid_from/valid_to CST)."""
    from lantian.ledger.history import versions

    rows = run_on_db(lambda con: [v.as_dict() for v in versions(con, entity, key)], db)
    show_rows(rows, format, ("valid_from", "valid_to", "changed_by", "attrs"))


def _ibis(con: Any) -> Any:
    import ibis

    return ibis.duckdb.from_connection(con)


def _pylist(expr: Any) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


FileArg = Annotated[Path, typer.Argument(help="CSV (UTF-8) or .xlsx file.")]


@ledger_app.command("load-agreements")
def load_agreements_cmd(file: FileArg, db: DbOption) -> None:
    """Import staggered-production agreements (错峰生产协议)."""
    from lantian.ledger.production_control import load_agreements

    n = run_on_db(lambda con: load_agreements(con, file), db)
    echo_err(f"loaded {n} agreement rules from {file.name}")


@ledger_app.command("production-check")
def production_check(db: DbOption, format: FormatOption = OutputFormat.table) -> None:
    """Agreement violations with their evidence (flow, status codes, power); times CST."""
    from lantian.ledger.production_control import (
        agreement_violations,
        operating_evidence,
        with_enterprise_names,
    )

    def go(con: Any) -> list[dict[str, Any]]:
        ib = _ibis(con)
        v = agreement_violations(operating_evidence(ib), ib.table("production_agreement"))
        return _pylist(with_enterprise_names(v, ib.table("enterprise")).order_by(
            ["enterprise_id", "line", "period", "rule"]))

    rows = run_on_db(go, db)
    show_rows(rows, format, ("enterprise", "line", "rule", "period", "running_hours",
                             "evidence", "detail"))
    echo_err(f"{len(rows)} violation(s)")


@ledger_app.command("load-alerts")
def load_alerts_cmd(file: FileArg, db: DbOption, who: WhoOption) -> None:
    """Import heavy-pollution alert periods: district_code,level,start,end,source (CST)."""
    from lantian.ledger.alerts import load_alerts

    n = run_on_db(lambda con: load_alerts(con, file, who), db)
    echo_err(f"loaded {n} alert period(s)")


@ledger_app.command("alert-check")
def alert_check(db: DbOption, format: FormatOption = OutputFormat.table) -> None:
    """Lines that had to stop but ran during an alert (by the grade at the alert's start)."""
    from lantian.ledger.alerts import alert_violations, required_actions_of
    from lantian.ledger.production_control import operating_evidence, with_enterprise_names

    def go(con: Any) -> list[dict[str, Any]]:
        ib = _ibis(con)
        v = alert_violations(operating_evidence(ib), required_actions_of(ib))
        return _pylist(with_enterprise_names(v, ib.table("enterprise")).order_by(
            ["alert_id", "enterprise_id", "line"]))

    rows = run_on_db(go, db)
    show_rows(rows, format, ("alert_id", "level", "enterprise", "grade", "line",
                             "running_hours", "first_ts", "last_ts", "evidence"))
    echo_err(f"{len(rows)} line(s) ran when they had to stop")


@ledger_app.command("alert-measures")
def alert_measures_cmd(db: DbOption, format: FormatOption = OutputFormat.table) -> None:
    """Measure each line must take in each alert, by the grade (绩效分级) at its start."""
    from lantian.ledger.alerts import required_actions_of
    from lantian.ledger.production_control import with_enterprise_names

    def go(con: Any) -> list[dict[str, Any]]:
        ib = _ibis(con)
        return _pylist(with_enterprise_names(required_actions_of(ib), ib.table("enterprise"))
                       .order_by(["alert_id", "enterprise_id", "line"]))

    rows = run_on_db(go, db)
    show_rows(rows, format, ("alert_id", "level", "enterprise", "grade", "line", "action"))


@ledger_app.command("loads")
def loads_cmd(
    db: DbOption,
    by: Annotated[str, typer.Option("--by", help="mn, outlet_id, enterprise_id, district_code")] = (
        "enterprise_id"),
    period: Annotated[str, typer.Option("--period", help="month or year")] = "month",
    format: FormatOption = OutputFormat.table,
) -> None:
    """Emission loads [t] by month or year per unit: measured and substituted beside.

    ``load_t`` = ``measured_t`` + ``substituted_t``; HJ 75 substitution applies to loads only
    (负荷/排放量替代), never to concentrations. ``substituted_t``/``substituted_hours`` are
    empty for months summed from the logger's -Cou values (no ``assess --loads`` run).
    """
    from lantian.ledger.emissions import monthly_loads

    if by not in ("mn", "outlet_id", "enterprise_id", "district_code"):
        fail("--by must be mn, outlet_id, enterprise_id or district_code")
    if period not in ("month", "year"):
        fail("--period must be month or year")

    def go(con: Any) -> list[dict[str, Any]]:
        t = _ibis(con).table
        m = monthly_loads(t("flue_hour"), t("monitoring_point"), t("outlet"), t("enterprise"))
        m = m.mutate(period=m.month if period == "month" else m.month.substr(0, 4))
        agg = m.group_by([by, "period", "pollutant"]).aggregate(
            load_t=m.load_t.sum(), measured_t=m.measured_t.sum(),
            substituted_t=m.substituted_t.sum(), hours=m.hours.sum(),
            flagged_hours=m.flagged_hours.sum(), substituted_hours=m.substituted_hours.sum())
        return _pylist(agg.order_by([by, "period", "pollutant"]))

    rows = run_on_db(go, db)
    show_rows(rows, format, (by, "period", "pollutant", "load_t", "measured_t", "substituted_t",
                             "hours", "flagged_hours", "substituted_hours"))
    echo_err("HJ 75 substitution applies to loads only, never to concentrations "
             "(负荷/排放量替代，浓度不替代)")


@ledger_app.command("alert-reduction")
def alert_reduction_cmd(
    db: DbOption,
    baseline_days: Annotated[int, typer.Option("--baseline-days")] = 7,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Load reduction during each alert vs the days before it, against 10/20/30 %."""
    from lantian.ledger.alerts import alert_reduction
    from lantian.ledger.emissions import hourly_enterprise_loads

    def go(con: Any) -> list[dict[str, Any]]:
        t = _ibis(con).table
        loads = hourly_enterprise_loads(t("flue_hour"), t("monitoring_point"), t("outlet"))
        return _pylist(alert_reduction(loads, t("alert_period"), t("enterprise"),
                                       baseline_days=baseline_days))

    rows = run_on_db(go, db)
    show_rows(rows, format, ("alert_id", "level", "enterprise_id", "pollutant",
                             "reduction_pct", "target_pct", "passed"))


@ledger_app.command("retrofit-credit")
def retrofit_credit_cmd(
    db: DbOption,
    months: Annotated[int, typer.Option("--months")] = 3,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Annual reduction credited to each retrofit (before construction vs after stable month)."""
    from lantian.ledger.emissions import (
        line_monthly_loads,
        monthly_loads,
        retrofit_credit,
        retrofit_plan_dates,
    )

    def go(con: Any) -> list[dict[str, Any]]:
        ib = _ibis(con)
        t = ib.table
        loads = line_monthly_loads(monthly_loads(t("flue_hour"), t("monitoring_point"),
                                                 t("outlet"), t("enterprise")),
                                   t("production_line_outlet"), t("production_line"))
        plans = retrofit_plan_dates(t("retrofit_plan"), t("retrofit_milestone"))
        return _pylist(retrofit_credit(loads, plans, months))

    rows = run_on_db(go, db)
    show_rows(rows, format, ("plan_id", "line", "pollutant", "before_t_month",
                             "after_t_month", "credit_t_a"))


@ledger_app.command("grades")
def grades_cmd(
    db: DbOption,
    month: Annotated[str, typer.Option("--month", help="Last month of the window, YYYY-MM.")],
    format: FormatOption = OutputFormat.table,
) -> None:
    """A-grade eligibility and downgrade warnings."""
    from lantian.errors import LantianError
    from lantian.ledger.grades import gather_grade_evidence, grade_rules, window_months
    from lantian.ledger.retrofit_progress import read_ule_verdicts

    try:
        months = window_months(month, int(float(grade_rules()["a_grade_window_months"])))
    except LantianError as exc:
        fail(exc)
    have = run_on_db(lambda con: {m: read_ule_verdicts(con, m) for m in months}, db)
    try:  # months the verdict table lacks are assessed by the engine now
        ule = {m: v or engine_ule_verdicts(db, m) for m, v in have.items()}
    except LantianError as exc:
        fail(exc)
    rows = run_on_db(lambda con: gather_grade_evidence(con, month, ule), db)
    show_rows(rows, format, ("enterprise", "grade", "eligible", "downgrade_warning", "reasons"))


@ledger_app.command("load-production")
def load_production_cmd(file: FileArg, db: DbOption) -> None:
    """Import monthly production/energy records (产量能耗台账)."""
    from lantian.ledger.carbon import load_production_records

    n = run_on_db(lambda con: load_production_records(con, file), db)
    echo_err(f"loaded {n} production record(s)")


@ledger_app.command("intensity")
def intensity_cmd(db: DbOption, format: FormatOption = OutputFormat.table) -> None:
    """CO2, energy and power intensity per tonne against the sector norms."""
    from lantian.ledger.carbon import intensity_check

    rows = run_on_db(lambda con: _pylist(intensity_check(_ibis(con).table(
        "production_record"))), db)
    show_rows(rows, format, ("enterprise_id", "month", "product", "metric", "value", "norm",
                             "over"))


@ledger_app.command("yoy")
def yoy_cmd(
    db: DbOption,
    year: Annotated[int, typer.Option("--year")],
    by: Annotated[str, typer.Option("--by", help="enterprise_id, district_code, outlet_id")] = (
        "enterprise_id"),
    format: FormatOption = OutputFormat.table,
) -> None:
    """Year-on-year load change against the reduction targets (loads from hourly -Cou)."""
    from lantian.ledger.emissions import monthly_loads, yoy_vs_target

    if by not in ("enterprise_id", "district_code", "outlet_id"):
        fail("--by must be enterprise_id, district_code or outlet_id")

    def go(con: Any) -> list[dict[str, Any]]:
        t = _ibis(con).table
        loads = monthly_loads(t("flue_hour"), t("monitoring_point"), t("outlet"),
                              t("enterprise"))
        return _pylist(yoy_vs_target(loads, year, by))

    rows = run_on_db(go, db)
    show_rows(rows, format, (by, "pollutant", "last_t", "this_t", "change_pct", "target_pct",
                             "met"))


@ledger_app.command("offsets")
def offsets_cmd(db: DbOption, format: FormatOption = OutputFormat.table) -> None:
    """Offsets ledger (倍量削减): required, credited and missing reductions per project."""
    from lantian.ledger.carbon import offset_balance

    rows = run_on_db(offset_balance, db)
    show_rows(rows, format, ("project", "pollutant", "required_t", "credited_t", "gap_t",
                             "covered"))


def register(app: typer.Typer) -> None:
    """Add the ``ledger`` group."""
    app.add_typer(ledger_app, name="ledger")
