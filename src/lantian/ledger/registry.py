"""The registry of monitoring points (监测点位): data loggers known by MN, with password and outlet.

Minimal on purpose (issue 2): enterprises and outlets are found or created by name, a point
is registered (or updated) by MN, and the gateway authenticates packets against a cached
snapshot. Issue 8 adds effective-dated history on top of these tables.

Names reuse existing records (DESIGN.md §7): an enterprise by its name, an outlet by its
name within the enterprise (or among outlets without an enterprise).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from lantian.errors import ConfigurationError, NotFoundError, StoreError

__all__ = [
    "FLOW_UNITS",
    "AuthVerdict",
    "MonitoringPoint",
    "add_point",
    "authenticate",
    "get_point",
    "list_points",
    "points_cache",
]

#: Units a logger may send the flue-gas flow ``a00000`` in (stored as sent; the engine converts).
FLOW_UNITS = ("m3/s", "m3/h")

_FORBIDDEN_MN_CHARS = set(";,=&#/\\ \t\r\n")


@dataclass(frozen=True, slots=True)
class MonitoringPoint:
    """One registered data logger (HJ 212 MN) and where it measures."""

    mn: str
    password: str
    outlet_id: int | None
    outlet: str | None
    enterprise_id: int | None
    enterprise: str | None
    source_type: str | None
    protocol: str | None
    parameters: tuple[str, ...]
    flow_unit: str
    sm4_key: str | None
    active: bool


class AuthVerdict(StrEnum):
    """Result of checking a packet's MN and PW against the registry."""

    ok = "ok"
    unknown_mn = "unknown_mn"
    wrong_password = "wrong_password"  # noqa: S105 - a verdict name, not a password
    inactive = "inactive"


def _check_mn(mn: str) -> None:
    if not mn or _FORBIDDEN_MN_CHARS & set(mn):
        raise ConfigurationError(
            f"MN {mn!r} is empty or contains one of ; , = & # / \\ or white space "
            "(HJ 212 MN must be a plain identifier)"
        )


def _returned_id(row: tuple[object, ...] | None) -> int:
    if row is None:
        raise StoreError("INSERT … RETURNING id returned no row")
    return int(str(row[0]))


def _enterprise_id(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = con.execute("SELECT id FROM enterprise WHERE name = ?", [name]).fetchone()
    if row:
        return int(row[0])
    return _returned_id(
        con.execute("INSERT INTO enterprise (name) VALUES (?) RETURNING id", [name]).fetchone()
    )


def _outlet_id(
    con: duckdb.DuckDBPyConnection, name: str, enterprise_id: int | None, source_type: str | None
) -> int:
    row = con.execute(
        "SELECT id FROM outlet WHERE name = ? AND enterprise_id IS NOT DISTINCT FROM ?",
        [name, enterprise_id],
    ).fetchone()
    if row:
        if source_type:
            con.execute(
                "UPDATE outlet SET source_type = ? WHERE id = ? AND source_type IS NULL",
                [source_type, row[0]],
            )
        return int(row[0])
    return _returned_id(
        con.execute(
            "INSERT INTO outlet (enterprise_id, name, source_type) VALUES (?, ?, ?) RETURNING id",
            [enterprise_id, name, source_type],
        ).fetchone()
    )


def add_point(
    con: duckdb.DuckDBPyConnection,
    *,
    mn: str,
    password: str,
    outlet: str | None = None,
    source_type: str | None = None,
    enterprise: str | None = None,
    parameters: Iterable[str] | None = None,
    flow_unit: str = "m3/s",
    sm4_key: str | None = None,
) -> MonitoringPoint:
    """Register the data logger ``mn`` (or update it when already registered).

    Parameters
    ----------
    con
        Open, migrated database connection.
    mn
        Data-logger id as the logger sends it (HJ 212 ``MN``; 24 characters in 2017,
        14 in 2005, other forms in the wild).
    password
        HJ 212 ``PW`` the logger sends (6 characters in the standard; any text accepted).
    outlet, enterprise
        Names; existing records of that name are reused, missing ones created.
    source_type
        Kind of source (``cement_kiln``, ``coke_oven_stack`` …), set on the point and, when
        the outlet has none yet, on the outlet.
    parameters
        Glossary keys the point monitors (``so2``, ``nox`` …).
    flow_unit
        Unit of ``a00000`` as the logger sends it, one of :data:`FLOW_UNITS`.
    sm4_key
        Hex SM4 key for HJ 212-2025 encrypted data areas (32 hex digits).

    Raises
    ------
    ConfigurationError
        Bad MN, flow unit or SM4 key.

    """
    _check_mn(mn)
    if flow_unit not in FLOW_UNITS:
        raise ConfigurationError(f"flow unit {flow_unit!r} not one of {', '.join(FLOW_UNITS)}")
    if sm4_key is not None:
        try:
            ok = len(bytes.fromhex(sm4_key)) == 16
        except ValueError:
            ok = False
        if not ok:
            raise ConfigurationError("SM4 key must be 32 hex digits (128 bits)")
    params = sorted(set(parameters)) if parameters is not None else None
    con.execute("BEGIN TRANSACTION")
    try:
        ent_id = _enterprise_id(con, enterprise) if enterprise else None
        out_id = _outlet_id(con, outlet, ent_id, source_type) if outlet else None
        con.execute(
            "INSERT INTO monitoring_point "
            "(mn, password, outlet_id, source_type, parameters, flow_unit, sm4_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mn) DO UPDATE SET "
            "password = excluded.password, "
            "outlet_id = coalesce(excluded.outlet_id, monitoring_point.outlet_id), "
            "source_type = coalesce(excluded.source_type, monitoring_point.source_type), "
            "parameters = coalesce(excluded.parameters, monitoring_point.parameters), "
            "flow_unit = excluded.flow_unit, "
            "sm4_key = coalesce(excluded.sm4_key, monitoring_point.sm4_key)",
            [mn, password, out_id, source_type, params, flow_unit, sm4_key],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return get_point(con, mn)


_SELECT = """
SELECT p.mn, p.password, p.outlet_id, o.name, o.enterprise_id, e.name, p.source_type,
       p.protocol, p.parameters, p.flow_unit, p.sm4_key, p.active
FROM monitoring_point p
LEFT JOIN outlet o ON o.id = p.outlet_id
LEFT JOIN enterprise e ON e.id = o.enterprise_id
"""


def _point(row: tuple[object, ...]) -> MonitoringPoint:
    params = row[8]
    return MonitoringPoint(
        mn=str(row[0]),
        password=str(row[1]),
        outlet_id=row[2],  # type: ignore[arg-type]
        outlet=row[3],  # type: ignore[arg-type]
        enterprise_id=row[4],  # type: ignore[arg-type]
        enterprise=row[5],  # type: ignore[arg-type]
        source_type=row[6],  # type: ignore[arg-type]
        protocol=row[7],  # type: ignore[arg-type]
        parameters=tuple(params) if isinstance(params, list | tuple) else (),
        flow_unit=str(row[9]),
        sm4_key=row[10],  # type: ignore[arg-type]
        active=bool(row[11]),
    )


def get_point(con: duckdb.DuckDBPyConnection, mn: str) -> MonitoringPoint:
    """Return the registered point ``mn``.

    Raises
    ------
    NotFoundError
        When no point has that MN.

    """
    row = con.execute(_SELECT + " WHERE p.mn = ?", [mn]).fetchone()
    if row is None:
        raise NotFoundError(f"monitoring point {mn!r} is not registered")
    return _point(row)


def list_points(con: duckdb.DuckDBPyConnection) -> list[MonitoringPoint]:
    """Return every registered point, ordered by MN."""
    return [_point(r) for r in con.execute(_SELECT + " ORDER BY p.mn").fetchall()]


def points_cache(con: duckdb.DuckDBPyConnection) -> dict[str, MonitoringPoint]:
    """Return ``{MN: point}`` for :func:`authenticate` (the gateway refreshes it periodically)."""
    return {p.mn: p for p in list_points(con)}


def authenticate(
    points: Mapping[str, MonitoringPoint], mn: str | None, pw: str | None
) -> AuthVerdict:
    """Check a packet's ``MN`` and ``PW`` against a registry snapshot.

    The password is compared in constant time. An unknown MN or a wrong password means the
    packet is stored nowhere but in ``rejected_traffic`` and is not acknowledged.
    """
    point = points.get(mn or "")
    if point is None:
        return AuthVerdict.unknown_mn
    if not hmac.compare_digest((pw or "").encode(), point.password.encode()):
        return AuthVerdict.wrong_password
    if not point.active:
        return AuthVerdict.inactive
    return AuthVerdict.ok
