"""Monthly ULE assessment report of one enterprise (企业超低排放月度评估报告).

:func:`gather_monthly` collects what the report states from stored data — the engine's
hourly and monthly verdicts (:mod:`lantian.engine.assess`, HJ 75-2017 valid hours,
环大气〔2019〕35号 95 % rule), quality events and trust scores (远程质控), the clean-transport
verdict (:mod:`lantian.ledger.transport`) and retrofit milestones
(:mod:`lantian.ledger.retrofit`). :func:`render_html` renders it with Jinja2 and
:func:`render_pdf` prints the HTML with WeasyPrint (CJK text in Noto Sans CJK, Debian
``fonts-noto-cjk``). All times are China Standard Time (中国标准时间) wall-clock.

Hour figures per monitoring point (counts of clock hours ``[ts, ts + 1 h)``):

* ``production_hours``, ``compliant_hours``, ``compliance_ratio``, ``ule_pass`` — the
  engine's monthly verdict, unchanged;
* ``exceedance_hours`` — production hours in which at least one limited pollutant exceeded;
* ``invalid_hours`` — production hours in which at least one limited pollutant had no valid
  value (they count against the ratio);
* ``substituted_hours`` — of those, the hours whose emissions are to be filled with
  substitute data per HJ 75-2017 (缺失/无效时段数据补遗): the same hours as
  ``invalid_hours``; listed separately because the bureau's form asks for both. These are
  hours *needing* substitution, not the substituted load: the loads actually substituted
  (and the hours left open when α < 75 %) are in the emissions section
  (:mod:`lantian.reports.emissions`);
* ``stop_hours`` — hours judged non-production.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import ibis
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.assess import assess_hours, monthly_record, monthly_results
from lantian.engine.backends import _REGISTRY_SQL, month_bounds
from lantian.errors import LantianError, NotFoundError
from lantian.ledger.retrofit import plan_status
from lantian.ledger.transport import clean_transport_month
from lantian.ledger.workdays import CalendarFallbackWarning
from lantian.reports.charts import daily_bars_svg, hours_bars_svg
from lantian.reports.control import gather_control, localise_control
from lantian.reports.emissions import gather_emissions

__all__ = [
    "DEFAULT_BUREAU",
    "gather_monthly",
    "hour_counts",
    "ibis_backend",
    "render_html",
    "render_pdf",
    "report_filename",
    "resolve_enterprise",
    "write_monthly",
]

DEFAULT_BUREAU = "生态环境局"
"""Heading used when no bureau name is configured (``--bureau`` / ``LANTIAN_BUREAU``)."""

# the engine's own definition of the working-state view (one source of truth)
_STATUS_VIEW = f"CREATE OR REPLACE TEMP VIEW status_item AS {_REGISTRY_SQL['status_item']}"

env = Environment(
    loader=FileSystemLoader(str(resources.files("lantian.reports").joinpath("templates"))),
    autoescape=select_autoescape(["html"]),
)
env.filters["localise_control"] = localise_control


def ibis_backend(con: duckdb.DuckDBPyConnection) -> Any:
    """Open an Ibis DuckDB backend on a cursor of ``con``.

    The ``status_item`` view is added as the engine expects (:mod:`lantian.engine.backends`)
    and the session time zone is CST.
    """
    con = con.cursor()  # its own result state: the caller keeps using ``con``
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'value_long'"
    ).fetchall()}
    if {"mn", "ts", "code", "num", "field"} <= cols:
        con.execute(_STATUS_VIEW)
    return ibis.duckdb.from_connection(con)


def resolve_enterprise(con: duckdb.DuckDBPyConnection, key: str | int) -> int:
    """Enterprise id from an id or an exact name (企业名称).

    Raises
    ------
    NotFoundError
        No enterprise has that id or name, or the name is ambiguous.

    """
    text = str(key).strip()
    if text.isdigit():
        rows = con.execute("SELECT id FROM enterprise WHERE id = ?", [int(text)]).fetchall()
        if rows:
            return int(rows[0][0])
    rows = con.execute("SELECT id FROM enterprise WHERE name = ?", [text]).fetchall()
    if len(rows) == 1:
        return int(rows[0][0])
    if len(rows) > 1:
        raise NotFoundError(f"enterprise name {text!r} is ambiguous ({len(rows)} enterprises)")
    raise NotFoundError(f"no enterprise with id or name {text!r}")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()[0][0])


def _point_figures(ib: Any, month: str, mn: str) -> dict[str, Any]:
    """Engine verdicts of one point: monthly record, extra hour counts, exceedances, days."""
    # materialised once (a temp table): the queries below all read the same hours
    verdicts = assess_hours(ib, month, mn=mn).cache()
    keys = [k for k in POLLUTANTS if f"{k}_exceed" in verdicts.columns]
    monthly = monthly_results(ib, verdicts, month).execute().to_dict("records")
    if not monthly:
        return {}
    rec = monthly_record(monthly[0])
    limited = [k for k in keys if rec["exceedance_hours"].get(k) is not None]
    v = verdicts
    prod = v.production.fill_null(False)
    any_exceed = ibis.literal(False)
    for k in limited:
        any_exceed = any_exceed | v[f"{k}_exceed"].fill_null(False)
    counts = hour_counts(v, limited).execute().to_dict("records")[0]
    exc_cols: dict[str, Any] = {"ts": v.ts}
    for k in limited:
        # the value judged: O2-converted where the limit has a reference O2, else measured
        exc_cols[f"{k}_judged"] = ibis.coalesce(v[f"{k}_ref_mg_m3"], v[f"{k}_mg_m3"])
        exc_cols[f"{k}_limit_mg_m3"] = v[f"{k}_limit_mg_m3"]
        exc_cols[f"{k}_exceed"] = v[f"{k}_exceed"]
    exceedances = []
    if limited:
        ex = v.filter(prod & any_exceed).select(**exc_cols).order_by("ts").execute()
        for r in ex.to_dict("records"):
            for k in limited:
                if r[f"{k}_exceed"]:
                    exceedances.append({"mn": mn, "ts": r["ts"].to_pydatetime(), "pollutant": k,
                                        "value_mg_m3": float(r[f"{k}_judged"]),
                                        "limit_mg_m3": float(r[f"{k}_limit_mg_m3"])})
    day = v.ts.date()
    daily = (v.group_by(day=day)
             .aggregate(production=prod.cast("int64").sum(),
                        compliant=v.compliant.fill_null(False).cast("int64").sum())
             .order_by("day").execute().to_dict("records"))
    verdicts.release()
    return {**rec, "exceedance_by_pollutant": rec["exceedance_hours"],
            "invalid_by_pollutant": rec["invalid_hours"],
            **{k: int(val or 0) for k, val in counts.items() if k != "mn"},
            "substituted_hours": int(counts["invalid_hours"] or 0),
            "limited": limited, "exceedances": exceedances,
            "daily": [{"day": d["day"], "production": int(d["production"]),
                       "compliant": int(d["compliant"])} for d in daily]}


def hour_counts(verdicts: ibis.Table, keys: list[str]) -> ibis.Table:
    """Count hours per ``mn`` [h].

    ``exceedance_hours`` / ``invalid_hours``: production hours where *any* of ``keys``
    exceeded / had no valid value; ``stop_hours``: non-production hours.
    """
    v = verdicts
    prod = v.production.fill_null(False)
    any_exceed = ibis.literal(False)
    any_invalid = ibis.literal(False)
    for k in keys:
        any_exceed = any_exceed | v[f"{k}_exceed"].fill_null(False)
        any_invalid = any_invalid | v[f"{k}_invalid"].fill_null(False)
    return v.group_by("mn").aggregate(
        exceedance_hours=(prod & any_exceed).cast("int64").sum(),
        invalid_hours=(prod & any_invalid).cast("int64").sum(),
        stop_hours=(~prod).cast("int64").sum(),
    )


def _transport(ib: Any, con: duckdb.DuckDBPyConnection, month: str,
               enterprise_id: int) -> dict[str, Any] | None:
    if not _table_exists(con, "gate_record"):
        return None
    gate = ib.table("gate_record")
    gate = gate.filter(gate.enterprise_id == enterprise_id)
    rows = clean_transport_month(gate, ib.table("enterprise"), month).execute()
    if rows.empty:
        return None
    r = rows.to_dict("records")[0]
    ratio = r["clean_ratio"]
    return {"clean_ratio": None if ratio is None or ratio != ratio else float(ratio),
            "road_tonnes": float(r["road_tonnes"]), "clean_tonnes": float(r["clean_tonnes"]),
            "non_compliant_road_trips": int(r["non_compliant_road_trips"]),
            "pass": bool(r["pass"])}


def _retrofit(con: duckdb.DuckDBPyConnection, enterprise_id: int,
              on: dt.date) -> tuple[list[dict[str, Any]], str | None]:
    """Milestones of the enterprise's plans on ``on``, or why they cannot be shown."""
    if not _table_exists(con, "retrofit_plan"):
        return [], None
    try:
        with warnings.catch_warnings():
            # years without holiday data: the rows say so (``due_estimated``), shown in the report
            warnings.simplefilter("ignore", CalendarFallbackWarning)
            rows = plan_status(con, on)
    except LantianError as exc:  # e.g. a plan of a programme missing from the catalogue
        return [], str(exc)
    return [r for r in rows if r["enterprise_id"] == enterprise_id], None


def gather_monthly(con: duckdb.DuckDBPyConnection, month: str, enterprise_id: int, *,
                   bureau: str | None = None) -> dict[str, Any]:
    """Everything the monthly report of ``enterprise_id`` states for month ``YYYY-MM``.

    Parameters
    ----------
    con
        Open DuckDB connection to the Lantian database (read-only is enough).
    month
        ``YYYY-MM``; hours ``[1st 00:00, next 1st 00:00)`` CST.
    enterprise_id
        ``enterprise.id`` (see :func:`resolve_enterprise`).
    bureau
        Issuing bureau's name for the heading (default :data:`DEFAULT_BUREAU`).

    Returns
    -------
    dict
        ``bureau``, ``month``, ``enterprise`` (row), ``outlets`` (one entry per monitoring
        point: outlet name, ``mn`` and the hour figures of the module docstring),
        ``totals``, ``exceedances``, ``quality_events``, ``trust``, ``transport``,
        ``retrofit`` (milestones), ``retrofit_error`` (why they are missing, or None),
        ``control`` (production control, alerts, grades: :mod:`lantian.reports.control`),
        ``generated_at`` (CST).

    Raises
    ------
    NotFoundError
        Unknown enterprise.
    ConfigurationError
        Malformed month.

    """
    start, end = month_bounds(month)
    ent = _rows(con, "SELECT id, name, credit_code, sector, district_code FROM enterprise "
                     "WHERE id = ?", [enterprise_id])
    if not ent:
        raise NotFoundError(f"no enterprise with id {enterprise_id}")
    points = _rows(con, "SELECT o.id AS outlet_id, o.name AS outlet, o.source_type, mp.mn "
                        "FROM outlet o JOIN monitoring_point mp ON mp.outlet_id = o.id "
                        "WHERE o.enterprise_id = ? ORDER BY o.id, mp.mn", [enterprise_id])
    ib = ibis_backend(con)
    outlets = []
    for p in points:
        fig = _point_figures(ib, month, p["mn"])
        outlets.append({**p, **fig, "assessed": bool(fig)})
    assessed = [o for o in outlets if o["assessed"]]
    totals = {k: sum(o[k] for o in assessed) for k in (
        "production_hours", "compliant_hours", "exceedance_hours", "invalid_hours",
        "substituted_hours", "stop_hours")}
    judged = [o for o in assessed if o["ule_pass"] is not None]
    totals["ule_pass"] = all(o["ule_pass"] for o in judged) if judged else None
    mns = [p["mn"] for p in points] or [""]
    marks = ", ".join("?" for _ in mns)
    events = _rows(con, f"SELECT mn, detector, pollutant, start_ts, end_ts, severity, evidence "
                        f"FROM quality_event WHERE month = ? AND mn IN ({marks}) "
                        "ORDER BY start_ts, mn", [month, *mns])
    trust = _rows(con, f"SELECT mn, trust, events FROM trust_score WHERE month = ? "
                       f"AND mn IN ({marks}) ORDER BY mn", [month, *mns])
    last_day = (end - dt.timedelta(days=1)).date()
    retrofit, retrofit_error = _retrofit(con, enterprise_id, last_day)
    return {
        "bureau": bureau or DEFAULT_BUREAU,
        "month": month,
        "start": start,
        "end": end,
        "enterprise": ent[0],
        "outlets": outlets,
        "totals": totals,
        "exceedances": [e for o in assessed for e in o["exceedances"]],
        "quality_events": events,
        "trust": trust,
        "transport": _transport(ib, con, month, enterprise_id),
        "retrofit": retrofit,
        "retrofit_error": retrofit_error,
        "control": gather_control(con, month, enterprise_id=enterprise_id,
                                  ule={month: {o["mn"]: o["ule_pass"] for o in assessed}}),
        "emissions": gather_emissions(con, ib, month, enterprise_id, points),
        "generated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=8),
    }


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.2f}%"


def render_html(report: dict[str, Any], *, lang: str = "zh") -> str:
    """Render the report as a standalone HTML page (inline SVG charts, print CSS for A4)."""
    charts = {
        "hours": hours_bars_svg([(o["outlet"] + " " + o["mn"][-6:], o) for o in report["outlets"]
                                 if o["assessed"]]),
        "daily": daily_bars_svg(_merge_daily(report["outlets"])),
    }
    return env.get_template("monthly.html").render(
        r=report, charts=charts, pct=_pct, lang=lang, json=json,
    )


def _merge_daily(outlets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[Any, dict[str, Any]] = {}
    for o in outlets:
        for d in o.get("daily", []):
            agg = days.setdefault(d["day"], {"day": d["day"], "production": 0, "compliant": 0})
            agg["production"] += d["production"]
            agg["compliant"] += d["compliant"]
    return [days[k] for k in sorted(days)]


def render_pdf(html: str, path: Path) -> Path:
    """Print ``html`` to the PDF file ``path`` with WeasyPrint; returns ``path``."""
    from weasyprint import HTML

    path.parent.mkdir(parents=True, exist_ok=True)
    HTML(string=html, base_url=str(path.parent)).write_pdf(str(path))
    return path


def report_filename(report: dict[str, Any], suffix: str) -> str:
    """``monthly_<month>_<enterprise id>.<suffix>`` (ASCII, safe in URLs and archives)."""
    return f"monthly_{report['month']}_{report['enterprise']['id']}.{suffix}"


def write_monthly(con: duckdb.DuckDBPyConnection, month: str, enterprise_ids: list[int],
                  out: Path, *, bureau: str | None = None, pdf: bool = True,
                  progress: Callable[[int, int, str], None] | None = None,
                  lang: str = "zh") -> list[dict[str, Any]]:
    """Write ``monthly_<month>_<id>.html`` (and ``.pdf``) for each enterprise into ``out``.

    ``out`` is created if missing. ``progress(done, total, label)`` is called after each
    enterprise (the CLI draws a rich bar, jobs store it). Returns one summary per enterprise:
    ``enterprise_id``, ``enterprise``, ``month``, ``ule_pass``, ``production_hours``,
    ``compliant_hours``, ``html``, ``pdf`` (paths as text; ``pdf`` null when not printed).
    ``lang``: ``zh`` (default) or ``en`` for the values of the production-control, alert,
    grade and emissions sections (:func:`render_html`).
    """
    month_bounds(month)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, eid in enumerate(enterprise_ids, start=1):
        rep = gather_monthly(con, month, eid, bureau=bureau)
        html = render_html(rep, lang=lang)
        html_path = out / report_filename(rep, "html")
        html_path.write_text(html, encoding="utf-8")
        pdf_path = render_pdf(html, out / report_filename(rep, "pdf")) if pdf else None
        written.append({"enterprise_id": eid, "enterprise": rep["enterprise"]["name"],
                        "month": month, "ule_pass": rep["totals"]["ule_pass"],
                        "production_hours": rep["totals"]["production_hours"],
                        "compliant_hours": rep["totals"]["compliant_hours"],
                        "html": str(html_path), "pdf": None if pdf_path is None else str(pdf_path)})
        if progress is not None:
            progress(i, len(enterprise_ids), rep["enterprise"]["name"])
    return written
