"""Realistic ledgers for the demo province.

Lines, registry history, marks, retrofit plans, gate records, in-plant vehicles and
non-road machinery; foundry staggered-production agreements, an orange alert and an offset
project.
:func:`demo_ledgers` fills them for the enterprises and outlets already in the database
(the demo loader registers those first). It opens no transaction of its own, so it can run
inside the loader's, and it writes only data that obeys the ledger rules: marks entered
before their deadline and within the annual caps, milestones in order with due dates from
the catalogue and the working-day calendar, stages that exist on the vehicle's date. Dates
are China Standard Time.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from lantian.ledger._data import now_cst
from lantian.ledger.history import record_version
from lantian.ledger.retrofit import milestone_schedule, programme_targets
from lantian.ledger.workdays import Calendar, CalendarFallbackWarning

__all__ = ["demo_ledgers"]

_LINE_KIND = {"cement_kiln": "cement_kiln", "coke_oven_stack": "coke_oven_4.3m",
              "foundry_furnace": "cupola", "gas_boiler": "gas_boiler",
              "sinter_head": "sinter_machine", "coal_power_boiler": "power_unit",
              "coal_boiler": "coal_boiler"}
_PROGRAMME = {"cement_kiln": "cement_ule", "coke_oven_4.3m": "coke_43m_retire",
              "cupola": "cupola_to_electric", "gas_boiler": "gas_boiler_low_nox"}
_BULK = {"cement": "clinker", "coking": "coke", "steel": "steel", "power": "coal"}
_STAGES = ("China IV", "China V", "China VI", "China VI", "China VI", "NEV")


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: dict[str, list[Any]]) -> int:
    if not rows or not next(iter(rows.values())):
        return 0
    t = pa.table(rows)
    con.register("_demo_rows", t)
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(rows)}) SELECT * FROM _demo_rows")
    finally:
        con.unregister("_demo_rows")
    return int(t.num_rows)


def _lines(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """One production line per outlet (名称 = outlet name + 生产线), linked to the outlet."""
    outlets = con.execute(
        "SELECT o.id, o.enterprise_id, o.name, o.source_type, e.name, e.sector,"
        " e.district_code, e.credit_code FROM outlet o JOIN enterprise e ON e.id ="
        " o.enterprise_id ORDER BY o.id").fetchall()
    out = []
    for oid, eid, oname, stype, ename, sector, district, cc in outlets:
        kind = _LINE_KIND.get(stype or "", stype)
        line = f"{oname.replace('排口', '')}生产线"
        row = con.execute(
            "INSERT INTO production_line (enterprise_id, name, kind) VALUES (?, ?, ?)"
            " ON CONFLICT (enterprise_id, name) DO UPDATE SET kind = excluded.kind RETURNING id",
            [eid, line, kind]).fetchone()
        if row is None:
            continue
        con.execute("INSERT OR IGNORE INTO production_line_outlet VALUES (?, ?)", [row[0], oid])
        out.append((oid, eid, ename, sector, district, cc, kind, line))
    return out


def _history(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, today: dt.date) -> None:
    """Record initial versions of the enterprises, and a grade change for some of them."""
    ents = con.execute("SELECT credit_code, name, sector, district_code, grade FROM enterprise"
                       " WHERE credit_code IS NOT NULL").fetchall()
    for cc, name, sector, district, grade in ents:
        attrs = {"credit_code": cc, "name": name, "sector": sector, "district_code": district,
                 "grade": grade or str(rng.choice(["B", "C", "C", "D"]))}
        record_version(con, "enterprise", cc, attrs, dt.date(today.year - 1, 1, 1), "demo")
        if rng.random() < 0.2:
            attrs = {**attrs, "grade": "A" if attrs["grade"] == "B" else "B"}
            record_version(con, "enterprise", cc, attrs, dt.date(today.year, 3, 1), "demo",
                           "绩效分级复核 / grade review")
        con.execute("UPDATE enterprise SET grade = ? WHERE credit_code = ?", [attrs["grade"], cc])


def _marks(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, lines: list[Any],
           today: dt.date) -> int:
    """Short marks (≤ 10 h, ≤ 3 per outlet: under every cap), entered before the deadline."""
    cols: dict[str, list[Any]] = {k: [] for k in (
        "outlet_id", "kind", "start_ts", "end_ts", "status", "reason", "entered_by",
        "entered_at", "reviewed_by", "reviewed_at", "review_note")}
    reasons = {"stopped": "计划停产检修", "starting": "点火启炉", "shutting_down": "停炉",
               "faulty": "除尘器故障", "maintenance": "CEMS 例行维护"}
    for oid, *_ in lines:
        # distinct days, at most 10 h from 0-13 h: marks of one outlet never overlap
        for back in rng.choice(np.arange(3, 90), size=int(rng.integers(0, 4)), replace=False):
            kind = str(rng.choice(list(reasons)))
            start = dt.datetime.combine(today - dt.timedelta(days=int(back)),
                                        dt.time(int(rng.integers(0, 14))))
            end = start + dt.timedelta(hours=int(rng.integers(1, 11)))
            status = str(rng.choice(["accepted", "accepted", "pending", "rejected"]))
            cols["outlet_id"].append(oid)
            cols["kind"].append(kind)
            cols["start_ts"].append(start)
            cols["end_ts"].append(end)
            cols["status"].append(status)
            cols["reason"].append(reasons[kind])
            cols["entered_by"].append("企业环保专员")
            cols["entered_at"].append(end + dt.timedelta(hours=int(rng.integers(1, 40))))
            reviewed = status != "pending"
            cols["reviewed_by"].append("监管员" if reviewed else None)
            cols["reviewed_at"].append(end + dt.timedelta(hours=45) if reviewed else None)
            cols["review_note"].append("无停产佐证(电量正常)" if status == "rejected" else None)
    return _insert(con, "enterprise_mark", cols)


def _plans(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, lines: list[Any],
           today: dt.date) -> int:
    """Plans at every stage: done, in progress, late; milestones dated as the rules say."""
    targets = {t.programme: t for t in programme_targets()}
    cal = Calendar.from_db(con)
    n = 0
    for _, eid, _, _, district, _, kind, line in lines:
        prog = _PROGRAMME.get(kind)
        if prog is None:
            continue
        planned = today + dt.timedelta(days=int(rng.integers(-400, 300)))
        row = con.execute(
            "INSERT INTO retrofit_plan (programme, enterprise_id, line, district_code,"
            " planned_done, created_by) VALUES (?, ?, ?, ?, ?, 'demo') ON CONFLICT DO NOTHING"
            " RETURNING id", [prog, eid, line, district, planned]).fetchone()
        if row is None:
            continue
        n += 1
        done: dict[str, dt.date] = {}
        chain = targets[prog].milestones
        for i in range(len(chain)):
            rule, due, earliest = milestone_schedule(chain[: i + 1], planned, done, cal)[i]
            day = max(due + dt.timedelta(days=int(rng.integers(-10, 25))), earliest or due)
            if done:
                day = max(day, max(done.values()))
            if day > today or rng.random() < 0.1:
                break
            done[rule.milestone] = day
            con.execute("INSERT INTO retrofit_milestone (plan_id, milestone, done_on, evidence,"
                        " entered_by) VALUES (?, ?, ?, ?, 'demo')",
                        [row[0], rule.milestone, day, f"{rule.name_zh}证明材料"])
            if rule.milestone == "public_listing":
                con.execute("INSERT INTO dynamic_list (plan_id, listed_on) VALUES (?, ?)",
                            [row[0], day])
    return n


def _gate(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, today: dt.date,
          months: int) -> int:
    """Gate records of the last ``months`` months for bulk-material sectors.

    Each enterprise gets a clean tonnage share drawn around 0.8 (some pass, some fail) and
    a fleet mix where most road trucks are China VI or new-energy.
    """
    ents = con.execute("SELECT id, sector FROM enterprise WHERE sector IN"
                       " ('cement', 'coking', 'steel', 'power') ORDER BY id").fetchall()
    cols: dict[str, list[Any]] = {k: [] for k in (
        "enterprise_id", "ts", "plate", "direction", "mode", "material", "tonnes",
        "emission_stage", "fuel", "source")}
    start = dt.datetime.combine(today.replace(day=1), dt.time()) - dt.timedelta(days=31 * months)
    span_h = int((dt.datetime.combine(today, dt.time()) - start).total_seconds() // 3600)
    for eid, sector in ents:
        share = float(np.clip(rng.normal(0.8, 0.08), 0.4, 0.98))
        clean_mode = str(rng.choice(["rail", "belt", "water", "pipe"] if sector != "coking"
                                    else ["rail", "pipe"]))
        all_clean_trucks = rng.random() < 0.4
        # tonnage share -> trip probability (road trips ~37 t, clean ones ~1600 t on average)
        odds = (1 - share) / share * 1600 / 37
        p_road = odds / (1 + odds)
        for _ in range(int(rng.integers(40, 90)) * months):
            road = rng.random() < p_road
            cols["enterprise_id"].append(eid)
            cols["ts"].append(start + dt.timedelta(hours=int(rng.integers(0, span_h)),
                                                   minutes=int(rng.integers(0, 60))))
            cols["direction"].append(str(rng.choice(["in", "out"])))
            cols["material"].append(_BULK[sector] if rng.random() < 0.5 else "原燃料")
            if road:
                stage = "China VI" if all_clean_trucks else str(rng.choice(_STAGES))
                cols["mode"].append("road")
                cols["plate"].append(f"湘A{int(rng.integers(10000, 99999))}")
                cols["tonnes"].append(round(float(rng.uniform(25, 49)), 3))
                cols["emission_stage"].append(stage)
                cols["fuel"].append("electric" if stage == "NEV" else "diesel")
            else:
                cols["mode"].append(clean_mode)
                cols["plate"].append(None)
                cols["tonnes"].append(round(float(rng.uniform(200, 3000)), 3))
                cols["emission_stage"].append(None)
                cols["fuel"].append(None)
            cols["source"].append("demo")
    n = _insert(con, "gate_record", cols)
    return n


def _fleet(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> int:
    """In-plant vehicles and non-road machinery with stages that existed on their dates."""
    ents = con.execute("SELECT id FROM enterprise ORDER BY id").fetchall()
    cols: dict[str, list[Any]] = {k: [] for k in (
        "enterprise_id", "category", "ident", "kind", "emission_stage", "fuel", "power_kw",
        "made_on")}
    for (eid,) in ents:
        for k in range(int(rng.integers(2, 8))):
            machine = rng.random() < 0.6
            made = dt.date(2016, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3500)))
            if machine:
                stage = "NEV" if rng.random() < 0.2 else (
                    "Stage IV" if made >= dt.date(2022, 12, 1) else "Stage III")
                kind = str(rng.choice(["装载机", "叉车", "挖掘机"]))
            else:
                stage = "NEV" if rng.random() < 0.4 else (
                    "China VI" if made >= dt.date(2021, 7, 1) else "China V")
                kind = str(rng.choice(["厂内运输车", "洒水车"]))
            cols["enterprise_id"].append(eid)
            cols["category"].append("non_road_machinery" if machine else "in_plant_vehicle")
            cols["ident"].append(f"{'FDL' if machine else '湘A'}{eid:04d}{k:02d}")
            cols["kind"].append(kind)
            cols["emission_stage"].append(stage)
            cols["fuel"].append("electric" if stage == "NEV" else "diesel")
            cols["power_kw"].append(float(rng.integers(50, 250)) if machine else None)
            cols["made_on"].append(made)
    return _insert(con, "plant_vehicle", cols)


def _control(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, today: dt.date) -> int:
    """Foundry staggered-production agreements, one orange alert, one offset project."""
    n = 0
    for eid, line in con.execute(
            "SELECT enterprise_id, name FROM production_line WHERE kind = 'cupola'").fetchall():
        for rule, value in (("max_hours_per_day", 12.0), ("rest_weekday", 7.0)):
            con.execute("INSERT INTO production_agreement (enterprise_id, line, rule, value,"
                        " valid_from, source) VALUES (?, ?, ?, ?, ?, ?)",
                        [eid, line, rule, value, dt.date(today.year, 1, 1),
                         "铸造行业错峰生产协议 (demo)"])
            n += 1
    districts = [r[0] for r in con.execute(
        "SELECT DISTINCT district_code FROM enterprise WHERE district_code IS NOT NULL"
        " ORDER BY 1").fetchall()]
    if districts:
        start = dt.datetime.combine(today - dt.timedelta(days=int(rng.integers(10, 25))),
                                    dt.time(8))
        con.execute("INSERT INTO alert_period (district_code, level, start_ts, end_ts, source,"
                    " entered_by) VALUES (?, 'orange', ?, ?, '重污染天气橙色预警 (demo)', 'demo')",
                    [districts[0][:4], start, start + dt.timedelta(hours=72)])
        row = con.execute(
            "INSERT INTO offset_project (name, district_code, pollutant, new_load_t,"
            " approved_on, non_attaining) VALUES ('新建熟料线项目 (demo)', ?, 'nox', 120, ?,"
            " true) RETURNING id", [districts[0], today - dt.timedelta(days=200)]).fetchone()
        if row:
            con.execute("INSERT INTO offset_source VALUES (?, '1号窑超低排放改造', 150, ?),"
                        " (?, '燃煤锅炉淘汰', 60, NULL)",
                        [row[0], today - dt.timedelta(days=150), row[0]])
    return n


def demo_ledgers(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, *, today: dt.date | None = None,
    months: int = 3,
) -> dict[str, int]:
    """Fill the ledgers of the demo province; return rows written per ledger.

    Parameters
    ----------
    con : DuckDB connection
        Database with the demo enterprises and outlets registered. No transaction is opened.
    rng : numpy Generator
        Source of randomness (seeded by the caller for a reproducible demo).
    today : date, optional
        Reference day (CST); default today.
    months : int
        Months of gate records before ``today``.

    """
    today = today or now_cst().date()
    lines = _lines(con)
    _history(con, rng, today)
    with warnings.catch_warnings():
        # only milestones up to ``today`` are stored; projected dues of later years may lack
        # holiday data, which does not touch what is written
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        plans = _plans(con, rng, lines, today)
    return {"lines": len(lines), "marks": _marks(con, rng, lines, today),
            "retrofit_plans": plans, "gate_records": _gate(con, rng, today, months),
            "vehicles": _fleet(con, rng), "agreements": _control(con, rng, today)}
