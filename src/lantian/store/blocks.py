"""Lines of a packet file, and the work an import does on a block of them in a worker.

Kept apart from :mod:`lantian.store.bulk` so that the worker processes of a parallel import
(:mod:`lantian.store.bulkpool`) import only this, the routing and the caller's decoder — no
database driver.

Line rules (the same as ``lantian hj212 check``): lines end at LF only; a trailing CR and
anything after a TAB are ignored; blank lines are skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lantian.errors import InputFileError
from lantian.store.columns import ColumnBatch
from lantian.store.prepared import PreparedBatch, prepare_batch

__all__ = [
    "ShippedBlock",
    "clean_line",
    "decoded_batch",
    "numbered_lines",
    "prepare_block",
    "receive_block",
    "ship_block",
    "short_reason",
    "split_block",
    "worker_init",
]

_OFFSET = re.compile(r"^byte \d+ ")

ColumnDecoder = Callable[[Sequence[bytes]], Mapping[str, Any]]
"""Decodes a batch of lines into the fields of :class:`~lantian.store.columns.ColumnBatch`
other than ``raw``, ``source`` and ``received_at`` (the fast path for large files)."""


def clean_line(line: bytes) -> bytes:
    """Drop the line end: the LF, a trailing CR, and anything from the first TAB on."""
    tab = line.find(b"\t")
    if tab >= 0:
        line = line[:tab]
    return line.rstrip(b"\n").rstrip(b"\r")


def numbered_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, cleaned line) of every non-blank line (see :func:`clean_line`)."""
    for n, line in enumerate(lines, start=1):
        text = clean_line(line) if b"\t" in line else line.rstrip(b"\n").rstrip(b"\r")
        if text and not text.isspace():
            yield n, text


def split_block(block: bytes, first: int) -> tuple[Sequence[int], list[bytes]]:
    """Lines of ``block`` (whole lines of a file) by the rules of :func:`numbered_lines`.

    ``first`` is the file line number of the block's first line. Returns the line numbers
    and the cleaned lines, blank lines left out.
    """
    parts = block.split(b"\n")
    if block.endswith(b"\n"):
        parts.pop()
    if b"\t" not in block:  # the common case: no comments; CRLF or LF line ends
        if b"\r" in block:
            parts = [p.rstrip(b"\r") for p in parts]
        if all(parts) and not any(map(bytes.isspace, parts)):
            return range(first, first + len(parts)), parts
    numbers: list[int] = []
    lines: list[bytes] = []
    for n, text in numbered_lines(parts):
        numbers.append(n + first - 1)
        lines.append(text)
    return numbers, lines


def short_reason(error: str) -> str:
    """Return the decoder's error without its ``byte N`` prefix (the reason a summary counts)."""
    return _OFFSET.sub("", error)


WORKER_NICE = 10
"""How much lower the decoding workers' scheduling priority is than the importing process's."""


def worker_init() -> None:
    """Set up a worker process: lower priority, and the garbage collector runs less often.

    The importing process (one writer feeding DuckDB's serial commit chain) is the bound of
    an import; when the decoding workers compete with it for the cores, the chain stalls
    and the cores idle. Niced workers (:data:`WORKER_NICE`) take only the time it leaves:
    1M packets on 2 cores, 4 interleaved runs each (session 5, quiet machine):
    50,184 packets/s (median) against 44,310/s with workers at the same priority.

    Decoding allocates millions of short-lived objects; with Python's default thresholds
    the collector scans the young ones every 700 allocations (≈ 1 µs of a worker's ≈ 23 µs
    per packet). Cycles (e.g. exceptions of rejected lines) are still collected.
    """
    import contextlib
    import gc
    import os

    gc.set_threshold(100_000, 50, 100)
    with contextlib.suppress(OSError):  # not permitted here: same priority, only slower
        os.nice(WORKER_NICE)


def decoded_batch(
    decode: ColumnDecoder,
    numbers: Sequence[int],
    raws: list[bytes],
    source: str,
    received_at: dt.datetime | None,
) -> tuple[ColumnBatch, list[str | None]]:
    """Decode the file lines ``raws`` (line numbers ``numbers``) into a column batch.

    Each line is journalled as ``file:<source>:<line>`` received at ``received_at`` (None:
    when it is stored). Returns the batch and, per line, the short rejection reason (None if
    decoded).

    Raises
    ------
    InputFileError
        When the decoder returns a different number of results than lines.

    """
    parts = dict(decode(raws))
    if len(parts["ok"]) != len(raws):
        raise InputFileError(f"decoder returned {len(parts['ok'])} results for {len(raws)} lines")
    cb = ColumnBatch(
        raw=raws,
        source=_sources(source, numbers),
        received_at=[received_at] * len(raws),
        **parts,
    )
    return cb, [None if e is None else short_reason(e) for e in cb.error]


def _sources(source: str, numbers: Sequence[int]) -> pa.Array:
    """``file:<source>:<line>`` of each line number, as an Arrow string array.

    Built by Arrow's kernels (≈ 90 ns per line against ≈ 300 for an f-string and its
    conversion per line).
    """
    at = (np.arange(numbers.start, numbers.stop, numbers.step, dtype=np.int64)
          if isinstance(numbers, range) else np.asarray(numbers, dtype=np.int64))
    return pc.binary_join_element_wise(f"file:{source}:", pc.cast(pa.array(at), pa.string()),
                                       "")


def prepare_block(
    decode: ColumnDecoder, path: str, offset: int, length: int, first: int, source: str
) -> tuple[PreparedBatch, list[str | None]]:
    """Read, decode and prepare one block of the file (runs in a worker process).

    The block is ``length`` bytes at ``offset`` of ``path``, whole lines, the first being
    line ``first``; the worker reads it itself, so the bytes never go through a pipe.
    Returns the prepared batch (journal without ``raw``: the caller holds the lines) and,
    per line, the short rejection reason (None if decoded).

    Raises
    ------
    InputFileError
        When the decoder returns a different number of results than lines.

    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        block = fh.read(length)
    numbers, raws = split_block(block, first)
    cb, shorts = decoded_batch(decode, numbers, raws, source, None)
    return prepare_batch(cb, with_raw=False), shorts


@dataclass(frozen=True)
class ShippedBlock:
    """A block prepared by a worker whose Arrow tables wait in Arrow IPC files.

    What crosses the process pipe is only this (counts, verdict strings, file names):
    the tables themselves — the journal with the raw bytes and sources, the keys, the
    wide and long frames — are written by the worker to ``files`` (one Arrow IPC file per
    table, in a directory on a RAM file system) and memory-mapped by the importing process
    (:func:`receive_block`), never pickled or copied there.
    """

    n: int
    numbers: Sequence[int]
    shorts: list[str | None]
    files: dict[str, str]
    batch: PreparedBatch  # with empty tables: verdicts and protocol rows only


_EMPTY = pa.table({})
_NOTHING = PreparedBatch(0, [], None, _EMPTY, {}, None, np.zeros(0, np.int64), [], [])


def _write_ipc(path: str, table: pa.Table) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def ship_block(
    decode: ColumnDecoder, path: str, offset: int, length: int, first: int, source: str,
    outdir: str,
) -> ShippedBlock:
    """Read, decode and prepare one block (a worker's task); leave its tables in ``outdir``.

    Like :func:`prepare_block`, but the journal keeps the raw lines and every table goes to
    an Arrow IPC file ``outdir/<offset>.<name>.arrow`` (see :class:`ShippedBlock`).
    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        block = fh.read(length)
    numbers, raws = split_block(block, first)
    if not raws:  # blank lines only
        return ShippedBlock(0, numbers, [], {}, _NOTHING)
    cb, shorts = decoded_batch(decode, numbers, raws, source, None)
    p = prepare_batch(cb, with_raw=True)
    tables = {"journal": p.journal, **{"wide:" + k: v for k, v in p.wide.items()}}
    if p.keys is not None:
        tables["keys"] = p.keys
    if p.long is not None:
        tables["long"] = p.long
    files = {}
    for name, table in tables.items():
        f = os.path.join(outdir, f"{offset}.{name.replace(':', '-')}.arrow")
        _write_ipc(f, table)
        files[name] = f
    slim = PreparedBatch(p.n, p.verdict, None, _EMPTY, {}, None, p.proto_row, p.proto_mn,
                         p.proto_version)
    return ShippedBlock(p.n, numbers, shorts, files, slim)


def receive_block(s: ShippedBlock) -> PreparedBatch:
    """Return the prepared batch of a shipped block, its tables memory-mapped (files removed).

    The files are unlinked at once: the mappings keep their pages until the tables are
    dropped, and nothing is left behind if the import stops later.
    """
    tables: dict[str, pa.Table] = {}
    for name, f in s.files.items():
        tables[name] = pa.ipc.open_file(pa.memory_map(f)).read_all()
        os.unlink(f)
    wide = {k.removeprefix("wide:"): v for k, v in tables.items() if k.startswith("wide:")}
    b = s.batch
    return PreparedBatch(b.n, b.verdict, tables.get("keys"), tables["journal"], wide,
                         tables.get("long"), b.proto_row, b.proto_mn, b.proto_version)
