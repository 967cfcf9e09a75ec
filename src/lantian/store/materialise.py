"""The materialiser: wide / long value rows of journalled packets, written behind the journal.

With journal-first acknowledgement (:mod:`lantian.store.journal_write`) a packet is
acknowledged once its journal line and de-duplication key are committed; its values wait
in memory (:class:`~lantian.store.journal_write.Pending`) until :meth:`Materialiser.run`
writes the values of everything pending in ONE transaction, together with the watermark
``materialise_watermark.last_id`` (migration ``0292_materialise.sql``): the highest journal
id whose values are written. The wide tables therefore lag the journal by at most the
caller's materialise interval plus one run.

A run that fails (a DuckDB error, e.g. a key already taken in a wide table) is rolled back
and redone packet by packet: each packet whose rows cannot be written is recorded in
``materialise_failure`` (journal id, time, reason — the packet stays in the journal, nothing
is lost) and the packets after it are written all the same.

After a crash (``kill -9``) the values held in memory are gone; :func:`catch_up` finds the
accepted journal lines above the watermark that have no value rows yet (and no failure
record), decodes their raw bytes again with the decoder the caller passes in (the store
knows no protocol), and writes them. Lines written by the per-packet path (values in the
same transaction as the journal) already have their rows and are skipped, so catching up
is idempotent. Times are China Standard Time wall-clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lantian.errors import StoreError
from lantian.store.db import transaction
from lantian.store.journal_write import Pending, accepted_ids, merge_pending, values_of
from lantian.store.prepared import insert_frame, prepare_batch
from lantian.store.routing import WIDE_TABLES
from lantian.store.times import cst_now

if TYPE_CHECKING:
    import duckdb

    from lantian.store.columns import ColumnBatch

__all__ = ["CatchUp", "MaterialiseStats", "Materialiser", "catch_up", "failures", "lag_of",
           "record_failures", "unmaterialised", "watermark", "write_values"]

log = logging.getLogger("lantian.store")

VALUE_TABLES: tuple[str, ...] = (*WIDE_TABLES, "value_long")
"""Tables whose rows carry the ``packet_id`` of the journal line they come from."""

Failure = tuple[int, str]
"""(journal id, reason) of a packet whose values could not be written."""


def _duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


def watermark(con: duckdb.DuckDBPyConnection, name: str = "gateway") -> int:
    """Highest journal id whose values the materialiser ``name`` has written (0: none)."""
    row = con.execute("SELECT last_id FROM materialise_watermark WHERE name = ?",
                      [name]).fetchone()
    return int(row[0]) if row else 0


def failures(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """``(journal id, reason)`` of every packet whose values could not be written."""
    rows = con.execute("SELECT packet_id, reason FROM materialise_failure ORDER BY packet_id")
    return [(int(i), str(r)) for i, r in rows.fetchall()]


def _set_watermark(con: duckdb.DuckDBPyConnection, name: str, last_id: int) -> None:
    con.execute(
        "INSERT INTO materialise_watermark (name, last_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET"
        " last_id = greatest(materialise_watermark.last_id, excluded.last_id),"
        " updated_at = excluded.updated_at",
        [name, last_id, cst_now()],
    )


def record_failures(con: duckdb.DuckDBPyConnection, fails: Sequence[Failure]) -> None:
    """List ``(packet id, reason)`` in ``materialise_failure`` (reasons cut at 2,000 chars)."""
    if fails:
        now = cst_now()
        con.executemany(
            "INSERT OR REPLACE INTO materialise_failure (packet_id, failed_at, reason)"
            " VALUES (?, ?, ?)", [[i, now, r[:2000]] for i, r in fails])


def _present(con: duckdb.DuckDBPyConnection, ids: Sequence[int]) -> set[int]:
    """Which of these journal ids already have value rows."""
    if not ids:
        return set()
    low = min(ids)
    union = " UNION ".join(f"SELECT packet_id FROM {t} WHERE packet_id >= {int(low)}"
                           for t in VALUE_TABLES)
    rows = con.execute(f"SELECT packet_id FROM ({union}) WHERE packet_id IN"
                       " (SELECT unnest(?))", [list(ids)]).fetchall()
    return {int(r[0]) for r in rows}


def write_values(con: duckdb.DuckDBPyConnection, batches: Sequence[Pending],
                 name: str = "gateway", fails: Sequence[Failure] = ()) -> list[Failure]:
    """Write the values of ``batches`` and advance the watermark, in one transaction.

    ``fails`` (already known failures) are recorded in the same transaction. When the
    transaction fails, everything is redone packet by packet (module docstring). Returns
    every failure recorded.

    Raises
    ------
    StoreError
        When even the packet-by-packet path cannot commit (the pending values are kept by
        the caller and tried again; nothing is acknowledged differently).

    """
    if not batches and not fails:
        return []
    err = _duckdb_error()
    last_id = max([b.last_id for b in batches] + [i for i, _ in fails])
    frames: dict[str, list[pa.Table]] = {}
    for b in batches:
        for table, frame in values_of(b).items():
            frames.setdefault(table, []).append(frame)
    try:
        with transaction(con):
            for table, parts in frames.items():
                frame = parts[0] if len(parts) == 1 else pa.concat_tables(
                    parts, promote_options="default")
                insert_frame(con, table, frame)
            record_failures(con, fails)
            _set_watermark(con, name, last_id)
    except err as exc:
        log.warning("materialiser: batch of %d packets failed (%s); writing one by one",
                    sum(b.n_accepted for b in batches), exc)
        return _one_by_one(con, batches, name, last_id, fails)
    return list(fails)


def _one_by_one(con: duckdb.DuckDBPyConnection, batches: Sequence[Pending], name: str,
                last_id: int, fails: Sequence[Failure]) -> list[Failure]:
    """Write each packet in its own transaction; record the ones that fail."""
    err = _duckdb_error()
    out = list(fails)
    ids = [i for b in batches for i in accepted_ids(b)]
    done = _present(con, ids)  # an earlier, interrupted pass may have written some
    for b in batches:
        for pid in accepted_ids(b):
            if pid in done:
                continue
            try:
                with transaction(con):
                    for table, frame in values_of(b, only=pid).items():
                        insert_frame(con, table, frame)
            except err as exc:
                out.append((pid, f"values not written: {exc}".replace("\n", " ")))
    try:
        with transaction(con):
            record_failures(con, out)
            _set_watermark(con, name, last_id)
    except err as exc:
        raise StoreError(f"materialiser: watermark {last_id} not written: {exc}") from exc
    for pid, reason in out[len(fails):]:
        log.error("materialiser: values of journal id %d not written (%s); the packet stays "
                  "in the journal and is listed in materialise_failure", pid, reason)
    return out


@dataclass
class MaterialiseStats:
    """What the materialiser did and how far behind the journal it is (monotonic times [s])."""

    runs: int = 0
    packets: int = 0
    failures: int = 0
    cpu_s: float = 0.0  # CPU time of the runs, on the thread that ran them [s]
    max_pending: int = 0  # most packets ever waiting [packets]
    max_lag_s: float = 0.0  # longest a packet waited from journal commit to its values [s]
    last_id: int = 0
    last_journalled: float = 0.0  # when the newest pending batch was journalled
    caught_up: float = 0.0  # when a run last left nothing pending


def _catch_up_s(s: MaterialiseStats, pending: int) -> float:
    if pending or s.caught_up < s.last_journalled:
        return 0.0
    return s.caught_up - s.last_journalled


def lag_of(s: MaterialiseStats, pending: int, oldest: float | None,
           now: float | None = None) -> dict[str, Any]:
    """Status fields of a materialiser.

    ``pending`` packets wait, the oldest since ``oldest`` (:func:`time.monotonic` [s]).
    """
    now = time.monotonic() if now is None else now
    return {
        "materialise_pending_packets": pending,
        "materialise_lag_s": round(now - oldest, 3) if oldest is not None else 0.0,
        "materialise_max_pending_packets": s.max_pending,
        "materialise_max_lag_s": round(s.max_lag_s, 3),
        "materialised_up_to_id": s.last_id,
        "materialise_runs": s.runs,
        "materialise_failures": s.failures,
        "materialise_cpu_s": round(s.cpu_s, 3),
        "materialise_catch_up_s": round(_catch_up_s(s, pending), 3),
    }


class Materialiser:
    """Values of journalled packets waiting in memory; written by :meth:`run`.

    :meth:`add` and :meth:`lag` may be called from any thread; :meth:`run` from the one
    thread that owns the connection.
    """

    def __init__(self, name: str = "gateway", memory_max: int | None = None,
                 decode: Callable[[list[bytes]], ColumnBatch] | None = None) -> None:
        self.name = name
        self.memory_max, self.decode = memory_max, decode
        self._pending: deque[Pending] = deque()
        self._n_pending = 0
        self._dropped = 0  # packets dropped from memory: re-read from the journal next run
        self._dropped_since = 0.0
        self._lock = threading.Lock()
        self.stats = MaterialiseStats()

    def add(self, pend: Pending) -> None:
        """Queue the values of a batch whose journal commit has returned.

        With ``memory_max`` and ``decode``: past ``memory_max`` waiting packets (e.g. while
        the materialiser's transactions fail) everything waiting is dropped from memory and
        the next :meth:`run` re-reads it from the journal (:func:`catch_up`).
        """
        with self._lock:
            over = self.memory_max is not None and self.decode is not None and \
                self._n_pending + self._dropped + pend.n_accepted > self.memory_max
            if self._dropped or over:
                if not self._dropped:
                    first = self._pending[0].journalled_at if self._pending \
                        else pend.journalled_at
                    self._dropped_since = first
                self._dropped += self._n_pending + pend.n_accepted
                self._pending.clear()
                self._n_pending = 0
                self.stats.last_journalled = pend.journalled_at
                self.stats.max_pending = max(self.stats.max_pending, self._dropped)
                return
            self._pending.append(pend)
            self._n_pending += pend.n_accepted
            s = self.stats
            s.max_pending = max(s.max_pending, self._n_pending)
            s.last_journalled = pend.journalled_at

    @property
    def pending_packets(self) -> int:
        """Accepted packets whose values are not written yet."""
        return self._n_pending + self._dropped

    def lag(self, now: float | None = None) -> dict[str, Any]:
        """Lag of the wide tables behind the journal, for the status endpoint."""
        with self._lock:
            oldest = self._dropped_since if self._dropped else \
                self._pending[0].journalled_at if self._pending else None
            n = self._n_pending + self._dropped
        return lag_of(self.stats, n, oldest, now)

    def catch_up_s(self) -> float:
        """Seconds from the last journal commit to the run that wrote its values (0: pending)."""
        return _catch_up_s(self.stats, self.pending_packets)

    def run(self, con: duckdb.DuckDBPyConnection) -> int:
        """Write everything pending (one transaction); return the packets written.

        Raises
        ------
        StoreError
            When nothing could be committed; the values stay pending for the next run.

        """
        if self._dropped:
            return self._reread(con)
        with self._lock:
            batch = list(self._pending)
        if not batch:
            return 0
        t0 = time.thread_time()
        fails = write_values(con, merge_pending(batch), self.name)
        done = time.monotonic()
        s = self.stats
        n = sum(b.n_accepted for b in batch)
        with self._lock:
            for _ in batch:
                self._pending.popleft()
            self._n_pending -= n
            if not self._pending:
                s.caught_up = done
        s.runs += 1
        s.packets += n - len(fails)
        s.failures += len(fails)
        s.max_lag_s = max(s.max_lag_s, done - batch[0].journalled_at)
        s.last_id = max(s.last_id, max(b.last_id for b in batch))
        s.cpu_s += time.thread_time() - t0
        return n - len(fails)


    def _reread(self, con: duckdb.DuckDBPyConnection) -> int:
        """Write the packets dropped from memory, read back from the journal."""
        assert self.decode is not None
        t0 = time.thread_time()
        done = catch_up(con, self.decode, self.name)
        s = self.stats
        with self._lock:
            s.max_lag_s = max(s.max_lag_s, time.monotonic() - self._dropped_since)
            self._dropped = 0
            if not self._pending:
                s.caught_up = time.monotonic()
        s.runs += 1
        s.packets += done.written
        s.failures += len(done.failed)
        s.last_id = watermark(con, self.name)
        s.cpu_s += time.thread_time() - t0
        return done.written


def unmaterialised(con: duckdb.DuckDBPyConnection,
                   name: str = "gateway") -> list[tuple[int, bytes]]:
    """Return the journal's un-materialised tail: ``(journal id, raw bytes)`` in id order.

    Accepted lines above the watermark with a DataTime, no value rows and no failure record.
    """
    low = watermark(con, name)
    union = " UNION ALL ".join(f"SELECT packet_id FROM {t} WHERE packet_id > {low}"
                               for t in VALUE_TABLES)
    rows = con.execute(
        "SELECT id, raw FROM packet_journal WHERE id > ? AND verdict = 'accepted'"
        " AND data_time IS NOT NULL"
        " AND id NOT IN (SELECT packet_id FROM materialise_failure)"
        f" AND id NOT IN ({union}) ORDER BY id", [low]).fetchall()
    return [(int(i), bytes(r)) for i, r in rows]


@dataclass
class CatchUp:
    """What :func:`catch_up` did."""

    replayed: int = 0  # journal lines decoded again
    written: int = 0  # of those, packets whose values were written
    failed: list[Failure] = field(default_factory=list)


def catch_up(con: duckdb.DuckDBPyConnection, decode: Callable[[list[bytes]], ColumnBatch],
             name: str = "gateway", chunk: int = 5000) -> CatchUp:
    """Write the values of the journal's un-materialised tail (after a crash).

    ``decode`` turns raw journal lines into a :class:`~lantian.store.columns.ColumnBatch`
    (the protocol layer passes its batch decoder). A line that no longer decodes as an
    accepted packet is recorded in ``materialise_failure``, never dropped silently.
    """
    tail = unmaterialised(con, name)
    out = CatchUp(replayed=len(tail))
    for k in range(0, len(tail), chunk):
        part = tail[k:k + chunk]
        ids = [i for i, _ in part]
        p = prepare_batch(decode([r for _, r in part]), with_raw=False)
        fails = [(i, f"decoded again after a restart as {v}")
                 for i, v in zip(ids, p.verdict, strict=True) if v != "accepted"]
        pend = Pending(ids=np.asarray(ids, dtype=np.int64),
                       accepted=np.array([v == "accepted" for v in p.verdict], dtype=bool),
                       wide=p.wide, long=p.long)
        got = write_values(con, [pend], name, fails)
        out.failed.extend(got)
        out.written += len(part) - len(got)
    return out
