"""Bulk import on several cores: decode and prepare in worker processes, write in this one.

The file is cut into blocks of whole lines (``chunk_bytes``, 8 MB by default); this process
only finds the block ends and counts their lines (one pass over the file into a reused
buffer). Each block goes to a worker process (forked from a clean ``forkserver`` process
that imported the worker's modules once: no state of this one, no import per worker),
which reads it from the file itself, decodes it with the caller's column decoder and
prepares it for the database (:func:`lantian.store.prepared.prepare_batch`: classification,
de-duplication inside the block, routing into wide/long frames, the journal frame with the
raw bytes and sources) and leaves the resulting Arrow tables in Arrow IPC files in a
directory on ``/dev/shm`` (:func:`lantian.store.blocks.ship_block`). This process
memory-maps them (:func:`~lantian.store.blocks.receive_block`: no unpickling, no copy, no
line splitting here) and keeps only what needs the database: consecutive blocks, cut to
exactly ``batch_size`` lines (whole DuckDB row groups by default, see :class:`_Writer`), are
written in one transaction
(:meth:`~lantian.store.ingest.PacketStore.store_stream`) by a writer thread, one after
the other, strictly in file order, so packet ids and verdicts are those of a sequential
run. DuckDB releases the GIL while it writes, and the workers have their own, so reading,
decoding, preparing and writing overlap: each block is written into the open transaction
as soon as it arrives, while the next blocks are decoded.

Memory is bounded: at most ``2 × workers`` blocks are being decoded or waiting, plus
:data:`WRITER_QUEUE` pieces waiting for the writer and the one it writes. The spool
directory is removed at the end, also when the import fails.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from lantian.store.blocks import ShippedBlock, receive_block, ship_block, worker_init
from lantian.store.bulk import (
    DUCKDB_ROW_GROUP,
    IMPORT_BATCH,
    ColumnDecoder,
    ImportSummary,
    count_verdict_texts,
)
from lantian.store.bulkstart import context, warm_up
from lantian.store.db import threads
from lantian.store.ingest import PacketStore
from lantian.store.prepared import PreparedBatch

__all__ = ["SPOOL_PREFIX", "import_file_parallel", "sweep_spools", "warm_up"]


Block = tuple[int, int, int]
"""(byte offset, length [bytes], file line number of its first line) of a block."""


def _blocks(path: Path, size: int) -> Iterator[Block]:
    """Blocks of whole lines of about ``size`` bytes: (offset, length, first line number).

    Each block is extended to the next LF. The bytes are read once here, into one reused
    buffer, only to count the lines (the worker reads its block itself).
    """
    offset, first = 0, 1
    buf = bytearray(size)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as fh:
        while got := fh.readinto(buf):
            lines = buf.count(b"\n", 0, got)
            length = got
            if buf[got - 1] != 0x0A:  # extend to the end of the line
                tail = fh.readline()
                length += len(tail)
                lines += tail.count(b"\n")
                ends = tail.endswith(b"\n")
            else:
                ends = True
            yield offset, length, first
            offset += length
            first += lines + (0 if ends else 1)
    view.release()


SPOOL_PREFIX = "lantian-import-"
"""Spool directories are named ``lantian-import-<pid>-<random>``."""


#: Free space a RAM file system must have to hold the spool [bytes] (at most ≈ 2 × workers
#: blocks waiting plus two transactions' blocks, ≈ 14 MB of tables per 8 MB block).
SPOOL_MIN_FREE = 1 << 30


def _spool_root(shm: str = "/dev/shm") -> str | None:  # noqa: S108 - parent of private dirs
    """``/dev/shm`` (RAM) when it is writable and has :data:`SPOOL_MIN_FREE` bytes free.

    Else None: the system's temp directory (containers often mount a 64 MB ``/dev/shm``).
    """
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        return None
    st = os.statvfs(shm)
    return shm if st.f_bavail * st.f_frsize >= SPOOL_MIN_FREE else None


def sweep_spools(root: str | None = None) -> list[str]:
    """Remove the spool directories of imports whose process is gone; return their paths.

    An import killed by a signal (``kill -9``, or a SIGTERM with Python's default handler)
    cannot remove its spool directory; the next import on the machine does.
    """
    root = root or _spool_root() or tempfile.gettempdir()
    removed = []
    for name in os.listdir(root):
        if not name.startswith(SPOOL_PREFIX):
            continue
        pid = name.removeprefix(SPOOL_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(os.path.join(root, name))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _spool_dir() -> str:
    """Make a directory for the workers' Arrow files (see :func:`_spool_root`).

    ``mkdtemp`` makes it private (mode 0700, unpredictable name); the stale directories of
    killed imports are swept first (:func:`sweep_spools`).
    """
    root = _spool_root()
    sweep_spools(root)
    return tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=root)


Piece = tuple[PreparedBatch, Sequence[int], list[str | None]]
"""A prepared block or part of one: the batch, its lines' numbers and short rejection reasons."""


def first_room(batch_size: int, stored: int) -> int:
    """Lines of the first transaction of an import into a journal of ``stored`` rows.

    When ``batch_size`` is a whole number of DuckDB row groups
    (:data:`~lantian.store.bulk.DUCKDB_ROW_GROUP`), the first transaction fills the
    journal's last, partly filled row group (and whole ones after it, up to
    ``batch_size``), so that every later transaction appends whole row groups; else
    ``batch_size``.
    """
    if batch_size % DUCKDB_ROW_GROUP:
        return batch_size
    return batch_size - stored % DUCKDB_ROW_GROUP


#: DuckDB threads while the parallel import writes (``SET threads``; restored at the end).
#: The writer's transactions are INSERTs of Arrow frames of ≈ 11,700 rows and a COMMIT that
#: compresses one row group per table: with DuckDB's default (one thread per core) a second
#: thread took part and the importing process spent ≈ 2 µs/line more CPU for the same work
#: (session 12: 16.85 → 14.75 µs/line, writer alone, 245,760 lines, median of 3
#: alternated), CPU the decoding workers need on a machine of two cores.
IMPORT_DUCKDB_THREADS = 1

#: Pieces (blocks or parts of one) the writer thread may have waiting [pieces]: with 8-MB
#: blocks of ≈ 11,700 lines, about one transaction of 122,880 lines.
WRITER_QUEUE = 12

_COMMIT = "commit"  # the transaction ends here
_END = "end"  # the import ends here (after a _COMMIT)
_ABORT = "abort"  # the import failed: roll back the open transaction and stop


class _Aborted(Exception):
    """The import stopped before the writer's open transaction was complete."""


class _Writer:
    """Cuts prepared blocks into transactions and writes them in a thread, in order.

    Every transaction holds exactly ``batch_size`` lines (the first: :func:`first_room`;
    the last: what is left): a block that crosses a transaction's end is split there
    (:meth:`~lantian.store.prepared.PreparedBatch.split`). A transaction of whole DuckDB
    row groups is compressed once; one that ends inside a row group leaves a partly
    filled row group that later commits and checkpoints work on again (see
    :data:`~lantian.store.bulk.IMPORT_BATCH` and ``tests/test_store_rowgroups.py``).

    Each piece is handed to the writer thread as soon as its block arrives and written
    into the open transaction at once (:meth:`~lantian.store.ingest.PacketStore.store_stream`),
    COMMIT at the transaction's end: the INSERTs overlap the decoding of the later blocks,
    and after the last block only its own INSERTs and the last COMMIT are left (before:
    the whole last transaction, ≈ 2.5 CPU-s of the writer alone on a core, was written
    after the last block). At most :data:`WRITER_QUEUE` pieces wait for the writer. When
    the import fails, the transaction open then is rolled back; the ones ended before it
    are committed.
    """

    def __init__(self, store: PacketStore, summary: ImportSummary, batch_size: int,
                 progress: Callable[[int], None] | None) -> None:
        self.store, self.summary, self.batch_size, self.progress = (
            store, summary, batch_size, progress)
        self.room = first_room(batch_size, store.journal_rows())  # lines the open one may take
        self.open = False  # pieces were handed over since the last _COMMIT
        self.queue: queue.Queue[Piece | str] = queue.Queue(maxsize=WRITER_QUEUE)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-write")
        self.writing: Future[None] = self.thread.submit(self._run)

    def add(self, fut: Future[ShippedBlock]) -> None:
        """Add a block's result (waits for it); end each full transaction."""
        shipped = fut.result()
        if not shipped.n:
            return
        piece: Piece = (receive_block(shipped), shipped.numbers, shipped.shorts)
        while piece[0].n > self.room:
            p, numbers, shorts = piece
            head, tail = p.split(self.room)
            self._put((head, numbers[:self.room], shorts[:self.room]))
            piece = (tail, numbers[self.room:], shorts[self.room:])
            self.flush()
        self._put(piece)
        self.room -= piece[0].n
        if not self.room:
            self.flush()

    def flush(self) -> None:
        """End the open transaction (the writer commits it)."""
        if self.open:
            self._put(_COMMIT)
            self.room = self.batch_size

    def wait(self) -> None:
        """Wait until the writer has committed every ended transaction (raise what it raised)."""
        self._put(_END)
        self.writing.result()

    def abort(self) -> None:
        """Roll back the open transaction; the writer stops (its errors are not raised)."""
        self._offer(_ABORT)  # the writer takes the pieces before it, then stops
        with contextlib.suppress(Exception):  # the import's own error is raised instead
            self.writing.result()

    def close(self) -> None:
        """Wait for the writer thread to end (rolled back first if still running)."""
        self.abort()  # no-op once the writer ended; else it would wait for pieces forever
        self.thread.shutdown(wait=True)

    def _put(self, item: Piece | str) -> None:
        """Hand ``item`` to the writer thread; raise what the writer raised if it stopped."""
        self.open = item not in (_COMMIT, _END)
        if not self._offer(item):
            self.writing.result()  # raises the writer's error
            raise RuntimeError("the import's writer thread ended early")

    def _offer(self, item: Piece | str) -> bool:
        """Queue ``item`` for the writer thread; ``False`` if the thread ended first.

        A timed put, so a writer that stopped on an error is noticed while the queue is full.
        """
        while not self.writing.done():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        """Write the transactions handed over, one after the other, until the import ends."""
        while (item := self.queue.get()) not in (_END, _ABORT):
            if item == _COMMIT:
                continue
            pieces: list[Piece] = []
            try:
                _, verdicts = self.store.store_stream(self._parts(item, pieces))
            except _Aborted:
                return
            at = 0
            for p, numbers, shorts in pieces:
                count_verdict_texts(self.summary, numbers, verdicts[at:at + p.n], shorts)
                at += p.n
            if self.progress:
                self.progress(at)

    def _parts(self, item: Piece | str, pieces: list[Piece]) -> Iterator[PreparedBatch]:
        """Yield one transaction's batches, ``item`` to the next ``_COMMIT``; keep the pieces."""
        while item != _COMMIT:
            if isinstance(item, str):  # _ABORT, or _END without a _COMMIT
                raise _Aborted
            pieces.append(item)
            yield item[0]
            item = self.queue.get()


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
        Lines per transaction [lines] (default :data:`~lantian.store.bulk.IMPORT_BATCH`);
        blocks are cut at a transaction's end. With a whole number of DuckDB row groups,
        the first transaction fills the journal's partly filled last row group
        (:func:`first_room`).
    chunk_bytes
        Bytes per worker task [bytes] (a block is extended to the end of its last line).
    progress
        Called (from the writer thread) with the number of lines stored after each
        transaction.

    Raises
    ------
    Exception
        Whatever the decoder or the store raised. Transactions committed before stay; a
        transaction whose last piece the writer had when a later block failed is committed,
        the one open then is rolled back.

    """
    import time

    if workers < 1:
        raise ValueError("workers must be at least 1")
    path = Path(path)
    summary = ImportSummary(source=source)
    t0 = time.perf_counter()
    ctx = context(decode_columns)
    pending: deque[Future[ShippedBlock]] = deque()
    spool = _spool_dir()
    try:
        with threads(store.con, IMPORT_DUCKDB_THREADS):
            writer = _Writer(store, summary, batch_size, progress)
            try:
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                         initializer=worker_init) as pool:
                    try:
                        for offset, length, first in _blocks(path, chunk_bytes):
                            pending.append(pool.submit(ship_block, decode_columns, str(path),
                                                       offset, length, first, source, spool))
                            while len(pending) > 2 * workers:
                                writer.add(pending.popleft())
                        while pending:
                            writer.add(pending.popleft())
                        writer.flush()
                        writer.wait()
                    except BaseException:
                        for fut in pending:
                            fut.cancel()
                        writer.abort()
                        raise
            finally:
                writer.close()
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    summary.seconds = time.perf_counter() - t0
    return summary
