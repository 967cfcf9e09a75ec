"""Registry history (SCD-2): every version of every registry record, with who and when.

Each change of an enterprise, production line, outlet, monitoring point, permit limit or
total-load allowance is a row of ``registry_history``: the full attribute set, the date it
takes effect (``valid_from``, CST), when it stopped (``valid_to``, NULL while current), who
made it and why. A new version closes the open one at its own ``valid_from``; recording the
same attributes again changes nothing. Natural keys (``entity_key``):

==================  ================================================
enterprise          unified social credit code (统一社会信用代码)
line                ``credit_code|line name``
outlet              ``credit_code|outlet name``
monitoring_point    MN
permit_limit        ``credit_code|outlet|pollutant``
permit_allowance    ``credit_code|pollutant|year``
==================  ================================================
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from lantian.errors import ConfigurationError, LedgerRuleError

__all__ = ["ENTITIES", "Version", "as_of", "record_version", "versions"]

ENTITIES = ("enterprise", "line", "outlet", "monitoring_point", "permit_limit",
            "permit_allowance")


@dataclass(frozen=True)
class Version:
    """One version of one registry record."""

    entity: str
    entity_key: str
    attrs: dict[str, Any]
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    changed_by: str
    changed_at: dt.datetime
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the version as a plain dict (for JSON output)."""
        return {"entity": self.entity, "entity_key": self.entity_key, "attrs": self.attrs,
                "valid_from": self.valid_from, "valid_to": self.valid_to,
                "changed_by": self.changed_by, "changed_at": self.changed_at,
                "reason": self.reason}


def _check_entity(entity: str) -> None:
    if entity not in ENTITIES:
        raise ConfigurationError(f"unknown registry entity {entity!r} (one of {ENTITIES})")


def _as_ts(when: dt.date | dt.datetime) -> dt.datetime:
    return when if isinstance(when, dt.datetime) else dt.datetime.combine(when, dt.time())


_COLS = "entity, entity_key, attrs, valid_from, valid_to, changed_by, changed_at, reason"


def _version(row: tuple[Any, ...]) -> Version:
    return Version(row[0], row[1], json.loads(row[2]), *row[3:])


def record_version(
    con: duckdb.DuckDBPyConnection, entity: str, key: str, attrs: dict[str, Any],
    valid_from: dt.date | dt.datetime, who: str, reason: str | None = None,
) -> bool:
    """Record a version; return False when the attributes equal the open version's.

    Call inside the caller's transaction when several records change together.

    Raises
    ------
    LedgerRuleError
        When ``valid_from`` is before the open version's start (history is append-only).

    """
    _check_entity(entity)
    start = _as_ts(valid_from)
    text = json.dumps(attrs, ensure_ascii=False, sort_keys=True, default=str)
    cur = con.execute(
        "SELECT id, attrs, valid_from FROM registry_history WHERE entity = ? AND entity_key = ?"
        " AND valid_to IS NULL", [entity, key]).fetchone()
    if cur is not None:
        if json.loads(cur[1]) == json.loads(text):
            return False
        if start < cur[2]:
            raise LedgerRuleError(
                f"{entity} {key}: change dated {start:%Y-%m-%d} is before the current version "
                f"({cur[2]:%Y-%m-%d}); history is append-only")
        con.execute("UPDATE registry_history SET valid_to = ? WHERE id = ?", [start, cur[0]])
    con.execute(
        "INSERT INTO registry_history (entity, entity_key, attrs, valid_from, changed_by, reason)"
        " VALUES (?, ?, ?, ?, ?, ?)", [entity, key, text, start, who, reason])
    return True


def versions(con: duckdb.DuckDBPyConnection, entity: str, key: str) -> list[Version]:
    """Return every version of one record, oldest first."""
    _check_entity(entity)
    rows = con.execute(
        f"SELECT {_COLS} FROM registry_history WHERE entity = ? AND entity_key = ?"
        " ORDER BY valid_from, id", [entity, key]).fetchall()
    return [_version(r) for r in rows]


def as_of(
    con: duckdb.DuckDBPyConnection, entity: str, key: str, when: dt.date | dt.datetime
) -> dict[str, Any] | None:
    """Return the attributes of a record in force at ``when`` (CST), or None."""
    _check_entity(entity)
    t = _as_ts(when)
    row = con.execute(
        "SELECT attrs FROM registry_history WHERE entity = ? AND entity_key = ?"
        " AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
        " ORDER BY valid_from DESC LIMIT 1", [entity, key, t, t]).fetchone()
    return None if row is None else dict(json.loads(row[0]))
