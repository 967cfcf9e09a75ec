"""Journal-first writes: the journal and the de-duplication keys now, the values later.

The gateway acknowledges a packet (9014) once its raw bytes are durably journalled and its
de-duplication key claimed — the journal is the system of record (DESIGN.md §2: every
derived value can be traced back to it). Writing the wide and long value rows in the same
transaction costs DuckDB a fixed ≈ 60–70 µs per column of every table touched (session 3),
so those rows are written later, in larger transactions, by
:class:`lantian.store.materialise.Materialiser`.

On top of the store's write path (:mod:`lantian.store.prepared`, owned by "storewrite"):

* :func:`without_values` — the batch with an empty value table: its prepared batch, handed
  to ``PacketStore.ingest_prepared``, claims the keys, journals every line with its final
  verdict and notes the protocol version, in one transaction (the journal ids, verdicts and
  de-duplication are exactly those of a full write);
* :func:`pending_of` — the value frames kept in memory for the materialiser, with the
  journal id of every row and which rows were finally accepted.

The store knows no protocol: nothing here parses bytes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from lantian.store.columns import ColumnBatch, route_values
from lantian.store.prepared import PreparedBatch

__all__ = ["Pending", "accepted_ids", "deferred_pending", "merge_batches",
           "merge_pending", "pending_of", "values_of", "without_values"]


@dataclass
class Pending:
    """Values of journalled packets not yet written to the wide / long tables.

    ``ids``: journal id of each row of the batch; ``accepted``: per row, finally accepted
    (its values are to be written); ``wide`` / ``long``: the frames of
    :func:`lantian.store.prepared.prepare_batch`, ``packet_id`` = row in the batch;
    ``journalled_at``: :func:`time.monotonic` when the journal commit returned [s].
    With ``wide`` None the values are routed from ``batch`` (its DataTimes ``ts``,
    ``datetime64[us]``) only when first asked for (:func:`deferred_pending`).
    """

    ids: npt.NDArray[np.int64]
    accepted: npt.NDArray[np.bool_]
    wide: dict[str, pa.Table] | None
    long: pa.Table | None
    journalled_at: float = field(default_factory=time.monotonic)
    batch: ColumnBatch | None = None
    ts: npt.NDArray[np.datetime64] | None = None

    def route(self) -> None:
        """Route the values of the accepted rows into frames now (if not done yet)."""
        if self.wide is not None:
            return
        assert self.batch is not None and self.ts is not None
        candidate = self.accepted & ~np.isnat(self.ts)
        self.wide, self.long = (route_values(self.batch, candidate, self.ts, 0)
                                if candidate.any() else ({}, None))
        self.batch = None

    @property
    def n_accepted(self) -> int:
        """Packets whose values this holds."""
        return int(self.accepted.sum())

    @property
    def last_id(self) -> int:
        """Highest journal id this batch covers (0 for an empty one)."""
        return int(self.ids.max()) if len(self.ids) else 0


def without_values(b: ColumnBatch) -> ColumnBatch:
    """Return ``b`` with an empty value table.

    Its prepared batch journals and claims keys only, without routing any value (the routing
    is left to :func:`deferred_pending`).
    """
    none = slice(0, 0)

    def cut(a: npt.NDArray[Any] | None) -> npt.NDArray[Any] | None:
        return None if a is None else a[none]

    return dataclasses.replace(
        b, item_row=b.item_row[none], item_code=b.item_code[none],
        item_suffix=b.item_suffix[none], item_num=b.item_num[none],
        item_text=b.item_text[none], item_code_id=cut(b.item_code_id),
        item_suffix_id=cut(b.item_suffix_id))


def deferred_pending(b: ColumnBatch, p: PreparedBatch, packet_ids: Sequence[int],
                     verdicts: Sequence[str]) -> Pending:
    """Values of ``b`` to write later, routed only when the materialiser asks for them.

    ``p`` is the prepared batch that journalled ``b`` (``prepare_batch(without_values(b))``):
    its journal frame gives each row's DataTime, exactly the times the full write routes by.
    """
    if len(packet_ids) != p.n or len(verdicts) != p.n:
        raise ValueError(f"{len(packet_ids)} ids / {len(verdicts)} verdicts for {p.n} rows")
    return Pending(
        ids=np.asarray(packet_ids, dtype=np.int64),
        accepted=np.fromiter((v == "accepted" for v in verdicts), dtype=bool, count=p.n),
        wide=None, long=None, batch=b,
        ts=p.journal.column("data_time").to_numpy(zero_copy_only=False))


def _merged_ids(bs: Sequence[ColumnBatch], id_name: str, table_name: str
                ) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.object_] | None]:
    """Integer ids of the items of ``bs`` against one table (None when a batch has none)."""
    tables = [getattr(b, table_name) for b in bs]
    ids = [getattr(b, id_name) for b in bs]
    if any(t is None for t in tables) or any(i is None for i in ids):
        return None, None
    longest = max(tables, key=len)
    if all(t is longest or np.array_equal(longest[:len(t)], t) for t in tables):
        return np.concatenate(ids), longest  # the usual case: one growing name registry
    index: dict[Any, int] = {}
    parts = []
    for t, i in zip(tables, ids, strict=True):
        m = np.fromiter((index.setdefault(x, len(index)) for x in t), np.int64, len(t))
        parts.append(m[i])
    return np.concatenate(parts), np.array(list(index), dtype=object)


def merge_batches(bs: Sequence[ColumnBatch]) -> ColumnBatch:
    """Return one batch holding the rows of ``bs`` in order (item rows renumbered).

    The values of many small group commits are then routed in one pass.
    """
    if len(bs) == 1:
        return bs[0]
    off = np.cumsum([0] + [len(b) for b in bs[:-1]])

    def cat(name: str) -> list[Any]:  # chain: ≈ 2.5× faster than a nested comprehension
        return list(chain.from_iterable(getattr(b, name) for b in bs))

    def arr(name: str) -> npt.NDArray[Any]:
        return np.concatenate([getattr(b, name) for b in bs])

    code_id, code_table = _merged_ids(bs, "item_code_id", "code_table")
    suffix_id, suffix_table = _merged_ids(bs, "item_suffix_id", "suffix_table")
    return ColumnBatch(
        raw=cat("raw"), source=cat("source"), received_at=cat("received_at"), ok=arr("ok"),
        error=cat("error"), mn=cat("mn"), st=cat("st"), cn=cat("cn"), qn=cat("qn"),
        data_time=cat("data_time"), version=cat("version"),
        item_row=np.concatenate([b.item_row + o for b, o in zip(bs, off, strict=True)]),
        item_code=arr("item_code"), item_suffix=arr("item_suffix"), item_num=arr("item_num"),
        item_text=arr("item_text"), item_code_id=code_id, item_suffix_id=suffix_id,
        code_table=code_table, suffix_table=suffix_table,
    )


def merge_pending(pends: Sequence[Pending]) -> list[Pending]:
    """Join pending batches whose values are not routed yet into one (one routing pass)."""
    if len(pends) < 2 or any(p.wide is not None or p.batch is None for p in pends):
        return list(pends)
    assert all(p.ts is not None for p in pends)
    return [Pending(
        ids=np.concatenate([p.ids for p in pends]),
        accepted=np.concatenate([p.accepted for p in pends]),
        wide=None, long=None, journalled_at=pends[0].journalled_at,
        batch=merge_batches([p.batch for p in pends if p.batch is not None]),
        ts=np.concatenate([p.ts for p in pends if p.ts is not None]),
    )]


def pending_of(p: PreparedBatch, packet_ids: Sequence[int], verdicts: Sequence[str],
               journalled_at: float | None = None) -> Pending:
    """Values of ``p`` to write later, given the journal's ids and final verdicts per row."""
    if len(packet_ids) != p.n or len(verdicts) != p.n:
        raise ValueError(f"{len(packet_ids)} ids / {len(verdicts)} verdicts for {p.n} rows")
    return Pending(
        ids=np.asarray(packet_ids, dtype=np.int64),
        accepted=np.fromiter((v == "accepted" for v in verdicts), dtype=bool, count=p.n),
        wide=p.wide,
        long=p.long,
        journalled_at=time.monotonic() if journalled_at is None else journalled_at,
    )


def _rows_of(frame: pa.Table, pend: Pending, only: int | None) -> pa.Table | None:
    """Rows of accepted packets (of packet ``only``), ``packet_id`` mapped to journal ids."""
    row = frame.column("packet_id").to_numpy()
    ids = pend.ids[row]
    keep = pend.accepted[row] if only is None else pend.accepted[row] & (ids == only)
    if not keep.any():
        return None
    if not keep.all():
        frame, ids = frame.filter(pa.array(keep)), ids[keep]
    i = frame.schema.get_field_index("packet_id")
    return frame.set_column(i, "packet_id", pa.array(ids, pa.int64()))


def values_of(pend: Pending, only: int | None = None) -> dict[str, pa.Table]:
    """``{table: frame}`` to insert for ``pend`` (``value_long`` for the long frame).

    With ``only`` (a journal id): the rows of that packet alone.
    """
    out: dict[str, pa.Table] = {}
    pend.route()
    assert pend.wide is not None
    frames = [*pend.wide.items(), *([("value_long", pend.long)] if pend.long is not None
                                    else [])]
    for table, frame in frames:
        if frame is None or not frame.num_rows:
            continue
        rows = _rows_of(frame, pend, only)
        if rows is not None:
            out[table] = rows
    return out


def accepted_ids(pend: Pending) -> list[int]:
    """Journal ids of the accepted packets of ``pend``, in order."""
    ids: list[int] = pend.ids[pend.accepted].tolist()
    return ids
