"""Heavy-pollution alerts (重污染天气预警): periods, measures per grade, compliance, reduction.

- Alert periods (table ``alert_period``: district-code prefix, level ``yellow``/``orange``/
  ``red``, start, end, CST) are entered or imported; levels follow 环大气〔2024〕6号
  (``catalog/data/alert_levels.csv``, with the 10/20/30 % reduction targets).
- Measures per performance grade (绩效分级, 环办大气函〔2020〕340号) are catalogue data
  (``alert_measures.csv``): A and leading grades reduce on their own initiative
  (``self_reduce``), B and C ``reduce`` or ``stop`` by level, D ``stop``. Rows may use ``*``
  for level or line kind; where several apply, the strictest action holds.
- :func:`alert_violations`: lines that must stop but ran during an alert, with the running
  hours as evidence (same operating evidence as :mod:`lantian.ledger.production_control`).
- :func:`alert_reduction`: the load reduction achieved during each alert against the mean
  hourly load of the ``baseline_days`` before it, compared with the level's target.

Grades are the enterprises' current ``grade`` column. Functions return Ibis expressions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir

from lantian.errors import CatalogError, ConfigurationError, InputFileError
from lantian.ledger._data import read_rule_csv, transaction
from lantian.ledger._tabular import cell_text, iter_rows

__all__ = ["ACTIONS", "LEVELS", "AlertLevel", "alert_levels", "alert_reduction",
           "alert_violations", "enter_alert", "load_alerts", "measures_table", "required_actions"]

LEVELS = ("yellow", "orange", "red")
ACTIONS = {"self_reduce": 1, "reduce": 2, "stop": 3}  # strictness rank


@dataclass(frozen=True)
class AlertLevel:
    """One alert level with its reduction target (catalogue row)."""

    level: str
    rank: int
    reduction_target_pct: float
    source: str


@cache
def alert_levels() -> tuple[AlertLevel, ...]:
    """Return the alert levels of ``alert_levels.csv``."""
    rows = read_rule_csv("alert_levels.csv", {"level", "rank", "reduction_target_pct", "source"})
    return tuple(AlertLevel(r["level"], int(r["rank"]), float(r["reduction_target_pct"]),
                            r["source"]) for r in rows)


@cache
def _measures() -> tuple[tuple[str, str, str, str, str], ...]:
    rows = read_rule_csv("alert_measures.csv", {"level", "grade", "line_kind", "action",
                                                 "source"})
    for r in rows:
        if r["action"] not in ACTIONS or r["level"] not in (*LEVELS, "*"):
            raise CatalogError(f"alert_measures.csv: bad row {r}")
    return tuple((r["level"], r["grade"], r["line_kind"], r["action"], r["source"])
                 for r in rows)


def measures_table() -> ir.Table:
    """Return the measures as an in-memory Ibis table (level, grade, line_kind, action, rank)."""
    m = _measures()
    return ibis.memtable({
        "m_level": [r[0] for r in m], "m_grade": [r[1] for r in m],
        "m_kind": [r[2] for r in m], "action": [r[3] for r in m],
        "action_rank": [ACTIONS[r[3]] for r in m], "m_source": [r[4] for r in m]})


def enter_alert(
    con: duckdb.DuckDBPyConnection, *, district_code: str, level: str, start: dt.datetime,
    end: dt.datetime, who: str, source: str = "",
) -> int:
    """Store one alert period; return its id.

    Raises
    ------
    ConfigurationError
        Unknown level, empty district code, or end not after start.

    """
    if level not in LEVELS:
        raise ConfigurationError(f"alert level {level!r} is not one of {', '.join(LEVELS)}")
    if not district_code.strip():
        raise ConfigurationError("an alert needs a district code (prefix)")
    if end <= start:
        raise ConfigurationError("alert end must be after its start")
    row = con.execute(
        "INSERT INTO alert_period (district_code, level, start_ts, end_ts, source, entered_by)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [district_code.strip(), level, start, end, source, who]).fetchone()
    return int(row[0]) if row else 0


def load_alerts(con: duckdb.DuckDBPyConnection, path: str | Path, who: str) -> int:
    """Import alerts from CSV/xlsx ``district_code,level,start,end,source`` (all or none)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    rows = []
    for i, r in iter_rows(path, ("district_code", "level", "start", "end", "source")):
        rec = {c: cell_text(r.get(c)) for c in ("district_code", "level", "start", "end",
                                                "source")}
        try:
            start = dt.datetime.fromisoformat(rec["start"])
            end = dt.datetime.fromisoformat(rec["end"])
        except ValueError:
            raise InputFileError(f"{path.name} row {i} column start/end: not "
                                 "YYYY-MM-DD HH:MM:SS (CST)") from None
        if rec["level"] not in LEVELS:
            raise InputFileError(f"{path.name} row {i} column level: {rec['level']!r}")
        if not rec["district_code"] or end <= start:
            raise InputFileError(f"{path.name} row {i} column district_code/end: empty or "
                                 "end before start")
        rows.append((rec, start, end))
    with transaction(con):
        for rec, start, end in rows:
            enter_alert(con, district_code=rec["district_code"], level=rec["level"],
                        start=start, end=end, who=who, source=rec["source"])
    return len(rows)


def required_actions(alerts: ir.Table, enterprises: ir.Table, lines: ir.Table) -> ir.Table:
    """Return the strictest measure each line must take in each alert.

    Returns ``alert_id``, ``level``, ``start_ts``, ``end_ts``, ``enterprise_id``, ``grade``,
    ``line``, ``line_kind``, ``action``, ``source``. Lines of ungraded enterprises are absent.
    """
    a = alerts.select(alert_id="id", a_district="district_code", level="level",
                      start_ts="start_ts", end_ts="end_ts")
    e = enterprises.select(e_id="id", e_district="district_code", grade="grade")
    ln = lines.select(enterprise_id="enterprise_id", line="name", line_kind="kind")
    m = measures_table()
    j = (a.join(e, e.e_district.startswith(a.a_district))
         .join(ln, ln.enterprise_id == e.e_id)
         .join(m, [(m.m_level == a.level) | (m.m_level == "*"), m.m_grade == e.grade,
                   (m.m_kind == ln.line_kind) | (m.m_kind == "*")]))
    w = ibis.window(group_by=[j.alert_id, j.enterprise_id, j.line],
                    order_by=[ibis.desc(j.action_rank)])
    ranked = j.mutate(rn=ibis.row_number().over(w))
    best = ranked.filter(ranked.rn == 0)
    return best.select("alert_id", "level", "start_ts", "end_ts", "enterprise_id", "grade",
                       "line", "line_kind", "action", source=best.m_source)


def alert_violations(operating: ir.Table, required: ir.Table) -> ir.Table:
    """Lines that had to stop but ran during the alert (one row per alert and line).

    ``operating``: ``enterprise_id``, ``line``, ``ts`` (hour start, CST), ``running``,
    ``evidence``. Returns ``alert_id``, ``level``, ``enterprise_id``, ``grade``, ``line``,
    ``action``, ``running_hours``, ``first_ts``, ``last_ts``, ``evidence``, ``source``.
    """
    r = required.filter(required.action == "stop")
    o = operating.filter(operating.running).select(
        o_ent="enterprise_id", o_line="line", ts="ts", evidence="evidence")
    j = r.join(o, [r.enterprise_id == o.o_ent, r.line == o.o_line,
                   o.ts < r.end_ts, o.ts + ibis.interval(hours=1) > r.start_ts])
    return j.group_by(["alert_id", "level", "enterprise_id", "grade", "line", "action",
                       "source"]).aggregate(
        running_hours=j.ts.nunique(), first_ts=j.ts.min(), last_ts=j.ts.max(),
        evidence=j.evidence.max()).order_by(["alert_id", "enterprise_id", "line"])


def alert_reduction(
    loads: ir.Table, alerts: ir.Table, enterprises: ir.Table, *, baseline_days: int = 7
) -> ir.Table:
    """Reduction of the mean hourly load during each alert against the days before it.

    ``loads``: ``enterprise_id``, ``ts`` (hour start, CST), ``pollutant``, ``load_kg`` [kg in
    the hour]. reduction_pct = (1 − alert mean / baseline mean) × 100, baseline = the
    ``baseline_days`` before the alert start; ``passed`` when reduction_pct ≥ the level's
    target (10/20/30 %, ``alert_levels.csv``).
    """
    if baseline_days < 1:
        raise ConfigurationError("baseline_days must be at least 1")
    lv = alert_levels()
    targets = ibis.memtable({"t_level": [x.level for x in lv],
                             "target_pct": [x.reduction_target_pct for x in lv]})
    a = alerts.select(alert_id="id", a_district="district_code", level="level",
                      start_ts="start_ts", end_ts="end_ts")
    e = enterprises.select(e_id="id", e_district="district_code")
    ae = a.join(e, e.e_district.startswith(a.a_district))
    base_start = ae.start_ts - ibis.interval(days=baseline_days)
    j = ae.join(loads, [loads.enterprise_id == ae.e_id, loads.ts >= base_start,
                        loads.ts < ae.end_ts])
    during = j.ts >= j.start_ts
    agg = j.group_by(["alert_id", "level", "enterprise_id", "pollutant"]).aggregate(
        baseline_kg_h=j.load_kg.mean(where=~during), alert_kg_h=j.load_kg.mean(where=during))
    agg = agg.filter(agg.baseline_kg_h.notnull() & agg.alert_kg_h.notnull()
                     & (agg.baseline_kg_h > 0))
    # rounded to 1e-6 % so a reduction of exactly the target is not lost to binary floats
    red = ((1 - agg.alert_kg_h / agg.baseline_kg_h) * 100).round(6)
    out = agg.mutate(reduction_pct=red).join(targets, agg.level == targets.t_level)
    return out.select("alert_id", "level", "enterprise_id", "pollutant", "baseline_kg_h",
                      "alert_kg_h", "reduction_pct", "target_pct",
                      passed=out.reduction_pct >= out.target_pct).order_by(
        ["alert_id", "enterprise_id", "pollutant"])
