"""Bulk import of packet files through :class:`~lantian.store.ingest.PacketStore`.

A packet file holds one packet per line. Lines end at LF only; a trailing CR and anything
after a TAB are ignored (the same rule as ``lantian hj212 check``); blank lines are skipped.
Lines are decoded in large batches by a decoder passed in by the caller (the store knows
no protocol: ``lantian import packets`` passes the codec's bulk decoder) and each batch is
stored in one transaction, so a bad line never costs lines already stored — it is
journalled as ``rejected:<reason>`` and reported with its line number.

A worker thread decodes batch *k+1* while the caller's thread stores batch *k* (DuckDB and
most numpy/Arrow kernels release the GIL); at most two batches are held in memory. Batches
are stored strictly in file order, so packet ids and verdicts are those of a sequential run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lantian.errors import InputFileError
from lantian.store.blocks import (
    ColumnDecoder,
    clean_line,
    decoded_batch,
    numbered_lines,
    short_reason,
    split_block,
)
from lantian.store.ingest import Incoming, PacketLike, PacketStore, Verdict, cst_now

__all__ = [
    "DUCKDB_ROW_GROUP",
    "IMPORT_BATCH",
    "ColumnDecoder",
    "Decoder",
    "ImportSummary",
    "RejectedLine",
    "clean_line",
    "count_verdict_texts",
    "count_verdicts",
    "import_packet_file",
    "import_packet_lines",
    "numbered_lines",
    "short_reason",
    "split_block",
]

Decoder = Callable[[Sequence[bytes]], Sequence["PacketLike | Exception"]]
"""Decodes a batch of lines; returns per line a packet or the exception explaining why not."""

#: DuckDB's row group [rows] (the default ``ROW_GROUP_SIZE`` of its storage). A transaction
#: that appends whole row groups to a table has them compressed and written once, straight
#: into the database file ("optimistic writes"); the rows of a partly filled row group go to
#: the write-ahead log at COMMIT and are compressed and written again by the next
#: checkpoint. ``tests/test_store_rowgroups.py`` checks this against the installed DuckDB.
DUCKDB_ROW_GROUP = 122_880

#: Lines per transaction of ``lantian import packets`` by default: one DuckDB row group.
#: The parallel import cuts its blocks so that every transaction holds exactly this many
#: lines (:class:`lantian.store.bulkpool._Writer`), i.e. appends whole row groups to the
#: journal and, in a file of minute packets without duplicates, to ``packet_key`` and
#: ``flue_minute``. Sessions 2-8 used 100,000 (each transaction left a partly filled row
#: group that later commits and checkpoints worked on again): 1M packets, session 9, A/B
#: on a loaded machine, the importing process 24.3 vs 27.6 µs/packet (median of 3), same
#: database size and bytes written. Sessions 4 and 6 tried ≈ 245,760 lines of whole
#: blocks, which still ended inside a row group.
IMPORT_BATCH = DUCKDB_ROW_GROUP

#: How many rejected lines a summary keeps in full (the rest are only counted).
MAX_REJECTED_KEPT = 1000


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line that could not be decoded: its number (1-based) and why."""

    line: int
    reason: str


@dataclass
class ImportSummary:
    """Counts of an import and the rejected lines (first :data:`MAX_REJECTED_KEPT`)."""

    source: str
    lines: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    rejected_lines: list[RejectedLine] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def packets_per_s(self) -> float:
        """Lines stored per second of wall-clock time [1/s]."""
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        """Plain-data form for JSON output."""
        return {
            "source": self.source,
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "seconds": round(self.seconds, 3),
            "packets_per_s": round(self.packets_per_s, 1),
        }


def _reason(exc: Exception) -> tuple[str, str]:
    """(full message for the journal, short reason for the summary)."""
    full = str(exc).replace("\n", " ") or type(exc).__name__
    short = getattr(exc, "reason", None)
    return full, str(short) if short else full


def import_packet_lines(
    store: PacketStore,
    lines: Iterable[bytes],
    decode: Decoder | None = None,
    *,
    source: str,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
    decode_columns: ColumnDecoder | None = None,
) -> ImportSummary:
    """Decode and store ``lines`` in batches of ``batch_size``; return the summary.

    Parameters
    ----------
    store
        Where packets go (one transaction per batch).
    lines
        Raw lines, each ending (or not) with LF.
    decode
        Batch decoder giving packets (e.g. the codec's ``decode_lines``).
    decode_columns
        Or a batch decoder giving columns (the codec's columnar decoder): faster, same
        tables. Exactly one of ``decode`` and ``decode_columns`` is given.
    source
        Name kept in the journal as ``file:<source>:<line>``.
    batch_size
        Lines per transaction [lines].
    progress
        Called with the number of lines stored after each batch.

    """
    if (decode is None) == (decode_columns is None):
        raise ValueError("give exactly one of decode and decode_columns")
    summary = ImportSummary(source=source)
    t0 = time.perf_counter()

    def prepare(batch: list[tuple[int, bytes]]) -> Callable[[], None]:
        """Decode ``batch`` (worker thread); return the step that stores it (main thread)."""
        if decode_columns is not None:
            return _columns_step(store, batch, decode_columns, summary)
        assert decode is not None
        return _packets_step(store, batch, decode, summary)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-decode") as pool:
        ahead: Future[Callable[[], None]] | None = None
        pending = 0
        for batch in _batches(numbered_lines(lines), batch_size):
            nxt = pool.submit(prepare, batch)
            if ahead is not None:
                ahead.result()()  # store batch k while batch k+1 is decoded
                if progress:
                    progress(pending)
            ahead, pending = nxt, len(batch)
        if ahead is not None:
            ahead.result()()
            if progress:
                progress(pending)
    summary.seconds = time.perf_counter() - t0
    return summary


def _batches(
    items: Iterator[tuple[int, bytes]], size: int
) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _packets_step(
    store: PacketStore,
    batch: list[tuple[int, bytes]],
    decode: Decoder,
    summary: ImportSummary,
) -> Callable[[], None]:
    raws = [raw for _, raw in batch]
    decoded = decode(raws)
    if len(decoded) != len(raws):
        raise InputFileError(f"decoder returned {len(decoded)} results for {len(raws)} lines")
    now = cst_now()
    items: list[Incoming] = []
    short_reasons: list[str | None] = []
    for (n, raw), result in zip(batch, decoded, strict=True):
        src = f"file:{summary.source}:{n}"
        if isinstance(result, Exception):
            full, short = _reason(result)
            items.append(Incoming(raw, src, now, error=full))
            short_reasons.append(short)
        else:
            items.append(Incoming(raw, src, now, packet=result))
            short_reasons.append(None)
    numbers = [n for n, _ in batch]
    return lambda: count_verdicts(summary, numbers, store.ingest(items), short_reasons)


def _columns_step(
    store: PacketStore,
    batch: list[tuple[int, bytes]],
    decode: ColumnDecoder,
    summary: ImportSummary,
) -> Callable[[], None]:
    numbers = [n for n, _ in batch]
    cb, shorts = decoded_batch(decode, numbers, [raw for _, raw in batch], summary.source,
                               cst_now())
    return lambda: count_verdicts(summary, numbers, store.ingest_columns(cb), shorts)


def count_verdicts(
    summary: ImportSummary,
    numbers: Sequence[int],
    verdicts: list[Verdict],
    short_reasons: Sequence[str | None],
) -> None:
    """Add a stored batch's verdicts (lines ``numbers``) to ``summary``."""
    count_verdict_texts(summary, numbers, [v.verdict for v in verdicts], short_reasons)


def count_verdict_texts(
    summary: ImportSummary,
    numbers: Sequence[int],
    verdicts: Sequence[str],
    short_reasons: Sequence[str | None],
) -> None:
    """:func:`count_verdicts` of the verdict texts (counted in C; rejected lines one by one)."""
    counts = Counter(verdicts)
    summary.lines += len(verdicts)
    summary.accepted += counts.pop("accepted", 0)
    summary.duplicate += counts.pop("duplicate", 0)
    if not counts:
        return
    for n, v, short in zip(numbers, verdicts, short_reasons, strict=True):
        if v in ("accepted", "duplicate"):
            continue
        reason = v.removeprefix("rejected:")
        summary.rejected += 1
        summary.rejected_by_reason[short or reason] += 1
        if len(summary.rejected_lines) < MAX_REJECTED_KEPT:
            summary.rejected_lines.append(RejectedLine(n, reason))


def import_packet_file(
    store: PacketStore,
    path: str | Path,
    decode: Decoder | None = None,
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
    decode_columns: ColumnDecoder | None = None,
    workers: int = 0,
) -> ImportSummary:
    """Import the packet file ``path`` (see :func:`import_packet_lines`).

    With ``workers`` ≥ 1 (and ``decode_columns``, which must then be picklable), decoding
    and preparing run in that many worker processes
    (:func:`lantian.store.bulkpool.import_file_parallel`); same tables and verdicts.

    Raises
    ------
    InputFileError
        When the file cannot be read.

    """
    p = Path(path)
    try:
        fh: BinaryIO = p.open("rb")
    except OSError as exc:
        raise InputFileError(f"cannot read {p}: {exc.strerror or exc}") from exc
    with fh:
        if workers > 0 and decode_columns is not None:
            from lantian.store.bulkpool import import_file_parallel

            return import_file_parallel(
                store,
                p,
                decode_columns,
                source=p.name,
                workers=workers,
                batch_size=batch_size,
                progress=progress,
            )
        return import_packet_lines(
            store,
            fh,
            decode,
            source=p.name,
            batch_size=batch_size,
            progress=progress,
            decode_columns=decode_columns,
        )
