"""Programme progress (by target and by district) and the dynamic supervision list.

- :func:`programme_progress`: for each dated programme target, how many lines have reached
  the programme's completion milestone (public listing for ULE retrofits, construction for
  replacements / retirements / low-NOx) by the target date, against the target count
  (empty count = every line in the programme); ``at_risk`` when the lines done plus those
  whose projected completion falls before the date still fall short.
- :func:`progress_by_district`: the same counted per district code.
- :func:`refresh_dynamic_list`: a listed (publicly confirmed ULE) line whose outlets fail the
  monthly ULE test (the engine's ``month_ule_verdict``; 环大气〔2024〕5号: ≥95 % of production
  hours) leaves the dynamic list (动态管理清单), and a notification row for the regulator is
  written.

Dates are CST calendar days; months ``YYYY-MM``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import duckdb

from lantian.ledger._data import transaction
from lantian.ledger.retrofit import plan_status, programme_targets
from lantian.ledger.transport import month_bounds

__all__ = ["notify_overdue", "programme_progress", "progress_by_district", "read_ule_verdicts",
           "refresh_dynamic_list"]


def _completion(con: duckdb.DuckDBPyConnection, today: dt.date) -> list[dict[str, Any]]:
    """One row per plan: programme, district, completion done_on and projected due."""
    comp = {t.programme: t.completion_milestone for t in programme_targets()}
    return [r for r in plan_status(con, today) if r["milestone"] == comp[r["programme"]]]


def programme_progress(con: duckdb.DuckDBPyConnection, today: dt.date) -> list[dict[str, Any]]:
    """Progress of every programme target on ``today`` (see module docstring)."""
    rows = _completion(con, today)
    out = []
    for t in programme_targets():
        mine = [r for r in rows if r["programme"] == t.programme]
        done = sum(1 for r in mine if r["done_on"] is not None and r["done_on"] <= t.target_date)
        projected = sum(1 for r in mine if r["done_on"] is None and r["due"] <= t.target_date)
        need = t.target_count if t.target_count is not None else len(mine)
        if done >= need:
            status = "met"
        elif today > t.target_date:
            status = "missed"
        elif done + projected < need or any(r["state"] == "overdue" for r in mine):
            status = "at_risk"
        else:
            status = "on_track"
        out.append({"programme": t.programme, "name_zh": t.name_zh, "name_en": t.name_en,
                    "target_date": t.target_date, "target_count": need, "plans": len(mine),
                    "done": done, "status": status,
                    "overdue_plans": sum(1 for r in mine if r["state"] == "overdue"),
                    "must_stop": sum(1 for r in mine if r["must_stop"]),
                    "source": t.source})
    return out


def progress_by_district(
    con: duckdb.DuckDBPyConnection, today: dt.date, programme: str | None = None
) -> list[dict[str, Any]]:
    """Plans, lines done and overdue per (programme, district code) on ``today``."""
    acc: dict[tuple[str, str | None], dict[str, int]] = defaultdict(
        lambda: {"plans": 0, "done": 0, "overdue": 0})
    for r in _completion(con, today):
        if programme is not None and r["programme"] != programme:
            continue
        a = acc[(r["programme"], r["district_code"])]
        a["plans"] += 1
        a["done"] += r["done_on"] is not None and r["done_on"] <= today
        a["overdue"] += r["state"] == "overdue"
    return [{"programme": p, "district_code": d, **v}
            for (p, d), v in sorted(acc.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]


def read_ule_verdicts(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, bool]:
    """{mn: passed} of the engine's ``month_ule_verdict`` table for ``month`` (empty if absent).

    The table is read by its columns: ``mn``, a month column (``month``), and a verdict column
    (``ule_pass``, ``passed`` or ``pass``).
    """
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'month_ule_verdict'").fetchall()}
    verdict = next((c for c in ("ule_pass", "passed", "pass") if c in cols), None)
    if "mn" not in cols or "month" not in cols or verdict is None:
        return {}
    rows = con.execute(
        f'SELECT mn, "{verdict}" FROM month_ule_verdict WHERE CAST(month AS VARCHAR) LIKE ?',
        [f"{month}%"]).fetchall()
    return {mn: bool(v) for mn, v in rows if v is not None}


def refresh_dynamic_list(
    con: duckdb.DuckDBPyConnection, month: str, who: str,
    verdicts: dict[str, bool] | None = None,
) -> list[dict[str, Any]]:
    """Remove listed lines that failed the monthly ULE test in ``month``; notify the regulator.

    Parameters
    ----------
    con : DuckDB connection
        The Lantian database.
    month : str
        ``YYYY-MM`` (CST); removal is dated the month's last day.
    who : str
        Who runs the check (audit).
    verdicts : dict, optional
        {mn: passed}; default :func:`read_ule_verdicts` (the engine's table).

    Returns
    -------
    list of dict
        The lines removed: ``plan_id``, ``enterprise``, ``line``, ``failed_points``.

    """
    _, end = month_bounds(month)
    month_end = end.date() - dt.timedelta(days=1)
    if verdicts is None:
        verdicts = read_ule_verdicts(con, month)
    listed = con.execute(
        "SELECT d.plan_id, p.enterprise_id, e.name, p.line FROM dynamic_list d"
        " JOIN retrofit_plan p ON p.id = d.plan_id JOIN enterprise e ON e.id = p.enterprise_id"
        " WHERE d.removed_on IS NULL AND d.listed_on <= ?", [month_end]).fetchall()
    removed = []
    for plan_id, eid, ename, line in listed:
        mns = [r[0] for r in con.execute(
            "SELECT mp.mn FROM production_line l"
            " JOIN production_line_outlet lo ON lo.line_id = l.id"
            " JOIN monitoring_point mp ON mp.outlet_id = lo.outlet_id"
            " WHERE l.enterprise_id = ? AND l.name = ?", [eid, line]).fetchall()]
        failed = sorted(mn for mn in mns if verdicts.get(mn) is False)
        if failed:
            removed.append({"plan_id": plan_id, "enterprise_id": eid, "enterprise": ename,
                            "line": line, "failed_points": failed})
    _write_removals(con, removed, month, month_end, who)
    return removed


def _write_removals(con: duckdb.DuckDBPyConnection, removed: Iterable[dict[str, Any]],
                    month: str, month_end: dt.date, who: str) -> None:
    with transaction(con):
        for r in removed:
            pts = ", ".join(r["failed_points"])
            con.execute("UPDATE dynamic_list SET removed_on = ?, removed_reason = ?"
                        " WHERE plan_id = ? AND removed_on IS NULL",
                        [month_end, f"ULE failed {month}: {pts}", r["plan_id"]])
            con.execute(
                "INSERT INTO notification (audience, enterprise_id, kind, message_zh, message_en)"
                " VALUES ('regulator', ?, 'dynamic_list_removed', ?, ?)",
                [r["enterprise_id"],
                 f"{r['enterprise']} {r['line']} {month} 未达到超低排放要求（{pts}），"
                 "已移出动态管理清单",
                 f"{r['enterprise']} {r['line']} failed ULE in {month} ({pts}); removed from "
                 "the dynamic list"])
            con.execute("INSERT INTO audit_log (who, action, target, detail) VALUES (?,?,?,?)",
                        [who, "dynamic_list_remove", f"retrofit_plan:{r['plan_id']}", month])


def notify_overdue(con: duckdb.DuckDBPyConnection, today: dt.date, who: str) -> int:
    """Write one ``retrofit_overdue`` notification per overdue milestone not yet notified.

    Each row tells the regulator which plan and milestone is late, its due date, and whether
    the plant must stop; returns the number of new notifications.
    """
    rows = [r for r in plan_status(con, today) if r["state"] == "overdue"]
    done = {m for (m,) in con.execute(
        "SELECT message_en FROM notification WHERE kind = 'retrofit_overdue'").fetchall()}
    n = 0
    with transaction(con):
        for r in rows:
            stop_en = "; production must stop" if r["must_stop"] else ""
            stop_zh = "，应停产" if r["must_stop"] else ""
            en = (f"plan {r['plan_id']} {r['enterprise']} {r['line']}: {r['milestone']} overdue "
                  f"since {r['due'].isoformat()}{stop_en}")
            if en in done:
                continue
            zh = (f"{r['enterprise']} {r['line']} {r['name_zh']} 已逾期"
                  f"（应于 {r['due'].isoformat()} 前完成）{stop_zh}")
            con.execute("INSERT INTO notification (audience, enterprise_id, kind, message_zh,"
                        " message_en) VALUES ('regulator', ?, 'retrofit_overdue', ?, ?)",
                        [r["enterprise_id"], zh, en])
            n += 1
        if n:
            con.execute("INSERT INTO audit_log (who, action, target, detail) VALUES (?,?,?,?)",
                        [who, "retrofit_notify", "notification", f"{n} overdue on {today}"])
    return n
