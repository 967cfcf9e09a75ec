"""Keep the monthly emission loads the engine computed (table ``month_load``, migration 0215).

Derived data like ``month_ule_verdict``: a new computation of a month replaces the stored
rows of the points it covers. Loads in kg, months ``YYYY-MM`` (China Standard Time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from lantian.store.month_rows import replace_month_rows

__all__ = ["save_month_loads"]

_COLUMNS = (
    "mn",
    "month",
    "pollutant",
    "load_kg",
    "load_hours",
    "substituted_load_kg",
    "substituted_hours",
    "unsubstituted_hours",
    "capture_rate",
    "engine",
)


def save_month_loads(
    con: duckdb.DuckDBPyConnection, records: Iterable[Mapping[str, Any]], *, engine: str
) -> int:
    """Replace the stored loads of the given points and months; return the rows written.

    ``records``: ``lantian assess --loads`` objects (``mn``, ``month`` and the maps
    ``load_kg``, ``substituted_load_kg``, ``substituted_hours``, ``unsubstituted_hours``,
    ``capture_rate`` keyed by pollutant). One row per point, month and pollutant.
    """
    recs = list(records)
    rows = [
        [
            r["mn"],
            r["month"],
            k,
            kg,
            r.get("load_hours", {}).get(k),
            r["substituted_load_kg"].get(k),
            r["substituted_hours"].get(k),
            r["unsubstituted_hours"].get(k),
            r["capture_rate"].get(k),
            engine,
        ]
        for r in recs
        for k, kg in r["load_kg"].items()
    ]
    return replace_month_rows(con, "month_load", _COLUMNS, rows,
                              keys=[(r["mn"], r["month"]) for r in recs])
