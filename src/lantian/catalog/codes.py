"""The HJ 212-2017 factor code table (Appendix B) with the HJ/T 212-2005 codes mapped to it.

Data file ``data/hj212_codes.csv`` (one row per code): Chinese and English name, 2005 code,
unit and emission-amount unit (Chinese as printed and as a symbol), data format ``Nn.m``,
category, note, source and confidence. Transcribed from the MIT-licensed
``srdgame/lua-HJ212`` CSV of the standard's tables; a few rows carry the standard's own
slips (ng/m3 for ammonia; ``e701xx`` and ``g119xx`` used twice), noted per row.

Codes ending in ``x`` (``e101xx``, ``i3331x``) are templates: each ``x`` stands for one
device-number character.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lantian.errors import CatalogError

__all__ = [
    "CodeEntry",
    "code_entry",
    "code_table",
    "column_of",
    "data_format",
    "from_2005",
]

_FMT = re.compile(r"N(\d+)(?:\.(\d+))?\Z")
_FIELDS = (
    "code", "name_zh", "name_en", "code_2005", "unit_zh", "unit", "amount_unit_zh",
    "amount_unit", "data_format", "category", "note_zh", "note", "source", "confidence",
)


_REQUIRED = frozenset({"code", "name_zh", "category", "source", "confidence"})


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One factor code of HJ 212-2017 Appendix B."""

    code: str
    name_zh: str
    name_en: str | None
    code_2005: str | None
    unit_zh: str | None
    unit: str | None
    amount_unit_zh: str | None
    amount_unit: str | None
    data_format: str | None
    category: str
    note_zh: str | None
    note: str | None
    source: str
    confidence: str

    @property
    def digits(self) -> tuple[int, int] | None:
        """``(integer digits, decimals)`` of an ``Nn.m`` format, ``None`` for other types."""
        m = _FMT.match(self.data_format or "")
        if m is None:
            return None
        return int(m.group(1)), int(m.group(2) or 0)


@cache
def code_table() -> tuple[CodeEntry, ...]:
    """Load every row of ``data/hj212_codes.csv`` in file order."""
    text = resources.files("lantian.catalog").joinpath("data/hj212_codes.csv").read_text("utf-8")
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != _FIELDS:
        raise CatalogError(f"hj212_codes.csv: columns {reader.fieldnames} != {list(_FIELDS)}")
    rows = []
    for n, row in enumerate(reader, start=2):
        if not row["code"] or not row["source"]:
            raise CatalogError(f"hj212_codes.csv line {n}: code and source are required")
        opt = {k: (row[k] or None) for k in _FIELDS if k not in _REQUIRED}
        rows.append(CodeEntry(code=row["code"], name_zh=row["name_zh"], category=row["category"],
                              source=row["source"], confidence=row["confidence"], **opt))
    return tuple(rows)


@cache
def _index() -> tuple[dict[str, CodeEntry], dict[str, CodeEntry]]:
    exact: dict[str, CodeEntry] = {}
    old: dict[str, CodeEntry] = {}
    for e in code_table():
        exact.setdefault(e.code, e)
        if e.code_2005:
            old.setdefault(e.code_2005, e)
    return exact, old


def code_entry(code: str) -> CodeEntry | None:
    """Return the entry of a 2017 code, matching templates (``e10101`` → ``e101xx``)."""
    exact = _index()[0]
    e = exact.get(code)
    if e is not None:
        return e
    return exact.get(code[:-2] + "xx") or exact.get(code[:-1] + "x")


def from_2005(code: str) -> CodeEntry | None:
    """Return the 2017 entry that replaces an HJ/T 212-2005 code (``"02"`` → ``a21026``).

    Water and gas 2005 codes overlap in form (``001`` pH, ``01`` particulate), so this maps
    the code as written; callers pick water or air by the packet's ST.
    """
    return _index()[1].get(code)


@cache
def data_format(code: str) -> tuple[int, int] | None:
    """``(integer digits, decimals)`` allowed for ``code`` by the table, or ``None``."""
    e = code_entry(code)
    return e.digits if e is not None else None


def column_of(code: str) -> str | None:
    """Wide-table column of a factor code (2017 ``a21026`` or 2005 ``02``): ``so2_mg_m3``.

    Only the flue-gas parameters of the glossary (``data/glossary.csv``) have a column;
    others give ``None`` (they go to the long side table).
    """
    from lantian.catalog.glossary import by_code

    entries = by_code()
    e = entries.get(code)
    if e is None:
        new = from_2005(code)
        e = entries.get(new.code) if new is not None else None
    return e.column if e is not None else None
