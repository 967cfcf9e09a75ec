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

The measures that apply are those of the grade **in force when the alert started**
(:func:`grade_periods`, from the registry history, :mod:`lantian.ledger.history`): an
enterprise downgraded from B to C in the middle of the month is judged with B's measures
in an alert that started before the change and with C's in one that started after. Before
an enterprise's first recorded version its earliest recorded grade is taken (registries are
loaded after the fact); enterprises without history use their current ``grade`` column.
Functions return Ibis expressions.
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
from lantian.ledger.production_control import EVIDENCE_KINDS, evidence_flags, evidence_label

__all__ = [
    "ACTIONS",
    "LEVELS",
    "AlertLevel",
    "alert_compliance",
    "alert_levels",
    "alert_reduction",
    "alert_violations",
    "enter_alert",
    "grade_periods",
    "load_alerts",
    "measures_table",
    "required_actions",
    "required_actions_of",
]

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


def grade_periods(history: ir.Table, enterprises: ir.Table) -> ir.Table:
    """Return the performance grade of each enterprise over time (绩效分级 history).

    ``history``: table ``registry_history`` (enterprise versions keyed by credit code, the
    grade in ``attrs``); ``enterprises``: table ``enterprise``. Returns ``enterprise_id``,
    ``grade``, ``valid_from``, ``valid_to`` (CST; NULL = open) and ``grade_basis``:
    ``history`` (a recorded version; the earliest one is also taken for the time before it)
    or ``current`` (no history: the enterprise's current grade).
    """
    h = history.filter(history.entity == "enterprise")
    h = h.select(key="entity_key", h_grade=h.attrs["grade"].str, h_from="valid_from",
                 h_to="valid_to")
    e = enterprises.select(e_id="id", credit="credit_code", cur_grade="grade")
    j = h.join(e, h.key == e.credit)
    first = ibis.row_number().over(ibis.window(group_by=j.e_id, order_by=j.h_from)) == 0
    hist = j.select(enterprise_id=j.e_id, grade=j.h_grade,
                    valid_from=ibis.ifelse(first, ibis.null("timestamp"), j.h_from),
                    valid_to=j.h_to.cast("timestamp"), grade_basis=ibis.literal("history"))
    rest = e.anti_join(h, e.credit == h.key)
    cur = rest.select(enterprise_id=rest.e_id, grade=rest.cur_grade,
                      valid_from=ibis.null("timestamp"), valid_to=ibis.null("timestamp"),
                      grade_basis=ibis.literal("current"))
    return ibis.union(hist.mutate(valid_from=hist.valid_from.cast("timestamp")), cur)


def required_actions(
    alerts: ir.Table, enterprises: ir.Table, lines: ir.Table, grades: ir.Table | None = None,
) -> ir.Table:
    """Return the strictest measure each line must take in each alert.

    ``grades``: :func:`grade_periods`; the grade in force at the alert's start applies.
    Without it the enterprises' current ``grade`` is used for every alert.

    Returns ``alert_id``, ``level``, ``start_ts``, ``end_ts``, ``enterprise_id``, ``grade``
    (in force at ``start_ts``), ``grade_basis`` (``history``/``current``, see
    :func:`grade_periods`), ``line``, ``line_kind``, ``action``, ``source``. Lines of
    ungraded enterprises are absent.
    """
    a = alerts.select(alert_id="id", a_district="district_code", level="level",
                      start_ts="start_ts", end_ts="end_ts")
    if grades is None:
        e = enterprises.select(e_id="id", e_district="district_code", grade="grade",
                               grade_basis=ibis.literal("current"))
        ae = a.join(e, e.e_district.startswith(a.a_district))
    else:
        e = enterprises.select(e_id="id", e_district="district_code")
        g = grades.select(g_ent="enterprise_id", grade="grade", g_from="valid_from",
                          g_to="valid_to", grade_basis="grade_basis")
        ae = (a.join(e, e.e_district.startswith(a.a_district))
              .join(g, [g.g_ent == e.e_id, g.g_from.isnull() | (g.g_from <= a.start_ts),
                        g.g_to.isnull() | (g.g_to > a.start_ts)]))
    ae = ae.select("alert_id", "level", "start_ts", "end_ts", "e_id", "grade", "grade_basis")
    ln = lines.select(enterprise_id="enterprise_id", line="name", line_kind="kind")
    m = measures_table()
    al = ae.join(ln, ln.enterprise_id == ae.e_id)
    al = al.select("alert_id", "level", "start_ts", "end_ts", "enterprise_id", "grade",
                   "grade_basis", "line", "line_kind")
    j = al.join(m, [(m.m_level == al.level) | (m.m_level == "*"), m.m_grade == al.grade,
                    (m.m_kind == al.line_kind) | (m.m_kind == "*")])
    w = ibis.window(group_by=[j.alert_id, j.enterprise_id, j.line],
                    order_by=[ibis.desc(j.action_rank)])
    ranked = j.mutate(rn=ibis.row_number().over(w))
    best = ranked.filter(ranked.rn == 0)
    return best.select("alert_id", "level", "start_ts", "end_ts", "enterprise_id", "grade",
                       "grade_basis", "line", "line_kind", "action", source=best.m_source)


def required_actions_of(backend: ibis.BaseBackend, alerts: ir.Table | None = None) -> ir.Table:
    """:func:`required_actions` from ``backend``'s tables, by the grade at each alert's start.

    ``alerts``: a selection of table ``alert_period`` (default: all of it).
    """
    t = backend.table
    return required_actions(t("alert_period") if alerts is None else alerts, t("enterprise"),
                            t("production_line"),
                            grade_periods(t("registry_history"), t("enterprise")))


def alert_violations(operating: ir.Table, required: ir.Table,
                     actions: tuple[str, ...] = ("stop",)) -> ir.Table:
    """Lines that had to stop but ran during the alert (one row per alert and line).

    ``actions``: the measures whose lines are checked (default only ``stop``; pass
    ``tuple(ACTIONS)`` for the running hours of every line during each alert).

    ``operating``: ``enterprise_id``, ``line``, ``ts`` (hour start, CST), ``running``,
    ``evidence``. Returns ``alert_id``, ``level``, ``enterprise_id``, ``grade``, ``line``,
    ``action``, ``running_hours``, ``first_ts``, ``last_ts``, ``evidence`` (every kind that
    showed the line running, e.g. ``flow+power``), ``source``.
    """
    r = required.filter(required.action.isin(list(actions)))
    ev = evidence_flags(operating)
    ev = ev.filter(ev.running)
    o = ev.select(o_ent="enterprise_id", o_line="line", ts="ts",
                  **{f"ev_{k}": f"ev_{k}" for k in EVIDENCE_KINDS})
    j = r.join(o, [r.enterprise_id == o.o_ent, r.line == o.o_line,
                   o.ts < r.end_ts, o.ts + ibis.interval(hours=1) > r.start_ts])
    g = j.group_by(["alert_id", "level", "enterprise_id", "grade", "line", "action",
                    "source"]).aggregate(
        running_hours=j.ts.nunique(), first_ts=j.ts.min(), last_ts=j.ts.max(),
        **{f"ev_{k}": j[f"ev_{k}"].any() for k in EVIDENCE_KINDS})
    return g.select("alert_id", "level", "enterprise_id", "grade", "line", "action",
                    "running_hours", "first_ts", "last_ts", evidence_label(g).name("evidence"),
                    "source").order_by(["alert_id", "enterprise_id", "line"])


def alert_compliance(operating: ir.Table, required: ir.Table, reduction: ir.Table) -> ir.Table:
    """Compliance of every line with the measure its grade required in each alert.

    ``required``: :func:`required_actions`; ``reduction``: :func:`alert_reduction`. Adds to
    ``required`` the ``running_hours`` during the alert (0 when no evidence of running),
    the ``evidence`` kinds, and ``complied``: for ``stop`` true when the line did not run;
    for ``reduce`` true when every pollutant of the enterprise reached the level's reduction
    target (NULL when no load data); for ``self_reduce`` NULL (not judged).
    """
    ran = alert_violations(operating, required, tuple(ACTIONS)).select(
        r_alert="alert_id", r_ent="enterprise_id", r_line="line", ran_h="running_hours",
        ran_ev="evidence")
    red = reduction.group_by(d_alert=reduction.alert_id, d_ent=reduction.enterprise_id
                             ).aggregate(red_ok=reduction.passed.all())
    j = (required.left_join(ran, [required.alert_id == ran.r_alert,
                                  required.enterprise_id == ran.r_ent,
                                  required.line == ran.r_line])
         .left_join(red, [required.alert_id == red.d_alert,
                          required.enterprise_id == red.d_ent]))
    hours = j.ran_h.fill_null(0)
    complied = ibis.cases((j.action == "stop", hours == 0), (j.action == "reduce", j.red_ok),
                          else_=ibis.null("boolean"))
    return j.select(*required.columns, running_hours=hours.cast("int64"),
                    evidence=j.ran_ev.fill_null(""), complied=complied)


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
