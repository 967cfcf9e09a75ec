"""The limit catalogue (限值目录): emission limits as data, validated on load.

Each row of ``data/limits.csv`` is one limit: sector, source type, pollutant, limit
[mg/m³, dry standard state], reference O2 [%] (empty = judged on the measured
concentration), averaging period, basis (``ule`` 超低排放 / ``national_standard`` 国家标准 /
``local_standard`` 地方标准 / ``permit`` 排污许可), variant (``new``/``existing``/``special``
or empty), jurisdiction (``CN`` national, ``CN-43`` a provincial layer), effective from/to
(both inclusive, China Standard Time dates; empty ``effective_to`` = still in force), source
document, clause and confidence tag (``V`` verified, ``P`` partly verified, ``U`` unverified,
as in ``reference/regulations.md``).

Rows are loaded into frozen pydantic models that reject unknown fields; two rows with the
same key (source type, pollutant, basis, variant, jurisdiction, averaging) whose effective
periods overlap are an error (:class:`~lantian.errors.CatalogError`).

Which limit applies to a point (:func:`applicable_limits`), per pollutant:

1. only rows in force on the date, for the point's source type;
2. the point's provincial layer (its ``jurisdiction``) replaces the national rows of the same
   pollutant; points without a jurisdiction use the national rows;
3. within a layer, basis ``ule`` before ``local_standard`` before ``national_standard``;
4. among variants (new/existing/special) the strictest (lowest) limit — a permit limit of
   the outlet, when registered, gives the plant's own limit and overrides (or adds) it.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lantian.errors import CatalogError

__all__ = [
    "POLLUTANTS",
    "LimitRow",
    "applicable_limits",
    "load_limits",
    "merge_permits",
    "select_limits",
]

#: Pollutant keys the ULE assessment knows (glossary keys).
POLLUTANTS: tuple[str, ...] = ("pm", "so2", "nox", "nh3", "nmhc", "co")

Basis = Literal["ule", "national_standard", "local_standard", "permit"]
_BASIS_RANK = {"permit": 0, "ule": 1, "local_standard": 2, "national_standard": 3}


class LimitRow(BaseModel):
    """One catalogue limit (frozen; unknown fields rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    sector: str = Field(min_length=1)
    source_type: str = Field(min_length=1)
    pollutant: str
    limit_mg_m3: float = Field(gt=0)
    o2_ref_pct: float | None = Field(default=None, ge=0, lt=21)
    averaging: Literal["hour", "day"]
    basis: Basis
    variant: str = ""
    jurisdiction: str = Field(pattern=r"^CN(-\d{2})?$")
    effective_from: dt.date
    effective_to: dt.date | None = None
    source_document: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    confidence: Literal["V", "P", "U"]
    note: str = ""

    @field_validator("o2_ref_pct", "effective_to", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("pollutant")
    @classmethod
    def _known_pollutant(cls, v: str) -> str:
        if v not in POLLUTANTS:
            raise ValueError(f"unknown pollutant {v!r} (known: {', '.join(POLLUTANTS)})")
        return v

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """Rows with equal keys must not overlap in time."""
        return (
            self.source_type,
            self.pollutant,
            self.basis,
            self.variant,
            self.jurisdiction,
            self.averaging,
        )

    def in_force(self, on: dt.date) -> bool:
        """Whether the row applies on ``on`` (both ends inclusive)."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


def _check_overlaps(rows: Sequence[LimitRow]) -> None:
    by_key: dict[tuple[str, ...], list[LimitRow]] = defaultdict(list)
    for r in rows:
        if r.effective_to is not None and r.effective_to < r.effective_from:
            raise CatalogError(f"limit {r.id}: effective_to before effective_from")
        by_key[r.key].append(r)
    for group in by_key.values():
        group.sort(key=lambda r: r.effective_from)
        for a, b in itertools.pairwise(group):
            if a.effective_to is None or a.effective_to >= b.effective_from:
                raise CatalogError(
                    f"limits {a.id} and {b.id} overlap in time for "
                    f"{b.source_type}/{b.pollutant}/{b.basis}/{b.jurisdiction}"
                )


def parse_rows(records: Iterable[dict[str, str]], origin: str = "limits") -> tuple[LimitRow, ...]:
    """Validate raw records (dicts of strings) into :class:`LimitRow` objects.

    Raises
    ------
    CatalogError
        Unknown or missing fields, bad values, duplicate ids, overlapping periods.

    """
    rows: list[LimitRow] = []
    seen: set[str] = set()
    for i, rec in enumerate(records, start=2):
        if None in rec:
            raise CatalogError(f"{origin} line {i}: more values than columns")
        try:
            row = LimitRow.model_validate(rec)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise CatalogError(f"{origin} line {i}: field {field!r}: {err['msg']}") from exc
        if row.id in seen:
            raise CatalogError(f"{origin} line {i}: duplicate id {row.id!r}")
        seen.add(row.id)
        rows.append(row)
    _check_overlaps(rows)
    return tuple(rows)


def read_limits(path: Path) -> tuple[LimitRow, ...]:
    """Read and validate one limits CSV file."""
    with path.open(encoding="utf-8", newline="") as f:
        return parse_rows(csv.DictReader(f), origin=path.name)


@cache
def load_limits() -> tuple[LimitRow, ...]:
    """Load the packaged catalogue (``catalog/data/limits.csv``), validated once."""
    res = resources.files("lantian.catalog").joinpath("data", "limits.csv")
    with resources.as_file(res) as path:
        return read_limits(Path(path))


def select_limits(
    rows: Sequence[LimitRow] | None = None,
    *,
    sector: str | None = None,
    source_type: str | None = None,
    on: dt.date | None = None,
    jurisdiction: str | None = None,
) -> list[LimitRow]:
    """Filter catalogue rows (every argument optional); used by ``lantian catalog show``."""
    rows = load_limits() if rows is None else rows
    out = []
    for r in rows:
        if sector is not None and r.sector != sector:
            continue
        if source_type is not None and r.source_type != source_type:
            continue
        if on is not None and not r.in_force(on):
            continue
        if jurisdiction is not None and r.jurisdiction not in ("CN", jurisdiction):
            continue
        out.append(r)
    return out


def applicable_limits(
    source_type: str | None,
    on: dt.date,
    jurisdiction: str | None = None,
    rows: Sequence[LimitRow] | None = None,
) -> dict[str, LimitRow]:
    """Return the limit of each pollutant for a point of ``source_type`` on date ``on``.

    Rules in the module docstring (provincial layer first, then basis ULE > local >
    national, then the strictest variant).
    """
    if not source_type:
        return {}
    cand = [
        r
        for r in select_limits(rows, source_type=source_type, on=on)
        if r.averaging == "hour" and r.jurisdiction in ("CN", jurisdiction or "CN")
    ]
    best: dict[str, LimitRow] = {}
    for r in cand:
        rank = (
            0 if r.jurisdiction != "CN" else 1,
            _BASIS_RANK[r.basis],
            r.limit_mg_m3,
        )
        cur = best.get(r.pollutant)
        if cur is None or rank < (
            0 if cur.jurisdiction != "CN" else 1,
            _BASIS_RANK[cur.basis],
            cur.limit_mg_m3,
        ):
            best[r.pollutant] = r
    return best


def merge_permits(limits: dict[str, LimitRow], permits: Iterable[LimitRow]) -> dict[str, LimitRow]:
    """Let permit limits (basis ``permit``) override their pollutant's limit or add one."""
    out = dict(limits)
    for p in permits:
        out[p.pollutant] = p
    return out
