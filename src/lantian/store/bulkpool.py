"""Bulk import on several cores: decode and prepare in worker processes, write in this one.

The file's lines are cut into chunks of ``chunk_size`` lines. Each chunk goes to a worker
process (``spawn``: a fresh interpreter, no state of this one), which decodes it with the
caller's column decoder and prepares it for the database
(:func:`lantian.store.prepared.prepare_batch`: classification, de-duplication inside the
chunk, routing into wide/long frames, the journal frame) and sends the result back as Arrow
tables. This process keeps only what needs the database: consecutive chunks of about
``batch_size`` lines are written in one transaction
(:meth:`~lantian.store.ingest.PacketStore.ingest_prepared`), strictly in file order, so
packet ids and verdicts are those of a sequential run. DuckDB releases the GIL while it
writes, and the workers have their own, so decoding, preparing and writing overlap.

Memory is bounded: at most ``2 × workers`` chunks are being decoded or waiting, plus the
chunks of the transaction being assembled.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from lantian.store.bulk import (
    ColumnDecoder,
    ImportSummary,
    count_verdicts,
    numbered_lines,
    short_reason,
)
from lantian.store.columns import ColumnBatch
from lantian.store.ingest import PacketStore
from lantian.store.prepared import PreparedBatch, prepare_batch

__all__ = ["import_lines_parallel", "prepare_chunk"]

Chunk = tuple[list[int], list[bytes]]


def prepare_chunk(
    decode: ColumnDecoder, numbers: list[int], raws: list[bytes], source: str
) -> tuple[PreparedBatch, list[str | None]]:
    """Decode and prepare one chunk (runs in a worker process).

    Returns the prepared batch and, per line, the short rejection reason (None if decoded).
    """
    parts = dict(decode(raws))
    if len(parts["ok"]) != len(raws):
        from lantian.errors import InputFileError

        raise InputFileError(f"decoder returned {len(parts['ok'])} results for {len(raws)} lines")
    cb = ColumnBatch(
        raw=raws,
        source=[f"file:{source}:{n}" for n in numbers],
        received_at=[None] * len(raws),
        **parts,
    )
    shorts = [None if e is None else short_reason(e) for e in cb.error]
    return prepare_batch(cb, with_raw=False), shorts


def _chunks(items: Iterator[tuple[int, bytes]], size: int) -> Iterator[Chunk]:
    numbers: list[int] = []
    raws: list[bytes] = []
    for n, raw in items:
        numbers.append(n)
        raws.append(raw)
        if len(raws) >= size:
            yield numbers, raws
            numbers, raws = [], []
    if raws:
        yield numbers, raws


def import_lines_parallel(
    store: PacketStore,
    lines: Iterable[bytes],
    decode_columns: ColumnDecoder,
    *,
    source: str,
    workers: int,
    batch_size: int = 100_000,
    chunk_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import ``lines`` with ``workers`` decoding processes (see the module docstring).

    Parameters
    ----------
    store
        Where packets go.
    lines
        Raw lines, each ending (or not) with LF.
    decode_columns
        Picklable column decoder (the codec's ``column_decoder(strict)``).
    source
        Name kept in the journal as ``file:<source>:<line>``.
    workers
        Worker processes (≥ 1).
    batch_size
        Lines per transaction [lines] (whole chunks: a transaction holds at least one).
    chunk_size
        Lines per worker task [lines].
    progress
        Called with the number of lines stored after each transaction.

    Raises
    ------
    Exception
        Whatever the decoder or the store raised; transactions committed before stay.

    """
    import time

    if workers < 1:
        raise ValueError("workers must be at least 1")
    summary = ImportSummary(source=source)
    t0 = time.perf_counter()
    chunk_size = max(1, min(chunk_size, batch_size))
    group: list[tuple[PreparedBatch, list[int], list[str | None]]] = []
    Pending = tuple[Future[tuple[PreparedBatch, list[str | None]]], list[int], list[bytes]]

    def flush() -> None:
        if not group:
            return
        numbers = [n for _, ns, _ in group for n in ns]
        shorts = [s for _, _, ss in group for s in ss]
        verdicts = store.ingest_prepared([p for p, _, _ in group])
        count_verdicts(summary, numbers, verdicts, shorts)
        group.clear()
        if progress:
            progress(len(numbers))

    def take(fut: Future[tuple[PreparedBatch, list[str | None]]], numbers: list[int],
             raws: list[bytes]) -> None:
        prepared, shorts = fut.result()
        group.append((prepared.with_raw(raws), numbers, shorts))
        if sum(p.n for p, _, _ in group) >= batch_size:
            flush()

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque[Pending] = deque()
        try:
            for numbers, raws in _chunks(numbered_lines(lines), chunk_size):
                fut = pool.submit(prepare_chunk, decode_columns, numbers, raws, source)
                pending.append((fut, numbers, raws))
                while len(pending) > 2 * workers:
                    take(*pending.popleft())
            while pending:
                take(*pending.popleft())
            flush()
        except BaseException:
            for fut, _, _ in pending:
                fut.cancel()
            raise
    summary.seconds = time.perf_counter() - t0
    return summary

