"""Keep the monthly ULE verdicts the engine computed (table ``month_ule_verdict``).

The verdicts are derived data: they can be recomputed from the minute data at any time, so a
new computation of a month replaces the stored rows of the points it covers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from lantian.store.month_rows import replace_month_rows

__all__ = ["save_month_verdicts"]

_COLUMNS = (
    "mn",
    "month",
    "source_type",
    "production_hours",
    "valid_hours",
    "compliant_hours",
    "compliance_ratio",
    "ule_pass",
    "exceedance_hours",
    "invalid_hours",
    "engine",
)


def save_month_verdicts(
    con: duckdb.DuckDBPyConnection, records: Iterable[Mapping[str, Any]], *, engine: str
) -> int:
    """Replace the stored verdicts of the given points and months; return the rows written.

    ``records`` are the contract objects of ``lantian assess`` (issue 3): ``mn``, ``month``,
    ``source_type``, hour counts, ``compliance_ratio``, ``ule_pass`` and the per-pollutant
    ``exceedance_hours`` / ``invalid_hours`` maps (stored as JSON).
    """
    rows = [
        [
            r["mn"],
            r["month"],
            r.get("source_type"),
            r["production_hours"],
            r["valid_hours"],
            r["compliant_hours"],
            r["compliance_ratio"],
            r["ule_pass"],
            json.dumps(r.get("exceedance_hours", {})),
            json.dumps(r.get("invalid_hours", {})),
            engine,
        ]
        for r in records
    ]
    return replace_month_rows(con, "month_ule_verdict", _COLUMNS, rows)
