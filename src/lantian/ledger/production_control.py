"""Staggered-production agreements (错峰生产) checked against operating evidence.

Agreements are data (table ``production_agreement``, imported from CSV
``enterprise,line,rule,value,from_md,to_md,valid_from,valid_to,source``), e.g. the Taiyuan
foundry agreement: cupola furnaces at most 12 h a day and idle on Sundays; electric furnaces
two rest days a month; plant-specific halt windows such as 11-01…12-31. Rules:

===================  ==================================================================
max_hours_per_day    running hours of a calendar day > ``value`` [h]
rest_weekday         any running hour on ISO weekday ``value`` (7 = Sunday)
rest_days_per_month  days of the month without a running hour < ``value`` [d]
halt_window          any running hour with month-day in ``from_md``…``to_md`` (may wrap)
===================  ==================================================================

Operating evidence is an Ibis table ``(enterprise_id, line, ts, running, evidence)`` with one
row per line and clock hour ``[ts, ts + 1 h)`` CST; :func:`running_from_flow` builds it from
minute flow data, :func:`running_from_status` from the HJ 212-2017 equipment run states
``SBxxx-RS`` (CN 2021; running values in ``production_run_status.csv``),
:func:`running_from_power` from hourly power readings. Each kind is used where present.
A line counts as running in an hour when any evidence says so, and a violation names every
kind of evidence that showed it running (e.g. ``power`` alone, or ``flow+status``).
Functions return Ibis expressions; nothing is executed here.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir

from lantian.errors import CatalogError, InputFileError
from lantian.ledger._data import read_rule_csv, transaction
from lantian.ledger._tabular import cell_text, ensure_enterprises, iter_rows

__all__ = ["EVIDENCE_KINDS", "RULES", "agreement_violations", "evidence_flags",
           "evidence_label", "load_agreements", "operating_evidence", "run_status_values",
           "running_from_flow", "running_from_power", "running_from_status",
           "with_enterprise_names"]

EVIDENCE_KINDS = ("flow", "status", "power")
"""Kinds of operating evidence, in the order they are named in a violation."""
RULES = ("max_hours_per_day", "rest_weekday", "rest_days_per_month", "halt_window")
_COLUMNS = ("enterprise", "line", "rule", "value", "from_md", "to_md", "valid_from",
            "valid_to", "source")


def _md(text: str) -> bool:
    try:
        dt.date.fromisoformat(f"2000-{text}")
    except ValueError:
        return False
    return True


def load_agreements(con: duckdb.DuckDBPyConnection, path: str | Path) -> int:
    """Check and store an agreements CSV/xlsx (all rows or none); return rows stored.

    Raises
    ------
    InputFileError
        Naming the row and column of the first bad value.

    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    rows = []
    for i, r in iter_rows(path, _COLUMNS):
        def bad(col: str, why: str, i: int = i) -> InputFileError:
            return InputFileError(f"{path.name} row {i} column {col}: {why}")

        rec = {c: cell_text(r.get(c)) for c in _COLUMNS}
        if not rec["enterprise"]:
            raise bad("enterprise", "empty")
        if rec["rule"] not in RULES:
            raise bad("rule", f"{rec['rule']!r} is not one of {', '.join(RULES)}")
        if rec["rule"] == "halt_window":
            for c in ("from_md", "to_md"):
                if not _md(rec[c]):
                    raise bad(c, f"{rec[c]!r} is not MM-DD")
            value = None
        else:
            try:
                value = float(rec["value"])
            except ValueError:
                raise bad("value", f"{rec['value']!r} is not a number") from None
            if rec["rule"] == "rest_weekday" and value not in range(1, 8):
                raise bad("value", "ISO weekday 1 (Monday) … 7 (Sunday)")
        try:
            start = dt.date.fromisoformat(rec["valid_from"])
            end = dt.date.fromisoformat(rec["valid_to"]) if rec["valid_to"] else None
        except ValueError:
            raise bad("valid_from/valid_to", "not YYYY-MM-DD") from None
        if not rec["source"]:
            raise bad("source", "empty (name the agreement document)")
        rows.append((rec, value, start, end))
    with transaction(con):
        ids, _ = ensure_enterprises(con, (r[0]["enterprise"] for r in rows))
        for rec, value, start, end in rows:
            con.execute(
                "INSERT INTO production_agreement (enterprise_id, line, rule, value, from_md,"
                " to_md, valid_from, valid_to, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [ids[rec["enterprise"]], rec["line"] or None, rec["rule"], value,
                 rec["from_md"] or None, rec["to_md"] or None, start, end, rec["source"]])
    return len(rows)


def running_from_flow(
    minute: ir.Table, points: ir.Table, outlets: ir.Table, links: ir.Table, lines: ir.Table,
) -> ir.Table:
    """Hourly running evidence of lines from flue-gas flow.

    An hour runs when the mean of the minute flow readings ``flow_m3_s`` of a point of the
    line exceeds the outlet's ``stop_flow_threshold`` (0 when none is registered; same unit
    as the logger sends).
    """
    m = minute.filter(minute.flow_m3_s.notnull())
    hourly = m.group_by(mn=m.mn, ts=m.ts.truncate("h")).aggregate(flow=m.flow_m3_s.mean())
    p = points.select(p_mn="mn", p_outlet="outlet_id")
    o = outlets.select(o_id="id", thr="stop_flow_threshold")
    lk = links.select(l_line="line_id", l_outlet="outlet_id")
    ln = lines.select(ln_id="id", enterprise_id="enterprise_id", line="name")
    j = (hourly.join(p, hourly.mn == p.p_mn).join(o, p.p_outlet == o.o_id)
         .join(lk, p.p_outlet == lk.l_outlet).join(ln, lk.l_line == ln.ln_id))
    run = j.flow > j.thr.fill_null(0.0)
    out = j.group_by(["enterprise_id", "line", "ts"]).aggregate(running=run.any())
    return _evidence(out, "flow")


def _evidence(t: ir.Table, kind: str) -> ir.Table:
    """Normalise an evidence table's types so evidence of several kinds can be unioned."""
    return t.select(enterprise_id=t.enterprise_id.cast("int64"), line=t.line.cast("string"),
                    ts=t.ts.cast("timestamp"), running=t.running.cast("boolean"),
                    evidence=ibis.literal(kind))


@cache
def run_status_values() -> tuple[tuple[str, str, float], ...]:
    """(code prefix, field, value) of equipment states that are running evidence.

    From ``production_run_status.csv`` (HJ 212-2017 ``SBxxx-RS``: 1 running).
    """
    rows = read_rule_csv("production_run_status.csv",
                         {"code_prefix", "field", "value", "running", "source"})
    try:
        return tuple((r["code_prefix"], r["field"], float(r["value"])) for r in rows
                     if r["running"].lower() == "true")
    except ValueError as exc:
        raise CatalogError(f"production_run_status.csv: {exc}") from exc


def running_from_status(
    status: ir.Table, points: ir.Table, outlets: ir.Table, links: ir.Table, lines: ir.Table,
) -> ir.Table:
    """Hourly running evidence of lines from HJ 212 equipment run states (``SBxxx-RS``).

    ``status``: ``mn``, ``ts``, ``code``, ``field``, ``num`` (table ``value_long``, where the
    store keeps the CN 2021 equipment states: code ``SB1``, field ``RS``). An hour of a point
    runs when any of its equipment-state readings in the hour is a running value of
    ``production_run_status.csv`` (1 running) and is stopped when it has readings but none
    is; the line runs when any of its points runs. The analyser's own working state
    ``i12001`` is *not* used: it describes the instrument, not the process.
    """
    cond = ibis.literal(False)
    seen = ibis.literal(False)
    for prefix, field, value in run_status_values():
        is_kind = status.code.startswith(prefix) & (status.field == field)
        seen = seen | is_kind
        cond = cond | (is_kind & (status.num == value))
    s = status.filter(seen & status.num.notnull())
    s = s.mutate(hour=s.ts.truncate("h"), run=cond)
    hourly = s.group_by(mn=s.mn, ts=s.hour).aggregate(any_run=s.run.any())
    p = points.select(p_mn="mn", p_outlet="outlet_id")
    lk = links.select(l_line="line_id", l_outlet="outlet_id")
    ln = lines.select(ln_id="id", enterprise_id="enterprise_id", line="name")
    j = (hourly.join(p, hourly.mn == p.p_mn).join(lk, p.p_outlet == lk.l_outlet)
         .join(ln, lk.l_line == ln.ln_id))
    out = j.group_by(["enterprise_id", "line", "ts"]).aggregate(running=j.any_run.any())
    return _evidence(out, "status")


def running_from_power(power: ir.Table, lines: ir.Table) -> ir.Table:
    """Hourly running evidence from power use: ``kwh`` above the line's idle power × 1 h."""
    ln = lines.select(ln_ent="enterprise_id", ln_name="name", idle_kw="idle_kw")
    j = power.left_join(ln, [power.enterprise_id == ln.ln_ent, power.line == ln.ln_name])
    out = j.select(enterprise_id=j.enterprise_id, line=j.line, ts=j.ts,
                   running=j.kwh > j.idle_kw.fill_null(0.0))
    return _evidence(out, "power")


def evidence_flags(operating: ir.Table) -> ir.Table:
    """One row per line and hour: ``running`` and, per kind, whether it showed the line running.

    Returns ``enterprise_id``, ``line``, ``ts``, ``running``, ``ev_flow``, ``ev_status``,
    ``ev_power`` (booleans).
    """
    o = operating
    return o.group_by(["enterprise_id", "line", "ts"]).aggregate(
        running=o.running.any(),
        **{f"ev_{k}": (o.running & (o.evidence == k)).any() for k in EVIDENCE_KINDS})


def evidence_label(t: ir.Table) -> ir.Value:
    """``flow``, ``status``, ``power`` or e.g. ``flow+power`` from ``ev_*`` boolean columns."""
    parts = [ibis.ifelse(t[f"ev_{k}"], ibis.literal(f"+{k}"), ibis.literal(""))
             for k in EVIDENCE_KINDS]
    joined = parts[0] + parts[1] + parts[2]
    return joined.substr(1)


def _any_ev(t: ir.Table) -> dict[str, ir.Value]:
    return {f"ev_{k}": t[f"ev_{k}"].any() for k in EVIDENCE_KINDS}


def _applicable(run: ir.Table, agreements: ir.Table, rule: str) -> ir.Table:
    a = agreements.filter(agreements.rule == rule).select(
        a_ent="enterprise_id", a_line="line", value="value", from_md="from_md", to_md="to_md",
        valid_from="valid_from", valid_to="valid_to", source="source")
    day = run.ts.date()
    j = run.join(a, [run.enterprise_id == a.a_ent,
                     a.a_line.isnull() | (a.a_line == run.line),
                     a.valid_from <= day, a.valid_to.isnull() | (a.valid_to >= day)])
    return j.mutate(day=day)


def _out(t: ir.Table, rule: str, period: ir.Value, hours: ir.Value, detail: ir.Value,
         detail_zh: ir.Value) -> ir.Table:
    return t.select(enterprise_id=t.enterprise_id, line=t.line, rule=ibis.literal(rule),
                    period=period.cast("string"), running_hours=hours.cast("int64"),
                    first_ts=t.first_ts, last_ts=t.last_ts, evidence=evidence_label(t),
                    detail=detail, detail_zh=detail_zh, source=t.source)


def _int_text(v: ir.Value) -> ir.StringValue:
    return v.cast("int64").cast("string")


def agreement_violations(operating: ir.Table, agreements: ir.Table) -> ir.Table:
    """Every agreement violation with its evidence.

    Returns
    -------
    Ibis table
        ``enterprise_id``, ``line``, ``rule``, ``period`` (day ``YYYY-MM-DD`` or month
        ``YYYY-MM``), ``running_hours``, ``first_ts``/``last_ts`` (first and last running hour,
        CST), ``evidence`` (the kinds that showed the line running in those hours, e.g.
        ``flow``, ``power``, ``flow+status``), ``detail`` (English), ``detail_zh`` (中文),
        ``source`` (the agreement document).

    """
    hours = evidence_flags(operating)
    run = hours.filter(hours.running)
    keys = ["enterprise_id", "line", "day", "source", "value"]

    def per_day(t: ir.Table, extra: list[str]) -> ir.Table:
        return t.group_by(keys + extra).aggregate(
            n=t.count(), first_ts=t.ts.min(), last_ts=t.ts.max(), **_any_ev(t))

    a = per_day(_applicable(run, agreements, "max_hours_per_day"), [])
    a = a.filter(a.n > a.value)
    v1 = _out(a, "max_hours_per_day", a.day, a.n,
              ibis.literal("ran ") + a.n.cast("string") + " h > " + _int_text(a.value)
              + " h a day",
              ibis.literal("当日运行 ") + a.n.cast("string") + " 小时 > 限值 " + _int_text(a.value)
              + " 小时")
    w = _applicable(run, agreements, "rest_weekday")
    w = per_day(w.filter(w.ts.day_of_week.index() + 1 == w.value.cast("int64")), [])
    v2 = _out(w, "rest_weekday", w.day, w.n,
              ibis.literal("ran on rest weekday ") + _int_text(w.value),
              ibis.literal("停产日(ISO 星期 ") + _int_text(w.value) + ")生产 "
              + w.n.cast("string") + " 小时")
    h = _applicable(run, agreements, "halt_window")
    md = h.ts.strftime("%m-%d")
    inside = ibis.ifelse(h.from_md <= h.to_md, (md >= h.from_md) & (md <= h.to_md),
                         (md >= h.from_md) | (md <= h.to_md))
    h = per_day(h.filter(inside).mutate(win=h.from_md + "…" + h.to_md), ["win"])
    v3 = _out(h, "halt_window", h.day, h.n, ibis.literal("ran in halt window ") + h.win,
              ibis.literal("停产时段 ") + h.win + " 内生产 " + h.n.cast("string") + " 小时")
    r = _applicable(run, agreements, "rest_days_per_month")
    r = r.mutate(month=r.ts.truncate("M").date())
    r = r.group_by(["enterprise_id", "line", "month", "source", "value"]).aggregate(
        n=r.count(), days=r.day.nunique(), first_ts=r.ts.min(), last_ts=r.ts.max(), **_any_ev(r))
    month_days = (r.month + ibis.interval(months=1) - ibis.interval(days=1)).day()
    r = r.mutate(rest=month_days - r.days)
    r = r.filter(r.rest < r.value)
    v4 = _out(r, "rest_days_per_month", r.month.strftime("%Y-%m"), r.n,
              ibis.literal("rest days ") + r.rest.cast("string") + " < " + _int_text(r.value),
              ibis.literal("当月停产 ") + r.rest.cast("string") + " 天 < 应停 "
              + _int_text(r.value) + " 天")
    return ibis.union(v1, v2, v3, v4).order_by(["enterprise_id", "line", "period", "rule"])


def operating_evidence(backend: ibis.BaseBackend) -> ir.Table:
    """Flow, status-code and power evidence of every line from ``backend``'s tables (unioned).

    Flow from ``flue_minute``, equipment run states ``SBxxx-RS`` from ``value_long``, power
    use from ``power_reading``; a kind without rows simply adds nothing.
    """
    t = backend.table
    reg = (t("monitoring_point"), t("outlet"), t("production_line_outlet"),
           t("production_line"))
    flow = running_from_flow(t("flue_minute"), *reg)
    status = running_from_status(t("value_long"), reg[0], reg[1], reg[2], reg[3])
    power = running_from_power(t("power_reading"), t("production_line"))
    return ibis.union(flow, status, power)


def with_enterprise_names(t: ir.Table, enterprises: ir.Table) -> ir.Table:
    """Add the enterprise's name as column ``enterprise`` right after ``enterprise_id``."""
    e = enterprises.select(n_id="id", enterprise="name")
    j = t.left_join(e, t.enterprise_id == e.n_id)
    cols = []
    for c in t.columns:
        cols.append(c)
        if c == "enterprise_id":
            cols.append("enterprise")
    return j.select(*cols)
