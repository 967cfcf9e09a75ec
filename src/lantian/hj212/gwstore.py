"""The gateway's view of the database: registry snapshot, group commit, alerts, commands.

Every method here is blocking and runs on the gateway's single database thread (DuckDB
lets one process write; one connection used from one thread keeps the commit order equal
to the order packets arrived). The gateway never touches SQL itself.

Packets go to :mod:`lantian.store.ingest` (journal, wide tables, de-duplication by
(MN, CN, DataTime)); the registry comes from :mod:`lantian.ledger.registry`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lantian.ledger.registry import MonitoringPoint, points_cache
from lantian.store.columns import ColumnBatch
from lantian.store.db import connect
from lantian.store.ingest import Incoming as StoreIncoming
from lantian.store.ingest import PacketStore, cst_now
from lantian.store.journal_log import JournalLog
from lantian.store.journal_write import deferred_pending, without_values
from lantian.store.logmaterialise import LogMaterialiser
from lantian.store.materialise import CatchUp, Materialiser, catch_up
from lantian.store.prepared import prepare_batch
from lantian.store.traffic import RejectedTraffic, log_rejected_traffic, rejected_traffic_counts

__all__ = ["GatewayStore", "Incoming", "decode_log", "journal_dir"]

log = logging.getLogger("lantian.gateway")


@dataclass
class Incoming:
    """One accepted packet waiting for the group commit."""

    packet: Any
    frame: bytes
    peer: str
    received_at: dt.datetime  # CST wall-clock at the platform
    held: str | None = None  # journal the raw bytes only (a split part awaiting the rest)


def journal_dir(db_path: str | Path) -> Path:
    """Directory of the file journal log of the database ``db_path`` (``<db>.journal``)."""
    return Path(f"{db_path}.journal")


def decode_log(raw: list[bytes], peers: list[str], received: list[Any]) -> ColumnBatch:
    """Journal-log records decoded again as the writer decoded them (one row per record).

    The log materialiser's decoder (:mod:`lantian.store.logmaterialise`): the same
    :func:`gwbatch.decode_uploads` and :func:`gwbatch.column_batch` as the live path, with
    the peer and receive time the record kept, so the rows written are the same.
    """
    from lantian.hj212 import gwbatch

    return gwbatch.column_batch(gwbatch.decode_uploads(raw), range(len(raw)), raw, peers,
                                received)


def _decode_journal(raw: list[bytes]) -> ColumnBatch:
    from lantian.hj212.gwbatch import decode_journal

    return decode_journal(raw)


class GatewayStore:
    """Blocking database operations of the gateway (one instance, one thread).

    With ``journal_log`` (and ``journal_first``) plain uploads are acknowledged once in the
    file journal log (:meth:`log_batch`, on the log writer thread) and copied into DuckDB
    by :attr:`log_materialiser` (on the database thread); ``forward_to`` is then queued
    for the upstream platform in that copy's transaction.

    ``max_vacuum_tasks`` (``[materialise] duckdb_max_vacuum_tasks``; None: DuckDB's
    default): 0 stops a checkpoint from merging the partly filled row group an earlier
    checkpoint wrote with the new rows, i.e. rewriting those rows again (session 11: with
    DuckDB's default a checkpoint cost 7-40 µs per new packet depending on where the last
    row group ended, ≈ 7 without; deleted rows' space is then not reclaimed at checkpoints).
    """

    def __init__(self, db_path: str | Path, checkpoint_threshold_mib: int | None = None,
                 journal_first: bool = True, journal_log: bool = False,
                 segment_bytes: int = 64 << 20, memory_max: int = 200_000,
                 forward_to: str | None = None, max_lag_s: float = 0.0,
                 duckdb_threads: int = 0, max_vacuum_tasks: int | None = None) -> None:
        self.path = Path(db_path)
        self.max_lag_s = max_lag_s  # log_batch waits while DuckDB lags more [s]; 0 = never
        self.journal_first = journal_first
        self.materialiser = Materialiser("gateway", memory_max, _decode_journal)
        self.con = connect(self.path)
        if checkpoint_threshold_mib is not None:  # write-ahead log size before a checkpoint
            self.con.execute(f"SET checkpoint_threshold = '{int(checkpoint_threshold_mib)}MiB'")
        if duckdb_threads > 0:  # every query on its calling thread (the niced materialiser's)
            self.con.execute(f"SET threads = {int(duckdb_threads)}")
        if max_vacuum_tasks is not None:  # 0: a checkpoint does not rewrite older row groups
            self.con.execute(f"SET max_vacuum_tasks = {int(max_vacuum_tasks)}")
        # Packets (journal, keys, values) are written through a cursor of their own, under
        # write_lock: the materialiser writes them from its own (niced) thread while this
        # connection serves the database thread (registry, talk-back, alerts, forwarding).
        self._cursor = self.con.cursor()
        self._packets = PacketStore(self._cursor)
        self.write_lock = threading.Lock()
        self.log: JournalLog | None = None
        self.log_materialiser: LogMaterialiser | None = None
        if journal_first and journal_log:
            self.log = JournalLog(journal_dir(self.path), segment_bytes=segment_bytes)
            self.log_materialiser = LogMaterialiser(
                self.log, self._packets, decode_log, memory_max=memory_max,
                after=self._forward_after(forward_to) if forward_to else None)
        self._warm_up()

    def _forward_after(self, target: str) -> Any:
        def after(con: Any, batch: ColumnBatch, verdicts: list[Any]) -> None:
            frames = [r for r, v in zip(batch.raw, verdicts, strict=True)
                      if v.verdict == "accepted"]
            self.enqueue_forward(target, frames, cst_now(), con)  # in the run's transaction
        return after

    def log_batch(self, batch: ColumnBatch) -> list[str]:
        """Append a column batch to the journal log and fsync it (log writer thread).

        Returns ``journalled`` for every row once the records are durable: the 9014s may go
        out. De-duplication and the value rows follow in DuckDB (:meth:`materialise`).
        With :attr:`max_lag_s` > 0 it first waits while DuckDB lags more than that
        (:meth:`LogMaterialiser.throttle`).
        """
        assert self.log is not None and self.log_materialiser is not None
        self.log_materialiser.throttle(self.max_lag_s)
        now = cst_now()
        seg, ends = self.log.append_columns(
            batch.raw, batch.source, [at or now for at in batch.received_at])
        self.log_materialiser.add(batch, seg, ends)
        return ["journalled"] * len(ends)

    def unthrottle(self) -> None:
        """Let :meth:`log_batch` no longer wait for DuckDB (the gateway is stopping)."""
        if self.log_materialiser is not None:
            self.log_materialiser.unthrottle()

    @property
    def pending_values(self) -> int:
        """Acknowledged packets whose rows are not all in DuckDB yet."""
        n = self.materialiser.pending_packets
        if self.log_materialiser is not None:
            n += self.log_materialiser.pending_records
        return n

    def lag(self) -> dict[str, Any]:
        """Materialiser lag for the status endpoint."""
        out = self.materialiser.lag()
        if self.log_materialiser is not None:
            out.update(self.log_materialiser.lag())
        return out

    def _warm_up(self) -> None:
        """Pay the one-time costs of the ingest path before the first packet waits on them.

        DuckDB imports pandas on the first Arrow scan: seconds without byte-code caches.
        """
        cur = self.con.cursor()
        try:
            cur.register("_lantian_warm", pa.table({"x": [1]}))
            cur.execute("SELECT x FROM _lantian_warm").fetchall()
        finally:
            cur.close()

    def close(self) -> None:
        """Write the pending values, checkpoint and close the connection."""
        try:
            self.materialise()
            self.con.execute("CHECKPOINT")
        finally:
            self._cursor.close()
            self.con.close()
            if self.log is not None:
                self.log.close()

    # -- registry ---------------------------------------------------------------------
    def load_registry(self) -> dict[str, MonitoringPoint]:
        """Return ``{MN: point}`` of every registered monitoring point."""
        return points_cache(self.con)

    def registry_fingerprint(self) -> tuple[int, int]:
        """Cheap summary of the registry that changes whenever a point is added or changed."""
        row = self.con.execute(
            "SELECT count(*), coalesce(sum(hash(mn, password, active, sm4_key)), 0)::HUGEINT"
            " % 9223372036854775807 FROM monitoring_point"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    # -- packets ----------------------------------------------------------------------
    def store_batch(self, items: Sequence[Incoming] | ColumnBatch,
                    forward_to: str | None = None) -> list[str]:
        """Journal and store a batch in one transaction; return one verdict per item.

        ``items`` is either a list of :class:`Incoming` (the per-packet path) or a
        :class:`~lantian.store.columns.ColumnBatch` of plain uploads decoded together (the
        batch path, :mod:`lantian.hj212.gwbatch`); both store the same rows.

        Verdicts: ``accepted`` or ``duplicate`` (both durably stored, both acknowledged), or
        ``held`` for an item with ``held`` set: its raw bytes are journalled (verdict
        ``rejected:<held>`` in the journal, no values, no de-duplication key claimed).
        With ``forward_to`` the accepted frames are also queued for the upstream platform
        before this returns (so before any acknowledgement).
        """
        with self.write_lock:
            return self._store_batch(items, forward_to)

    def _store_batch(self, items: Sequence[Incoming] | ColumnBatch,
                     forward_to: str | None = None) -> list[str]:
        if isinstance(items, ColumnBatch) and self.journal_first:
            out = self._journal_first(items)
            if forward_to:
                frames = [r for r, v in zip(items.raw, out, strict=True) if v == "accepted"]
                self.enqueue_forward(forward_to, frames, cst_now())
            return out
        if isinstance(items, ColumnBatch):
            out = [v.verdict for v in self._packets.ingest_columns(items)]
            if forward_to:
                frames = [r for r, v in zip(items.raw, out, strict=True) if v == "accepted"]
                self.enqueue_forward(forward_to, frames, cst_now())
            return out
        verdicts = self._packets.ingest([
            StoreIncoming(i.frame, i.peer, i.received_at, packet=None if i.held else i.packet,
                          error=i.held)
            for i in items
        ])
        out = ["held" if i.held and v.verdict.startswith("rejected:") else v.verdict
               for i, v in zip(items, verdicts, strict=True)]
        if forward_to:
            frames = [i.frame for i, v in zip(items, out, strict=True) if v == "accepted"]
            self.enqueue_forward(forward_to, frames, cst_now())
        return out

    def _journal_first(self, batch: ColumnBatch) -> list[str]:
        """Commit journal + de-dup keys of a column batch now; queue its values.

        The verdicts, journal ids and journal lines are those of ``ingest_columns``; the
        wide / long rows are written later by :meth:`materialise`
        (:mod:`lantian.store.materialise`).
        """
        p = prepare_batch(without_values(batch))  # classify, keys, journal: no routing
        verdicts = self._packets.ingest_prepared([p])
        out = [v.verdict for v in verdicts]
        self.materialiser.add(deferred_pending(batch, p, [v.packet_id for v in verdicts], out))
        return out

    def materialise(self) -> int:
        """Write everything acknowledged but not yet in DuckDB; return how many packets.

        Any thread (the gateway's materialiser thread); serialised with :meth:`store_batch`.
        """
        with self.write_lock:
            n = self.materialiser.run(self._cursor)
            if self.log_materialiser is not None:
                n += self.log_materialiser.run()
            return n

    def catch_up(self, decode: Any) -> CatchUp:
        """After a restart: write the values of the journal's un-materialised tail.

        ``decode(raw lines) -> ColumnBatch`` is the gateway's batch decoder. Then the
        journal log's records past the watermark are copied (:attr:`CatchUp.written`
        counts both).
        """
        with self.write_lock:
            out = catch_up(self._cursor, decode, self.materialiser.name)
            if self.log_materialiser is not None:
                n = self.log_materialiser.catch_up()
                out.replayed += n
                out.written += n
            return out

    def record_rejected(self, rows: Sequence[tuple[str, bytes, str, str | None]]) -> None:
        """Log rejected packets ``(peer, frame, reason, MN)``; their data is stored nowhere."""
        log_rejected_traffic(self.con, [RejectedTraffic(p, mn, r, f) for p, f, r, mn in rows])

    def rejected_counts(self) -> dict[str, int]:
        """``{reason: count}`` of all rejected traffic stored so far."""
        return rejected_traffic_counts(self.con)

    # -- gateway tables ---------------------------------------------------------------
    def raise_alert(self, mn: str | None, kind: str, detail: str, at: dt.datetime) -> None:
        """Insert an open alert row unless the same one is already open."""
        open_ = self.con.execute(
            "SELECT count(*) FROM gateway_alert WHERE mn IS NOT DISTINCT FROM ? AND kind = ?"
            " AND cleared_at IS NULL",
            [mn, kind],
        ).fetchone()
        if open_ and open_[0]:
            return
        self.con.execute(
            "INSERT INTO gateway_alert (raised_at, mn, kind, detail) VALUES (?, ?, ?, ?)",
            [at, mn, kind, detail],
        )

    def clear_alert(self, mn: str | None, kind: str, at: dt.datetime) -> None:
        """Close the open alerts of that kind for that MN."""
        self.con.execute(
            "UPDATE gateway_alert SET cleared_at = ? WHERE mn IS NOT DISTINCT FROM ?"
            " AND kind = ? AND cleared_at IS NULL",
            [at, mn, kind],
        )

    def set_offline(self, went: Sequence[tuple[str, str]], back: Sequence[str],
                    at: dt.datetime) -> None:
        """Open ``offline`` alerts for ``went`` (MN, detail) and close them for ``back``.

        One statement each, so that thousands of loggers dropping at once (a network outage)
        do not hold up the commits behind them.
        """
        if went:
            frame = pa.table({
                "raised_at": pa.array([at] * len(went), pa.timestamp("us")),
                "mn": pa.array([m for m, _ in went], pa.string()),
                "kind": pa.array(["offline"] * len(went), pa.string()),
                "detail": pa.array([d for _, d in went], pa.string()),
            })
            self.con.register("_lantian_gw_alerts", frame)
            try:
                self.con.execute(
                    "INSERT INTO gateway_alert (raised_at, mn, kind, detail)"
                    " SELECT raised_at, mn, kind, detail FROM _lantian_gw_alerts n"
                    " WHERE NOT EXISTS (SELECT 1 FROM gateway_alert a WHERE a.mn = n.mn"
                    " AND a.kind = 'offline' AND a.cleared_at IS NULL)"
                )
            finally:
                self.con.unregister("_lantian_gw_alerts")
        if back:
            self.con.execute(
                "UPDATE gateway_alert SET cleared_at = ? WHERE kind = 'offline'"
                " AND cleared_at IS NULL AND mn IN (SELECT unnest(?))",
                [at, list(back)],
            )

    def log_commands(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record requests the platform sent to loggers (one statement for all)."""
        if not rows:
            return
        ts = pa.timestamp("us")
        frame = pa.table({
            "sent_at": pa.array([r["sent_at"] for r in rows], ts),
            "mn": pa.array([r["mn"] for r in rows], pa.string()),
            "cn": pa.array([r["cn"] for r in rows], pa.string()),
            "qn": pa.array([r.get("qn") for r in rows], pa.string()),
            "reason": pa.array([r.get("reason") for r in rows], pa.string()),
            "begin_time": pa.array([r.get("begin_time") for r in rows], ts),
            "end_time": pa.array([r.get("end_time") for r in rows], ts),
            "raw": pa.array([r.get("raw") for r in rows], pa.binary()),
        })
        self._insert_arrow("gateway_command", frame)

    def _insert_arrow(self, table: str, frame: pa.Table, con: Any = None) -> None:
        """Insert a whole Arrow table in one statement (``executemany`` runs row by row)."""
        con = self.con if con is None else con
        con.register("_lantian_gw_rows", frame)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _lantian_gw_rows")
        finally:
            con.unregister("_lantian_gw_rows")

    def flush_side(self, commands: Sequence[dict[str, Any]],
                   rejected: Sequence[tuple[str, bytes, str, str | None]],
                   went: Sequence[tuple[str, str]] = (), back: Sequence[str] = (),
                   at: dt.datetime | None = None) -> None:
        """Write the buffered talk-back log, rejected traffic and offline changes."""
        self.set_offline(went, back, at or cst_now())
        self.log_commands(commands)
        if rejected:
            self.record_rejected(rejected)

    def last_period_times(self) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
        """Latest stored minute and hour DataTime of every logger (CST), for gap detection."""
        rows = self.con.execute(
            "SELECT mn, max(m), max(h) FROM ("
            " SELECT mn, max(ts) AS m, NULL::TIMESTAMP AS h FROM flue_minute GROUP BY mn"
            " UNION ALL"
            " SELECT mn, NULL::TIMESTAMP, max(ts) FROM flue_hour GROUP BY mn) GROUP BY mn"
        ).fetchall()
        return {mn: (m, h) for mn, m, h in rows}

    def held_split_parts(self, since: dt.datetime) -> list[tuple[int, dt.datetime, bytes]]:
        """Split-message parts journalled as held since ``since`` (CST), in arrival order.

        A part (PNUM/PNO, HJ 212-2017 §6.3.3) is journalled with its raw bytes only, as
        ``rejected:split part … held for reassembly``, until the part completing its message
        arrives. Returns ``(journal id, received_at, raw)``.
        """
        rows = self.con.execute(
            "SELECT id, received_at, raw FROM packet_journal"
            " WHERE verdict LIKE 'rejected:split part %held for reassembly'"
            " AND received_at >= ? ORDER BY id",
            [since],
        ).fetchall()
        return [(int(i), r, bytes(raw)) for i, r, raw in rows]

    def last_stored_ids(
        self, keys: Sequence[tuple[str, str, dt.datetime]]
    ) -> dict[tuple[str, str, dt.datetime], int]:
        """Latest journal id stored (accepted or duplicate) for each (MN, CN, DataTime)."""
        if not keys:
            return {}
        rows = self.con.execute(
            "SELECT j.mn, j.cn, j.data_time, max(j.id) FROM packet_journal j"
            " JOIN (SELECT unnest(?) AS mn, unnest(?) AS cn, unnest(?::TIMESTAMP[]) AS ts) k"
            " ON j.mn = k.mn AND j.cn = k.cn AND j.data_time = k.ts"
            " WHERE j.verdict IN ('accepted', 'duplicate') GROUP BY ALL",
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        ).fetchall()
        return {(mn, cn, ts): int(i) for mn, cn, ts, i in rows}

    # -- forwarding queue -------------------------------------------------------------
    def enqueue_forward(self, target: str, frames: Sequence[bytes], at: dt.datetime,
                        con: Any = None) -> None:
        """Append frames to the persistent forwarding queue (on ``con``: its transaction)."""
        if frames:
            self._insert_arrow("forward_queue", pa.table({
                "queued_at": pa.array([at] * len(frames), pa.timestamp("us")),
                "target": pa.array([target] * len(frames), pa.string()),
                "raw": pa.array(list(frames), pa.binary()),
            }), con)

    def peek_forward(self, target: str, limit: int) -> list[tuple[int, bytes, int]]:
        """Oldest queued frames for ``target``: ``(id, raw, attempts so far)``."""
        rows = self.con.execute(
            "SELECT id, raw, attempts FROM forward_queue WHERE target = ? ORDER BY id LIMIT ?",
            [target, limit],
        ).fetchall()
        return [(int(i), bytes(r), int(a)) for i, r, a in rows]

    def note_forward_attempt(self, ids: Sequence[int]) -> None:
        """Count one more unanswered send of these queued frames."""
        if ids:
            self.con.execute("UPDATE forward_queue SET attempts = attempts + 1"
                             " WHERE id IN (SELECT unnest(?))", [list(ids)])

    def drop_forward(self, ids: Sequence[int]) -> None:
        """Remove frames the upstream platform has taken."""
        if ids:
            self.con.execute("DELETE FROM forward_queue WHERE id IN (SELECT unnest(?))",
                             [list(ids)])
