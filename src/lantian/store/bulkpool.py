"""Bulk import on several cores: decode and prepare in worker processes, write in this one.

The file is cut into blocks of whole lines (``chunk_bytes``, 8 MB by default). Each block
goes to a worker process (forked from a clean ``forkserver`` process that imported the
worker's modules once: no state of this one, no import per worker), which reads
it from the file itself (the bytes never cross a pipe), decodes it with the caller's column
decoder and prepares it for the database
(:func:`lantian.store.prepared.prepare_batch`: classification, de-duplication inside the
chunk, routing into wide/long frames, the journal frame) and sends the result back as Arrow
tables (without the raw lines, which this process split from the same block). This process
keeps only what needs the database: consecutive blocks of about
``batch_size`` lines are written in one transaction
(:meth:`~lantian.store.ingest.PacketStore.ingest_prepared`) by a writer thread, one after
the other, strictly in file order, so packet ids and verdicts are those of a sequential
run. DuckDB releases the GIL while it writes, and the workers have their own, so reading,
decoding, preparing and writing overlap: while transaction *k* is written, the blocks of
*k+1* are decoded.

Memory is bounded: at most ``2 × workers`` blocks are being decoded or waiting, plus the
blocks of the transaction being assembled and of the one being written.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from lantian.store.blocks import prepare_block, split_block, worker_init
from lantian.store.bulk import IMPORT_BATCH, ColumnDecoder, ImportSummary, count_verdicts
from lantian.store.ingest import PacketStore
from lantian.store.prepared import PreparedBatch

__all__ = ["import_file_parallel", "warm_up"]


Block = tuple[int, int, int, bytes]


def _context(decode: ColumnDecoder) -> multiprocessing.context.BaseContext:
    """Return the ``forkserver`` context, with the worker's modules to import once.

    One clean server process imports :mod:`lantian.store.blocks`, pandas (which pyarrow
    imports on its first conversion from numpy) and the decoder's module; every worker is
    forked from it (no import per worker, no state of this process).
    """
    ctx = multiprocessing.get_context("forkserver")
    module = getattr(getattr(decode, "func", decode), "__module__", None)
    # pyarrow imports pandas on its first conversion from numpy (≈ 0.3 s CPU per process)
    ctx.set_forkserver_preload(["lantian.store.blocks", "pandas", *([module] if module else [])])
    return ctx


def warm_up(decode: ColumnDecoder) -> None:
    """Start the forkserver now (it imports the worker's modules while the caller goes on).

    Optional: :func:`import_file_parallel` starts it when needed. Calling this before
    opening the database lets the imports overlap the caller's own start-up.
    """
    from multiprocessing import forkserver

    _context(decode)
    forkserver.ensure_running()


def _blocks(path: Path, size: int) -> Iterator[Block]:
    """(offset, length, first line number, bytes) of blocks of about ``size`` bytes.

    Each block holds whole lines (it is extended to the next LF).
    """
    offset, first = 0, 1
    with path.open("rb") as fh:
        while block := fh.read(size):
            if not block.endswith(b"\n"):
                block += fh.readline()
            yield offset, len(block), first, block
            offset += len(block)
            first += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


Part = tuple[PreparedBatch, Sequence[int], list[str | None]]
Result = tuple[PreparedBatch, list[str | None]]


class _Writer:
    """Assembles prepared blocks into transactions and writes them in a thread, in order."""

    def __init__(self, store: PacketStore, summary: ImportSummary, batch_size: int,
                 progress: Callable[[int], None] | None) -> None:
        self.store, self.summary, self.batch_size, self.progress = (
            store, summary, batch_size, progress)
        self.group: list[Part] = []
        self.writing: Future[None] | None = None  # the transaction being written
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-write")

    def add(self, fut: Future[Result], numbers: Sequence[int], raws: list[bytes]) -> None:
        """Add a block's result (waits for it); hand over a full transaction."""
        prepared, shorts = fut.result()
        self.group.append((prepared.with_raw(raws), numbers, shorts))
        if sum(p.n for p, _, _ in self.group) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Wait for the transaction being written; hand over the assembled one."""
        self.wait()
        if self.group:
            self.writing = self.thread.submit(self._write, self.group)
            self.group = []

    def wait(self) -> None:
        """Wait until the transaction handed over is committed (raise what it raised)."""
        if self.writing is not None:
            w, self.writing = self.writing, None
            w.result()

    def close(self) -> None:
        """Wait for the writer thread to end."""
        self.thread.shutdown(wait=True)

    def _write(self, parts: list[Part]) -> None:
        numbers = [n for _, ns, _ in parts for n in ns]
        shorts = [s for _, _, ss in parts for s in ss]
        verdicts = self.store.ingest_prepared([p for p, _, _ in parts])
        count_verdicts(self.summary, numbers, verdicts, shorts)
        if self.progress:
            self.progress(len(numbers))


def import_file_parallel(
    store: PacketStore,
    path: str | Path,
    decode_columns: ColumnDecoder,
    *,
    source: str,
    workers: int,
    batch_size: int = IMPORT_BATCH,
    chunk_bytes: int = 8 << 20,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import the file ``path`` with ``workers`` decoding processes (see the module docstring).

    Parameters
    ----------
    store
        Where packets go.
    path
        The packet file (one packet per line, the rules of
        :func:`lantian.store.bulk.numbered_lines`).
    decode_columns
        Picklable column decoder (the codec's ``column_decoder(strict)``).
    source
        Name kept in the journal as ``file:<source>:<line>``.
    workers
        Worker processes (≥ 1).
    batch_size
        Lines per transaction [lines]: whole blocks are written together until they hold at
        least this many lines (default :data:`~lantian.store.bulk.IMPORT_BATCH`).
    chunk_bytes
        Bytes per worker task [bytes] (a block is extended to the end of its last line).
    progress
        Called (from the writer thread) with the number of lines stored after each
        transaction.

    Raises
    ------
    Exception
        Whatever the decoder or the store raised. Transactions committed before stay; a
        transaction already handed to the writer when a later block fails is committed.

    """
    import time

    if workers < 1:
        raise ValueError("workers must be at least 1")
    path = Path(path)
    summary = ImportSummary(source=source)
    t0 = time.perf_counter()
    writer = _Writer(store, summary, batch_size, progress)
    ctx = _context(decode_columns)
    pending: deque[tuple[Future[Result], Sequence[int], list[bytes]]] = deque()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=worker_init) as pool:
            try:
                for offset, length, first, block in _blocks(path, chunk_bytes):
                    numbers, raws = split_block(block, first)
                    if raws:
                        fut = pool.submit(prepare_block, decode_columns, str(path), offset,
                                          length, first, source)
                        pending.append((fut, numbers, raws))
                    while len(pending) > 2 * workers:
                        writer.add(*pending.popleft())
                while pending:
                    writer.add(*pending.popleft())
                writer.flush()
            finally:
                for fut, _, _ in pending:
                    fut.cancel()
                writer.wait()
    finally:
        writer.close()
    summary.seconds = time.perf_counter() - t0
    return summary
