"""Carbon and energy intensity against sector norms, and the double-offset ledger.

- Production and energy records per enterprise and month (table ``production_record``:
  ``output_t`` [t], ``energy_kgce`` [kgce], ``power_kwh`` [kWh], ``co2_t`` [t CO2]) are
  imported from CSV/xlsx ``enterprise,month,product,output_t,energy_kgce,power_kwh,co2_t``.
- :func:`intensity_check` divides by output and compares with the norms of
  ``catalog/data/intensity_norms.csv`` (e.g. calcium carbide ≤2.1 t CO2/t, ≤823 kgce/t,
  furnace power ≤3,080 kWh/t, GB 21343-2015): ``over`` when the intensity exceeds the norm.
  All three norms are confidence ``U``: the reference notes (``reference/regulations.md``)
  do not cover calcium carbide, so the values are as briefed/recalled and must be checked
  against GB 21343-2015 and the regional carbon norm before a verdict is relied on.
- :func:`offset_balance`: a new project in a non-attaining area must be offset by reductions
  of ``ratio`` × its new load (倍量削减, ``offset_rules.csv``: 2.0; attaining areas 1.0).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from lantian.errors import CatalogError, InputFileError
from lantian.ledger._data import parse_date, read_rule_csv, transaction
from lantian.ledger._tabular import cell_text, ensure_enterprises, iter_rows

__all__ = ["intensity_check", "intensity_norms", "load_production_records", "offset_balance"]

_METRICS = {"co2_t_per_t": "co2_t", "energy_kgce_per_t": "energy_kgce",
            "power_kwh_per_t": "power_kwh"}
_COLUMNS = ("enterprise", "month", "product", "output_t", "energy_kgce", "power_kwh", "co2_t")


@cache
def intensity_norms() -> tuple[dict[str, Any], ...]:
    """Return the rows of ``intensity_norms.csv`` (norm as float, dates parsed)."""
    out = []
    rows = read_rule_csv("intensity_norms.csv", {"product", "metric", "norm", "unit",
                                                  "effective_from", "effective_to", "source"})
    for i, r in enumerate(rows, start=2):
        where = f"intensity_norms.csv row {i}"
        if r["metric"] not in _METRICS:
            raise CatalogError(f"{where}: unknown metric {r['metric']!r}")
        out.append({**r, "norm": float(r["norm"]),
                    "effective_from": parse_date(r["effective_from"], where),
                    "effective_to": parse_date(r["effective_to"], where)})
    return tuple(out)


def load_production_records(con: duckdb.DuckDBPyConnection, path: str | Path) -> int:
    """Import monthly production/energy records (all rows or none); replace same keys."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    rows = []
    for i, r in iter_rows(path, _COLUMNS):
        rec: dict[str, Any] = {c: cell_text(r.get(c)) for c in _COLUMNS}
        if not rec["enterprise"] or not rec["product"]:
            raise InputFileError(f"{path.name} row {i} column enterprise/product: empty")
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", rec["month"]):
            raise InputFileError(f"{path.name} row {i} column month: not YYYY-MM")
        for c in ("output_t", "energy_kgce", "power_kwh", "co2_t"):
            try:
                rec[c] = float(rec[c]) if rec[c] else None
            except ValueError:
                raise InputFileError(f"{path.name} row {i} column {c}: not a number") from None
            if rec[c] is not None and rec[c] < 0:
                raise InputFileError(f"{path.name} row {i} column {c}: negative")
        if not rec["output_t"]:
            raise InputFileError(f"{path.name} row {i} column output_t: must be > 0")
        rows.append(rec)
    with transaction(con):
        ids, _ = ensure_enterprises(con, (r["enterprise"] for r in rows))
        for r in rows:
            con.execute("INSERT OR REPLACE INTO production_record VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [ids[r["enterprise"]], r["month"], r["product"], r["output_t"],
                         r["energy_kgce"], r["power_kwh"], r["co2_t"]])
    return len(rows)


def intensity_check(records: ir.Table) -> ir.Table:
    """Intensities per enterprise, month, product and metric against the catalogue norms.

    Returns ``enterprise_id``, ``month``, ``product``, ``metric``, ``value`` (per tonne of
    output), ``norm``, ``unit``, ``over`` (value > norm), ``source``. The norm in force on
    the first day of the month applies.
    """
    norms = intensity_norms()
    nt = ibis.memtable({
        "n_product": [n["product"] for n in norms], "metric": [n["metric"] for n in norms],
        "norm": [n["norm"] for n in norms], "unit": [n["unit"] for n in norms],
        "n_from": [n["effective_from"] for n in norms],
        "n_to": [n["effective_to"] or dt.date(9999, 12, 31) for n in norms],
        "source": [n["source"] for n in norms]})
    parts = []
    for metric, col in _METRICS.items():
        r = records.filter(records[col].notnull() & (records.output_t > 0))
        parts.append(r.select(enterprise_id=r.enterprise_id, month=r.month, product=r.product,
                              m=ibis.literal(metric), value=r[col] / r.output_t))
    v = ibis.union(*parts)
    first = (v.month + "-01").cast("date")
    j = v.join(nt, [v.product == nt.n_product, v.m == nt.metric, nt.n_from <= first,
                    nt.n_to >= first])
    return j.select("enterprise_id", "month", "product", "metric", "value", "norm", "unit",
                    over=j.value > j.norm, source=j.source).order_by(
        ["enterprise_id", "month", "product", "metric"])


@cache
def _offset_ratio() -> dict[str, float]:
    rows = read_rule_csv("offset_rules.csv", {"area", "ratio"})
    return {r["area"]: float(r["ratio"]) for r in rows}


def offset_balance(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Offsets ledger: per project the reduction required, credited (verified) and the gap.

    required_t = new_load_t × ratio (2.0 in non-attaining areas, 1.0 otherwise) [t/a];
    ``covered`` when the verified reductions reach it.
    """
    ratio = _offset_ratio()
    rows = con.execute(
        "SELECT p.id, p.name, p.district_code, p.pollutant, p.new_load_t,"
        " coalesce(p.non_attaining, true),"
        " coalesce(sum(s.reduction_t) FILTER (WHERE s.verified_on IS NOT NULL), 0),"
        " coalesce(sum(s.reduction_t) FILTER (WHERE s.verified_on IS NULL), 0)"
        " FROM offset_project p LEFT JOIN offset_source s ON s.project_id = p.id"
        " GROUP BY ALL ORDER BY p.id").fetchall()
    out = []
    for pid, name, district, pollutant, new_load, non_att, verified, pending in rows:
        k = ratio["non_attaining" if non_att else "attaining"]
        required = round(new_load * k, 6)
        out.append({"project_id": pid, "project": name, "district_code": district,
                    "pollutant": pollutant, "new_load_t": new_load, "ratio": k,
                    "required_t": required, "credited_t": verified, "pending_t": pending,
                    "gap_t": round(max(required - verified, 0.0), 6),
                    "covered": verified >= required})
    return out
