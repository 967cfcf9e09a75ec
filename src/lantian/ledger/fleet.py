"""In-plant vehicles (厂内车辆) and non-road mobile machinery (非道路移动机械) registries.

File layout (CSV or first ``.xlsx`` sheet, header row)::

    enterprise,category,ident,kind,emission_stage,fuel,power_kw,made_on

``category`` is ``in_plant_vehicle`` or ``non_road_machinery``; ``ident`` the plate or the
machinery registration code; ``made_on`` the production / first-registration date
(``YYYY-MM-DD``). Checks by date (:func:`fleet_findings`):

- a machine made on or after a ``new_non_road`` rule date must meet that stage
  (Stage IV from 2022-12-01, HJ 1014-2020);
- an in-plant vehicle made on or after a ``new_heavy_diesel`` date must meet it
  (China VI from 2021-07-01, GB 17691-2018);
- in-plant vehicles must meet ``in_plant_vehicle`` on the day of the check (coking:
  China VI allowed until end-2025, then new-energy).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lantian.errors import ConfigurationError, InputFileError
from lantian.ledger._data import transaction
from lantian.ledger._tabular import cell_text, ensure_enterprises, iter_rows, stage_and_fuel
from lantian.ledger.vehicles import meets, required_stage

__all__ = ["FleetItem", "fleet_findings", "read_fleet", "store_fleet"]

CATEGORIES = ("in_plant_vehicle", "non_road_machinery")
_FLEET_COLUMNS = ("enterprise", "category", "ident", "kind", "emission_stage", "fuel",
                  "power_kw", "made_on")


@dataclass(frozen=True)
class FleetItem:
    """One registered vehicle or machine."""

    enterprise: str
    category: str
    ident: str
    kind: str | None
    emission_stage: str | None
    fuel: str | None
    power_kw: float | None
    made_on: dt.date | None


def _parse(name: str, i: int, row: dict[str, object]) -> FleetItem:
    def bad(col: str, why: str) -> InputFileError:
        return InputFileError(f"{name} row {i} column {col}: {why}")

    ent, cat, ident = (cell_text(row.get(c)) for c in ("enterprise", "category", "ident"))
    if not ent:
        raise bad("enterprise", "empty")
    if cat not in CATEGORIES:
        raise bad("category", f"{cat!r} is not {' or '.join(CATEGORIES)}")
    if not ident:
        raise bad("ident", "empty")
    stage, fuel = stage_and_fuel(row, bad)
    power = cell_text(row.get("power_kw"))
    try:
        power_kw = float(power) if power else None
    except ValueError:
        raise bad("power_kw", f"{power!r} is not a number") from None
    made = row.get("made_on")
    made_on: dt.date | None
    if isinstance(made, dt.datetime):
        made_on = made.date()
    elif isinstance(made, dt.date):
        made_on = made
    else:
        try:
            made_on = dt.date.fromisoformat(cell_text(made)) if cell_text(made) else None
        except ValueError:
            raise bad("made_on", f"{cell_text(made)!r} is not YYYY-MM-DD") from None
    return FleetItem(ent, cat, ident, cell_text(row.get("kind")) or None, stage, fuel, power_kw,
                     made_on)


def read_fleet(path: str | Path) -> list[FleetItem]:
    """Read and check a vehicle/machinery file; :class:`InputFileError` names row and column."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    out = []
    for i, row in iter_rows(path, _FLEET_COLUMNS):
        out.append(_parse(path.name, i, row))
    return out


def store_fleet(con: duckdb.DuckDBPyConnection, items: list[FleetItem]) -> tuple[int, list[str]]:
    """Insert or replace the items in one transaction; return (rows, enterprises added)."""
    with transaction(con):
        ids, added = ensure_enterprises(con, (it.enterprise for it in items))
        for it in items:
            con.execute(
                "INSERT OR REPLACE INTO plant_vehicle (enterprise_id, category, ident, kind,"
                " emission_stage, fuel, power_kw, made_on) VALUES (?,?,?,?,?,?,?,?)",
                [ids[it.enterprise], it.category, it.ident, it.kind, it.emission_stage,
                 it.fuel, it.power_kw, it.made_on],
            )
    return len(items), added


def _rule_finding(rule: str, stage: str | None, day: dt.date | None) -> str | None:
    if day is None:
        return None
    try:
        r = required_stage(rule, day)
    except ConfigurationError:
        return None
    if meets(stage, r.min_stage):
        return None
    return (f"{stage or 'unknown stage'} below {r.min_stage} required by {rule} on "
            f"{day.isoformat()} ({r.source})")


def fleet_findings(item: FleetItem, on: dt.date) -> list[str]:
    """Stage-rule findings for one vehicle or machine, checked on ``on`` (empty = compliant)."""
    found: list[str | None] = []
    if item.category == "non_road_machinery":
        found.append(_rule_finding("new_non_road", item.emission_stage, item.made_on))
    else:
        found.append(_rule_finding("new_heavy_diesel", item.emission_stage, item.made_on))
        found.append(_rule_finding("in_plant_vehicle", item.emission_stage, on))
    return [f for f in found if f]
