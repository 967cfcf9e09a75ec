"""Excel ledgers in the layouts bureaus file (台账, openpyxl).

One workbook, one sheet per ledger: enterprise and outlet register (企业及排放口名录),
monthly ULE verdicts (月度超低排放评估), exceedance list (超标时段清单), quality events
(质控事件), transport ledger (运输台账), emissions (排放量: per point and pollutant the measured
and the HJ 75-2017 substituted load [t], substituted hours and the quarter-to-date capture
rate; substitution applies to loads only, never to concentrations). Every sheet has a title
row, a bilingual header row with the unit in brackets, bold headers on a filled background,
frozen panes below the header and left of the first data column, and fixed column widths.
Times are China Standard Time (中国标准时间), written as ``YYYY-MM-DD HH:MM:SS`` text so
spreadsheets never shift them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import ibis
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from lantian.catalog.limits import POLLUTANTS
from lantian.engine.assess import assess_hours, monthly_record, monthly_results
from lantian.engine.backends import month_bounds
from lantian.reports.emissions import point_month_loads
from lantian.reports.monthly import hour_counts, ibis_backend

__all__ = ["LAYOUTS", "Column", "emission_rows", "ledger_rows", "write_ledgers"]

HEADER_FILL = "DDE6F2"
_THIN = Side(style="thin", color="999999")


@dataclass(frozen=True)
class Column:
    """One ledger column: row key, Chinese and English header, unit, width [characters]."""

    key: str
    zh: str
    en: str
    unit: str = ""
    width: float = 14
    number_format: str | None = None

    def header(self) -> str:
        """``中文 English [unit]``."""
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.zh} {self.en}{unit}"


LAYOUTS: dict[str, tuple[str, tuple[Column, ...]]] = {
    "register": ("企业及排放口名录 Enterprise and outlet register", (
        Column("enterprise_id", "企业编号", "Enterprise ID", width=10),
        Column("enterprise", "企业名称", "Enterprise", width=30),
        Column("credit_code", "统一社会信用代码", "Credit code", width=22),
        Column("district_code", "行政区划", "District", width=10),
        Column("sector", "行业", "Sector", width=12),
        Column("outlet", "排放口", "Outlet", width=16),
        Column("source_type", "源类型", "Source type", width=18),
        Column("mn", "监测点编码", "MN", width=26),
    )),
    "verdicts": ("月度超低排放评估 Monthly ULE verdicts", (
        Column("enterprise", "企业名称", "Enterprise", width=30),
        Column("outlet", "排放口", "Outlet", width=16),
        Column("mn", "监测点编码", "MN", width=26),
        Column("month", "月份", "Month", width=9),
        Column("production_hours", "生产小时", "Production", "h", 12, "0"),
        Column("compliant_hours", "达标小时", "Compliant", "h", 12, "0"),
        Column("exceedance_hours", "超标小时", "Exceedance", "h", 12, "0"),
        Column("invalid_hours", "无效小时", "Invalid", "h", 12, "0"),
        Column("compliance_ratio", "达标率", "Compliance ratio", "%", 12, "0.00%"),
        Column("verdict", "结论", "Verdict", width=10),
    )),
    "exceedances": ("超标时段清单 Exceedance list", (
        Column("enterprise", "企业名称", "Enterprise", width=30),
        Column("mn", "监测点编码", "MN", width=26),
        Column("ts", "时段开始", "Hour start", "CST", 20),
        Column("pollutant", "污染物", "Pollutant", width=10),
        Column("value_mg_m3", "折算浓度", "Value", "mg/m³", 12, "0.00"),
        Column("limit_mg_m3", "限值", "Limit", "mg/m³", 12, "0.##"),
    )),
    "quality": ("质控事件 Quality events", (
        Column("enterprise", "企业名称", "Enterprise", width=30),
        Column("mn", "监测点编码", "MN", width=26),
        Column("detector", "检测项", "Detector", width=18),
        Column("pollutant", "污染物", "Pollutant", width=10),
        Column("start_ts", "开始", "Start", "CST", 20),
        Column("end_ts", "结束", "End", "CST", 20),
        Column("severity", "严重程度", "Severity", width=10),
    )),
    "transport": ("运输台账 Transport ledger", (
        Column("enterprise", "企业名称", "Enterprise", width=30),
        Column("ts", "时间", "Time", "CST", 20),
        Column("direction", "进出", "Direction", width=9),
        Column("mode", "运输方式", "Mode", width=10),
        Column("material", "物料", "Material", width=12),
        Column("tonnes", "重量", "Weight", "t", 12, "0.000"),
        Column("plate", "车牌", "Plate", width=12),
        Column("emission_stage", "排放阶段", "Emission stage", width=14),
    )),
    "emissions": ("排放量 Emissions（HJ 75-2017 替代仅用于排放量，不替代浓度 substitution applies "
                  "to loads only）", (
        Column("enterprise", "企业名称", "Enterprise", width=30),
        Column("outlet", "排放口", "Outlet", width=16),
        Column("mn", "监测点编码", "MN", width=26),
        Column("pollutant", "污染物", "Pollutant", width=10),
        Column("measured_t", "实测排放量", "Measured", "t", 13, "0.0000"),
        Column("substituted_t", "替代排放量", "Substituted", "t", 13, "0.0000"),
        Column("substituted_hours", "替代小时", "Substituted", "h", 12, "0"),
        Column("unsubstituted_hours", "未替代无效小时", "Left open", "h", 14, "0"),
        Column("capture_rate", "季度有效数据捕集率", "Capture rate (quarter to date)", "%",
               16, "0.00%"),
        Column("source", "来源", "Source", width=12),
    )),
}


def _cell(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float) and v != v:
        return None
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def write_ledgers(sheets: dict[str, list[dict[str, Any]]], path: Path, *,
                  subtitle: str = "") -> Path:
    """Write ``{layout name: rows}`` as one workbook at ``path`` (sheets in LAYOUTS order).

    Row 1: the ledger title (and ``subtitle``); row 2: headers; data from row 3; panes
    frozen at ``B3``.
    """
    wb = Workbook()
    wb.remove(wb.active)
    for name, (title, cols) in LAYOUTS.items():
        if name not in sheets:
            continue
        ws = wb.create_sheet(name)
        ws.cell(1, 1, f"{title}{' · ' + subtitle if subtitle else ''}").font = Font(bold=True,
                                                                                  size=13)
        for j, col in enumerate(cols, start=1):
            c = ws.cell(2, j, col.header())
            c.font = Font(bold=True)
            c.fill = PatternFill("solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            c.border = Border(top=_THIN, bottom=_THIN, left=_THIN, right=_THIN)
            ws.column_dimensions[c.column_letter].width = col.width
        for i, row in enumerate(sheets[name], start=3):
            for j, col in enumerate(cols, start=1):
                c = ws.cell(i, j, _cell(row.get(col.key)))
                if col.number_format:
                    c.number_format = col.number_format
        ws.freeze_panes = "B3"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _rows(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def ledger_rows(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, list[dict[str, Any]]]:
    """Rows of every ledger for month ``YYYY-MM`` from stored data (verdicts by the engine)."""
    start, end = month_bounds(month)
    register = _rows(con, "SELECT e.id AS enterprise_id, e.name AS enterprise, e.credit_code, "
                          "e.district_code, e.sector, o.name AS outlet, "
                          "coalesce(mp.source_type, o.source_type) AS source_type, mp.mn "
                          "FROM enterprise e LEFT JOIN outlet o ON o.enterprise_id = e.id "
                          "LEFT JOIN monitoring_point mp ON mp.outlet_id = o.id "
                          "ORDER BY e.id, o.id, mp.mn", [])
    owner = {r["mn"]: r for r in register if r["mn"]}
    ib = ibis_backend(con)
    hours = assess_hours(ib, month).cache()
    keys = [k for k in POLLUTANTS if f"{k}_exceed" in hours.columns]
    counts = {r["mn"]: r for r in hour_counts(hours, keys).execute().to_dict("records")}
    verdicts = []
    for m in monthly_results(ib, hours, month).execute().to_dict("records"):
        rec = monthly_record(m)
        o = owner.get(rec["mn"], {})
        c = counts[rec["mn"]]
        verdicts.append({**rec, "enterprise": o.get("enterprise"), "outlet": o.get("outlet"),
                         "exceedance_hours": int(c["exceedance_hours"]),
                         "invalid_hours": int(c["invalid_hours"]),
                         "verdict": {True: "达标", False: "不达标", None: "—"}[rec["ule_pass"]]})
    exceed = []
    for k in keys:
        ex = hours.filter(hours.production.fill_null(False) & hours[f"{k}_exceed"]).select(
            "mn", "ts", value_mg_m3=ibis.coalesce(hours[f"{k}_ref_mg_m3"], hours[f"{k}_mg_m3"]),
            limit_mg_m3=hours[f"{k}_limit_mg_m3"],
        ).execute()
        for r in ex.to_dict("records"):
            exceed.append({**r, "ts": r["ts"].to_pydatetime(), "pollutant": k,
                           "enterprise": owner.get(r["mn"], {}).get("enterprise")})
    hours.release()
    exceed.sort(key=lambda r: (r["mn"], r["ts"], r["pollutant"]))
    quality = _rows(con, "SELECT q.mn, q.detector, q.pollutant, q.start_ts, q.end_ts, "
                         "q.severity FROM quality_event q WHERE q.month = ? "
                         "ORDER BY q.start_ts, q.mn, q.id", [month])
    for q in quality:
        q["enterprise"] = owner.get(q["mn"], {}).get("enterprise")
    transport = _rows(con, "SELECT e.name AS enterprise, g.ts, g.direction, g.mode, "
                           "g.material, g.tonnes, g.plate, g.emission_stage FROM gate_record g "
                           "JOIN enterprise e ON e.id = g.enterprise_id "
                           "WHERE g.ts >= ? AND g.ts < ? ORDER BY g.ts, g.id", [start, end])
    return {"register": register, "verdicts": verdicts, "exceedances": exceed,
            "quality": quality, "transport": transport,
            "emissions": emission_rows(con, ib, month, register)}


def emission_rows(con: duckdb.DuckDBPyConnection, ib: Any, month: str,
                  register: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the emissions sheet: one per monitoring point and pollutant [t, h, 0–1].

    Loads stored by ``lantian assess --loads`` (``month_load``), else computed from the
    minute data (``source`` = ``computed``), as in the monthly report's emissions section.
    """
    points = [r for r in register if r["mn"]]
    loads, _ = point_month_loads(ib, con, month, points)
    owner = {p["mn"]: p["enterprise"] for p in points}

    def tonnes(kg: float | None) -> float | None:  # to the gram: stable across summation order
        return None if kg is None else round(kg / 1000, 6)

    return [{"enterprise": owner[r["mn"]], "outlet": r["outlet"], "mn": r["mn"],
             "pollutant": r["pollutant"], "measured_t": tonnes(r["load_kg"]),
             "substituted_t": tonnes(r["substituted_load_kg"]),
             "substituted_hours": r["substituted_hours"],
             "unsubstituted_hours": r["unsubstituted_hours"],
             "capture_rate": None if r["capture_rate"] is None else round(r["capture_rate"], 6),
             "source": {"stored": "已存储 stored", "computed": "本表计算 computed"}[r["source"]]}
            for r in loads]
