"""Rejected traffic and the disk guard, used by the gateway.

Packets from an unknown MN or with a wrong password are stored nowhere except
``rejected_traffic`` (when, peer, MN, reason, first bytes): no journal row, no data, no
acknowledgement (HJ 212-2017 has no negative reply to uploads, and a 9014 would make the
logger drop its buffer).

:func:`free_space_ok` tells the gateway to stop acknowledging when the disk holding the
database is nearly full, so that nothing is acknowledged that could not be written.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from lantian.store.ingest import cst_now

__all__ = [
    "HEAD_BYTES",
    "RejectedTraffic",
    "free_bytes",
    "free_space_ok",
    "log_rejected_traffic",
    "rejected_traffic_counts",
]

#: How many leading bytes of a rejected packet are kept [bytes].
HEAD_BYTES = 64


@dataclass(frozen=True, slots=True)
class RejectedTraffic:
    """One refused packet: peer ``ip:port``, MN as sent (if any), reason, raw bytes."""

    peer: str
    mn: str | None
    reason: str
    raw: bytes = b""
    received_at: dt.datetime | None = None


def log_rejected_traffic(con: duckdb.DuckDBPyConnection, entries: Sequence[RejectedTraffic]) -> int:
    """Append ``entries`` to ``rejected_traffic`` (first :data:`HEAD_BYTES` bytes only).

    Returns the number of rows written. Runs in its own transaction (DuckDB auto-commit).
    """
    if not entries:
        return 0
    now = cst_now()
    frame = pa.table(
        {
            "received_at": pa.array([e.received_at or now for e in entries], pa.timestamp("us")),
            "peer": pa.array([e.peer for e in entries], pa.string()),
            "mn": pa.array([e.mn for e in entries], pa.string()),
            "reason": pa.array([e.reason for e in entries], pa.string()),
            "head": pa.array([e.raw[:HEAD_BYTES] for e in entries], pa.binary()),
        }
    )
    con.register("_lantian_rejected", frame)
    try:
        con.execute("INSERT INTO rejected_traffic BY NAME SELECT * FROM _lantian_rejected")
    finally:
        con.unregister("_lantian_rejected")
    return len(entries)


def rejected_traffic_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Return ``{reason: count}`` of all rejected traffic."""
    rows = con.execute(
        "SELECT reason, count(*) FROM rejected_traffic GROUP BY reason ORDER BY reason"
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def free_bytes(path: str | Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent) [B]."""
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def free_space_ok(path: str | Path, min_free_bytes: int) -> bool:
    """Whether at least ``min_free_bytes`` [B] are free where ``path`` lives.

    The threshold is configuration (e.g. ``catalog/data/gateway.toml``), not a constant here.
    """
    return free_bytes(path) >= min_free_bytes
