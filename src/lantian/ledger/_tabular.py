"""Helpers shared by the ledger file readers (private): rows of CSV/Excel, cells, names."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from lantian.errors import InputFileError, StoreError
from lantian.ledger.vehicles import NEV, is_nev_fuel, parse_stage

__all__ = ["cell_text", "ensure_enterprises", "iter_rows", "stage_and_fuel"]


def iter_rows(path: Path, columns: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, {column: value}) of a CSV (UTF-8) or the first ``.xlsx`` sheet.

    Row 1 is the header; blank rows are skipped. Raises :class:`InputFileError` when a
    column of ``columns`` is missing from the header.
    """
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            it = wb.worksheets[0].iter_rows(values_only=True)
            header = [str(h).strip() if h is not None else "" for h in next(it, ())]
            _check_header(path, header, columns)
            for i, values in enumerate(it, start=2):
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield i, dict(zip(header, values, strict=False))
        finally:
            wb.close()
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        _check_header(path, [h.strip() for h in reader.fieldnames or []], columns)
        for i, row in enumerate(reader, start=2):
            if all((v or "").strip() == "" for v in row.values() if isinstance(v, str)):
                continue
            yield i, {k.strip(): v for k, v in row.items() if k is not None}


def _check_header(path: Path, header: list[str], columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputFileError(f"{path.name} row 1: missing column(s) {', '.join(missing)}")


def cell_text(value: Any) -> str:
    """Return a cell as stripped text ('' for empty)."""
    return "" if value is None else str(value).strip()


def stage_and_fuel(
    row: dict[str, Any], bad: Callable[[str, str], InputFileError]
) -> tuple[str | None, str | None]:
    """Read ``emission_stage`` and ``fuel``; a new-energy fuel with no stage means ``NEV``."""
    fuel = cell_text(row.get("fuel")) or None
    try:
        stage = parse_stage(cell_text(row.get("emission_stage")))
    except ValueError as exc:
        raise bad("emission_stage", str(exc)) from None
    if stage is None and is_nev_fuel(fuel):
        stage = NEV
    return stage, fuel


def ensure_enterprises(
    con: duckdb.DuckDBPyConnection, names: Iterable[str]
) -> tuple[dict[str, int], list[str]]:
    """Return ({name: enterprise id}, names added); unknown names are added to the registry.

    Call inside the caller's transaction.
    """
    ids: dict[str, int] = {}
    added: list[str] = []
    for name in sorted(set(names)):
        hit = con.execute("SELECT id FROM enterprise WHERE name = ?", [name]).fetchone()
        if hit is None:
            hit = con.execute(
                "INSERT INTO enterprise (name) VALUES (?) RETURNING id", [name]
            ).fetchone()
            added.append(name)
        if hit is None:
            raise StoreError(f"could not add enterprise {name!r}")
        ids[name] = int(hit[0])
    return ids, added
