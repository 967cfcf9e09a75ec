"""Adapter between the gateway and the codec / store of the other parts.

The gateway calls only the names exported here. They come from :mod:`lantian.hj212` (the
codec) and :mod:`lantian.store.ingest` when those exist, and from small stand-ins otherwise
(:mod:`lantian.hj212._gwshim` and the SQL below), so the gateway keeps one call surface while
the other parts change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import duckdb

__all__ = [
    "FrameError",
    "Framer",
    "PacketError",
    "build_data_reply",
    "build_packet",
    "build_request",
    "data_time_to_datetime",
    "parse_packet",
    "record_rejected",
    "store_batch",
]

from lantian.errors import PacketError

log = logging.getLogger("lantian.gateway")

try:  # the real codec
    from lantian.hj212 import (  # type: ignore[attr-defined]
        FrameError,
        Framer,
        build_data_reply,
        build_packet,
        build_request,
        data_time_to_datetime,
        parse_packet,
    )

    REAL_CODEC = True
except ImportError:  # pragma: no cover - only while the codec is being written
    from lantian.hj212._gwshim import (  # type: ignore[assignment]
        FrameError,
        Framer,
        build_data_reply,
        build_packet,
        build_request,
        data_time_to_datetime,
        parse_packet,
    )

    REAL_CODEC = False

_TABLE_OF_CN = {"2011": "flue_rtd", "2051": "flue_minute", "2061": "flue_hour", "2031": "flue_day"}


def _wide_row(packet: Any) -> dict[str, Any]:
    from lantian.catalog.glossary import by_code, wide_columns

    row: dict[str, Any] = {}
    codes = by_code()
    for code, fields in packet.values.items():
        entry = codes.get(code)
        if entry is None:
            continue
        cols = wide_columns(entry)
        for suffix, value in fields.items():
            col = cols.get(suffix)
            if col is not None:
                row[col] = value
    return row


def store_batch(con: duckdb.DuckDBPyConnection, items: Sequence[Any]) -> list[str]:
    """Journal a batch, store its values, de-duplicate by (MN, CN, DataTime); one transaction.

    Stand-in for :mod:`lantian.store.ingest` until it exists.
    """
    verdicts: list[str] = []
    con.execute("BEGIN")
    try:
        seen: set[tuple[str, str, str]] = set()
        for it in items:
            p = it.packet
            ts = data_time_to_datetime(p.data_time) if p.data_time else None
            key = (p.mn or "", p.cn or "", p.data_time or p.qn or "")
            dup = key in seen or bool(
                con.execute(
                    "SELECT count(*) FROM packet_journal WHERE mn = ? AND cn = ? AND"
                    " (data_time = ? OR (data_time IS NULL AND qn = ?)) AND verdict = 'accepted'",
                    [p.mn, p.cn, ts, p.qn],
                ).fetchone()[0]  # type: ignore[index]
            )
            seen.add(key)
            verdict = "duplicate" if dup else "accepted"
            pid = con.execute(
                "INSERT INTO packet_journal (id, received_at, source, mn, st, cn, qn, data_time,"
                " version, verdict, raw) VALUES (nextval('seq_packet'), ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?) RETURNING id",
                [it.received_at, it.peer, p.mn, p.st, p.cn, p.qn, ts, p.version, verdict,
                 it.frame],
            ).fetchone()[0]  # type: ignore[index]
            table = _TABLE_OF_CN.get(p.cn or "")
            if not dup and table and ts is not None:
                row = _wide_row(p)
                cols = ["mn", "ts", "packet_id", *row]
                con.execute(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES"
                    f" ({', '.join('?' * len(cols))})",
                    [p.mn, ts, pid, *row.values()],
                )
            verdicts.append(verdict)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return verdicts


def record_rejected(
    con: duckdb.DuckDBPyConnection, peer: str, frame: bytes, reason: str, mn: str | None
) -> None:
    """Count and log a rejected packet; its data is stored nowhere."""
    log.warning("rejected %s from %s (MN %s)", reason, peer, mn)


def now_cst() -> dt.datetime:
    """Platform clock, China Standard Time wall-clock (naive)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).replace(tzinfo=None)
