"""Report sections: production control, heavy-pollution alerts, performance grades.

Shared by the enterprise monthly report (:mod:`lantian.reports.monthly`, one enterprise)
and the bulletin (:mod:`lantian.reports.bulletin`, a district-code prefix). Rendered by the
template partial ``_control.html``. What the sections state, for the month ``YYYY-MM``
(hours ``[1st 00:00, next 1st 00:00)`` China Standard Time):

* **错峰生产 production control** — violations of staggered-production agreements in the
  month with their evidence (running hours, first/last running hour, the kinds of operating
  evidence: flue-gas flow, ``SBxxx-RS`` equipment run states, power use;
  :mod:`lantian.ledger.production_control`);
* **重污染天气预警 alerts** — the alerts overlapping the month; per line the measure its
  performance grade *at the alert's start* requires (环办大气函〔2020〕340号,
  ``alert_measures.csv``), the running hours during the alert and the compliance: a line
  that must stop complies with 0 running hours; a line that must reduce complies when its
  enterprise's load reduction reached the level's target (10/20/30 %, 环大气〔2024〕6号,
  ``alert_levels.csv``); self-reduction (A, leading) is not judged
  (:func:`lantian.ledger.alerts.alert_compliance`);
* **绩效分级 grades** — A-grade eligibility and downgrade warnings for the window ending
  with the month (:mod:`lantian.ledger.grades`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import ibis

from lantian.errors import LantianError
from lantian.ledger.alerts import alert_compliance, alert_reduction, required_actions_of
from lantian.ledger.control_labels import translate_rows
from lantian.ledger.emissions import hourly_enterprise_loads
from lantian.ledger.grades import gather_grade_evidence
from lantian.ledger.production_control import (
    agreement_violations,
    operating_evidence,
    with_enterprise_names,
)
from lantian.ledger.transport import month_bounds

__all__ = ["BASELINE_DAYS", "gather_control", "localise_control"]

BASELINE_DAYS = 7
"""Days before an alert whose mean hourly load is the baseline (as the ledger API default)."""


def _pylist(expr: Any) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


def gather_control(con: duckdb.DuckDBPyConnection, month: str, *,
                   enterprise_id: int | None = None, district: str | None = None,
                   ule: Mapping[str, Mapping[str, bool]] | None = None) -> dict[str, Any]:
    """Gather the production-control, alert and grade sections for ``month``.

    Parameters
    ----------
    con
        Open DuckDB connection (read-only is enough).
    month
        ``YYYY-MM`` (CST).
    enterprise_id, district
        Keep one enterprise, or the enterprises whose ``district_code`` starts with
        ``district``; neither: all.
    ule
        {month: {mn: ULE passed}} replacing the engine's ``month_ule_verdict`` table for
        the months it has (the monthly report passes its own verdicts).

    Returns
    -------
    dict
        ``single`` (one enterprise: the tables leave out its name), ``violations``,
        ``alerts`` (alert periods), ``measures`` (one row per alert and
        line: ``grade`` at the alert's start, ``action``, ``running_hours``, ``complied``),
        ``reduction``, ``grades``, ``grades_error`` (why grades are missing, or None) and
        ``summary`` counts. Rows carry codes; :func:`localise_control` names them.

    """
    lo, hi = month_bounds(month)
    ib = ibis.duckdb.from_connection(con.cursor())
    t = ib.table
    ents = t("enterprise")
    if enterprise_id is not None:
        ents = ents.filter(ents.id == enterprise_id)
    if district is not None:
        ents = ents.filter(ents.district_code.startswith(district))
    ids = [int(r["id"]) for r in _pylist(ents.select("id"))]
    names = {int(r["id"]): r["name"] for r in _pylist(ents.select("id", "name"))}

    def mine(expr: Any) -> Any:
        return expr.filter(expr.enterprise_id.isin(ids or [-1]))

    op = mine(operating_evidence(ib))
    viol = agreement_violations(op, mine(t("production_agreement")))
    viol = with_enterprise_names(viol.filter(viol.period.startswith(month)), t("enterprise"))
    violations = _pylist(viol.order_by(["enterprise_id", "line", "period", "rule"]))

    a = t("alert_period")
    a = a.filter((a.start_ts < hi) & (a.end_ts > lo))
    req = mine(required_actions_of(ib, a))
    loads = hourly_enterprise_loads(t("flue_hour"), t("monitoring_point"), t("outlet"))
    red = alert_reduction(mine(loads), a, t("enterprise"), baseline_days=BASELINE_DAYS)
    reduction = _pylist(with_enterprise_names(red, t("enterprise")).order_by(
        ["alert_id", "enterprise_id", "pollutant"]))
    measures = _pylist(with_enterprise_names(alert_compliance(op, req, red), t("enterprise"))
                       .order_by(["alert_id", "enterprise_id", "line"]))
    alert_ids = sorted({m["alert_id"] for m in measures})
    alerts = _pylist(a.filter(a.id.isin(alert_ids or [-1])).order_by("start_ts"))
    grades_error = None
    try:
        grades = [g for g in gather_grade_evidence(con, month, ule) if g["enterprise_id"] in names]
    except LantianError as exc:
        grades, grades_error = [], str(exc)
    return {
        "month": month, "single": enterprise_id is not None, "violations": violations,
        "alerts": alerts, "measures": measures,
        "reduction": reduction, "grades": grades, "grades_error": grades_error,
        "summary": {
            "violations": len(violations),
            "alerts": len(alerts),
            "stop_breaches": sum(1 for m in measures if m["action"] == "stop"
                                 and not m["complied"]),
            "reduction_missed": sum(1 for r in reduction if not r["passed"]),
            "eligible": sum(1 for g in grades if g["eligible"]),
            "downgrade_warnings": sum(1 for g in grades if g["downgrade_warning"]),
        },
    }


def localise_control(c: dict[str, Any], lang: str = "zh") -> dict[str, Any]:
    """Return a copy of :func:`gather_control`'s result with codes named in ``lang``."""
    out = dict(c)
    for k in ("violations", "alerts", "measures", "reduction"):
        out[k] = translate_rows(c[k], lang)
    out["grades"] = [{**g, "reasons_shown": g["reasons"] if lang == "en" else g["reasons_zh"]}
                     for g in c["grades"]]
    out["lang"] = lang
    return out
