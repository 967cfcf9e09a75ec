"""The journal-log materialiser: records of the file journal log copied into DuckDB.

With the file journal (:mod:`lantian.store.journal_log`) a packet is acknowledged once its
record is flushed to the disk. Everything DuckDB holds of it — the ``packet_journal`` line
with its final verdict (``accepted`` or ``duplicate``: de-duplication through
``packet_key``), the key, the wide-table rows and ``value_long`` — is written here, by
:meth:`LogMaterialiser.run`, in ONE transaction per run through the store's ordinary write
path (``prepare_batch`` + ``PacketStore.ingest_prepared``), together with the watermark
``journal_log_watermark`` (segment, offset) of the last record it covers (migration
``0293_journal_log.sql``). So after a crash exactly the records past the watermark are
replayed: none is lost and none is written twice.

Records wait in memory as the decoded batches the gateway already has (no second decode);
past ``memory_max`` records they are dropped from memory and read back from the segment
files at the next run (so memory is bounded while DuckDB transactions fail). After a
restart :meth:`LogMaterialiser.catch_up` replays the log from the watermark, decoding raw
bytes with the decoder the caller passes in (the store knows no protocol).

A run whose transaction fails is redone record by record; a record whose rows cannot be
written is journalled alone (its line and key, no values) and listed in
``materialise_failure`` — reported, not lost, and not blocking the records after it. (A
decoder that raises — a bug: the codec answers every byte string with a verdict — stops the
materialiser at that record rather than dropping acknowledged bytes; it is logged and
counted, and DuckDB's lag grows visibly on the status.)
Segment files behind the watermark are deleted after each run. Times are China Standard
Time wall-clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lantian.errors import StoreError
from lantian.store.journal_log import JournalLog, LogRecord, Position
from lantian.store.journal_write import merge_batches, without_values
from lantian.store.materialise import MaterialiseStats, lag_of, record_failures
from lantian.store.prepared import prepare_batch
from lantian.store.times import cst_now

if TYPE_CHECKING:
    import duckdb

    from lantian.store.columns import ColumnBatch
    from lantian.store.ingest import PacketStore, Verdict

__all__ = ["LogMaterialiser", "LogPending", "log_watermark"]

log = logging.getLogger("lantian.store")

Decode = Callable[[list[bytes], list[str], list[Any]], "ColumnBatch"]
"""``decode(raw, peers, received_at) -> ColumnBatch`` with one row per record."""

After = Callable[["duckdb.DuckDBPyConnection", "ColumnBatch", "Sequence[Verdict]"], None]
"""Extra statements in a run's transaction (e.g. the forwarding queue of accepted frames)."""


def log_watermark(con: duckdb.DuckDBPyConnection, name: str = "gateway") -> Position:
    """Position of the last journal-log record written to DuckDB (``(0, 0)``: none)."""
    row = con.execute('SELECT segment, "offset" FROM journal_log_watermark WHERE name = ?',
                      [name]).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _set_watermark(con: duckdb.DuckDBPyConnection, name: str, pos: Position) -> None:
    """Record ``pos`` as the watermark ``name`` (in the caller's transaction).

    An ``UPDATE`` of the existing row; the upsert only for the first one (the upsert costs
    DuckDB ≈ 2–4 ms of CPU per run, the update ≈ 0.5 ms: session 8, runs of 10,000).
    """
    updated = con.execute(
        'UPDATE journal_log_watermark SET segment = ?, "offset" = ?, updated_at = ? '
        "WHERE name = ?", [pos[0], pos[1], cst_now(), name]).fetchone()
    if updated is not None and int(updated[0]) > 0:
        return
    con.execute(
        'INSERT INTO journal_log_watermark (name, segment, "offset", updated_at)'
        " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET segment = excluded.segment,"
        ' "offset" = excluded."offset", updated_at = excluded.updated_at',
        [name, pos[0], pos[1], cst_now()])


@dataclass
class LogPending:
    """Records of one fsync'd append waiting for DuckDB.

    ``batch`` holds their decoded rows (None once dropped from memory: read back from the
    log); record *i* ends at ``(segment, ends[i])``; ``journalled_at`` is
    :func:`time.monotonic` when the fsync returned [s].
    """

    batch: ColumnBatch | None
    segment: int
    ends: list[int]
    journalled_at: float

    @property
    def end(self) -> Position:
        """Position past the last record."""
        return (self.segment, self.ends[-1])

    @property
    def n(self) -> int:
        """Records."""
        return len(self.ends)


@dataclass
class LogMaterialiseStats(MaterialiseStats):
    """What the log materialiser did (monotonic times [s]); ``packets``: records written."""

    replayed: int = 0  # records read back from the segment files
    spills: int = 0  # times the waiting batches were dropped from memory
    throttled: int = 0  # appends that waited for DuckDB (max_lag_s)
    throttled_s: float = 0.0  # their total wait [s]


class LogMaterialiser:
    """Copies journal-log records into DuckDB (module docstring).

    :meth:`add` and :meth:`lag` may be called from any thread; :meth:`run` and
    :meth:`catch_up` from the one thread that owns the connection of ``packets``.
    """

    def __init__(self, journal: JournalLog, packets: PacketStore, decode: Decode,
                 name: str = "gateway", memory_max: int = 200_000, chunk: int = 20_000,
                 after: After | None = None) -> None:
        self.log, self.packets, self.decode, self.name = journal, packets, decode, name
        self.memory_max, self.chunk, self.after = memory_max, chunk, after
        self.position = log_watermark(packets.con, name)
        if journal.end < self.position:  # a log younger than the database's watermark
            log.warning("journal log %s ends at %s, before the watermark %s: continuing in "
                        "segment %d", journal.directory, journal.end, self.position,
                        self.position[0] + 1)
            journal.roll_to(self.position[0] + 1)
        self._pending: deque[LogPending] = deque()
        self._n_pending = 0
        self._in_memory = 0
        self._lock = threading.Lock()
        self._ran = threading.Condition(self._lock)  # notified at the end of every run
        self._failing = False  # the last run raised: throttle() does not wait then
        self._unthrottled = False  # set by unthrottle() (shutting down): never wait again
        self.stats = LogMaterialiseStats()

    # -- from the log writer thread ---------------------------------------------------
    def add(self, batch: ColumnBatch, segment: int, ends: Sequence[int]) -> None:
        """Queue the rows of an append whose fsync has returned (row *i* = record *i*)."""
        pend = LogPending(batch, segment, list(ends), time.monotonic())
        with self._lock:
            self._pending.append(pend)
            self._n_pending += pend.n
            self._in_memory += pend.n
            s = self.stats
            s.max_pending = max(s.max_pending, self._n_pending)
            s.last_journalled = pend.journalled_at
            spill = self._in_memory > self.memory_max
        if spill:  # bound memory: read back from the log
            self._spill()

    def _spill(self) -> None:
        """Drop the waiting batches from memory; the next run reads the log instead."""
        with self._lock:
            for p in self._pending:
                p.batch = None
            self._in_memory = 0
            self.stats.spills += 1

    def throttle(self, max_lag_s: float, now: float | None = None) -> float:
        """Wait while the oldest record not in DuckDB is older than ``max_lag_s`` [s].

        The log writer calls this before an append: in a sustained overload the niced
        materialiser would otherwise fall ever further behind, so acknowledgements slow to
        what DuckDB absorbs and the lag stays bounded (``gateway.toml [materialise]
        max_lag_s``; 0 = no bound). It does not wait while the materialiser is failing (its
        last run raised): the records are durable in the log and the gateway keeps
        acknowledging, bounded by the disk-full stop. Returns the time waited [s].
        """
        if max_lag_s <= 0:
            return 0.0
        t0 = time.monotonic()
        with self._ran:
            while (self._pending and not self._failing and not self._unthrottled
                   and time.monotonic() - self._pending[0].journalled_at > max_lag_s):
                self._ran.wait(0.1)
        waited = time.monotonic() - t0
        if waited > 0.001:
            self.stats.throttled += 1
            self.stats.throttled_s += waited
        return waited

    def unthrottle(self) -> None:
        """Stop :meth:`throttle` from waiting, now and later (the gateway is stopping)."""
        with self._ran:
            self._unthrottled = True
            self._ran.notify_all()

    @property
    def pending_records(self) -> int:
        """Acknowledged records not yet in DuckDB."""
        return self._n_pending

    def lag(self, now: float | None = None) -> dict[str, Any]:
        """How far DuckDB is behind the journal log, for the status endpoint."""
        now = time.monotonic() if now is None else now
        with self._lock:
            oldest = self._pending[0].journalled_at if self._pending else None
            n = self._n_pending
        return {
            **lag_of(self.stats, n, oldest, now),
            "materialise_replayed": self.stats.replayed,
            "materialise_spills": self.stats.spills,
            "materialise_throttled": self.stats.throttled,
            "materialise_throttled_s": round(self.stats.throttled_s, 3),
            "journal_log_watermark": f"{self.position[0]}:{self.position[1]}",
            **self.log.status(),
        }

    # -- on the database thread -------------------------------------------------------
    def run(self) -> int:
        """Write every waiting record to DuckDB; return how many (0: nothing waited).

        Raises
        ------
        StoreError
            When nothing could be committed; the records stay waiting (in memory or in the
            log) for the next run.

        """
        with self._lock:
            taken = list(self._pending)
        if not taken:
            return 0
        t0 = time.thread_time()
        todo = [p for p in taken if p.end > self.position]
        batches = [p.batch for p in todo]  # once: another thread may drop them meanwhile
        try:
            if any(b is None for b in batches):
                self._replay(todo[-1].end)
            elif todo:
                batch = merge_batches([b for b in batches if b is not None])
                self._write(batch, [(p.segment, e) for p in todo for e in p.ends])
        except Exception as exc:
            if isinstance(exc, StoreError):
                self._spill()  # read back from the log at the watermark, record-exact
            with self._ran:
                self._failing = True
                self._ran.notify_all()
            raise
        finally:
            self.stats.cpu_s += time.thread_time() - t0
        done = time.monotonic()
        n = sum(p.n for p in taken)
        s = self.stats
        with self._lock:
            for p in taken:
                self._pending.popleft()
                if p.batch is not None:
                    self._in_memory -= p.n
            self._n_pending -= n
            if not self._pending:
                s.caught_up = done
            self._failing = False
            self._ran.notify_all()
        s.runs += 1
        s.max_lag_s = max(s.max_lag_s, done - taken[0].journalled_at)
        self.log.release(self.position)
        return n

    def catch_up(self) -> int:
        """After a restart: write the records past the watermark; return how many."""
        t0 = time.thread_time()
        try:
            n = self._replay(self.log.end)
        finally:
            self.stats.cpu_s += time.thread_time() - t0
        self.log.release(self.position)
        return n

    def _replay(self, stop: Position) -> int:
        """Read the records from the watermark up to ``stop`` and write them, in chunks."""
        n = 0
        recs: list[tuple[Position, LogRecord]] = []
        for item in self.log.read(self.position, stop):
            recs.append(item)
            if len(recs) >= self.chunk:
                n += self._write_records(recs)
                recs = []
        if recs:
            n += self._write_records(recs)
        self.stats.replayed += n
        return n

    def _write_records(self, recs: list[tuple[Position, LogRecord]]) -> int:
        batch = self.decode([r.raw for _, r in recs], [r.peer for _, r in recs],
                            [r.received_at for _, r in recs])
        self._write(batch, [p for p, _ in recs])
        return len(recs)

    def _write(self, batch: ColumnBatch, pos: list[Position]) -> None:
        """One transaction for ``batch`` (+ watermark); record by record if it fails."""
        end = pos[-1]

        def also(con: duckdb.DuckDBPyConnection, verdicts: Sequence[Verdict]) -> None:
            if self.after is not None:
                self.after(con, batch, verdicts)
            _set_watermark(con, self.name, end)
            self.stats.last_id = max(self.stats.last_id, verdicts[-1].packet_id)

        try:  # store_prepared: no Verdict object per record for a result nobody reads
            self.packets.store_prepared([prepare_batch(batch)], also=also)
        except Exception as exc:  # StoreError, or a batch that does not prepare: one by one
            log.warning("materialiser: %d journal-log records failed together (%s); "
                        "writing one by one", len(pos), exc)
            self._one_by_one(batch, pos)
        else:
            self.stats.packets += len(pos)
        self.position = end

    def _one_by_one(self, batch: ColumnBatch, pos: list[Position]) -> None:
        """Each record alone; a record whose rows fail is journalled alone and reported."""
        raws, peers, received = list(batch.raw), list(batch.source), list(batch.received_at)
        for i, at in enumerate(pos):
            try:
                one = self.decode([raws[i]], [peers[i]], [received[i]])
            except Exception as exc:  # the decoder must not stop the records after it
                raise StoreError(f"journal-log record {at[0]}:{at[1]} does not decode: "
                                 f"{exc}") from exc

            def also(con: duckdb.DuckDBPyConnection, verdicts: Sequence[Verdict],
                     one: ColumnBatch = one, at: Position = at) -> None:
                if self.after is not None:
                    self.after(con, one, verdicts)
                _set_watermark(con, self.name, at)

            try:
                self.packets.ingest_prepared([prepare_batch(one)], also=also)
                self.stats.packets += 1
            except Exception as exc:  # reported in materialise_failure, not raised
                reason = f"values not written: {exc}".replace("\n", " ")[:2000]
                self._journal_alone(one, at, reason)
            self.position = at

    def _journal_alone(self, one: ColumnBatch, at: Position, reason: str) -> None:
        """Journal line and key of a record whose values failed, + its failure record."""

        def also(con: duckdb.DuckDBPyConnection, verdicts: Sequence[Verdict]) -> None:
            record_failures(con, [(verdicts[0].packet_id, reason)])
            _set_watermark(con, self.name, at)

        # raises StoreError when even this fails: the record stays in the log (watermark
        # before it) and the next run tries again from the segment files
        self.packets.ingest_prepared([prepare_batch(without_values(one))], also=also)
        self.stats.failures += 1
        log.error("materialiser: values of journal-log record %d:%d not written (%s); its "
                  "journal line is stored and listed in materialise_failure", *at, reason)
