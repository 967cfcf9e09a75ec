"""Replace derived monthly rows (verdicts, loads) of some points and months in one transaction.

Derived tables keyed by ``(mn, month, …)`` (``month_ule_verdict``, ``month_load``) are
recomputed whole per point and month: a new computation deletes what was stored for that
point and month and inserts the new rows, atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

__all__ = ["replace_month_rows"]


def replace_month_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    keys: Iterable[tuple[str, str]] | None = None,
) -> int:
    """Delete the ``(mn, month)`` pairs ``keys`` from ``table`` and insert ``rows``; one commit.

    ``rows`` follow ``columns``, whose first two are ``mn`` and ``month``. ``keys`` default to
    the pairs of ``rows`` (give them to clear a point and month that now has no row). Returns
    the number of rows inserted; on a database error nothing changes and the error is raised.
    """
    pairs = [list(k) for k in keys] if keys is not None else [list(r[:2]) for r in rows]
    if not pairs and not rows:
        return 0
    placeholders = ", ".join("?" for _ in columns)
    con.execute("BEGIN")
    try:
        if pairs:
            con.executemany(f"DELETE FROM {table} WHERE mn = ? AND month = ?", pairs)
        if rows:
            con.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
            )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return len(rows)
