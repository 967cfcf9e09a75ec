"""Enterprise condition marks (标记): entry with deadline and annual cap, regulator review.

An enterprise marks a period of one outlet as ``stopped`` (停运), ``starting`` (启炉/启动),
``shutting_down`` (停炉/停机), ``faulty`` (故障/事故) or ``maintenance`` (维护). Rules come
from ``catalog/data/mark_rules.csv`` (生态环境部公告2022年第21号 "1+N" marking rules; industry
rules such as waste incineration's 60 h per furnace per year), all configurable:

- **deadline**: a mark must be entered at most ``deadline_hours`` after its period ends;
- **annual cap**: the hours of marks of ``cap_kinds`` per outlet per natural year (pending
  and accepted together; rejected marks do not count) may not exceed ``annual_cap_hours``.

Marks of one outlet may not overlap (pending and accepted ones). Marks start ``pending``;
a regulator accepts or rejects each (with a note), and every entry and decision is written
to ``audit_log``. The engine honours only ``status = 'accepted'``
marks (table ``enterprise_mark``: ``outlet_id``, ``mn``, ``kind``, ``start_ts``, ``end_ts``,
``status``); quality detectors see all of them. Times are CST wall-clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from lantian.errors import CatalogError, ConfigurationError, LedgerRuleError, NotFoundError
from lantian.ledger._data import now_cst, parse_date, read_rule_csv, transaction

__all__ = [
    "KINDS",
    "MarkRule",
    "hours_in_year",
    "mark_rules",
    "review_mark",
    "rule_for",
    "submit_mark",
]

KINDS = ("stopped", "starting", "shutting_down", "faulty", "maintenance")


@dataclass(frozen=True)
class MarkRule:
    """Deadline and annual cap of marks for one sector and kind (one catalogue row)."""

    sector: str
    kind: str
    deadline_hours: float
    annual_cap_hours: float | None
    cap_kinds: tuple[str, ...]
    effective_from: dt.date
    effective_to: dt.date | None
    source: str
    confidence: str


def _load(path: Path | None) -> tuple[MarkRule, ...]:
    cols = {"sector", "kind", "deadline_hours", "annual_cap_hours", "cap_kinds",
            "effective_from", "effective_to", "source", "confidence"}
    out = []
    for i, r in enumerate(read_rule_csv("mark_rules.csv", cols, path), start=2):
        where = f"mark_rules.csv row {i}"
        start = parse_date(r["effective_from"], where)
        try:
            deadline = float(r["deadline_hours"])
            cap = float(r["annual_cap_hours"]) if r["annual_cap_hours"] else None
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}") from exc
        kinds = tuple(k for k in r["cap_kinds"].split("|") if k)
        if start is None or any(k not in KINDS for k in kinds):
            raise CatalogError(f"{where}: effective_from required, cap_kinds from {KINDS}")
        out.append(MarkRule(r["sector"], r["kind"], deadline, cap, kinds, start,
                            parse_date(r["effective_to"], where), r["source"], r["confidence"]))
    return tuple(out)


@cache
def _default() -> tuple[MarkRule, ...]:
    return _load(None)


def mark_rules(path: Path | None = None) -> tuple[MarkRule, ...]:
    """Return the marking rules (bundled catalogue, or the CSV at ``path``)."""
    return _default() if path is None else _load(path)


def rule_for(
    sector: str | None, kind: str, day: dt.date, rules: tuple[MarkRule, ...] | None = None
) -> MarkRule:
    """Return the most specific rule in force on ``day`` (sector before ``*``, kind before ``*``).

    Raises
    ------
    ConfigurationError
        When no rule applies.

    """
    best: tuple[int, MarkRule] | None = None
    for r in rules or mark_rules():
        if r.sector not in ("*", sector) or r.kind not in ("*", kind):
            continue
        if not (r.effective_from <= day and (r.effective_to is None or day <= r.effective_to)):
            continue
        score = 2 * (r.sector != "*") + (r.kind != "*")
        if best is None or score > best[0]:
            best = (score, r)
    if best is None:
        raise ConfigurationError(f"no marking rule for sector {sector!r}, kind {kind!r} on {day}")
    return best[1]


def hours_in_year(start: dt.datetime, end: dt.datetime, year: int) -> float:
    """Hours of [start, end) that fall in natural year ``year`` (CST) [h]."""
    lo = max(start, dt.datetime(year, 1, 1))
    hi = min(end, dt.datetime(year + 1, 1, 1))
    return max((hi - lo).total_seconds() / 3600.0, 0.0)


def _outlet_of(
    con: duckdb.DuckDBPyConnection, outlet_id: int | None, mn: str | None
) -> tuple[int, str | None, str | None]:
    """Return (outlet id, sector of its enterprise, mn)."""
    if mn is not None:
        hit = con.execute("SELECT outlet_id FROM monitoring_point WHERE mn = ?", [mn]).fetchone()
        if hit is None or hit[0] is None:
            raise NotFoundError(f"monitoring point {mn!r} is not registered to an outlet")
        outlet_id = int(hit[0])
    if outlet_id is None:
        raise ConfigurationError("give the outlet id or the MN of the marked point")
    row = con.execute(
        "SELECT e.sector FROM outlet o LEFT JOIN enterprise e ON e.id = o.enterprise_id"
        " WHERE o.id = ?", [outlet_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"outlet {outlet_id} does not exist")
    return outlet_id, row[0], mn


def submit_mark(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    who: str,
    outlet_id: int | None = None,
    mn: str | None = None,
    now: dt.datetime | None = None,
    rules: tuple[MarkRule, ...] | None = None,
) -> int:
    """Enter a mark for the period [start, end) of an outlet; return its id (status pending).

    Raises
    ------
    ConfigurationError
        Unknown kind, empty reason, or end not after start.
    LedgerRuleError
        Entered after the deadline, overlapping a pending or accepted mark of the outlet,
        or the annual cap of the outlet would be exceeded.

    """
    if kind not in KINDS:
        raise ConfigurationError(f"mark kind {kind!r} is not one of {', '.join(KINDS)}")
    if not reason.strip():
        raise ConfigurationError("a mark needs a reason")
    if end <= start:
        raise ConfigurationError("mark end must be after its start")
    now = now or now_cst()
    outlet_id, sector, mn = _outlet_of(con, outlet_id, mn)
    rule = rule_for(sector, kind, end.date(), rules)
    late_h = (now - end).total_seconds() / 3600.0
    if late_h > rule.deadline_hours:
        raise LedgerRuleError(
            f"mark entered {late_h:.1f} h after the period ended; the deadline is "
            f"{rule.deadline_hours:g} h ({rule.source}) / 标记已超过期限"
        )
    clash = con.execute(
        "SELECT id, kind, start_ts, end_ts FROM enterprise_mark WHERE outlet_id = ?"
        " AND status IN ('pending', 'accepted') AND start_ts < ? AND end_ts > ? LIMIT 1",
        [outlet_id, end, start]).fetchone()
    if clash is not None:
        raise LedgerRuleError(
            f"overlaps mark {clash[0]} ({clash[1]} {clash[2]:%Y-%m-%dT%H:%M:%S}–"
            f"{clash[3]:%Y-%m-%dT%H:%M:%S}) of the same outlet / 与已有标记时段重叠")
    if rule.annual_cap_hours is not None and kind in rule.cap_kinds:
        _check_cap(con, outlet_id, rule, start, end)
    with transaction(con):
        row = con.execute(
            "INSERT INTO enterprise_mark (outlet_id, mn, kind, start_ts, end_ts, status, reason,"
            " entered_by, entered_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING id",
            [outlet_id, mn, kind, start, end, reason, who, now],
        ).fetchone()
        mark_id = int(row[0]) if row else 0
        _audit(con, who, "mark_submit", mark_id, f"{kind} {start:%Y-%m-%dT%H:%M:%S}–"
                                                 f"{end:%Y-%m-%dT%H:%M:%S} outlet {outlet_id}")
    return mark_id


def _check_cap(
    con: duckdb.DuckDBPyConnection, outlet_id: int, rule: MarkRule,
    start: dt.datetime, end: dt.datetime,
) -> None:
    cap = rule.annual_cap_hours or 0.0
    placeholders = ", ".join("?" for _ in rule.cap_kinds)
    for year in range(start.year, end.year + 1):
        rows = con.execute(
            "SELECT start_ts, end_ts FROM enterprise_mark WHERE outlet_id = ?"
            f" AND status IN ('pending', 'accepted') AND kind IN ({placeholders})"
            " AND start_ts < ? AND end_ts > ?",
            [outlet_id, *rule.cap_kinds, dt.datetime(year + 1, 1, 1), dt.datetime(year, 1, 1)],
        ).fetchall()
        used = sum(hours_in_year(a, b, year) for a, b in rows)
        new = hours_in_year(start, end, year)
        if used + new > cap:
            raise LedgerRuleError(
                f"annual cap of {cap:g} h for {'/'.join(rule.cap_kinds)} marks in {year} would "
                f"be exceeded: {used:g} h already marked + {new:g} h ({rule.source}) / 超过年度上限"
            )


def _audit(con: duckdb.DuckDBPyConnection, who: str, action: str, mark_id: int,
           detail: str) -> None:
    con.execute(
        "INSERT INTO audit_log (who, action, target, detail) VALUES (?, ?, ?, ?)",
        [who, action, f"enterprise_mark:{mark_id}", detail],
    )


def review_mark(
    con: duckdb.DuckDBPyConnection, mark_id: int, decision: str, who: str, note: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Accept or reject a pending mark (regulator review), with audit.

    Raises
    ------
    NotFoundError
        No such mark.
    LedgerRuleError
        The mark was already reviewed.
    ConfigurationError
        Decision not ``accepted``/``rejected``, or a rejection without a note.

    """
    if decision not in ("accepted", "rejected"):
        raise ConfigurationError("decision must be accepted or rejected")
    if decision == "rejected" and not note.strip():
        raise ConfigurationError("a rejection needs a note saying why")
    row = con.execute("SELECT status FROM enterprise_mark WHERE id = ?", [mark_id]).fetchone()
    if row is None:
        raise NotFoundError(f"mark {mark_id} does not exist")
    if row[0] != "pending":
        raise LedgerRuleError(f"mark {mark_id} was already {row[0]}")
    now = now or now_cst()
    with transaction(con):
        con.execute(
            "UPDATE enterprise_mark SET status = ?, reviewed_by = ?, reviewed_at = ?,"
            " review_note = ? WHERE id = ?", [decision, who, now, note, mark_id],
        )
        _audit(con, who, f"mark_{decision}", mark_id, note)
