"""The reads behind every API route and page, each filtered through :func:`deps.scoped`.

Tables written by other parts (``month_ule_verdict``, ``quality_event``, ``trust_score``,
``permit_limit``, ``aq_hour``…) are read when they exist, by introspecting their columns;
where a table does not exist yet the query returns no rows. All times are China Standard
Time wall-clock (naive TIMESTAMP, as stored).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lantian.api.auth import Principal
from lantian.api.deps import Database, scoped
from lantian.catalog.glossary import glossary
from lantian.catalog.limits import applicable_limits

__all__ = [
    "Rows",
    "contractor_view",
    "enterprise_detail",
    "enterprises",
    "event_counts",
    "limits_for_outlet",
    "live_points",
    "month_bounds",
    "outlet_detail",
    "outlets",
    "overview",
    "point_visible",
    "points",
    "quality_events",
    "rejected_traffic",
    "sectors",
    "series",
    "trust_scores",
    "verdicts",
]

SERIES_TABLES = {"hour": "flue_hour", "minute": "flue_minute"}


@dataclass
class Rows:
    """Rows of one table as shown on a page or sent by the API."""

    columns: list[str]
    rows: list[dict[str, Any]]
    total: int | None = None

    @classmethod
    def fetch(cls, cur: Any, sql: str, params: list[Any]) -> Rows:
        """Run ``sql`` and collect the result as dicts."""
        res = cur.execute(sql, params)
        cols = [d[0] for d in res.description]
        return cls(cols, [dict(zip(cols, r, strict=True)) for r in res.fetchall()])


def _pick(cols: frozenset[str], *names: str) -> str | None:
    return next((n for n in names if n in cols), None)


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """Return [start, end) of a month ``YYYY-MM`` (CST)."""
    start = dt.datetime.strptime(month, "%Y-%m")
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def _run(db: Database, p: Principal, sql: str, params: list[Any] | None = None) -> Rows:
    q, args = scoped(p, sql, params)
    with db.cursor() as cur:
        return Rows.fetch(cur, q, args)


def enterprises(db: Database, p: Principal, district: str | None = None,
                sector: str | None = None) -> Rows:
    """Enterprises in scope, filtered by district code prefix and sector."""
    sql = ("SELECT e.id, e.name, e.credit_code, e.sector, e.district_code, e.grade "
           "FROM enterprise e WHERE e.id IN (SELECT id FROM vis_ent)")
    args: list[Any] = []
    if district:
        sql += " AND starts_with(e.district_code, ?)"
        args.append(district)
    if sector:
        sql += " AND e.sector = ?"
        args.append(sector)
    return _run(db, p, sql + " ORDER BY e.id", args)


def sectors(db: Database, p: Principal) -> list[str]:
    """Sectors of the enterprises in scope (for the overview filter)."""
    rows = _run(db, p, "SELECT DISTINCT sector FROM enterprise WHERE sector IS NOT NULL "
                "AND id IN (SELECT id FROM vis_ent) ORDER BY 1").rows
    return [r["sector"] for r in rows]


def enterprise_detail(db: Database, p: Principal, enterprise_id: int) -> dict[str, Any] | None:
    """One enterprise in scope, or ``None`` (also when it exists but is out of scope)."""
    rows = _run(db, p, "SELECT e.id, e.name, e.credit_code, e.sector, e.district_code, e.grade "
                "FROM enterprise e WHERE e.id = ? AND e.id IN (SELECT id FROM vis_ent)",
                [enterprise_id]).rows
    return rows[0] if rows else None


_OUTLETS = ("SELECT o.id, o.enterprise_id, e.name AS enterprise_name, o.name, o.source_type, "
            "o.jurisdiction FROM outlet o LEFT JOIN enterprise e ON e.id = o.enterprise_id "
            "WHERE o.id IN (SELECT id FROM vis_out)")


def outlets(db: Database, p: Principal, enterprise_id: int | None = None) -> Rows:
    """Outlets in scope with their enterprise."""
    sql = _OUTLETS
    args: list[Any] = []
    if enterprise_id is not None:
        sql += " AND o.enterprise_id = ?"
        args.append(enterprise_id)
    return _run(db, p, sql + " ORDER BY o.id", args)


def outlet_detail(db: Database, p: Principal, outlet_id: int) -> dict[str, Any] | None:
    """One outlet in scope, or ``None``."""
    rows = _run(db, p, _OUTLETS + " AND o.id = ?", [outlet_id]).rows
    return rows[0] if rows else None


def point_visible(db: Database, p: Principal, mn: str) -> bool:
    """Whether monitoring point ``mn`` exists and lies in the caller's scope."""
    return bool(_run(db, p, "SELECT mn FROM vis_pt WHERE mn = ?", [mn]).rows)


def points(db: Database, p: Principal, outlet_id: int | None = None) -> Rows:
    """List monitoring points in scope (never their password or SM4 key)."""
    sql = ("SELECT mp.mn, mp.outlet_id, mp.source_type, mp.protocol, mp.parameters, "
           "mp.flow_unit, mp.active FROM monitoring_point mp "
           "WHERE mp.mn IN (SELECT mn FROM vis_pt)")
    args: list[Any] = []
    if outlet_id is not None:
        sql += " AND mp.outlet_id = ?"
        args.append(outlet_id)
    return _run(db, p, sql + " ORDER BY mp.mn", args)


def series(db: Database, p: Principal, kind: str, mns: list[str], start: dt.datetime,
           end: dt.datetime, limit: int, offset: int, columns: list[str] | None = None,
           with_total: bool = True) -> Rows:
    """Minute or hour rows of points in scope with ``start <= ts < end`` (CST), paged."""
    table = SERIES_TABLES[kind]
    have = db.columns(table)
    wanted = [c for c in (columns or sorted(have - {"mn", "ts", "packet_id"})) if c in have]
    cols = ", ".join(["s.mn", "s.ts", *(f's."{c}"' for c in wanted)])
    marks = ", ".join("?" for _ in mns) or "NULL"
    where = (f"s.mn IN ({marks}) AND s.mn IN (SELECT mn FROM vis_pt) "
             "AND s.ts >= ? AND s.ts < ?")
    args = [*mns, start, end]
    q, qa = scoped(p, f"SELECT {cols} FROM {table} s WHERE {where} "
                      "ORDER BY s.mn, s.ts LIMIT ? OFFSET ?", [*args, limit, offset])
    cq, ca = scoped(p, f"SELECT count(*) FROM {table} s WHERE {where}", args)
    with db.cursor() as cur:
        res = cur.execute(q, qa)
        names = [d[0] for d in res.description]
        data = res.fetchall()
        row = cur.execute(cq, ca).fetchone() if with_total else None
    if columns is None and data:  # default: drop the parameters this point never sent
        filled = [i for i, col in enumerate(zip(*data, strict=True))
                  if i < 2 or any(v is not None for v in col)]
        names = [names[i] for i in filled]
        data = [tuple(r[i] for i in filled) for r in data]
    out = Rows(names, [dict(zip(names, r, strict=True)) for r in data])
    out.total = int(row[0]) if row else None
    return out


def _owner_filter(cols: frozenset[str]) -> tuple[str, str] | None:
    """How a derived table links to the registry: by MN or by outlet."""
    if "mn" in cols:
        return "t.mn IN (SELECT mn FROM vis_pt)", "t.mn"
    if "outlet_id" in cols:
        return "t.outlet_id IN (SELECT id FROM vis_out)", "t.outlet_id"
    return None


def _month_filter(cols: frozenset[str], month: str | None) -> tuple[str, list[Any]]:
    if not month:
        return "", []
    col = _pick(cols, "month", "period", "month_start")
    if col is not None:
        return f" AND CAST(t.{col} AS VARCHAR) LIKE ?", [f"{month}%"]
    start_col = _pick(cols, "start", "start_ts", "ts_start", "begin_ts", "ts")
    if start_col is None:
        return "", []
    s, e = month_bounds(month)
    end_col = _pick(cols, "end", "end_ts", "ts_end", "stop_ts") or start_col
    return f' AND t."{start_col}" < ? AND t."{end_col}" >= ?', [e, s]


def _derived(db: Database, p: Principal, table: str, month: str | None,
             extra: str = "", args: list[Any] | None = None, order: str = "") -> Rows:
    cols = db.columns(table)
    owner = _owner_filter(cols)
    if owner is None:
        return Rows([], [])
    mf, margs = _month_filter(cols, month)
    sql = f"SELECT t.* FROM {table} t WHERE {owner[0]}{mf}{extra}{order}"
    return _run(db, p, sql, [*margs, *(args or [])])


def verdicts(db: Database, p: Principal, month: str | None = None,
             enterprise_id: int | None = None) -> Rows:
    """Monthly ULE verdicts (table ``month_ule_verdict`` of the engine) in scope."""
    cols = db.columns("month_ule_verdict")
    extra, args = "", []
    if enterprise_id is not None and cols:
        link = "t.outlet_id" if "outlet_id" in cols else None
        if "mn" in cols:
            extra = (" AND t.mn IN (SELECT mp.mn FROM monitoring_point mp JOIN outlet o "
                     "ON o.id = mp.outlet_id WHERE o.enterprise_id = ?)")
        elif link:
            extra = " AND t.outlet_id IN (SELECT id FROM outlet WHERE enterprise_id = ?)"
        args = [enterprise_id]
    order = ""
    mcol = _pick(cols, "month", "period", "month_start")
    if mcol:
        order = f" ORDER BY t.{mcol}"
    return _derived(db, p, "month_ule_verdict", month, extra, args, order)


def quality_events(db: Database, p: Principal, month: str | None = None,
                   detector: str | None = None, mn: str | None = None,
                   window: tuple[dt.datetime, dt.datetime] | None = None) -> Rows:
    """List quality events (table ``quality_event`` of the QC part) in scope.

    ``window`` keeps the events overlapping [start, end) (CST).
    """
    cols = db.columns("quality_event")
    extra, args = "", []
    s_col = _pick(cols, "start_ts", "start", "ts_start")
    e_col = _pick(cols, "end_ts", "end", "ts_end") or s_col
    if window and s_col:
        extra += f' AND t."{s_col}" < ? AND t."{e_col}" >= ?'
        args += [window[1], window[0]]
    if detector and "detector" in cols:
        extra += " AND t.detector = ?"
        args.append(detector)
    if mn and "mn" in cols:
        extra += " AND t.mn = ?"
        args.append(mn)
    start = _pick(cols, "start", "start_ts", "ts_start", "ts")
    order = f' ORDER BY t."{start}"' if start else ""
    return _derived(db, p, "quality_event", month, extra, args, order)


def trust_scores(db: Database, p: Principal, month: str | None = None,
                 limit: int | None = None) -> Rows:
    """Monthly trust scores per point (table ``trust_score``) in scope, lowest first."""
    cols = db.columns("trust_score")
    score = _pick(cols, "trust", "score")
    order = f" ORDER BY t.{score}, t.mn" if score else ""
    if limit is not None:
        order += f" LIMIT {int(limit)}"
    return _derived(db, p, "trust_score", month, order=order)


def event_counts(db: Database, p: Principal, month: str) -> dict[str, int]:
    """Count the quality events of ``month`` in scope per detector."""
    cols = db.columns("quality_event")
    owner = _owner_filter(cols)
    if owner is None or "detector" not in cols:
        return {}
    mf, margs = _month_filter(cols, month)
    rows = _run(db, p, f"SELECT t.detector, count(*) AS n FROM quality_event t "
                f"WHERE {owner[0]}{mf} GROUP BY 1 ORDER BY 1", margs).rows
    return {str(r["detector"]): int(r["n"]) for r in rows}


def limits_for_outlet(db: Database, p: Principal, outlet_id: int, when: dt.datetime,
                      outlet: dict[str, Any] | None = None) -> dict[str, float]:
    """Return the hourly limits in force at ``when`` per pollutant, e.g. ``{"so2": 35.0}``.

    Units: mg/m3, dry standard state, at the reference O2 of the catalogue row.

    The limit catalogue (:func:`lantian.catalog.limits.applicable_limits`, by the outlet's
    source type and provincial layer) merged with the outlet's own permit limits in force
    (table ``permit_limit`` of the ledgers: enterprise, outlet name, pollutant, valid
    from/to), which override the catalogue. ``outlet``: the outlet row when the caller has
    already read it in scope (saves a query).
    """
    if outlet is None:
        out_rows = _run(db, p, "SELECT source_type, jurisdiction FROM outlet "
                        "WHERE id = ? AND id IN (SELECT id FROM vis_out)", [outlet_id]).rows
        if not out_rows:
            return {}
        outlet = out_rows[0]
    o = outlet
    found = applicable_limits(o["source_type"], when.date(), o["jurisdiction"])
    limits = {k: r.limit_mg_m3 for k, r in found.items()}
    cols = db.columns("permit_limit")
    if not {"enterprise_id", "outlet", "pollutant", "limit_mg_m3"} <= cols:
        return limits
    sql = ("SELECT t.pollutant, t.limit_mg_m3 AS v FROM permit_limit t JOIN outlet o "
           "ON o.enterprise_id = t.enterprise_id AND o.name = t.outlet "
           "WHERE o.id = ? AND o.id IN (SELECT id FROM vis_out)")
    args: list[Any] = [outlet_id]
    if "valid_from" in cols:
        sql += " AND (t.valid_from IS NULL OR t.valid_from <= CAST(? AS DATE))"
        args.append(when)
    if "valid_to" in cols:
        sql += " AND (t.valid_to IS NULL OR t.valid_to >= CAST(? AS DATE))"
        args.append(when)
    col_to_key = {e.column: e.key for e in glossary()}
    for r in _run(db, p, sql, args).rows:
        if r["v"] is not None:
            pol = str(r["pollutant"])
            limits[col_to_key.get(pol, pol)] = float(r["v"])
    return limits


_PASS_WORDS = (
    "('true', 'pass', 'passed', '1', 'yes', '合格', '达标')"  # noqa: S105 - not a password
)


def _per_enterprise(db: Database, table: str, month: str,
                    select: str) -> tuple[str, list[Any]] | None:
    """Build SQL aggregating ``select`` per enterprise over ``table`` rows of ``month``."""
    cols = db.columns(table)
    owner = _owner_filter(cols)
    if owner is None:
        return None
    link = ("JOIN _all_pt p ON p.mn = t.mn" if "mn" in cols
            else "JOIN outlet p ON p.id = t.outlet_id")
    key = "p.enterprise_id"
    mf, margs = _month_filter(cols, month)
    sql = f"SELECT {key} AS eid, {select} FROM {table} t {link} WHERE {owner[0]}{mf} GROUP BY 1"
    return sql, margs


def overview(db: Database, p: Principal, month: str, district: str | None = None,
             sector: str | None = None) -> Rows:
    """Per enterprise in scope: this month's ULE verdict, compliance ratio, trust, alerts.

    ``verdict`` is ``pass`` when every assessed point (or outlet) passed, ``fail`` when one
    failed and ``null`` when the month is not assessed; ``compliance_ratio`` is compliant
    hours over production hours summed over the enterprise (rounded to 4 decimals);
    ``trust`` the lowest point trust score of the month; ``alerts`` the number of quality
    events of the month. One SQL statement, so it stays fast over a province.
    """
    vcols = db.columns("month_ule_verdict")
    passed = _pick(vcols, "ule_pass", "passed", "pass", "verdict", "compliant")
    prod = _pick(vcols, "production_hours", "prod_hours", "hours_production")
    ok = _pick(vcols, "compliant_hours", "hours_compliant", "ok_hours")
    parts: list[tuple[str, tuple[str, list[Any]], list[str]]] = []
    vsel = []
    if passed:
        vsel.append(f"CASE WHEN bool_and(lower(CAST(t.{passed} AS VARCHAR)) IN {_PASS_WORDS}) "
                    "THEN 'pass' ELSE 'fail' END AS verdict")
    if prod and ok:
        vsel.append(f"round(sum(t.{ok}) / nullif(sum(t.{prod}), 0), 4) AS compliance_ratio")
    if vsel and (sql := _per_enterprise(db, "month_ule_verdict", month, ", ".join(vsel))):
        parts.append(("v", sql, [c.split(" AS ")[-1] for c in vsel]))
    tcol = _pick(db.columns("trust_score"), "trust", "score")
    if tcol and (sql := _per_enterprise(db, "trust_score", month, f"min(t.{tcol}) AS trust")):
        parts.append(("tr", sql, ["trust"]))
    if sql := _per_enterprise(db, "quality_event", month, "count(*) AS alerts"):
        parts.append(("qe", sql, ["alerts"]))
    ctes = "".join(f", {alias} AS ({sql[0]})" for alias, sql, _ in parts)
    margs = [a for _, sql, _ in parts for a in sql[1]]
    joins = "".join(f" LEFT JOIN {alias} ON {alias}.eid = e.id" for alias, _, _ in parts)
    got = {c: f"{alias}.{c}" for alias, _, cs in parts for c in cs}
    sel = [got.get("verdict", "NULL") + " AS verdict",
           got.get("compliance_ratio", "NULL") + " AS compliance_ratio",
           got.get("trust", "NULL") + " AS trust",
           f"coalesce({got.get('alerts', '0')}, 0) AS alerts"]
    where, wargs = "e.id IN (SELECT id FROM vis_ent)", []
    if district:
        where += " AND starts_with(e.district_code, ?)"
        wargs.append(district)
    if sector:
        where += " AND e.sector = ?"
        wargs.append(sector)
    body = (f"SELECT e.id, e.name, e.credit_code, e.sector, e.district_code, e.grade, "
            f"{', '.join(sel)} FROM enterprise e{joins} WHERE {where} ORDER BY e.id")
    sql, args = scoped(p, "SELECT 1")  # scope views, then our aggregates
    head = sql[: -len("SELECT 1")].rstrip()
    return _fetch(db, f"{head}{ctes}\n{body}", [*args, *margs, *wargs])


def _fetch(db: Database, sql: str, args: list[Any]) -> Rows:
    with db.cursor() as cur:
        return Rows.fetch(cur, sql, args)


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in {"pass", "passed", "true", "1", "yes", "合格", "达标"}
    return bool(v)


def _enterprise_of_points(db: Database, p: Principal) -> dict[str, int]:
    rows = _run(db, p, "SELECT mn, enterprise_id FROM _all_pt "
                "WHERE mn IN (SELECT mn FROM vis_pt)").rows
    return {r["mn"]: r["enterprise_id"] for r in rows}


def _enterprise_of_outlets(db: Database, p: Principal) -> dict[int, int]:
    rows = _run(db, p, "SELECT id, enterprise_id FROM outlet "
                "WHERE id IN (SELECT id FROM vis_out)").rows
    return {r["id"]: r["enterprise_id"] for r in rows}


def live_points(db: Database, p: Principal, now: dt.datetime, online_minutes: int) -> Rows:
    """Points in scope with their last accepted packet (CST) and online/offline state."""
    sql = ("SELECT mp.mn, mp.outlet_id, j.last_packet, j.packets_24h FROM monitoring_point mp "
           "LEFT JOIN (SELECT mn, max(received_at) AS last_packet, "
           "count(*) FILTER (WHERE received_at >= ?) AS packets_24h FROM packet_journal "
           "WHERE verdict = 'accepted' GROUP BY mn) j ON j.mn = mp.mn "
           "WHERE mp.mn IN (SELECT mn FROM vis_pt) ORDER BY mp.mn")
    out = _run(db, p, sql, [now - dt.timedelta(hours=24)])
    cutoff = now - dt.timedelta(minutes=online_minutes)
    for r in out.rows:
        r["online"] = r["last_packet"] is not None and r["last_packet"] >= cutoff
    out.columns.append("online")
    return out


def rejected_traffic(db: Database, p: Principal, limit: int = 200) -> Rows:
    """List the latest traffic the gateway refused (table ``rejected_traffic``).

    Unknown MN, wrong password; times CST. Traffic of unknown MNs is for admins only.
    """
    if not db.columns("rejected_traffic"):
        return Rows(["received_at", "peer", "mn", "reason"], [])
    vis = "TRUE" if p.is_admin else "mn IN (SELECT mn FROM vis_pt)"
    sql = ("SELECT received_at, peer, mn, reason FROM rejected_traffic "
           f"WHERE {vis} ORDER BY received_at DESC LIMIT ?")
    return _run(db, p, sql, [limit])


def contractor_view(db: Database, p: Principal, month: str) -> Rows:
    """Per maintainer (O&M) account: points in the caller's scope, mean trust, events."""
    assigned = _run(db, p, "SELECT u.name AS maintainer, s.code AS mn FROM app_user u "
                    "JOIN app_user_scope s ON s.user_id = u.id WHERE u.role = 'maintainer' "
                    "AND s.code IN (SELECT mn FROM vis_pt) ORDER BY u.name, s.code").rows
    trust = {}
    for t in trust_scores(db, p, month).rows:
        score = t.get("trust", t.get("score"))
        if score is not None:
            trust[t.get("mn")] = float(score)
    events: dict[str, int] = {}
    for ev in quality_events(db, p, month).rows:
        events[ev.get("mn")] = events.get(ev.get("mn"), 0) + 1
    agg: dict[str, dict[str, Any]] = {}
    for a in assigned:
        row = agg.setdefault(a["maintainer"], {"maintainer": a["maintainer"], "points": 0,
                                               "_scores": [], "events": 0})
        row["points"] += 1
        row["events"] += events.get(a["mn"], 0)
        if a["mn"] in trust:
            row["_scores"].append(trust[a["mn"]])
    out = []
    for row in agg.values():
        scores = row.pop("_scores")
        row["mean_trust"] = round(sum(scores) / len(scores), 1) if scores else None
        out.append(row)
    return Rows(["maintainer", "points", "mean_trust", "events"], out)
