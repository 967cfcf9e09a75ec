"""Emission stages of vehicles and non-road machinery, and the stage rules by date.

Stages are normalised to one spelling: road vehicles ``China III`` … ``China VI`` (国三…国六;
VI-a and VI-b both count as ``China VI``), non-road machinery ``Stage II`` … ``Stage IV``
(非道路第二…第四阶段), and ``NEV`` (新能源: battery-electric, fuel cell) for both. The rule
table ``catalog/data/vehicle_stages.csv`` says which stage is the least allowed for each
purpose on each date, with its source:

- ``new_heavy_diesel``: China VI for new heavy-duty vehicles from 2021-07-01 (GB 17691-2018);
- ``new_non_road``: Stage IV for ≤560 kW non-road diesel from 2022-12-01 (HJ 1014-2020);
- ``clean_road_haulage``: road haulage of a plant below the clean-transport share
  (环大气〔2019〕35号, 〔2024〕5号);
- ``in_plant_vehicle``: in-plant vehicles of coking plants.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lantian.errors import CatalogError, ConfigurationError
from lantian.ledger._data import parse_date, read_rule_csv

__all__ = [
    "NEV",
    "StageRule",
    "allowed_stages",
    "is_nev_fuel",
    "meets",
    "parse_stage",
    "required_stage",
    "stage_rules",
]

NEV = "NEV"
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "6": "VI",
          "一": "I", "二": "II", "三": "III", "四": "IV", "五": "V", "六": "VI"}
_ORDER = ("I", "II", "III", "IV", "V", "VI")
_NEV_WORDS = ("nev", "新能源", "纯电", "电动", "electric", "bev", "fcev", "氢", "hydrogen",
              "fuel cell", "燃料电池")


def is_nev_fuel(fuel: str | None) -> bool:
    """Whether a fuel text names a new-energy drive (electric, hydrogen fuel cell)."""
    text = (fuel or "").strip().lower()
    return bool(text) and any(w in text for w in _NEV_WORDS)


def parse_stage(text: str | None) -> str | None:
    """Normalise an emission-stage text; ``None`` for empty.

    ``国六``/``国VI``/``China 6``/``China VI-b`` → ``China VI``; ``非道路第四阶段``/
    ``Stage IV``/``T4`` → ``Stage IV``; ``新能源``/``NEV``/``electric`` → ``NEV``.

    Raises
    ------
    ValueError
        When the text names no known stage.

    """
    raw = (text or "").strip()
    if not raw:
        return None
    low = raw.lower()
    if is_nev_fuel(low):
        return NEV
    m = re.fullmatch(
        r"(?:china|国|c)?\s*([1-6一二三四五六]|i{1,3}|iv|vi?)(?:\s*-?\s*[ab])?", low)
    if m:
        num = m.group(1)
        return f"China {_ROMAN.get(num, num.upper())}"
    m = re.fullmatch(
        r"(?:stage|非道路(?:第)?|t)\s*([1-4一二三四]|i{1,3}|iv)(?:\s*阶段)?", low
    )
    if m:
        num = m.group(1)
        return f"Stage {_ROMAN.get(num, num.upper())}"
    raise ValueError(f"unknown emission stage {raw!r} (expected e.g. China V, China VI, NEV)")


def _rank(stage: str) -> tuple[str, int]:
    if stage == NEV:
        return ("*", len(_ORDER))
    family, _, num = stage.partition(" ")
    return (family, _ORDER.index(num))


@dataclass(frozen=True)
class StageRule:
    """Least emission stage allowed for a purpose over a period (one catalogue row)."""

    rule: str
    category: str
    min_stage: str
    effective_from: dt.date
    effective_to: dt.date | None
    note: str
    source: str
    clause: str
    confidence: str

    def applies(self, day: dt.date) -> bool:
        """Whether the rule is in force on ``day``."""
        end = self.effective_to
        return self.effective_from <= day and (end is None or day <= end)


@cache
def _default_rules() -> tuple[StageRule, ...]:
    return _load(None)


def _load(path: Path | None) -> tuple[StageRule, ...]:
    cols = {"rule", "category", "min_stage", "effective_from", "effective_to", "note",
            "source", "clause", "confidence"}
    rows = read_rule_csv("vehicle_stages.csv", cols, path)
    out = []
    for i, r in enumerate(rows, start=2):
        where = f"vehicle_stages.csv row {i}"
        try:
            stage = parse_stage(r["min_stage"])
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}") from exc
        start = parse_date(r["effective_from"], where)
        if stage is None or start is None:
            raise CatalogError(f"{where}: min_stage and effective_from are required")
        out.append(StageRule(r["rule"], r["category"], stage, start,
                             parse_date(r["effective_to"], where), r["note"], r["source"],
                             r["clause"], r["confidence"]))
    return tuple(out)


def stage_rules(path: Path | None = None) -> tuple[StageRule, ...]:
    """All stage rules (the bundled catalogue, or the CSV at ``path``)."""
    return _default_rules() if path is None else _load(path)


def required_stage(
    rule: str, day: dt.date, rules: tuple[StageRule, ...] | None = None
) -> StageRule:
    """Return the rule row of ``rule`` in force on ``day``.

    Raises
    ------
    ConfigurationError
        When no row of that rule covers the day.

    """
    for r in rules or stage_rules():
        if r.rule == rule and r.applies(day):
            return r
    raise ConfigurationError(f"no stage rule {rule!r} in force on {day.isoformat()}")


def meets(stage: str | None, minimum: str) -> bool:
    """Whether ``stage`` is at least ``minimum`` (NEV meets every minimum; None meets none)."""
    if stage is None:
        return False
    have, need = _rank(stage), _rank(minimum)
    if have[0] == "*":
        return True
    if need[0] == "*":
        return False
    return have[0] == need[0] and have[1] >= need[1]


def allowed_stages(
    rule: str, day: dt.date, rules: tuple[StageRule, ...] | None = None
) -> list[str]:
    """Every canonical stage that satisfies ``rule`` on ``day`` (for set tests in queries)."""
    minimum = required_stage(rule, day, rules).min_stage
    family = "Stage" if minimum.startswith("Stage") else "China"
    candidates = [f"{family} {n}" for n in _ORDER] + [NEV]
    return [s for s in candidates if meets(s, minimum)]
