"""Performance grades (绩效分级): A-grade eligibility and downgrade warnings.

In steel, coking and cement an A grade in practice requires full ULE (环办大气函〔2020〕340号;
reference §6.2 [P]). Over the last ``a_grade_window_months`` months ending with the month
checked (``catalog/data/grade_rules.csv``), an enterprise is eligible when:

1. every monitoring point of it passed the monthly ULE test (engine table
   ``month_ule_verdict``; ≥95 % of production hours) in each of those months — a month
   without a verdict does not count as passed;
2. its clean-transport test passed in each month (:mod:`lantian.ledger.transport`);
3. its points raised at most ``a_grade_max_alarms`` quality alarms (``quality_event`` rows
   of severity ``a_grade_alarm_min_severity`` or worse) in those months.

An enterprise graded A or leading that is not eligible gets a downgrade warning.
:func:`a_grade_eligibility` is pure; :func:`gather_grade_evidence` reads the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import duckdb

from lantian.ledger._data import read_rule_csv
from lantian.ledger.retrofit_progress import read_ule_verdicts
from lantian.ledger.transport import month_bounds

__all__ = ["a_grade_eligibility", "gather_grade_evidence", "grade_rules", "window_months"]

_SEVERITY = ("info", "low", "medium", "high")


@cache
def grade_rules() -> dict[str, str]:
    """Return {rule: value} of ``grade_rules.csv``."""
    return {r["rule"]: r["value"] for r in read_rule_csv("grade_rules.csv", {"rule", "value"})}


def window_months(month: str, n: int) -> list[str]:
    """Return the ``n`` months ending with ``month`` (``YYYY-MM``), oldest first."""
    start, _ = month_bounds(month)
    y, m = start.year, start.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def a_grade_eligibility(
    enterprises: Sequence[Mapping[str, Any]],
    points_of: Mapping[int, list[str]],
    months: list[str],
    ule: Mapping[str, Mapping[str, bool]],
    transport: Mapping[str, Mapping[int, bool]],
    alarms: Mapping[int, int],
    max_alarms: int,
) -> list[dict[str, Any]]:
    """Judge A-grade eligibility of each enterprise (``id``, ``name``, ``grade``).

    ``ule``: {month: {mn: passed}}; ``transport``: {month: {enterprise id: passed}};
    ``alarms``: {enterprise id: alarms in the window}. Returns one row per enterprise with
    ``eligible``, ``downgrade_warning`` and the ``reasons`` (English; ``reasons_zh``).
    """
    out = []
    for e in enterprises:
        eid = int(e["id"])
        why: list[str] = []
        zh: list[str] = []
        mns = points_of.get(eid, [])
        for m in months:
            if not mns:
                why.append(f"{m}: no monitoring point")
                zh.append(f"{m}: 无监测点位")
                continue
            bad = [mn for mn in mns if ule.get(m, {}).get(mn) is not True]
            if bad:
                why.append(f"{m}: ULE not passed or not assessed at {', '.join(sorted(bad))}")
                zh.append(f"{m}: 超低排放未达标或未评估({', '.join(sorted(bad))})")
            if transport.get(m, {}).get(eid) is not True:
                why.append(f"{m}: clean transport not passed (or no gate records)")
                zh.append(f"{m}: 清洁运输未达标(或无门禁记录)")
        n_alarms = alarms.get(eid, 0)
        if n_alarms > max_alarms:
            why.append(f"{n_alarms} quality alarms > {max_alarms}")
            zh.append(f"质控报警 {n_alarms} 次 > {max_alarms}")
        eligible = not why
        out.append({"enterprise_id": eid, "enterprise": e["name"], "grade": e.get("grade"),
                    "months": f"{months[0]}..{months[-1]}", "eligible": eligible,
                    "downgrade_warning": e.get("grade") in ("A", "leading") and not eligible,
                    "reasons": why, "reasons_zh": zh})
    return out


def gather_grade_evidence(
    con: duckdb.DuckDBPyConnection, month: str,
    ule: Mapping[str, Mapping[str, bool]] | None = None,
) -> list[dict[str, Any]]:
    """Read the evidence for the window ending with ``month`` and judge every enterprise.

    ``ule`` ({month: {mn: passed}}) replaces the ``month_ule_verdict`` table for the months
    it has.
    """
    import ibis

    from lantian.ledger.transport import clean_transport_month

    rules = grade_rules()
    months = window_months(month, int(float(rules["a_grade_window_months"])))
    ents = [{"id": r[0], "name": r[1], "grade": r[2]} for r in con.execute(
        "SELECT id, name, grade FROM enterprise ORDER BY id").fetchall()]
    points_of: dict[int, list[str]] = {}
    for eid, mn in con.execute("SELECT o.enterprise_id, p.mn FROM monitoring_point p"
                               " JOIN outlet o ON o.id = p.outlet_id").fetchall():
        points_of.setdefault(int(eid), []).append(mn)
    given = ule or {}
    ule = {m: given[m] if m in given else read_ule_verdicts(con, m) for m in months}
    ib = ibis.duckdb.from_connection(con)
    transport: dict[str, dict[int, bool]] = {}
    names = {e["name"]: e["id"] for e in ents}
    for m in months:
        rows = clean_transport_month(ib.table("gate_record"), ib.table("enterprise"), m)
        transport[m] = {names[r["enterprise"]]: bool(r["pass"])
                        for r in rows.to_pyarrow().to_pylist()}
    floor = _SEVERITY.index(rules["a_grade_alarm_min_severity"])
    sev = list(_SEVERITY[floor:])
    alarms = dict(con.execute(
        "SELECT o.enterprise_id, count(*) FROM quality_event q JOIN monitoring_point p"
        " ON p.mn = q.mn JOIN outlet o ON o.id = p.outlet_id WHERE q.month IN"
        f" ({', '.join('?' for _ in months)}) AND q.severity IN"
        f" ({', '.join('?' for _ in sev)}) GROUP BY 1", [*months, *sev]).fetchall())
    return a_grade_eligibility(ents, points_of, months, ule, transport, alarms,
                               int(float(rules["a_grade_max_alarms"])))
