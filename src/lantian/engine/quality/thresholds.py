"""Quality-control thresholds read from ``catalog/data/qc_thresholds.csv``.

Every threshold of the detectors lives in that file with a note on where it comes from;
code never hard-codes one. A row's ``scope`` is ``*`` (every point) or a source type
(``cement_kiln`` …) that overrides ``*`` for points of that type.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lantian.errors import CatalogError

__all__ = ["Threshold", "Thresholds", "load_thresholds"]

_FIELDS = ("detector", "name", "scope", "value", "unit", "source", "note")


@dataclass(frozen=True)
class Threshold:
    """One row of the threshold file."""

    detector: str
    name: str
    scope: str
    value: float
    unit: str
    source: str
    note: str


@dataclass(frozen=True)
class Thresholds:
    """All thresholds, looked up by detector, name and optionally source type."""

    rows: tuple[Threshold, ...]

    def get(self, detector: str, name: str, scope: str = "*") -> float:
        """Value for ``scope`` if the file has one, else the ``*`` row.

        Raises
        ------
        CatalogError
            When neither row exists.

        """
        fallback = None
        for row in self.rows:
            if row.detector == detector and row.name == name:
                if row.scope == scope:
                    return row.value
                if row.scope == "*":
                    fallback = row.value
        if fallback is None:
            raise CatalogError(f"qc threshold {detector}.{name} missing from qc_thresholds.csv")
        return fallback

    def scoped(self, detector: str, name: str) -> dict[str, float]:
        """Every source-type specific value of one threshold (``*`` excluded)."""
        return {
            r.scope: r.value
            for r in self.rows
            if r.detector == detector and r.name == name and r.scope != "*"
        }

    def with_value(self, detector: str, name: str, value: float) -> Thresholds:
        """Return a copy with the ``*`` row of one threshold replaced (what-if runs, tests)."""
        rows = tuple(
            Threshold(r.detector, r.name, r.scope, value, r.unit, r.source, r.note)
            if (r.detector, r.name, r.scope) == (detector, name, "*")
            else r
            for r in self.rows
        )
        return Thresholds(rows)


def _read(text: str, where: str) -> Thresholds:
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != _FIELDS:
        raise CatalogError(f"{where}: header must be {','.join(_FIELDS)}")
    rows = []
    for i, raw in enumerate(reader, start=2):
        try:
            value = float(raw["value"])
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"{where} row {i}: value {raw['value']!r} is not a number") from exc
        if not raw["source"]:
            raise CatalogError(f"{where} row {i}: every threshold needs its source")
        rows.append(
            Threshold(raw["detector"], raw["name"], raw["scope"] or "*", value,
                      raw["unit"], raw["source"], raw["note"])
        )
    return Thresholds(tuple(rows))


@lru_cache(maxsize=4)
def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read the threshold file (the packaged one when ``path`` is None)."""
    if path is None:
        res = resources.files("lantian.catalog").joinpath("data/qc_thresholds.csv")
        return _read(res.read_text("utf-8"), "qc_thresholds.csv")
    p = Path(path)
    return _read(p.read_text("utf-8"), str(p))
