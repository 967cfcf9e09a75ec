"""Scope of the ledger routes: which enterprises the caller may see, applied to ledger results.

The ledger functions (:mod:`lantian.ledger`) read the whole database; the routes here take
the set of visible enterprise ids from the workbench's one scope mechanism
(:func:`lantian.api.deps.scoped`, view ``vis_ent``) and keep only rows of those
enterprises. Admins see everything (``None`` = no filter). Times are China Standard Time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import ibis
import ibis.expr.types as ir

from lantian.api.auth import Principal
from lantian.api.deps import Database, scoped
from lantian.api.queries import Rows

__all__ = ["ibis_of", "keep_expr", "keep_rows", "ledger_rows", "run_ledger", "visible_enterprises"]

R = TypeVar("R")


def visible_enterprises(db: Database, user: Principal) -> set[int] | None:
    """Ids of the enterprises ``user`` may see (``None``: all, for an admin)."""
    if user.is_admin:
        return None
    sql, args = scoped(user, "SELECT id FROM vis_ent")
    with db.cursor() as cur:
        return {int(r[0]) for r in cur.execute(sql, args).fetchall()}


def keep_rows(rows: Iterable[dict[str, Any]], ids: set[int] | None,
              col: str = "enterprise_id") -> list[dict[str, Any]]:
    """Rows whose ``col`` is a visible enterprise id (all rows when ``ids`` is ``None``)."""
    if ids is None:
        return list(rows)
    return [r for r in rows if r.get(col) is not None and int(r[col]) in ids]


def keep_expr(expr: ir.Table, ids: set[int] | None, col: str = "enterprise_id") -> ir.Table:
    """Filter an Ibis table to visible enterprise ids (unchanged when ``ids`` is ``None``)."""
    if ids is None:
        return expr
    if not ids:
        return expr.filter(ibis.literal(False))
    return expr.filter(expr[col].isin(sorted(ids)))


def run_ledger(db: Database, fn: Callable[[Any], R]) -> tuple[R, list[str]]:
    """Call ``fn(cursor)`` and return its result with the warnings it raised (as text).

    Ledger functions warn, e.g., when a year has no holiday data and weekdays were counted
    (:class:`~lantian.ledger.workdays.CalendarFallbackWarning`); the API passes the text on.
    """
    with db.cursor() as cur, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(cur)
    return out, sorted({str(w.message) for w in caught})


def ledger_rows(rows: list[dict[str, Any]], columns: list[str] | None = None) -> Rows:
    """Wrap ledger rows as :class:`~lantian.api.queries.Rows` for ``export.respond``."""
    cols = columns or (list(rows[0]) if rows else [])
    return Rows(cols, rows)


def ibis_of(cur: Any) -> Any:
    """Ibis DuckDB backend over a request cursor."""
    return ibis.duckdb.from_connection(cur)
