"""Retrofit programmes (超低排放改造, 炉型替代, 退出, 低氮改造): plans, milestones, warnings.

Catalogue data:

- ``retrofit_programmes.csv``: one row per programme target — ``programme``, ``kind``,
  ``line_kind``, ``target_count`` (empty = every line in the programme), ``target_date``,
  ``after_deadline`` (``must_stop``: a line not done by the date must stop production),
  ``completion_milestone``, ``milestones`` (the chain, ``|``-separated), source, confidence.
  E.g. 30 cement kiln lines by end-2025 and 58 by end-2026; 4.3 m coke ovens retired by
  end-2027; cupolas < 10 t/h replaced by electric furnaces (then stop); gas-boiler low-NOx.
- ``retrofit_milestones.csv``: the chain construction done → one month of stable operation →
  assessment monitoring → public listing → permit change within 15 working days; each
  milestone is due ``offset_value`` ``offset_unit`` (months / working_days) after the one
  before it (``earliest``: it cannot be done sooner either).

A milestone's due date counts from the actual date of the one before it when that is done,
else from the previous due date (projected). Working days use :mod:`lantian.ledger.workdays`
(holidays, make-up days). Dates are CST calendar days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import duckdb

from lantian.errors import CatalogError, ConfigurationError, LedgerRuleError, NotFoundError
from lantian.ledger._data import parse_date, read_rule_csv, transaction
from lantian.ledger._tabular import ensure_enterprises
from lantian.ledger.workdays import Calendar

__all__ = [
    "MilestoneRule",
    "ProgrammeTarget",
    "add_months",
    "add_plan",
    "milestone_rules",
    "milestone_schedule",
    "plan_status",
    "programme_targets",
    "record_milestone",
]


@dataclass(frozen=True)
class ProgrammeTarget:
    """One dated target of a programme (one catalogue row)."""

    programme: str
    kind: str
    line_kind: str
    target_count: int | None
    target_date: dt.date
    jurisdiction: str
    after_deadline: str
    completion_milestone: str
    milestones: tuple[str, ...]
    name_zh: str
    name_en: str
    source: str
    confidence: str


@dataclass(frozen=True)
class MilestoneRule:
    """When a milestone is due after the one before it (one catalogue row)."""

    milestone: str
    after: str | None
    offset_value: int
    offset_unit: str
    earliest: bool
    name_zh: str
    name_en: str
    source: str


@cache
def programme_targets() -> tuple[ProgrammeTarget, ...]:
    """Return every programme target of ``retrofit_programmes.csv``."""
    cols = {"programme", "kind", "line_kind", "target_count", "target_date", "jurisdiction",
            "after_deadline", "completion_milestone", "milestones", "name_zh", "name_en",
            "source", "confidence"}
    known = {m.milestone for m in milestone_rules()}
    out = []
    for i, r in enumerate(read_rule_csv("retrofit_programmes.csv", cols), start=2):
        where = f"retrofit_programmes.csv row {i}"
        date = parse_date(r["target_date"], where)
        chain = tuple(r["milestones"].split("|"))
        if date is None or not set(chain) <= known or r["completion_milestone"] not in chain:
            raise CatalogError(f"{where}: target_date and known milestones are required")
        out.append(ProgrammeTarget(
            r["programme"], r["kind"], r["line_kind"],
            int(r["target_count"]) if r["target_count"] else None, date, r["jurisdiction"],
            r["after_deadline"], r["completion_milestone"], chain, r["name_zh"], r["name_en"],
            r["source"], r["confidence"]))
    return tuple(out)


@cache
def milestone_rules() -> tuple[MilestoneRule, ...]:
    """Return the milestone chain of ``retrofit_milestones.csv`` in order."""
    cols = {"milestone", "order", "after", "offset_value", "offset_unit", "earliest",
            "name_zh", "name_en", "source"}
    rows = sorted(read_rule_csv("retrofit_milestones.csv", cols), key=lambda r: int(r["order"]))
    out = []
    for r in rows:
        if r["offset_unit"] not in ("plan", "months", "working_days", "days"):
            raise CatalogError(f"retrofit_milestones.csv: bad offset_unit {r['offset_unit']!r}")
        out.append(MilestoneRule(r["milestone"], r["after"] or None, int(r["offset_value"]),
                                 r["offset_unit"], r["earliest"] == "true", r["name_zh"],
                                 r["name_en"], r["source"]))
    return tuple(out)


def _programme(programme: str) -> list[ProgrammeTarget]:
    rows = [t for t in programme_targets() if t.programme == programme]
    if not rows:
        raise NotFoundError(f"no retrofit programme {programme!r} in retrofit_programmes.csv")
    return sorted(rows, key=lambda t: t.target_date)


def add_months(day: dt.date, n: int) -> dt.date:
    """Return the same day ``n`` months later (clipped to the month's last day)."""
    y, m = divmod(day.month - 1 + n, 12)
    year, month = day.year + y, m + 1
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return min(day.replace(year=year, month=month, day=1) + dt.timedelta(day.day - 1),
               nxt - dt.timedelta(days=1))


def _offset(rule: MilestoneRule, base: dt.date, cal: Calendar) -> dt.date:
    if rule.offset_unit == "months":
        return add_months(base, rule.offset_value)
    if rule.offset_unit == "working_days":
        return cal.add_working_days(base, rule.offset_value)
    return base + dt.timedelta(days=rule.offset_value)


def add_plan(
    con: duckdb.DuckDBPyConnection, *, programme: str, enterprise: str, line: str,
    planned_done: dt.date, who: str, district_code: str | None = None,
    outlet_ids: tuple[int, ...] = (),
) -> int:
    """Register a plan for one line of an enterprise; return its id.

    The enterprise and the line are added to the registry when missing (the line with the
    programme's ``line_kind``); ``outlet_ids`` links the line's outlets (dynamic list).
    """
    target = _programme(programme)[0]
    with transaction(con):
        ids, _ = ensure_enterprises(con, [enterprise])
        eid = ids[enterprise]
        hit = con.execute("SELECT id FROM production_line WHERE enterprise_id = ? AND name = ?",
                          [eid, line]).fetchone()
        if hit is None:
            hit = con.execute("INSERT INTO production_line (enterprise_id, name, kind)"
                              " VALUES (?, ?, ?) RETURNING id",
                              [eid, line, target.line_kind]).fetchone()
        line_id = int(hit[0]) if hit else 0
        for oid in outlet_ids:
            con.execute("INSERT OR IGNORE INTO production_line_outlet VALUES (?, ?)",
                        [line_id, oid])
        if district_code is None:
            row = con.execute("SELECT district_code FROM enterprise WHERE id = ?", [eid]).fetchone()
            district_code = row[0] if row else None
        row = con.execute(
            "INSERT INTO retrofit_plan (programme, enterprise_id, line, district_code,"
            " planned_done, created_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [programme, eid, line, district_code, planned_done, who],
        ).fetchone()
        plan_id = int(row[0]) if row else 0
        con.execute("INSERT INTO audit_log (who, action, target, detail) VALUES (?, ?, ?, ?)",
                    [who, "retrofit_plan_add", f"retrofit_plan:{plan_id}",
                     f"{programme} {enterprise} {line} planned {planned_done}"])
    return plan_id


def _plan_row(con: duckdb.DuckDBPyConnection, plan_id: int) -> tuple[Any, ...]:
    row = con.execute(
        "SELECT p.id, p.programme, p.enterprise_id, e.name, p.line, p.district_code,"
        " p.planned_done FROM retrofit_plan p JOIN enterprise e ON e.id = p.enterprise_id"
        " WHERE p.id = ?", [plan_id]).fetchone()
    if row is None:
        raise NotFoundError(f"retrofit plan {plan_id} does not exist")
    return row


def _done(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[str, dt.date]:
    return dict(con.execute("SELECT milestone, done_on FROM retrofit_milestone WHERE plan_id = ?",
                            [plan_id]).fetchall())


def milestone_schedule(chain: tuple[str, ...], planned: dt.date, done: dict[str, dt.date],
              cal: Calendar) -> list[tuple[MilestoneRule, dt.date, dt.date | None]]:
    """Return (rule, due date, earliest date) for each milestone of ``chain``, in order.

    A due date counts from the actual date of the milestone before it when ``done`` has it,
    else from that milestone's own due date (projected).
    """
    rules = {m.milestone: m for m in milestone_rules()}
    out = []
    prev_due: dt.date | None = None
    prev: str | None = None
    for name in chain:
        rule = rules[name]
        if prev is None:
            due, earliest = planned, None
        else:
            base = done.get(prev, prev_due)
            due = _offset(rule, base or planned, cal)
            earliest = _offset(rule, done[prev], cal) if rule.earliest and prev in done else None
        out.append((rule, due, earliest))
        prev, prev_due = name, done.get(name, due)
    return out


def record_milestone(
    con: duckdb.DuckDBPyConnection, plan_id: int, milestone: str, done_on: dt.date, who: str,
    evidence: str = "",
) -> None:
    """Record that ``milestone`` of a plan was reached on ``done_on``.

    Milestones are recorded in order; a milestone marked ``earliest`` (one month of stable
    operation) cannot be done before its offset has passed. Public listing puts the line on
    the dynamic list (动态管理清单).

    Raises
    ------
    LedgerRuleError
        Out of order, before the previous milestone, too early, or already recorded.

    """
    _, programme, *_ = _plan_row(con, plan_id)
    chain = _programme(programme)[0].milestones
    if milestone not in chain:
        raise ConfigurationError(f"{milestone!r} is not a milestone of {programme}: {chain}")
    done = _done(con, plan_id)
    if milestone in done:
        raise LedgerRuleError(f"{milestone} of plan {plan_id} already recorded ({done[milestone]})")
    idx = chain.index(milestone)
    if idx > 0:
        prev = chain[idx - 1]
        if prev not in done:
            raise LedgerRuleError(f"{prev} must be recorded before {milestone}")
        if done_on < done[prev]:
            raise LedgerRuleError(f"{milestone} ({done_on}) before {prev} ({done[prev]})")
    cal = Calendar.from_db(con)
    planned = _plan_row(con, plan_id)[6]
    _, _, earliest = milestone_schedule(chain[: idx + 1], planned, done, cal)[idx]
    if earliest is not None and done_on < earliest:
        raise LedgerRuleError(f"{milestone} cannot be done before {earliest.isoformat()}")
    with transaction(con):
        con.execute("INSERT INTO retrofit_milestone (plan_id, milestone, done_on, evidence,"
                    " entered_by) VALUES (?, ?, ?, ?, ?)",
                    [plan_id, milestone, done_on, evidence, who])
        if milestone == "public_listing":
            con.execute("INSERT INTO dynamic_list (plan_id, listed_on) VALUES (?, ?)",
                        [plan_id, done_on])
        con.execute("INSERT INTO audit_log (who, action, target, detail) VALUES (?, ?, ?, ?)",
                    [who, "retrofit_milestone", f"retrofit_plan:{plan_id}",
                     f"{milestone} {done_on}"])


def plan_status(
    con: duckdb.DuckDBPyConnection, today: dt.date, *, at_risk_days: int = 30,
) -> list[dict[str, Any]]:
    """Milestone status of every plan on ``today``, one row per plan and milestone.

    ``state``: ``done`` (on time), ``done_late``, ``overdue`` (not done, due date passed),
    ``at_risk`` (not done, due within ``at_risk_days``), ``pending``. A plan whose
    completion milestone is not done by the programme's final target date is ``overdue``
    on that milestone too, with ``must_stop`` true when the programme says so.
    ``due_estimated`` is true where the due date fell in a year without holiday data
    (weekdays were counted; a :class:`~lantian.ledger.workdays.CalendarFallbackWarning`
    was issued).
    """
    cal = Calendar.from_db(con)
    plans = con.execute("SELECT id FROM retrofit_plan ORDER BY id").fetchall()
    out = []
    for (pid,) in plans:
        _, programme, eid, ename, line, district, planned = _plan_row(con, pid)
        targets = _programme(programme)
        final = targets[-1]
        done = _done(con, pid)
        for rule, due, _ in milestone_schedule(final.milestones, planned, done, cal):
            if rule.milestone == final.completion_milestone and final.target_count is None:
                due = min(due, final.target_date)
            d = done.get(rule.milestone)
            if d is not None:
                state = "done" if d <= due else "done_late"
            elif due < today:
                state = "overdue"
            elif (due - today).days <= at_risk_days:
                state = "at_risk"
            else:
                state = "pending"
            must_stop = (final.after_deadline == "must_stop" and state == "overdue"
                         and rule.milestone == final.completion_milestone
                         and today > final.target_date)
            out.append({"plan_id": pid, "programme": programme, "enterprise_id": eid,
                        "enterprise": ename, "line": line, "district_code": district,
                        "milestone": rule.milestone, "name_zh": rule.name_zh,
                        "due": due, "due_estimated": due.year in cal.fallback_years,
                        "done_on": d, "state": state, "must_stop": must_stop})
    return out
