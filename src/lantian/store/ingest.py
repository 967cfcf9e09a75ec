"""Store decoded packets: journal, de-duplication, wide and long tables — one transaction a batch.

This is the store API used by the HJ 212 gateway and by ``lantian import packets``::

    store = PacketStore(con)
    verdicts = store.ingest([Incoming(raw, "10.0.0.5:51234", received_at, packet=pkt), ...])
    # acknowledge (9014) only the packets whose verdict is stored: every verdict returned
    # is already committed and durable (DuckDB write-ahead log) when ingest() returns.

For each batch, in ONE transaction:

1. every item is appended to ``packet_journal`` (raw bytes unchanged, source/peer, receive
   time in China Standard Time, verdict ``accepted`` / ``duplicate`` / ``rejected:<reason>``);
2. retransmissions are found by (MN, CN, DataTime) — or (MN, CN, QN) for packets without
   a DataTime — in ``packet_key`` (HJ 212-2017 §6.6: DataTime labels the start of the
   period, so the key is the period) and within the batch; duplicates are journalled and
   not written again;
3. the values of accepted packets with a DataTime go to ``flue_rtd`` (CN 2011),
   ``flue_minute`` (2051), ``flue_hour`` (2061), ``flue_day`` (2031) and ``value_long``
   (see :mod:`lantian.store.routing`).

The store knows no protocol: it takes already decoded objects with the attributes of
:class:`PacketLike` (the codec's ``lantian.hj212.Packet`` has them) and never parses bytes.
Authentication (unknown MN, wrong password) is the gateway's job; such traffic goes to
:func:`lantian.store.traffic.log_rejected_traffic`, never here.

One :class:`PacketStore` per database file and process (DuckDB allows one writer); its
methods are serialised by a lock, so the gateway may call them from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol, overload

import duckdb
import pyarrow as pa

from lantian.errors import StoreError
from lantian.store.cells import DataRow, LongRows, long_table, wide_table
from lantian.store.columns import ColumnBatch
from lantian.store.prepared import (
    JOURNAL_SCHEMA,
    Classified,
    Key,
    PreparedBatch,
    claim_keys,
    classified_columns,
    classify_fields,
    first_copies,
    insert_frame,
    keys_frame,
    prepare_batch,
    rejected,
    write_prepared,
)
from lantian.store.routing import TABLE_OF_CN
from lantian.store.times import cst_now, parse_data_time, timestamps

__all__ = [
    "ColumnBatch",
    "Incoming",
    "PacketLike",
    "PacketStore",
    "Verdict",
    "Verdicts",
    "cst_now",
    "parse_data_time",
]

log = logging.getLogger("lantian.store")

class PacketLike(Protocol):
    """What the store reads from a decoded packet (``lantian.hj212.Packet`` fits)."""

    @property
    def mn(self) -> str | None: ...  # noqa: D102
    @property
    def cn(self) -> str | None: ...  # noqa: D102
    @property
    def st(self) -> str | None: ...  # noqa: D102
    @property
    def qn(self) -> str | None: ...  # noqa: D102
    @property
    def version(self) -> str | None: ...  # noqa: D102
    @property
    def data_time(self) -> str | None: ...  # noqa: D102
    @property
    def values(self) -> Mapping[str, Mapping[str, Any]]: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class Incoming:
    """One packet as received: raw bytes, where from, when, and its decoding.

    Parameters
    ----------
    raw
        The packet bytes exactly as received (kept unchanged in the journal).
    source
        Peer ``"ip:port"`` for the gateway, ``"file:<name>:<line>"`` for imports.
    received_at
        Receive time, China Standard Time wall-clock; None = now.
    packet
        The decoded packet, or None when decoding failed.
    error
        Why decoding failed (journalled as ``rejected:<error>``); ignored when ``packet``
        is given.

    """

    raw: bytes
    source: str
    received_at: dt.datetime | None = None
    packet: PacketLike | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What happened to one item: its journal id and ``accepted``/``duplicate``/``rejected:…``."""

    packet_id: int
    verdict: str

    @property
    def stored(self) -> bool:
        """True when the packet's data is durably stored (accepted now or before).

        The gateway acknowledges exactly these: a duplicate is a retransmission whose first
        copy is stored, so the logger may drop it from its buffer.
        """
        return self.verdict in ("accepted", "duplicate")


class Verdicts(Sequence[Verdict]):
    """The verdicts of consecutive journal ids from ``base``, each made when it is read.

    What an ``also`` hook of :meth:`PacketStore.ingest_prepared` receives: the gateway's
    materialiser reads one verdict of its run (the last id) where a list would build one
    :class:`Verdict` per record (≈ 0.5 µs/packet, gw9 session 9).
    """

    __slots__ = ("base", "texts")

    def __init__(self, base: int, texts: Sequence[str]) -> None:
        self.base = base
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, i: int) -> Verdict: ...
    @overload
    def __getitem__(self, i: slice) -> list[Verdict]: ...
    def __getitem__(self, i: int | slice) -> Verdict | list[Verdict]:
        n = len(self.texts)
        if isinstance(i, slice):
            return [Verdict(self.base + k, self.texts[k]) for k in range(*i.indices(n))]
        k = i + n if i < 0 else i
        if not 0 <= k < n:
            raise IndexError(f"verdict {i} of {n}")
        return Verdict(self.base + k, self.texts[k])

    def __iter__(self) -> Iterator[Verdict]:
        return map(Verdict, range(self.base, self.base + len(self.texts)), self.texts)


class PacketStore:
    """Batch writer of packets into one DuckDB database (see the module docstring).

    Parameters
    ----------
    con
        An open, migrated connection (:func:`lantian.store.db.connect`).
    checkpoint_interval_s
        Seconds between ``CHECKPOINT`` calls made after a commit [s]. Commits are durable
        through DuckDB's write-ahead log; a checkpoint only folds the log into the file.

    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, *, checkpoint_interval_s: float = 300.0
    ) -> None:
        self.con = con
        self.checkpoint_interval_s = checkpoint_interval_s
        self._lock = threading.Lock()
        self._next_id = self._max_id() + 1
        self._last_checkpoint = time.monotonic()
        # protocol version last written per MN by this store: a commit whose points all sent
        # the version already recorded skips the UPDATE (about 1.7 ms CPU per commit)
        self._protocol_seen: dict[str, str] = {}

    def _max_id(self) -> int:
        """Largest journal id ever assigned: in DuckDB or, once rolled, in the lake.

        :func:`lantian.store.lake.roll` records the largest id it moves out
        (``store_setting.journal_id_high``), so ids never restart after a roll that
        emptied ``packet_journal`` (they key ``value_long.packet_id`` and the lake view).
        """
        row = self.con.execute(
            "SELECT greatest(coalesce((SELECT max(id) FROM packet_journal), 0), "
            "coalesce((SELECT CAST(value AS BIGINT) FROM store_setting "
            "WHERE name = 'journal_id_high'), 0))"
        ).fetchone()
        return int(row[0]) if row else 0

    def journal_rows(self) -> int:
        """Rows now in ``packet_journal`` (the bulk import aligns its transactions on them)."""
        with self._lock:
            row = self.con.execute("SELECT count(*) FROM packet_journal").fetchone()
        return int(row[0]) if row else 0

    def ingest(self, items: Sequence[Incoming]) -> list[Verdict]:
        """Store a batch in one transaction and return one verdict per item, in order.

        Raises
        ------
        StoreError
            When the transaction failed; nothing of the batch is stored then (and nothing
            must be acknowledged).

        """
        if not items:
            return []
        with self._lock:
            try:
                verdicts = self._ingest_locked(items)
            except duckdb.Error as exc:
                self._next_id = self._max_id() + 1
                raise StoreError(f"batch of {len(items)} packets not stored: {exc}") from exc
            self._maybe_checkpoint_locked()
            return verdicts

    def ingest_columns(self, batch: ColumnBatch) -> list[Verdict]:
        """Store a batch given as columns (bulk import); same rules and result as :meth:`ingest`.

        Raises
        ------
        StoreError
            When the transaction failed; nothing of the batch is stored then.

        """
        if not len(batch):
            return []
        return self.ingest_prepared([prepare_batch(batch)])

    def ingest_prepared(
        self, parts: Sequence[PreparedBatch],
        also: Callable[[duckdb.DuckDBPyConnection, Sequence[Verdict]], None] | None = None,
    ) -> list[Verdict]:
        """Store consecutive prepared batches in ONE transaction; one verdict per line, in order.

        ``parts`` come from :func:`lantian.store.prepared.prepare_batch` (which may run in
        another process); the result is that of :meth:`ingest_columns` on the batches joined
        in order: the first copy of a packet is accepted, later ones are duplicates.
        ``also(con, verdicts)`` runs inside the same transaction before the commit (the
        gateway's materialiser writes its journal-log watermark there).

        Raises
        ------
        StoreError
            When the transaction failed; nothing of any part is stored then.

        """
        base, texts = self.store_prepared(parts, also)
        return list(map(Verdict, range(base, base + len(texts)), texts))

    def store_prepared(
        self, parts: Sequence[PreparedBatch],
        also: Callable[[duckdb.DuckDBPyConnection, Sequence[Verdict]], None] | None = None,
    ) -> tuple[int, list[str]]:
        """:meth:`ingest_prepared` without :class:`Verdict` objects (the bulk import's call).

        Returns the journal id of the first line and the verdict text of every line, in
        order (line *i* has id ``base + i``): a million ``Verdict`` objects cost the
        importing process ≈ 1 µs/packet.

        Raises
        ------
        StoreError
            When the transaction failed; nothing of any part is stored then.

        """
        return self._store_parts(parts, also, sum(p.n for p in parts))

    def store_stream(self, parts: Iterable[PreparedBatch]) -> tuple[int, list[str]]:
        """:meth:`store_prepared` of parts that arrive one after the other: ONE transaction.

        Each part is written into the open transaction as soon as ``parts`` gives it, so its
        INSERTs overlap whatever produces the next part (the bulk import's workers); COMMIT
        after the last. An exception raised by ``parts`` rolls the transaction back and
        propagates. The store's lock is held throughout.

        Raises
        ------
        StoreError
            When the transaction failed; nothing of any part is stored then.

        """
        return self._store_parts(parts, None, None)

    def _store_parts(
        self, parts: Iterable[PreparedBatch],
        also: Callable[[duckdb.DuckDBPyConnection, Sequence[Verdict]], None] | None,
        total: int | None,
    ) -> tuple[int, list[str]]:
        offered = [0]  # lines of the parts taken so far (a failed stream's error names them)

        def counted() -> Iterator[PreparedBatch]:
            for p in parts:
                offered[0] += p.n
                yield p

        with self._lock:
            base = self._next_id
            try:
                texts = self._prepared_locked(counted(), also)
            except duckdb.Error as exc:
                self._next_id = self._max_id() + 1
                n = total if total is not None else offered[0]
                raise StoreError(f"batch of {n} packets not stored: {exc}") from exc
            if texts:
                self._maybe_checkpoint_locked()
            return base, texts

    def _prepared_locked(
        self, parts: Iterable[PreparedBatch],
        also: Callable[[duckdb.DuckDBPyConnection, Sequence[Verdict]], None] | None = None,
    ) -> list[str]:
        """Write the non-empty ``parts`` in one transaction, begun at the first of them."""
        con = self.con
        base = at = self._next_id
        texts: list[str] = []
        last: dict[str, str] = {}
        it = (p for p in parts if p.n)
        first = next(it, None)
        if first is None:
            return texts
        con.execute("BEGIN TRANSACTION")
        try:
            for p in chain((first,), it):
                verdict, seen = write_prepared(con, p, at)
                texts.extend(verdict)
                last.update(seen)
                at += p.n
            noted = self._write_protocol(last)
            if also is not None:
                also(con, Verdicts(base, texts))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._protocol_seen.update(noted)
        self._next_id = at
        return texts

    def _ingest_locked(self, items: Sequence[Incoming]) -> list[Verdict]:
        now = cst_now()
        journal = {
            k: [getattr(it.packet, k, None) for it in items]
            for k in ("mn", "st", "cn", "qn", "version")
        }

        def write_values(verdict: list[str], ts_of: list[dt.datetime | None], base: int) -> None:
            self._write_values(items, verdict, ts_of, base)

        return self._transaction(
            classified_columns([_classify(it) for it in items]),
            [it.received_at or now for it in items],
            [it.source for it in items],
            [it.raw for it in items],
            journal,
            write_values,
        )

    def _transaction(
        self,
        classified: tuple[list[str], list[dt.datetime | None], list[Key | None]],
        received: list[dt.datetime],
        source: list[str],
        raw: list[bytes],
        journal: dict[str, list[str | None]],
        write_values: Callable[[list[str], list[dt.datetime | None], int], None],
    ) -> list[Verdict]:
        verdict, ts_of, keys = classified
        n = len(verdict)
        base = self._next_id
        key_rows = first_copies(keys, verdict)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if key_rows:
                self._claim_keys(key_rows, ts_of, received, base, verdict)
            write_values(verdict, ts_of, base)
            self._write_journal(journal, source, raw, verdict, ts_of, received, base)
            noted = self._note_protocol(journal["mn"], journal["version"], verdict)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._protocol_seen.update(noted)
        self._next_id = base + n
        return [Verdict(base + i, v) for i, v in enumerate(verdict)]

    def _note_protocol(
        self, mns: list[str | None], versions: list[str | None], verdict: list[str]
    ) -> dict[str, str]:
        """Record the protocol version last seen from each registered point (see below)."""
        last: dict[str, str] = {}
        for mn, version, v in zip(mns, versions, verdict, strict=True):
            if mn and version and v == "accepted":
                last[mn] = version
        return self._write_protocol(last)

    def _write_protocol(self, last: dict[str, str]) -> dict[str, str]:
        """Write ``monitoring_point.protocol`` from ``{MN: version}`` (last accepted).

        Returns the versions written; MNs whose version equals the one this store wrote
        last are not written again.
        """
        seen = self._protocol_seen
        last = {mn: ver for mn, ver in last.items() if seen.get(mn) != ver}
        if not last:
            return last
        frame = pa.table({"mn": list(last), "version": list(last.values())})
        self.con.register("_lantian_proto", frame)
        try:
            self.con.execute(
                "UPDATE monitoring_point SET protocol = b.version FROM _lantian_proto b "
                "WHERE monitoring_point.mn = b.mn "
                "AND monitoring_point.protocol IS DISTINCT FROM b.version"
            )
        finally:
            self.con.unregister("_lantian_proto")
        return last

    def _claim_keys(
        self,
        key_rows: dict[tuple[str, str, str], int],
        ts_of: list[dt.datetime | None],
        received: list[dt.datetime],
        base: int,
        verdict: list[str],
    ) -> None:
        fresh = set(claim_keys(self.con, keys_frame(key_rows, ts_of, received), base).tolist())
        for i in key_rows.values():
            verdict[i] = "accepted" if i in fresh else "duplicate"

    def _write_values(
        self,
        items: Sequence[Incoming],
        verdict: list[str],
        ts_of: list[dt.datetime | None],
        base: int,
    ) -> None:
        per_table: dict[str | None, list[DataRow]] = {}
        for i, it in enumerate(items):
            p = it.packet
            ts = ts_of[i]
            if verdict[i] != "accepted" or p is None or ts is None or not p.values:
                continue
            row = DataRow(base + i, p.mn or "", p.cn or "", ts, p.values)
            per_table.setdefault(TABLE_OF_CN.get(p.cn or ""), []).append(row)
        long = LongRows()
        for table, rows in per_table.items():
            if table is None:
                for row in rows:
                    for code, fields in row.values.items():
                        for suffix, value in fields.items():
                            long.add(row, code, suffix, value)
                continue
            frame = wide_table(table, rows, long)
            if frame is not None:
                self._insert(table, frame)
        if len(long):
            self._insert("value_long", long_table(long))

    def _write_journal(
        self,
        header: dict[str, list[str | None]],
        source: list[str],
        raw: list[bytes],
        verdict: list[str],
        ts_of: list[dt.datetime | None],
        received: list[dt.datetime],
        base: int,
    ) -> None:
        cols = [
            pa.array(range(base, base + len(raw)), pa.int64()),
            timestamps(received),
            pa.array(source, pa.string()),
            pa.array(header["mn"], pa.string()),
            pa.array(header["st"], pa.string()),
            pa.array(header["cn"], pa.string()),
            pa.array(header["qn"], pa.string()),
            timestamps(ts_of),
            pa.array(header["version"], pa.string()),
            pa.array(verdict, pa.string()),
            pa.array(raw, pa.binary()),
        ]
        self._insert("packet_journal", pa.Table.from_arrays(cols, schema=JOURNAL_SCHEMA))

    def _insert(self, table: str, frame: pa.Table) -> None:
        insert_frame(self.con, table, frame)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file (``CHECKPOINT``)."""
        with self._lock:
            self.con.execute("CHECKPOINT")
            self._last_checkpoint = time.monotonic()

    def _maybe_checkpoint_locked(self) -> None:
        """Checkpoint every ``checkpoint_interval_s`` — after a commit, so never raises.

        The data is durable in DuckDB's write-ahead log already; a checkpoint refused
        because another connection of the process (the gateway's database thread, the HTTP
        API's cursors) has a transaction open is tried again at a later commit.
        """
        if time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s:
            try:
                self.con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                log.warning("checkpoint deferred: %s", exc)
            self._last_checkpoint = time.monotonic()


def _classify(it: Incoming) -> Classified:
    """Return (provisional verdict, DataTime, de-duplication key or None) of one item."""
    p = it.packet
    if p is None:
        return rejected(it.error)
    return classify_fields(p.mn, p.cn, p.qn, p.data_time)
