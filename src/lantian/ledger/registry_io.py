"""Registry ledgers as Excel workbooks in the layout bureaus use (one sheet per ledger).

Sheets and columns (Chinese header as shown; the English field name is accepted too):

- 企业 (enterprise): 统一社会信用代码, 企业名称, 行业, 行政区划代码, 绩效分级
- 生产线 (line): 统一社会信用代码, 生产线名称, 类型, 规模, 规模单位, 状态
- 排放口 (outlet): 统一社会信用代码, 排放口名称, 源类型, 所属生产线
- 监测点位 (monitoring_point): 统一社会信用代码, 排放口名称, 数采仪MN, 密码, 监测因子
  (glossary keys, comma-separated), 分析仪量程 (``so2:0-200;nox:0-500`` [mg/m³])
- 许可限值 (permit_limit): 统一社会信用代码, 排放口名称, 污染物, 限值(mg/m3), 依据, 许可证编号
- 许可排放量 (permit_allowance): 统一社会信用代码, 污染物, 年度, 许可排放量(t), 许可证编号

Import checks every cell of every sheet first; any bad cell rejects the whole workbook with
the sheet, row (header = row 1) and column, and nothing is written. Then each record that
changed gets a new version in ``registry_history`` (:mod:`lantian.ledger.history`) dated
``valid_from`` and the current tables are updated, all in one transaction. A sheet may be
missing (nothing of that kind changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from lantian.catalog.glossary import glossary
from lantian.errors import InputFileError
from lantian.ledger._data import transaction
from lantian.ledger._tabular import cell_text
from lantian.ledger.history import record_version

__all__ = ["SHEETS", "export_registry", "import_registry", "snapshot_registry"]


@dataclass(frozen=True)
class Column:
    """One column of a ledger sheet."""

    field: str
    header: str
    kind: str = "text"  # text / number / int / list
    required: bool = False


@dataclass(frozen=True)
class Sheet:
    """One ledger sheet."""

    name: str
    entity: str
    columns: tuple[Column, ...]


_CC = Column("credit_code", "统一社会信用代码", required=True)
SHEETS = (
    Sheet("企业", "enterprise", (_CC, Column("name", "企业名称", required=True),
                                Column("sector", "行业"), Column("district_code", "行政区划代码"),
                                Column("grade", "绩效分级"))),
    Sheet("生产线", "line", (_CC, Column("name", "生产线名称", required=True),
                            Column("kind", "类型"), Column("capacity", "规模", "number"),
                            Column("capacity_unit", "规模单位"), Column("status", "状态"))),
    Sheet("排放口", "outlet", (_CC, Column("name", "排放口名称", required=True),
                             Column("source_type", "源类型"), Column("line", "所属生产线"))),
    Sheet("监测点位", "monitoring_point", (
        _CC, Column("outlet", "排放口名称", required=True),
        Column("mn", "数采仪MN", required=True), Column("password", "密码"),
        Column("parameters", "监测因子", "list"), Column("analyser_ranges", "分析仪量程"))),
    Sheet("许可限值", "permit_limit", (
        _CC, Column("outlet", "排放口名称", required=True),
        Column("pollutant", "污染物", required=True),
        Column("limit_mg_m3", "限值(mg/m3)", "number", required=True), Column("basis", "依据"),
        Column("permit_no", "许可证编号"))),
    Sheet("许可排放量", "permit_allowance", (
        _CC, Column("pollutant", "污染物", required=True), Column("year", "年度", "int", True),
        Column("allowance_t", "许可排放量(t)", "number", required=True),
        Column("permit_no", "许可证编号"))),
)
_STATUSES = ("operating", "retired", "stopped")


class _Errors(list[str]):
    def add(self, sheet: str, row: int, col: Column | None, why: str) -> None:
        where = f" column {col.header} ({col.field})" if col else ""
        self.append(f"sheet {sheet} row {row}{where}: {why}")


def _cell(col: Column, value: Any) -> Any:
    text = cell_text(value)
    if text == "":
        if col.required:
            raise ValueError("empty")
        return None
    if col.kind == "number":
        return float(value) if isinstance(value, int | float) else float(text)
    if col.kind == "int":
        f = float(text)
        if f != int(f):
            raise ValueError(f"{text!r} is not a whole number")
        return int(f)
    if col.kind == "list":
        return sorted({p.strip() for p in text.replace("，", ",").split(",") if p.strip()})
    return text


def _read_sheets(path: Path, errors: _Errors) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    try:
        for spec in SHEETS:
            if spec.name not in wb.sheetnames:
                continue
            it = wb[spec.name].iter_rows(values_only=True)
            header = [cell_text(h) for h in next(it, ())]
            pos: dict[str, int] = {}
            for col in spec.columns:
                for label in (col.header, col.field):
                    if label in header:
                        pos[col.field] = header.index(label)
                if col.field not in pos and col.required:
                    errors.add(spec.name, 1, col, "missing column")
            rows = []
            for i, values in enumerate(it, start=2):
                if all(cell_text(v) == "" for v in values):
                    continue
                rec: dict[str, Any] = {}
                for col in spec.columns:
                    raw = values[pos[col.field]] if col.field in pos and pos[col.field] < len(
                        values) else None
                    try:
                        rec[col.field] = _cell(col, raw)
                    except ValueError as exc:
                        errors.add(spec.name, i, col, str(exc).replace("could not convert "
                                                                        "string to float: ",
                                                                        "not a number: "))
                rows.append((i, rec))
            out[spec.entity] = rows
    finally:
        wb.close()
    return out


def _known(con: duckdb.DuckDBPyConnection, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in con.execute(sql).fetchall()}


def _check_refs(
    con: duckdb.DuckDBPyConnection, data: dict[str, list[tuple[int, dict[str, Any]]]],
    errors: _Errors,
) -> None:
    """Check references between sheets and to the database, glossary keys and ranges."""
    names = {s.entity: s for s in SHEETS}
    ents = {r["credit_code"] for _, r in data.get("enterprise", [])} | {
        c for (c,) in _known(
            con, "SELECT credit_code FROM enterprise WHERE credit_code IS NOT NULL")}
    outlets = {(r["credit_code"], r["name"]) for _, r in data.get("outlet", [])} | _known(
        con, "SELECT e.credit_code, o.name FROM outlet o"
             " JOIN enterprise e ON e.id = o.enterprise_id")
    mns = {m for (m,) in _known(con, "SELECT mn FROM monitoring_point")}
    keys = {e.key for e in glossary()}
    for entity, rows in data.items():
        spec = names[entity]
        col = {c.field: c for c in spec.columns}
        for i, r in rows:
            cc = r.get("credit_code")
            if entity != "enterprise" and cc and cc not in ents:
                errors.add(spec.name, i, col["credit_code"], "enterprise not in 企业 or registry")
            if "outlet" in col and r.get("outlet") and (cc, r["outlet"]) not in outlets:
                errors.add(spec.name, i, col["outlet"], "outlet not in 排放口 or registry")
            if entity == "line" and r.get("status") and r["status"] not in _STATUSES:
                errors.add(spec.name, i, col["status"], f"not one of {', '.join(_STATUSES)}")
            if entity == "monitoring_point":
                bad = [p for p in r.get("parameters") or [] if p not in keys]
                if bad:
                    errors.add(spec.name, i, col["parameters"], f"not glossary keys: {bad}")
                if r.get("mn") and r["mn"] not in mns and not r.get("password"):
                    errors.add(spec.name, i, col["password"], "required for a new point")
                if r.get("analyser_ranges"):
                    try:
                        _ranges(r["analyser_ranges"])
                    except ValueError as exc:
                        errors.add(spec.name, i, col["analyser_ranges"], str(exc))
            if "pollutant" in col and r.get("pollutant") and r["pollutant"] not in keys:
                errors.add(spec.name, i, col["pollutant"], "not a glossary key (so2, nox, pm …)")


def _ranges(text: str) -> dict[str, list[float]]:
    """Parse ``so2:0-200;nox:0-500`` into {key: [low, high]} [mg/m³]."""
    out = {}
    for part in text.replace("；", ";").split(";"):
        if not part.strip():
            continue
        key, _, span = part.partition(":")
        lo, _, hi = span.partition("-")
        try:
            out[key.strip()] = [float(lo), float(hi)]
        except ValueError:
            raise ValueError(f"range {part!r} is not key:low-high") from None
    return out


def _defaults(entity: str, r: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults the current tables apply, so history and tables agree."""
    if entity == "line" and not r.get("status"):
        return {**r, "status": "operating"}
    if entity == "permit_limit" and not r.get("basis"):
        return {**r, "basis": "permit"}
    return r


def import_registry(
    con: duckdb.DuckDBPyConnection, path: str | Path, *, who: str, valid_from: dt.date
) -> dict[str, int]:
    """Import a registry workbook; return {entity: records changed}.

    Raises
    ------
    InputFileError
        Listing the first bad cells (sheet, row, column); nothing is written then.

    """
    from lantian.ledger.registry_apply import apply_record

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    errors = _Errors()
    data = _read_sheets(path, errors)
    if not errors:
        _check_refs(con, data, errors)
    if errors:
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        raise InputFileError(f"{path.name}: " + "; ".join(errors[:3]) + more)
    counts: dict[str, int] = {}
    with transaction(con):
        for spec in SHEETS:
            n = 0
            for _, r in data.get(spec.entity, []):
                if spec.entity == "monitoring_point" and r.get("analyser_ranges"):
                    r = {**r, "analyser_ranges": _ranges(r["analyser_ranges"])}
                n += apply_record(con, spec.entity, _defaults(spec.entity, r), valid_from, who)
            counts[spec.entity] = n
        con.execute("INSERT INTO audit_log (who, action, target, detail) VALUES (?, ?, ?, ?)",
                    [who, "registry_import", path.name,
                     ", ".join(f"{k} {v}" for k, v in counts.items())])
    return counts


_EXPORT_SQL = {
    "enterprise": "SELECT credit_code, name, sector, district_code, grade FROM enterprise"
                  " ORDER BY credit_code NULLS LAST, name",
    "line": "SELECT e.credit_code, l.name, l.kind, l.capacity, l.capacity_unit, l.status"
            " FROM production_line l JOIN enterprise e ON e.id = l.enterprise_id ORDER BY 1, 2",
    "outlet": "SELECT e.credit_code, o.name, o.source_type, min(l.name)"
              " FROM outlet o JOIN enterprise e ON e.id = o.enterprise_id"
              " LEFT JOIN production_line_outlet lo ON lo.outlet_id = o.id"
              " LEFT JOIN production_line l ON l.id = lo.line_id GROUP BY ALL ORDER BY 1, 2",
    "monitoring_point": "SELECT e.credit_code, o.name, p.mn, NULL, array_to_string(p.parameters,"
                        " ','), NULL FROM monitoring_point p JOIN outlet o ON o.id = p.outlet_id"
                        " JOIN enterprise e ON e.id = o.enterprise_id ORDER BY 3",
    "permit_limit": "SELECT e.credit_code, pl.outlet, pl.pollutant, pl.limit_mg_m3, pl.basis,"
                    " pl.permit_no FROM permit_limit pl JOIN enterprise e ON e.id ="
                    " pl.enterprise_id WHERE pl.valid_to IS NULL ORDER BY 1, 2, 3",
    "permit_allowance": "SELECT e.credit_code, a.pollutant, a.year, a.allowance_t, a.permit_no"
                        " FROM permit_allowance a JOIN enterprise e ON e.id = a.enterprise_id"
                        " WHERE a.valid_to IS NULL ORDER BY 1, 2, 3",
}


def _ranges_text(con: duckdb.DuckDBPyConnection, mn: str) -> str | None:
    row = con.execute("SELECT json_extract(attrs, '$.analyser_ranges') FROM registry_history"
                      " WHERE entity = 'monitoring_point' AND entity_key = ? AND valid_to IS NULL",
                      [mn]).fetchone()
    if row is None or row[0] is None:
        return None
    import json

    ranges = json.loads(row[0]) or {}
    return ";".join(f"{k}:{lo:g}-{hi:g}" for k, (lo, hi) in sorted(ranges.items())) or None


def export_registry(con: duckdb.DuckDBPyConnection, path: str | Path) -> dict[str, int]:
    """Write the current registry as a workbook in the import layout; return rows per sheet.

    Passwords are never exported (the 密码 column stays empty).
    """
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    counts = {}
    for spec in SHEETS:
        ws = wb.create_sheet(spec.name)
        ws.append([c.header for c in spec.columns])
        rows = con.execute(_EXPORT_SQL[spec.entity]).fetchall()
        for row in rows:
            values = list(row)
            if spec.entity == "monitoring_point":
                values[5] = _ranges_text(con, values[2])
            ws.append(values)
        counts[spec.entity] = len(rows)
    note = wb.create_sheet("说明")
    note.append(["Lantian registry export / 蓝天台账导出; dates China Standard Time (北京时间)"])
    wb.save(path)
    return counts


def snapshot_registry(
    con: duckdb.DuckDBPyConnection, *, who: str, valid_from: dt.date
) -> dict[str, int]:
    """Version the current registry tables where they differ from the open history.

    Catches changes made by other paths (registry commands, gate-record import, the API).
    Records whose natural key is incomplete (an enterprise without a credit code) are
    skipped. Returns {entity: versions recorded}.
    """
    from lantian.ledger.history import as_of
    from lantian.ledger.registry_apply import entity_key

    counts: dict[str, int] = {}
    with transaction(con):
        for spec in SHEETS:
            n = 0
            for row in con.execute(_EXPORT_SQL[spec.entity]).fetchall():
                try:
                    rec = {c.field: _cell(c, v) for c, v in zip(spec.columns, row, strict=True)}
                except ValueError:
                    continue  # incomplete key (e.g. no credit code yet)
                rec.pop("password", None)
                key = entity_key(spec.entity, rec)
                if spec.entity == "monitoring_point":
                    cur = as_of(con, "monitoring_point", key, valid_from) or {}
                    rec["analyser_ranges"] = cur.get("analyser_ranges")
                n += record_version(con, spec.entity, key, _defaults(spec.entity, rec),
                                    valid_from, who, "snapshot")
            counts[spec.entity] = n
    return counts
