"""Air-quality catalogue: AQI breakpoints, levels, GB 3095 limits, composite S_i, validity.

Every number the air-quality engine uses comes from the CSV files below; each row carries
its source document, clause, effective dates and confidence (``verified``,
``partly_verified`` or ``unverified`` — the 2026 numbers not read from an official text are
marked ``unverified``).

=========================  ===============================================================
``aqi_versions.csv``       HJ 633 versions and the dates they apply (2012 before
                           2026-03-01, 2026 from then on)
``aqi_breakpoints.csv``    IAQI breakpoints per version and item (``so2_24h``, ``o3_8h``…)
``aqi_overflow.csv``       what to do above the top of a 1-h/8-h column (fall back or cap)
``aqi_levels.csv``         AQI levels 1–6 with category, colour, good-day / heavy flags
``gb3095_limits.csv``      GB 3095-2012 / -2026 concentration limits
``gb3095_composite.csv``   S_i, statistic and weight of the composite index
``gb3095_validity.csv``    minimum counts of HJ 663 / GB 3095 Table 4
=========================  ===============================================================

Items and pollutant keys: ``so2 no2 pm10 pm2_5 co o3``; units µg/m³, CO mg/m³.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from itertools import pairwise

from lantian.errors import CatalogError, ConfigurationError

__all__ = [
    "POLLUTANTS",
    "AqiLevel",
    "Breakpoints",
    "CompositeItem",
    "Overflow",
    "aqi_version_for",
    "aqi_versions",
    "breakpoints",
    "composite_items",
    "gb3095_limit",
    "gb3095_periods",
    "level_for",
    "levels",
    "overflow",
    "reports_exceeding",
    "validity",
]

#: Pollutant keys in the order HJ 633 lists them (also the order of primary-pollutant ties).
POLLUTANTS: tuple[str, ...] = ("so2", "no2", "pm10", "co", "o3", "pm2_5")


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("lantian.catalog").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Breakpoints:
    """One IAQI column: concentrations [µg/m³, CO mg/m³] at IAQI 0, 50, 100, …."""

    version: str
    item: str
    iaqi: tuple[int, ...]
    concentration: tuple[Decimal, ...]
    unit: str
    confidence: tuple[str, ...]


@dataclass(frozen=True)
class Overflow:
    """Rule above the top breakpoint of a column (HJ 633 Table 1 notes)."""

    version: str
    item: str
    above: Decimal
    action: str  # "fallback" or "cap"
    fallback_item: str | None
    cap_iaqi: int | None


@dataclass(frozen=True)
class AqiLevel:
    """An AQI level (HJ 633 Table 2)."""

    level: int
    aqi_low: int
    aqi_high: int | None
    level_zh: str
    category_zh: str
    category_en: str
    colour: str
    rgb: tuple[int, int, int]
    good_day: bool
    heavy_pollution: bool


@dataclass(frozen=True)
class CompositeItem:
    """One term of the composite index: C_i statistic, S_i and weight."""

    standard: str
    pollutant: str
    statistic: str  # mean, p95, p90
    s: Decimal
    unit: str
    decimals: int  # reporting precision of C_i
    weight: Decimal
    confidence: str


@cache
def aqi_versions() -> tuple[tuple[str, dt.date, dt.date | None], ...]:
    """Return ``(version, effective_from, effective_to)`` of each HJ 633 version."""
    out = []
    for r in _rows("aqi_versions.csv"):
        start = _date(r["effective_from"])
        if start is None:
            raise CatalogError(f"aqi_versions.csv: version {r['version']} has no start date")
        out.append((r["version"], start, _date(r["effective_to"])))
    return tuple(out)


def reports_exceeding(version: str) -> bool:
    """Whether HJ 633-``version`` names exceeding pollutants (超标污染物, IAQI > 100).

    HJ 633-2012 §6 does; HJ 633-2026 reportedly drops the concept (``aqi_versions.csv``).
    """
    for r in _rows("aqi_versions.csv"):
        if r["version"] == version:
            return r["exceeding_pollutants"] == "true"
    raise ConfigurationError(f"unknown AQI version {version!r}")


def aqi_version_for(day: dt.date) -> str:
    """Return the HJ 633 version in force on ``day`` (China Standard Time date).

    Dates before the first version's start use the first version (HJ 633-2012 is applied to
    older archives too).
    """
    versions = aqi_versions()
    for version, start, end in versions:
        if start <= day and (end is None or day <= end):
            return version
    return versions[0][0]


@cache
def _breakpoint_table() -> dict[tuple[str, str], Breakpoints]:
    grouped: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in _rows("aqi_breakpoints.csv"):
        grouped.setdefault((r["version"], r["item"]), []).append(r)
    out = {}
    for key, rows in grouped.items():
        rows.sort(key=lambda r: int(r["iaqi"]))
        conc = tuple(Decimal(r["concentration"]) for r in rows)
        if any(b <= a for a, b in pairwise(conc)):
            raise CatalogError(f"aqi_breakpoints.csv: {key} is not increasing")
        out[key] = Breakpoints(
            version=key[0],
            item=key[1],
            iaqi=tuple(int(r["iaqi"]) for r in rows),
            concentration=conc,
            unit=rows[0]["unit"],
            confidence=tuple(r["confidence"] for r in rows),
        )
    return out


def breakpoints(version: str, item: str) -> Breakpoints:
    """Return the IAQI column ``item`` (e.g. ``"so2_24h"``) of HJ 633 ``version``."""
    try:
        return _breakpoint_table()[(version, item)]
    except KeyError:
        raise ConfigurationError(
            f"no AQI breakpoints for version {version!r} item {item!r}"
        ) from None


@cache
def _overflow_table() -> dict[tuple[str, str], Overflow]:
    return {
        (r["version"], r["item"]): Overflow(
            version=r["version"],
            item=r["item"],
            above=Decimal(r["above"]),
            action=r["action"],
            fallback_item=r["fallback_item"] or None,
            cap_iaqi=int(r["cap_iaqi"]) if r["cap_iaqi"] else None,
        )
        for r in _rows("aqi_overflow.csv")
    }


def overflow(version: str, item: str) -> Overflow | None:
    """Return the rule above the top of column ``item``, or None when the column is complete."""
    return _overflow_table().get((version, item))


@cache
def levels() -> tuple[AqiLevel, ...]:
    """Return the six AQI levels in order."""
    out = []
    for r in _rows("aqi_levels.csv"):
        rgb = tuple(int(x) for x in r["rgb"].split(";"))
        if len(rgb) != 3:
            raise CatalogError(f"aqi_levels.csv: bad rgb {r['rgb']!r}")
        out.append(
            AqiLevel(
                level=int(r["level"]),
                aqi_low=int(r["aqi_low"]),
                aqi_high=int(r["aqi_high"]) if r["aqi_high"] else None,
                level_zh=r["level_zh"],
                category_zh=r["category_zh"],
                category_en=r["category_en"],
                colour=r["colour"],
                rgb=(rgb[0], rgb[1], rgb[2]),
                good_day=r["good_day"] == "true",
                heavy_pollution=r["heavy_pollution"] == "true",
            )
        )
    return tuple(out)


def level_for(aqi: int) -> AqiLevel:
    """Return the level of an (integer) AQI."""
    for lv in levels():
        if aqi >= lv.aqi_low and (lv.aqi_high is None or aqi <= lv.aqi_high):
            return lv
    raise ConfigurationError(f"AQI {aqi} is outside every level")


@cache
def _limits() -> tuple[dict[str, str], ...]:
    return tuple(_rows("gb3095_limits.csv"))


def gb3095_limit(pollutant: str, period: str, day: dt.date, grade: int = 2) -> Decimal:
    """Return the GB 3095 limit in force on ``day`` [µg/m³, CO mg/m³].

    ``period`` is ``annual``, ``24h``, ``1h`` or ``max8h``.
    """
    for r in _limits():
        if r["pollutant"] != pollutant or r["period"] != period or int(r["grade"]) != grade:
            continue
        start, end = _date(r["effective_from"]), _date(r["effective_to"])
        if start is not None and day < start:
            continue
        if end is not None and day > end:
            continue
        return Decimal(r["limit"])
    # Dates before GB 3095-2012 took effect are judged on it too (historic archives).
    for r in _limits():
        if (r["standard"], r["pollutant"], r["period"], int(r["grade"])) == (
            "2012",
            pollutant,
            period,
            grade,
        ) and day < dt.date(2016, 1, 1):
            return Decimal(r["limit"])
    raise ConfigurationError(f"no GB 3095 limit for {pollutant} {period} grade {grade} on {day}")


def gb3095_periods(pollutant: str, period: str, grade: int = 2) -> tuple[dt.date, ...]:
    """Return the dates from which the limit of ``pollutant``/``period`` may change."""
    starts = {
        d
        for r in _limits()
        if r["pollutant"] == pollutant and r["period"] == period and int(r["grade"]) == grade
        for d in (_date(r["effective_from"]),)
        if d is not None
    }
    return tuple(sorted(starts))


@cache
def composite_items(standard: str = "2012") -> tuple[CompositeItem, ...]:
    """Return the six terms of the composite index under GB 3095-``standard``."""
    items = tuple(
        CompositeItem(
            standard=r["standard"],
            pollutant=r["pollutant"],
            statistic=r["statistic"],
            s=Decimal(r["s"]),
            unit=r["unit"],
            decimals=int(r["decimals"]),
            weight=Decimal(r["weight"]),
            confidence=r["confidence"],
        )
        for r in _rows("gb3095_composite.csv")
        if r["standard"] == standard
    )
    if not items:
        raise ConfigurationError(f"no composite-index terms for standard {standard!r}")
    return items


@cache
def validity() -> dict[str, int]:
    """Return the minimum counts of HJ 663 / GB 3095 Table 4 by statistic name."""
    return {r["statistic"]: int(r["min_count"]) for r in _rows("gb3095_validity.csv")}
