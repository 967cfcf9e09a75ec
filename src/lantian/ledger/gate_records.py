"""Gate records (门禁/地磅记录) of material movements: read from CSV or Excel, store.

File layout (header row, UTF-8 CSV or the first sheet of an ``.xlsx``)::

    enterprise,time,plate,direction,mode,material,tonnes,emission_stage,fuel

- ``time``: ``YYYY-MM-DD HH:MM:SS``, China Standard Time;
- ``direction``: ``in`` or ``out`` (进/出 accepted);
- ``mode``: ``road``, ``rail``, ``water``, ``pipe`` or ``belt``;
- ``tonnes``: mass moved [t], ≥ 0;
- ``plate`` and ``emission_stage``: required for road trips, may be empty otherwise
  (``China V``, ``China VI``, ``NEV`` …, see :func:`lantian.ledger.vehicles.parse_stage`);
  a new-energy ``fuel`` (electric, hydrogen) with an empty stage counts as ``NEV``.

An optional ``vehicle_type`` column (heavy truck, tanker …) is kept when present.

A file is all-or-nothing: every row is checked first, the first bad row is reported by row
number (header = row 1) and column, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from lantian.errors import InputFileError
from lantian.ledger._data import transaction
from lantian.ledger._tabular import cell_text, ensure_enterprises, iter_rows, stage_and_fuel

__all__ = ["COLUMNS", "MODES", "GateRecord", "read_gate_records", "store_gate_records"]

COLUMNS = ("enterprise", "time", "plate", "direction", "mode", "material", "tonnes",
           "emission_stage", "fuel")
MODES = ("road", "rail", "water", "pipe", "belt")
_DIRECTIONS = {"in": "in", "out": "out", "inbound": "in", "outbound": "out", "进": "in",
               "进厂": "in", "出": "out", "出厂": "out"}


@dataclass(frozen=True)
class GateRecord:
    """One checked gate record."""

    enterprise: str
    time: dt.datetime
    plate: str | None
    direction: str
    mode: str
    material: str | None
    tonnes: Decimal
    emission_stage: str | None
    fuel: str | None
    row: int
    vehicle_type: str | None = None


def _parse_row(name: str, i: int, row: dict[str, Any]) -> GateRecord:
    def bad(col: str, why: str) -> InputFileError:
        return InputFileError(f"{name} row {i} column {col}: {why}")

    enterprise = cell_text(row.get("enterprise"))
    if not enterprise:
        raise bad("enterprise", "empty")
    t = row.get("time")
    if isinstance(t, dt.datetime):
        time = t.replace(tzinfo=None, microsecond=0)
    else:
        try:
            time = dt.datetime.strptime(cell_text(t), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise bad("time", f"{cell_text(t)!r} is not YYYY-MM-DD HH:MM:SS (CST)") from None
    direction = _DIRECTIONS.get(cell_text(row.get("direction")).lower())
    if direction is None:
        raise bad("direction", f"{cell_text(row.get('direction'))!r} is not in/out")
    mode = cell_text(row.get("mode")).lower()
    if mode not in MODES:
        raise bad("mode", f"{mode!r} is not one of {' '.join(MODES)}")
    try:
        tonnes = Decimal(cell_text(row.get("tonnes")))
    except InvalidOperation:
        raise bad("tonnes", f"{cell_text(row.get('tonnes'))!r} is not a number") from None
    if not tonnes.is_finite() or tonnes < 0:
        raise bad("tonnes", "must be a number ≥ 0")
    stage, fuel = stage_and_fuel(row, bad)
    plate = cell_text(row.get("plate")) or None
    if mode == "road":
        if plate is None:
            raise bad("plate", "empty for a road trip")
        if stage is None:
            raise bad("emission_stage", "empty for a road trip")
    return GateRecord(enterprise, time, plate, direction, mode,
                      cell_text(row.get("material")) or None, tonnes, stage, fuel, i,
                      cell_text(row.get("vehicle_type")) or None)


def read_gate_records(path: str | Path) -> list[GateRecord]:
    """Read and check every row of a gate-record file (CSV or ``.xlsx``).

    Raises
    ------
    InputFileError
        At the first bad row, naming the row (header = 1) and the column.

    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    return [_parse_row(path.name, i, row) for i, row in iter_rows(path, COLUMNS)]


def store_gate_records(
    con: duckdb.DuckDBPyConnection, records: list[GateRecord], source: str
) -> tuple[int, list[str]]:
    """Insert checked records in one transaction; return (rows stored, enterprises added).

    An enterprise not yet in the registry is added by name (``enterprise`` table).
    """
    with transaction(con):
        ids, added = ensure_enterprises(con, (r.enterprise for r in records))
        table = pa.table({
            "enterprise_id": pa.array([ids[r.enterprise] for r in records], pa.int64()),
            "ts": pa.array([r.time for r in records], pa.timestamp("us")),
            "plate": [r.plate for r in records],
            "direction": [r.direction for r in records],
            "mode": [r.mode for r in records],
            "material": [r.material for r in records],
            "tonnes": pa.array([r.tonnes for r in records], pa.decimal128(18, 3)),
            "emission_stage": [r.emission_stage for r in records],
            "fuel": [r.fuel for r in records],
            "source": [f"{source}:{r.row}" for r in records],
            "vehicle_type": pa.array([r.vehicle_type for r in records], pa.string()),
        })
        con.register("_gate_rows", table)
        try:
            con.execute("INSERT INTO gate_record (enterprise_id, ts, plate, direction, mode,"
                        " material, tonnes, emission_stage, fuel, source, vehicle_type)"
                        " SELECT * FROM _gate_rows")
        finally:
            con.unregister("_gate_rows")
    return len(records), added
