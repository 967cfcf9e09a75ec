"""Assessment rule constants as data (``assessment_rules.csv``, ``production_status.csv``).

Thresholds of the HJ 75 / ULE rules (45 valid minutes, 95 % of production hours, the
substitution windows, the default stop-flow share) are read from data files with their
source and confidence, never hard-coded in the engine.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from lantian.errors import CatalogError

__all__ = ["rule", "stop_status_values"]


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("lantian.catalog").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def _rules() -> dict[str, float]:
    out: dict[str, float] = {}
    for rec in _read("assessment_rules.csv"):
        try:
            out[rec["key"]] = float(rec["value"])
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"assessment_rules.csv: bad row {rec!r}") from exc
    return out


def rule(key: str) -> float:
    """Value of one assessment rule constant (unit in the data file)."""
    try:
        return _rules()[key]
    except KeyError as exc:
        raise CatalogError(f"assessment rule {key!r} missing from assessment_rules.csv") from exc


@cache
def stop_status_values(code: str = "i12001") -> tuple[int, ...]:
    """Values of an HJ 212 status item (e.g. ``i12001``) taken as evidence the source stopped."""
    return tuple(
        int(r["value"])
        for r in _read("production_status.csv")
        if r["code"] == code and r["stop_evidence"].strip().lower() == "true"
    )
