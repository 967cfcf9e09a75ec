"""Province/city monthly bulletin (月度通报).

ULE pass and fail lists, worst outlets, quality alarms, air-quality ranking and district
targets:

* An enterprise passes the month when every one of its judged monitoring points passes the
  engine's monthly ULE verdict (:func:`lantian.engine.assess.assess_month`, 环大气〔2019〕35号
  share of compliant production hours); enterprises without a judged point are listed as not
  assessed.
* Worst outlets: the judged points with the lowest compliance ratio.
* Quality alarms: ``quality_event`` rows of the month with severity ``high`` or ``medium``,
  counted per point, with the point's trust score.
* Air quality: composite-index ranking of cities and districts and the year's targets as of
  the month's last day with data (:mod:`lantian.reports.airquality`).
* Production control, heavy-pollution alerts and performance grades of the enterprises
  (:mod:`lantian.reports.control`): agreement violations with evidence, the measures per
  line by the grade at each alert's start with compliance and the reduction achieved
  against the target, A-grade eligibility and downgrade warnings.

``district`` restricts the enterprises (``enterprise.district_code`` prefix, e.g. ``43`` a
province, ``4301`` a city). Times are China Standard Time (中国标准时间).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from lantian.engine.assess import assess_month, monthly_record
from lantian.engine.backends import month_bounds
from lantian.reports import airquality as aq
from lantian.reports.charts import ranking_bars_svg
from lantian.reports.control import gather_control
from lantian.reports.monthly import DEFAULT_BUREAU, env, ibis_backend, render_pdf

__all__ = ["WORST_N", "gather_bulletin", "render_bulletin_html", "write_bulletin"]

WORST_N = 10
"""Outlets listed as worst (presentation choice, not a regulatory number)."""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def gather_bulletin(con: duckdb.DuckDBPyConnection, month: str, *, district: str | None = None,
                    bureau: str | None = None) -> dict[str, Any]:
    """Everything the bulletin of ``month`` states (see the module docstring)."""
    start, end = month_bounds(month)
    pts = _rows(con, "SELECT e.id AS enterprise_id, e.name AS enterprise, e.district_code, "
                     "o.name AS outlet, mp.mn FROM enterprise e "
                     "JOIN outlet o ON o.enterprise_id = e.id "
                     "JOIN monitoring_point mp ON mp.outlet_id = o.id "
                     "WHERE (? IS NULL OR starts_with(e.district_code, ?)) ORDER BY e.id, mp.mn",
                [district, district])
    ents = _rows(con, "SELECT id, name, district_code FROM enterprise "
                      "WHERE (? IS NULL OR starts_with(district_code, ?)) ORDER BY id",
                 [district, district])
    owner = {p["mn"]: p for p in pts}
    res = assess_month(ibis_backend(con), month).execute().to_dict("records")
    verdicts = [{**monthly_record(r), **owner[r["mn"]]} for r in res if r["mn"] in owner]
    by_ent: dict[int, list[dict[str, Any]]] = {}
    for v in verdicts:
        if v["ule_pass"] is not None:
            by_ent.setdefault(v["enterprise_id"], []).append(v)
    passed: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    unassessed: list[dict[str, Any]] = []
    for e in ents:
        judged = by_ent.get(e["id"])
        if not judged:
            unassessed.append(e)
            continue
        row = {**e, "points": len(judged),
               "failing": [v["outlet"] for v in judged if not v["ule_pass"]],
               "min_ratio": min(v["compliance_ratio"] for v in judged)}
        (passed if not row["failing"] else failed).append(row)
    worst = sorted((v for v in verdicts if v["compliance_ratio"] is not None),
                   key=lambda v: (v["compliance_ratio"], v["mn"]))[:WORST_N]
    mns = list(owner) or [""]
    marks = ", ".join("?" for _ in mns)
    alarms = _rows(con, f"SELECT q.mn, count(*) AS events, "
                        f"count(*) FILTER (WHERE q.severity = 'high') AS high, "
                        f"any_value(t.trust) AS trust FROM quality_event q "
                        f"LEFT JOIN trust_score t ON t.mn = q.mn AND t.month = q.month "
                        f"WHERE q.month = ? AND q.severity IN ('high', 'medium') "
                        f"AND q.mn IN ({marks}) GROUP BY q.mn ORDER BY high DESC, events DESC, "
                        f"q.mn", [month, *mns])
    for a in alarms:
        a.update(enterprise=owner[a["mn"]]["enterprise"], outlet=owner[a["mn"]]["outlet"])
    last = con.execute("SELECT max(ts) FROM aq_hour WHERE ts >= ? AND ts < ?",
                       [start, end]).fetchall()[0][0]
    as_of = last.date() if last is not None else (end - dt.timedelta(days=1)).date()
    return {
        "bureau": bureau or DEFAULT_BUREAU, "month": month, "district": district,
        "start": start, "end": end, "passed": passed, "failed": failed,
        "unassessed": unassessed, "worst": worst, "alarms": alarms,
        "ranking_city": aq.ranking(con, month, "city"),
        "ranking_district": aq.ranking(con, month, "district"),
        "targets": aq.targets(con, as_of), "as_of": as_of,
        "control": gather_control(con, month, district=district,
                                  ule={month: {v["mn"]: v["ule_pass"] for v in verdicts
                                               if v["ule_pass"] is not None}}),
        "generated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=8),
    }


def render_bulletin_html(b: dict[str, Any], *, lang: str = "zh") -> str:
    """Render the bulletin as a standalone HTML page (inline SVG ranking chart).

    ``lang``: ``zh`` (default) or ``en`` for the values of the production-control, alert and
    grade sections (headings are bilingual).
    """
    chart = ranking_bars_svg([(r["place"], float(r["composite_index"]))
                              for r in b["ranking_city"] if r["composite_index"] is not None])
    return env.get_template("bulletin.html").render(b=b, chart=chart, lang=lang)


def write_bulletin(con: duckdb.DuckDBPyConnection, month: str, out: Path, *,
                   district: str | None = None, bureau: str | None = None,
                   pdf: bool = True, lang: str = "zh") -> dict[str, Any]:
    """Write ``bulletin_<month>[_<district>].html`` and ``.pdf`` into ``out`` (created).

    ``lang``: ``zh`` (default) or ``en``, passed to :func:`render_bulletin_html`.
    """
    b = gather_bulletin(con, month, district=district, bureau=bureau)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bulletin_{month}" + (f"_{district}" if district else "")
    html = render_bulletin_html(b, lang=lang)
    html_path = out / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    pdf_path = render_pdf(html, out / f"{stem}.pdf") if pdf else None
    return {"month": month, "district": district, "passed": len(b["passed"]),
            "failed": len(b["failed"]), "unassessed": len(b["unassessed"]),
            "html": str(html_path), "pdf": None if pdf_path is None else str(pdf_path)}
