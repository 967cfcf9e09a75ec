"""Apply checked registry records: version them and update the current tables (private).

Used by :mod:`lantian.ledger.registry_io`; every function runs inside the caller's
transaction. ``valid_from`` is a CST calendar day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from lantian.errors import StoreError
from lantian.ledger.history import record_version

__all__ = ["apply_record"]


def _one(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any]) -> int:
    row = con.execute(sql, args).fetchone()
    if row is None:
        raise StoreError(f"registry write returned nothing: {sql[:40]}")
    return int(row[0])


def _enterprise_id(con: duckdb.DuckDBPyConnection, credit_code: str) -> int:
    return _one(con, "SELECT id FROM enterprise WHERE credit_code = ?", [credit_code])


def _enterprise(con: duckdb.DuckDBPyConnection, r: dict[str, Any]) -> None:
    hit = con.execute("SELECT id FROM enterprise WHERE credit_code = ?", [r["credit_code"]]
                      ).fetchone() or con.execute(
        "SELECT id FROM enterprise WHERE name = ? AND credit_code IS NULL", [r["name"]]).fetchone()
    vals = [r["name"], r["credit_code"], r["sector"], r["district_code"], r["grade"]]
    if hit is None:
        con.execute("INSERT INTO enterprise (name, credit_code, sector, district_code, grade)"
                    " VALUES (?, ?, ?, ?, ?)", vals)
    else:
        con.execute("UPDATE enterprise SET name = ?, credit_code = ?, sector = ?,"
                    " district_code = ?, grade = ? WHERE id = ?", [*vals, hit[0]])


def _line(con: duckdb.DuckDBPyConnection, r: dict[str, Any]) -> None:
    eid = _enterprise_id(con, r["credit_code"])
    con.execute(
        "INSERT INTO production_line (enterprise_id, name, kind, capacity, capacity_unit, status)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (enterprise_id, name) DO UPDATE SET"
        " kind = excluded.kind, capacity = excluded.capacity,"
        " capacity_unit = excluded.capacity_unit, status = excluded.status",
        [eid, r["name"], r["kind"], r["capacity"], r["capacity_unit"], r["status"] or "operating"])


def _outlet(con: duckdb.DuckDBPyConnection, r: dict[str, Any]) -> None:
    eid = _enterprise_id(con, r["credit_code"])
    hit = con.execute("SELECT id FROM outlet WHERE enterprise_id = ? AND name = ?",
                      [eid, r["name"]]).fetchone()
    if hit is None:
        oid = _one(con, "INSERT INTO outlet (enterprise_id, name, source_type) VALUES (?, ?, ?)"
                   " RETURNING id", [eid, r["name"], r["source_type"]])
    else:
        oid = int(hit[0])
        con.execute("UPDATE outlet SET source_type = ? WHERE id = ?", [r["source_type"], oid])
    con.execute("DELETE FROM production_line_outlet WHERE outlet_id = ?", [oid])
    if r["line"]:
        lid = con.execute("SELECT id FROM production_line WHERE enterprise_id = ? AND name = ?",
                          [eid, r["line"]]).fetchone()
        if lid is None:
            lid = (_one(con, "INSERT INTO production_line (enterprise_id, name) VALUES (?, ?)"
                         " RETURNING id", [eid, r["line"]]),)
        con.execute("INSERT INTO production_line_outlet VALUES (?, ?)", [lid[0], oid])


def _outlet_id(con: duckdb.DuckDBPyConnection, credit_code: str, name: str) -> int:
    return _one(con, "SELECT o.id FROM outlet o JOIN enterprise e ON e.id = o.enterprise_id"
                " WHERE e.credit_code = ? AND o.name = ?", [credit_code, name])


def _point(con: duckdb.DuckDBPyConnection, r: dict[str, Any]) -> None:
    oid = _outlet_id(con, r["credit_code"], r["outlet"])
    hit = con.execute("SELECT mn FROM monitoring_point WHERE mn = ?", [r["mn"]]).fetchone()
    if hit is None:
        con.execute("INSERT INTO monitoring_point (mn, password, outlet_id, parameters)"
                    " VALUES (?, ?, ?, ?)", [r["mn"], r["password"], oid, r["parameters"]])
    else:
        con.execute("UPDATE monitoring_point SET outlet_id = ?, parameters = ?,"
                    " password = coalesce(?, password) WHERE mn = ?",
                    [oid, r["parameters"], r["password"], r["mn"]])


def _permit_limit(con: duckdb.DuckDBPyConnection, r: dict[str, Any], day: dt.date) -> None:
    eid = _enterprise_id(con, r["credit_code"])
    key = [eid, r["outlet"], r["pollutant"]]
    con.execute("UPDATE permit_limit SET valid_to = ? WHERE enterprise_id = ? AND outlet = ?"
                " AND pollutant = ? AND valid_to IS NULL", [day - dt.timedelta(days=1), *key])
    con.execute("INSERT INTO permit_limit (enterprise_id, outlet, pollutant, limit_mg_m3, basis,"
                " valid_from, permit_no) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [*key, r["limit_mg_m3"], r["basis"] or "permit", day, r["permit_no"]])


def _permit_allowance(con: duckdb.DuckDBPyConnection, r: dict[str, Any], day: dt.date) -> None:
    eid = _enterprise_id(con, r["credit_code"])
    key = [eid, r["pollutant"], r["year"]]
    con.execute("UPDATE permit_allowance SET valid_to = ? WHERE enterprise_id = ?"
                " AND pollutant = ? AND year = ? AND valid_to IS NULL",
                [day - dt.timedelta(days=1), *key])
    con.execute("INSERT INTO permit_allowance (enterprise_id, pollutant, year, allowance_t,"
                " valid_from, permit_no) VALUES (?, ?, ?, ?, ?, ?)",
                [*key, r["allowance_t"], day, r["permit_no"]])


def entity_key(entity: str, r: dict[str, Any]) -> str:
    """Return the natural key of a record (see :mod:`lantian.ledger.history`)."""
    parts = {"enterprise": ("credit_code",), "line": ("credit_code", "name"),
             "outlet": ("credit_code", "name"), "monitoring_point": ("mn",),
             "permit_limit": ("credit_code", "outlet", "pollutant"),
             "permit_allowance": ("credit_code", "pollutant", "year")}[entity]
    return "|".join(str(r[p]) for p in parts)


def apply_record(con: duckdb.DuckDBPyConnection, entity: str, r: dict[str, Any],
                 day: dt.date, who: str) -> bool:
    """Version one record and update the current table; return False when unchanged."""
    attrs = {k: v for k, v in r.items() if k != "password"}
    if not record_version(con, entity, entity_key(entity, r), attrs, day, who, "import"):
        return False
    if entity in ("permit_limit", "permit_allowance"):
        (_permit_limit if entity == "permit_limit" else _permit_allowance)(con, r, day)
    else:
        {"enterprise": _enterprise, "line": _line, "outlet": _outlet,
         "monitoring_point": _point}[entity](con, r)
    return True
