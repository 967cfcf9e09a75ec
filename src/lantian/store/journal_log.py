"""An append-only journal log: segment files, group-committed, the durable acknowledgement point.

The gateway acknowledges a packet (9014) once its raw bytes are in this log and the log has
been flushed to the disk (``os.fdatasync``); a materialiser copies the records into DuckDB
later (:mod:`lantian.store.logmaterialise`). An ``os.write`` of ~14 kB + ``fdatasync``
costs ≈ 0.3 ms on the project machine, against 6-13 ms for a DuckDB commit of the same
packets (session 4), because a DuckDB commit pays per column of every table it touches.

Layout: a directory (``<db>.journal/``) of segment files ``000000001.seg``,
``000000002.seg`` … Each segment starts with the 8-byte magic ``LTJLOG01`` and holds
records::

    u32 length | u32 crc32(payload) | payload (length bytes)       (little-endian)
    payload = i64 received_at [µs since 1970-01-01, CST wall-clock] | u16 len(peer) |
              u16 len(meta) | peer (UTF-8) | meta | raw

The store knows no protocol: a record is raw bytes, the peer, the receive time and a small
header the caller gives (``meta``). A position is ``(segment, byte offset)`` just past a
record; positions order as tuples.

One writer thread calls :meth:`JournalLog.append`: all records of a batch in one
``os.write``, then ``os.fdatasync``; a segment rolls once it passes ``segment_bytes`` (a
batch never spans two segments). At open, a torn tail (a crash mid-write: a short header,
a short payload or a CRC mismatch at the end of the last segment) is reported and truncated
— never a crash, never a complete record lost. A damaged record inside an older segment ends
the reading of that segment and is reported (:attr:`JournalLog.damaged`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lantian.errors import StoreError

__all__ = ["MAGIC", "JournalLog", "LogRecord", "Position", "encode_columns", "encode_records"]

log = logging.getLogger("lantian.store")

MAGIC = b"LTJLOG01"
_HEAD = struct.Struct("<II")  # length, crc32 of the payload
_META = struct.Struct("<qHH")  # received_at µs, len(peer), len(meta)
_EPOCH = dt.datetime(1970, 1, 1)
_ONE_US = dt.timedelta(microseconds=1)
_MAX_RECORD = 1 << 24  # a length above this is damage, not a record [bytes]

Position = tuple[int, int]
"""(segment number, byte offset just past a record)."""


@dataclass(frozen=True)
class LogRecord:
    """One record: raw bytes as received, the peer, the receive time (CST) and a caller header."""

    raw: bytes
    peer: str
    received_at: dt.datetime
    meta: bytes = b""


def encode_records(records: Sequence[LogRecord]) -> tuple[bytes, list[int]]:
    """Encode ``records``; return the bytes and the end offset of each within them."""
    return encode_columns([r.raw for r in records], [r.peer for r in records],
                          [r.received_at for r in records], [r.meta for r in records])


def encode_columns(raw: Sequence[bytes], peers: Sequence[str],
                   received_at: Sequence[dt.datetime],
                   meta: Sequence[bytes] | None = None) -> tuple[bytes, list[int]]:
    """Encode records given as columns (the same bytes as :func:`encode_records`).

    The CRC is chained over the parts (no payload copy) and each distinct peer is encoded
    once: ≈ 1.5 µs per record instead of ≈ 4. Session 9: the receive times are turned into
    µs by ``timedelta`` floor division (≈ 0.3 µs each; ``np.array(…, "datetime64[us]")`` of
    Python datetimes cost ≈ 1.6 µs each, half of this function), and each record's header
    and first part are one ``bytes``: 750 gateway records 3.1 → 1.5 µs per record.
    """
    us = [(d - _EPOCH) // _ONE_US for d in received_at]
    peer_b: dict[str, bytes] = {}
    parts: list[bytes] = []
    ends: list[int] = []
    add, end = parts.append, ends.append
    at = 0
    head_pack, meta_pack, crc32, head_size = _HEAD.pack, _META.pack, zlib.crc32, _HEAD.size
    for i, r in enumerate(raw):
        peer = peers[i]
        pb = peer_b.get(peer)
        if pb is None:
            pb = peer_b[peer] = peer.encode("utf-8")[:65535]
        m = meta[i] if meta is not None else b""
        first = meta_pack(us[i], len(pb), len(m)) + pb + m
        n = len(first) + len(r)
        add(head_pack(n, crc32(r, crc32(first))) + first)
        add(r)
        at += head_size + n
        end(at)
    return b"".join(parts), ends


def _decode(payload: bytes) -> LogRecord:
    us, n_peer, n_meta = _META.unpack_from(payload)
    k = _META.size
    peer = payload[k:k + n_peer].decode("utf-8", "replace")
    k += n_peer
    return LogRecord(raw=payload[k + n_meta:], peer=peer, meta=payload[k:k + n_meta],
                     received_at=_EPOCH + dt.timedelta(microseconds=us))


def _scan(data: bytes, start: int) -> Iterator[tuple[int, LogRecord | None]]:
    """Yield ``(end offset, record)`` from ``start``; a last ``(offset, None)`` at damage."""
    at, n = start, len(data)
    while at < n:
        if at + _HEAD.size > n:
            yield at, None
            return
        length, crc = _HEAD.unpack_from(data, at)
        end = at + _HEAD.size + length
        if length > _MAX_RECORD or end > n or length < _META.size:
            yield at, None
            return
        payload = data[at + _HEAD.size:end]
        if zlib.crc32(payload) != crc:
            yield at, None
            return
        yield end, _decode(payload)
        at = end


@dataclass
class LogStats:
    """What the log did since it was opened."""

    fsyncs: int = 0
    records: int = 0
    bytes: int = 0
    truncated_bytes: int = 0  # torn tail cut at open [bytes]
    deleted_segments: int = 0


@dataclass
class _Damage:
    segment: int
    offset: int
    reason: str


@dataclass
class JournalLog:
    """The segment files of one directory (see the module docstring).

    Parameters
    ----------
    directory : where the segments live (created if missing)
    segment_bytes : roll to a new segment once the current one is at least this large [bytes]
    sync : ``os.fdatasync`` after every append (False only for tests of other things)

    Raises
    ------
    StoreError
        When the directory cannot be created or a segment cannot be opened.

    """

    directory: Path
    segment_bytes: int = 64 << 20
    sync: bool = True
    stats: LogStats = field(default_factory=LogStats)
    damaged: list[_Damage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            segs = self.segments()
            self._seg = segs[-1] if segs else 1
            self._fd = -1
            size = self._repair(self._seg) if segs else 0
            self._open(self._seg, size)
        except OSError as exc:
            raise StoreError(f"journal log {self.directory}: {exc}") from exc

    # -- files ------------------------------------------------------------------------
    def path_of(self, segment: int) -> Path:
        """File of segment ``segment``."""
        return self.directory / f"{segment:09d}.seg"

    def segments(self) -> list[int]:
        """Numbers of the segment files present, ascending."""
        out = []
        for p in self.directory.glob("*.seg"):
            if p.stem.isdigit():
                out.append(int(p.stem))
        return sorted(out)

    def _repair(self, segment: int) -> int:
        """Truncate a torn tail of the last segment; return its valid size [bytes]."""
        path = self.path_of(segment)
        data = path.read_bytes()
        if len(data) < len(MAGIC) or not data.startswith(MAGIC):
            if len(data) >= len(MAGIC) or not MAGIC.startswith(data):
                self.damaged.append(_Damage(segment, 0, "bad segment header"))
                log.error("journal log: %s has no segment header; moved aside", path)
                path.rename(path.with_suffix(".damaged"))
                return 0
            end = 0  # a header torn while the segment was created
        else:
            end = len(MAGIC)
            for at, rec in _scan(data, len(MAGIC)):
                if rec is None:
                    break
                end = at
        if end < len(data):
            cut = len(data) - end
            self.stats.truncated_bytes += cut
            log.warning("journal log: torn tail of %s: %d bytes after offset %d truncated "
                        "(a record cut by a crash mid-write; it was never acknowledged)",
                        path, cut, end)
            with path.open("r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        return end

    def _open(self, segment: int, size: int) -> None:
        path = self.path_of(segment)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if size == 0:
            if os.fstat(fd).st_size:
                os.ftruncate(fd, 0)
            os.write(fd, MAGIC)
            os.fsync(fd)
            size = len(MAGIC)
            self._sync_dir()
        self._fd, self._seg, self._size = fd, segment, size

    def _sync_dir(self) -> None:
        dfd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def close(self) -> None:
        """Close the current segment (appending afterwards raises)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # -- writing ----------------------------------------------------------------------
    @property
    def end(self) -> Position:
        """Position just past the last durable record."""
        return (self._seg, self._size)

    def append(self, records: Sequence[LogRecord]) -> tuple[int, list[int]]:
        """Append ``records`` in one write, flush them to the disk; return where they are.

        Returns ``(segment, end offsets)``: record *i* ends at ``(segment, ends[i])``. Only
        when this returns are the records durable (acknowledge then, not before).

        Raises
        ------
        StoreError
            When the write or the flush fails (nothing of the batch may be acknowledged;
            a partial write is a torn tail the next open truncates).

        """
        return self.append_encoded(*encode_records(records))

    def append_columns(self, raw: Sequence[bytes], peers: Sequence[str],
                       received_at: Sequence[dt.datetime]) -> tuple[int, list[int]]:
        """:meth:`append` of records given as columns (no caller header)."""
        return self.append_encoded(*encode_columns(raw, peers, received_at))

    def append_encoded(self, data: bytes, ends: list[int]) -> tuple[int, list[int]]:
        """Append already encoded records (:func:`encode_columns`); see :meth:`append`."""
        with self._lock:
            if self._fd < 0:
                raise StoreError("journal log is closed")
            base, seg = self._size, self._seg
            try:
                view = memoryview(data)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
                if self.sync:
                    os.fdatasync(self._fd)
            except OSError as exc:
                raise StoreError(f"journal log {self.path_of(seg)}: {exc}") from exc
            self._size = base + len(data)
            s = self.stats
            s.fsyncs += 1
            s.records += len(ends)
            s.bytes += len(data)
            if self._size >= self.segment_bytes:
                os.close(self._fd)
                self._fd = -1
                self._open(seg + 1, 0)
        return seg, [base + e for e in ends]

    def roll_to(self, segment: int) -> None:
        """Continue in a new segment numbered ``segment`` (above the current one).

        Used when the database's watermark is ahead of this log (e.g. the log directory was
        emptied): new records must sort after the watermark, or they would never be read.
        An empty current segment is removed.
        """
        with self._lock:
            if segment <= self._seg:
                return
            os.close(self._fd)
            self._fd = -1
            if self._size <= len(MAGIC):
                self.path_of(self._seg).unlink(missing_ok=True)
            self._open(segment, 0)

    # -- reading ----------------------------------------------------------------------
    def read(self, start: Position, stop: Position | None = None
             ) -> Iterator[tuple[Position, LogRecord]]:
        """Yield ``(position past it, record)`` of every record after ``start`` up to ``stop``.

        ``start`` is a position already covered (e.g. a watermark; ``(0, 0)`` for all). A
        damaged record ends its segment's reading and is listed in :attr:`damaged`.
        """
        stop = self.end if stop is None else stop
        for seg in self.segments():
            if seg < start[0] or seg > stop[0]:
                continue
            try:
                data = self.path_of(seg).read_bytes()
            except FileNotFoundError:
                continue
            if seg == stop[0]:
                data = data[:stop[1]]
            first = max(len(MAGIC), start[1]) if seg == start[0] else len(MAGIC)
            for at, rec in _scan(data, first):
                if rec is None:
                    self.damaged.append(_Damage(seg, at, "damaged record"))
                    log.error("journal log: damaged record in %s at offset %d; the rest of "
                              "that segment is not read", self.path_of(seg), at)
                    break
                yield (seg, at), rec

    def release(self, upto: Position) -> int:
        """Delete the segments wholly behind ``upto`` (a durable watermark); return how many.

        Only segments numbered below ``upto``'s segment go (each is closed and every record
        in it is at or before the watermark); the current segment is never deleted.
        """
        gone = 0
        for seg in self.segments():
            if seg >= upto[0] or seg >= self._seg:
                break
            try:
                self.path_of(seg).unlink()
                gone += 1
            except FileNotFoundError:
                pass
        self.stats.deleted_segments += gone
        return gone

    def status(self) -> dict[str, int]:
        """Counters for the status endpoint."""
        s = self.stats
        return {"journal_log_fsyncs": s.fsyncs, "journal_log_records": s.records,
                "journal_log_bytes": s.bytes, "journal_log_segment": self._seg,
                "journal_log_segments": len(self.segments()),
                "journal_log_truncated_bytes": s.truncated_bytes,
                "journal_log_damaged": len(self.damaged)}
