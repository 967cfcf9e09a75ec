"""Where each value of a data packet is kept: a wide-table column or the long side table.

The store knows no protocol; what it needs to know about HJ 212 data is declared here as
tables, built from the field glossary (:mod:`lantian.catalog.glossary`):

* :data:`TABLE_OF_CN` — which wide table holds which data command (HJ 212-2017 §7, Table 7:
  2011 real-time, 2051 minute, 2061 hour, 2031 day data). Other commands with a ``DataTime``
  (2021 state, 2081 restart, 3020 parameters …) keep all their values in ``value_long``.
* :func:`routes` — for a table, ``{factor code: (glossary key, {suffix: column}, sent code
  or None)}``. Real-time tables take ``Rtd``/``ZsRtd`` in the main and ``_zs`` columns, the
  period tables ``Avg``/``ZsAvg``; a value sent with the other suffix goes to ``value_long``
  so that exports give back exactly the suffix that was sent. HJ/T 212-2005 codes (``02``,
  ``B02``, ``S01`` …) land in the same columns as their 2017 codes; the code as sent is kept
  in the row's ``sent_codes`` (see :func:`encode_sent_codes`).

Everything else — codes outside the glossary, info items (``i1xxxx-Info``), equipment
states (``SBxxx-RS``), suffixes without a column (``ZsMin``, ``EFlag``, ``SampleTime``) and
values whose type does not fit the column — goes to ``value_long`` with code and suffix as
sent.
"""

from __future__ import annotations

from functools import cache

from lantian.catalog.glossary import by_code, glossary, wide_columns

__all__ = [
    "TABLE_OF_CN",
    "WIDE_TABLES",
    "Route",
    "decode_sent_codes",
    "encode_sent_codes",
    "is_text_column",
    "routes",
    "suffixes_for",
]

#: Wide table of each data command (HJ 212-2017 Table 7).
TABLE_OF_CN: dict[str, str] = {
    "2011": "flue_rtd",
    "2051": "flue_minute",
    "2061": "flue_hour",
    "2031": "flue_day",
}
WIDE_TABLES: tuple[str, ...] = ("flue_rtd", "flue_minute", "flue_hour", "flue_day")

#: Suffixes that the other kind of table owns (real-time vs period values).
_FOREIGN_SUFFIXES: dict[str, frozenset[str]] = {
    "flue_rtd": frozenset({"Avg", "ZsAvg"}),
    "flue_minute": frozenset({"Rtd", "ZsRtd"}),
    "flue_hour": frozenset({"Rtd", "ZsRtd"}),
    "flue_day": frozenset({"Rtd", "ZsRtd"}),
}

Route = tuple[str, dict[str, str], str | None]
"""(glossary key, {suffix: column}, code as sent when it is not the 2017 code)."""


def suffixes_for(table: str, key: str) -> dict[str, str]:
    """Return ``{suffix: column}`` of glossary entry ``key`` in wide table ``table``."""
    entry = next(e for e in glossary() if e.key == key)
    foreign = _FOREIGN_SUFFIXES[table]
    return {s: c for s, c in wide_columns(entry).items() if s not in foreign}


@cache
def routes(table: str) -> dict[str, Route]:
    """Return the routing map of ``table`` for every glossary code (2017 and 2005)."""
    out: dict[str, Route] = {}
    for code, entry in by_code().items():
        alt = None if code == entry.code_2017 else code
        out[code] = (entry.key, suffixes_for(table, entry.key), alt)
    return out


def is_text_column(column: str) -> bool:
    """Whether a wide column holds text (the data flags); all others are DOUBLE."""
    return column.endswith("_flag")


def encode_sent_codes(pairs: dict[str, str]) -> str | None:
    """Encode ``{glossary key: code as sent}`` as ``"so2=02;nox=03"`` (None when empty)."""
    if not pairs:
        return None
    return ";".join(f"{k}={v}" for k, v in pairs.items())


def decode_sent_codes(text: str | None) -> dict[str, str]:
    """Inverse of :func:`encode_sent_codes`."""
    if not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(";"))
