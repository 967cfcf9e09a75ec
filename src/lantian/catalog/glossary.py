"""The field glossary: HJ 212 factor codes mapped onto Lantian's column names.

One table (``data/glossary.csv``) maps each flue-gas factor the platform keeps in its wide
tables onto a glossary key (``so2``), a column name with its unit (``so2_mg_m3``) and the
HJ/T 212-2005 code it replaces. Every reader maps its source's names through this table
only (pvlib's ``VARIABLE_MAP`` idea).

Wide-table columns derived from one entry ``key``/``column``:

==========================  ==========================================================
``<column>``                mean value of the period (``-Avg``), or ``-Rtd`` for real-time
``<key>_min``/``_max``      ``-Min`` / ``-Max`` of the period
``<key>_zs``                the logger's converted value (``-ZsAvg``/``-ZsRtd``), kept
                            for comparison only, never used for a verdict
``<key>_cou``               ``-Cou`` emission amount of the period [amount unit]
``<key>_flag``              ``-Flag`` data flag (N F M S D C T B; HJ 212-2017 Table 8)
==========================  ==========================================================
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "GlossaryEntry",
    "by_code",
    "glossary",
    "wide_columns",
]


@dataclass(frozen=True)
class GlossaryEntry:
    """One flue-gas parameter kept in the wide tables."""

    key: str
    code_2017: str
    code_2005: str | None
    unit: str
    amount_unit: str | None
    column: str
    kind: str
    name_zh: str
    name_en: str
    source: str

    @property
    def has_amount(self) -> bool:
        """Whether the parameter carries an emission amount (``-Cou``)."""
        return self.amount_unit is not None and self.kind in {"concentration", "flow"}

    @property
    def has_zs(self) -> bool:
        """Whether a converted (折算) value can exist: concentrations only."""
        return self.kind == "concentration"


@cache
def glossary() -> tuple[GlossaryEntry, ...]:
    """Return the glossary entries in file order."""
    text = resources.files("lantian.catalog").joinpath("data/glossary.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return tuple(
        GlossaryEntry(
            key=r["key"],
            code_2017=r["code_2017"],
            code_2005=r["code_2005"] or None,
            unit=r["unit"],
            amount_unit=r["amount_unit"] or None,
            column=r["column"],
            kind=r["kind"],
            name_zh=r["name_zh"],
            name_en=r["name_en"],
            source=r["source"],
        )
        for r in rows
    )


@cache
def by_code() -> dict[str, GlossaryEntry]:
    """Map both 2017 and 2005 factor codes to their glossary entry."""
    out: dict[str, GlossaryEntry] = {}
    for e in glossary():
        out[e.code_2017] = e
        if e.code_2005:
            out[e.code_2005] = e
    return out


def wide_columns(entry: GlossaryEntry) -> dict[str, str]:
    """Return ``{HJ 212 field suffix: wide column}`` for one entry.

    ``Avg`` and ``Rtd`` both land in the main column (a table holds one data kind).
    """
    cols = {
        "Avg": entry.column,
        "Rtd": entry.column,
        "Min": f"{entry.key}_min",
        "Max": f"{entry.key}_max",
        "Flag": f"{entry.key}_flag",
    }
    if entry.has_zs:
        cols.update({"ZsAvg": f"{entry.key}_zs", "ZsRtd": f"{entry.key}_zs"})
    if entry.has_amount:
        cols["Cou"] = f"{entry.key}_cou"
    return cols
