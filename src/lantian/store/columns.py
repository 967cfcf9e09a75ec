"""Vectorised routing for bulk imports: a batch given as columns, values as one long table.

The same rules as :mod:`lantian.store.cells` (which works packet by packet for the
gateway), applied with numpy over all values of a batch at once: each distinct
(table, code, suffix) is routed once, then values are scattered into their columns. A test
checks that both paths write identical tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from lantian.catalog.glossary import by_code
from lantian.store.routing import (
    TABLE_OF_CN,
    WIDE_TABLES,
    encode_sent_codes,
    is_text_column,
    routes,
)

if TYPE_CHECKING:  # a type only: the store does not import the decoder
    from lantian.hj212.columnar import ObjectColumn

__all__ = ["ColumnBatch", "route_values"]


@dataclass(frozen=True)
class ColumnBatch:
    """Decoded packets of a batch as columns (index ``i`` = item ``i`` of the batch).

    ``ok[i]`` False means packet ``i`` could not be decoded and ``error[i]`` says why.
    Header lists hold strings as sent (None where absent). The value table holds the values
    of decoded packets: ``item_row`` (batch index), ``item_code``, ``item_suffix`` as sent,
    ``item_num`` (float64; NaN for text) and ``item_text`` (the text as sent); optionally
    integer ids of code and suffix with their tables (see :meth:`factorized`), and of the
    text (``item_text_id`` into ``text_table``: ``text_table[item_text_id[j]] ==
    item_text[j]``, None included; −1 also stands for None), from which text columns are
    taken in Arrow without a Python string per value. Code, suffix and text may be
    :class:`~lantian.hj212.columnar.ItemStrings` (ids into the distinct strings, indexed
    like object arrays). ``source`` may be an Arrow string array.
    """

    raw: Sequence[bytes]
    source: Sequence[str] | pa.Array
    received_at: Sequence[dt.datetime | None]
    ok: npt.NDArray[np.bool_]
    error: Sequence[str | None]
    mn: Sequence[str | None]
    st: Sequence[str | None]
    cn: Sequence[str | None]
    qn: Sequence[str | None]
    data_time: Sequence[str | None]
    version: Sequence[str | None]
    item_row: npt.NDArray[np.int64]
    item_code: ObjectColumn
    item_suffix: ObjectColumn
    item_num: npt.NDArray[np.float64]
    item_text: ObjectColumn
    item_code_id: npt.NDArray[np.int64] | None = None
    item_suffix_id: npt.NDArray[np.int64] | None = None
    code_table: npt.NDArray[np.object_] | None = None
    suffix_table: npt.NDArray[np.object_] | None = None
    item_text_id: npt.NDArray[np.int64] | None = None
    text_table: npt.NDArray[np.object_] | None = None

    def __post_init__(self) -> None:
        """Refuse text ids that do not go item by item with the texts.

        A caller that selects items must select ``item_text_id`` alike (or drop it);
        otherwise text columns would be taken for the wrong items.
        """
        if self.item_text_id is not None and len(self.item_text_id) != len(self.item_text):
            raise ValueError(f"{len(self.item_text_id)} text ids for {len(self.item_text)} "
                             "items: select item_text_id with the items")

    def __len__(self) -> int:
        return len(self.raw)

    def factorized(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_],
                                  npt.NDArray[np.int64], npt.NDArray[np.object_]]:
        """Per item (code id, code table, suffix id, suffix table).

        A decoder that knows them passes integer ids and tables (``item_code_id`` …,
        ``code_table[item_code_id[j]] == item_code[j]``); otherwise the strings are factorized
        here.
        """
        if (self.item_code_id is not None and self.item_suffix_id is not None
                and self.code_table is not None and self.suffix_table is not None):
            return self.item_code_id, self.code_table, self.item_suffix_id, self.suffix_table
        import pandas as pd  # only for decoders without ids (pandas costs start-up time)

        code_i, code_u = pd.factorize(np.asarray(self.item_code))
        suf_i, suf_u = pd.factorize(np.asarray(self.item_suffix))
        return (np.asarray(code_i, dtype=np.int64), np.asarray(code_u, dtype=object),
                np.asarray(suf_i, dtype=np.int64), np.asarray(suf_u, dtype=object))


def _route_table(
    code_u: npt.NDArray[np.object_], suf_u: npt.NDArray[np.object_]
) -> tuple[dict[str, npt.NDArray[np.int64]], list[str], list[str], npt.NDArray[np.object_]]:
    """Per wide table: column id of every (code id, suffix id) (−1 = long); column names."""
    cols: list[str] = []
    col_id: dict[str, int] = {}
    keys_of_col: list[str] = []
    out: dict[str, npt.NDArray[np.int64]] = {}
    key_of_code = np.empty(len(code_u), dtype=object)
    for table in WIDE_TABLES:
        rmap = routes(table)
        grid = np.full((len(code_u), len(suf_u)), -1, dtype=np.int64)
        for ci, code in enumerate(code_u):
            route = rmap.get(code)
            if route is None:
                continue
            key_of_code[ci] = route[0]
            for si, suffix in enumerate(suf_u):
                col = route[1].get(suffix)
                if col is not None:
                    if col not in col_id:
                        col_id[col] = len(cols)
                        cols.append(col)
                        keys_of_col.append(route[0])
                    grid[ci, si] = col_id[col]
        out[table] = grid
    return out, cols, keys_of_col, key_of_code


def route_values(
    batch: ColumnBatch,
    accepted: npt.NDArray[np.bool_],
    ts: npt.NDArray[Any],
    base: int,
) -> tuple[dict[str, pa.Table], pa.Table | None]:
    """Split the values of accepted packets into wide-table frames and a long frame.

    Parameters
    ----------
    batch
        The batch.
    accepted
        Per packet: accepted now and has a DataTime (its values are to be written).
    ts
        Per packet DataTime as ``datetime64[us]`` (NaT where none).
    base
        Journal id of item 0 (packet ids are ``base + i``).

    Returns
    -------
    tuple
        ``({table: Arrow frame}, long Arrow frame or None)``.

    """
    keep_item = accepted[batch.item_row] if len(batch.item_row) else np.zeros(0, bool)
    # the items to write, as indexes into the batch's items (None: all of them); object
    # arrays (code, suffix, text) are indexed only where their strings are needed
    src = None if keep_item.all() else np.flatnonzero(keep_item)
    row = batch.item_row if src is None else batch.item_row[src]
    num = batch.item_num if src is None else batch.item_num[src]
    items = _Items(batch, src)
    n = len(batch)
    tid = {t: k for k, t in enumerate(WIDE_TABLES)}
    table_id = {c: tid.get(TABLE_OF_CN.get(c or "", ""), -1) for c in set(batch.cn)}
    table_of_row = np.fromiter(map(table_id.__getitem__, batch.cn), dtype=np.int8, count=n)
    all_code_i, code_u_arr, all_suf_i, suf_u = batch.factorized()
    code_i = all_code_i if src is None else all_code_i[src]
    suf_i = all_suf_i if src is None else all_suf_i[src]
    grids, cols, _, key_of_code = _route_table(code_u_arr, suf_u)
    item_table = table_of_row[row]
    # items per wide table (index 0: none); a batch's items are mostly all one table's
    count = np.bincount(item_table + 1, minlength=len(WIDE_TABLES) + 1)
    present = [t for t in WIDE_TABLES if count[tid[t] + 1]]
    in_table: dict[str, npt.NDArray[np.bool_] | None] = {}
    col_of_item = np.full(len(row), -1, dtype=np.int64)
    for table in present:
        if count[tid[table] + 1] == len(row):  # every item: no selection to build
            in_table[table] = None
            col_of_item = grids[table][code_i, suf_i]
            continue
        sel = in_table[table] = item_table == tid[table]
        col_of_item[sel] = grids[table][code_i[sel], suf_i[sel]]
    is_text_col = np.array([is_text_column(c) for c in cols] + [False], dtype=bool)
    isnan = np.isnan(num)
    # a number expected but text sent (or the reverse): keep it as sent in value_long
    misfit = (col_of_item >= 0) & (is_text_col[col_of_item] != isnan)
    col_of_item[misfit] = -1
    present_codes = np.flatnonzero(np.bincount(code_i, minlength=len(key_of_code)))
    _drop_second_codes(row, code_i, key_of_code, col_of_item, present_codes)
    gl = by_code()
    any_alt = any(key_of_code[ci] is not None and gl[str(code_u_arr[ci])].code_2017 !=
                  code_u_arr[ci] for ci in present_codes.tolist())
    mn = np.array(batch.mn, dtype=object)
    wide = {
        t: f
        for t in present
        if (
            f := _wide_frame(
                mn,
                row,
                _Codes(code_u_arr, code_i, key_of_code, any_alt),
                col_of_item,
                num,
                items,
                cols,
                in_table[t],
                ts,
                base,
                n,
            )
        )
        is not None
    }
    long_sel = col_of_item < 0
    if not long_sel.any():
        return wide, None
    lr = row[long_sel]
    lnan = isnan[long_sel]
    cn = np.array([c if c is not None else "" for c in np.asarray(batch.cn, dtype=object)[lr]],
                  dtype=object)
    long = pa.table(
        {
            "packet_id": pa.array(lr + base, pa.int64()),
            "mn": pa.array(mn[lr], pa.string()),
            "cn": pa.array(cn, pa.string()),
            "ts": pa.array(ts[lr], pa.timestamp("us")),
            "code": _taken(code_u_arr, code_i[long_sel]),
            "field": _taken(suf_u, suf_i[long_sel]),
            "num": pa.array(num[long_sel], pa.float64(), mask=lnan),
            "text": items.arrow_text(np.flatnonzero(long_sel), null=~lnan),
        }
    )
    return wide, long


def _taken(table: npt.NDArray[np.object_], ids: npt.NDArray[np.int64]) -> pa.Array:
    """``table[ids]`` as an Arrow string array, taken from the few distinct strings."""
    return pa.array(table, pa.string()).take(pa.array(ids, pa.int64()))


@dataclass
class _Items:
    """The batch's items being written: ``src`` maps their positions to the batch's items."""

    batch: ColumnBatch
    src: npt.NDArray[np.int64] | None
    _table: pa.Array | None = None  # the batch's text_table in Arrow, made once

    def index(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Batch item indexes of the written items at ``positions``."""
        return positions if self.src is None else self.src[positions]

    def text(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        """Text as sent of the written items at ``positions``."""
        return self.batch.item_text[self.index(positions)]

    def arrow_text(self, positions: npt.NDArray[np.int64],
                   null: npt.NDArray[np.bool_] | None = None) -> pa.Array:
        """:meth:`text` as an Arrow string array (null for None, and where ``null``).

        With the decoder's text ids, taken from the few distinct texts (≈ 9 ns per value
        against ≈ 59 for converting a Python string each: 11 Flag columns per minute
        packet).
        """
        b = self.batch
        if b.item_text_id is None or b.text_table is None:
            return pa.array(self.text(positions), pa.string(), mask=null)
        if self._table is None:
            self._table = pa.array(b.text_table, pa.string())
        ids = b.item_text_id[self.index(positions)]
        none = ids < 0 if null is None else (ids < 0) | null
        return self._table.take(pa.array(ids, pa.int64(), mask=none if none.any() else None))


@dataclass(frozen=True)
class _Codes:
    """Code table of a batch, code id of each value, glossary key of each code (or None)."""

    table: npt.NDArray[np.object_]
    ids: npt.NDArray[np.int64]
    key_of: npt.NDArray[np.object_]
    any_alt: bool = True  # False: no value of the batch is under a code other than 2017's


def _drop_second_codes(
    row: npt.NDArray[np.int64],
    code_i: npt.NDArray[np.int64],
    key_of_code: npt.NDArray[np.object_],
    col_of_item: npt.NDArray[np.int64],
    present: npt.NDArray[np.int64] | None = None,
) -> None:
    """Send to long the values of a second code for the same parameter in one packet.

    The first code of a parameter (glossary key) in a packet, in the order sent, keeps its
    columns; values of any other code for that parameter in that packet go to long.
    ``present``: the code ids the items use (counted here when None).
    """
    if present is None:
        present = np.flatnonzero(np.bincount(code_i, minlength=len(key_of_code)))
    keys = [key_of_code[c] for c in present.tolist() if key_of_code[c] is not None]
    if len(keys) == len(set(keys)):
        return  # no parameter under two codes anywhere in the batch
    key_ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    key_of = np.array([-1 if k is None else key_ids.get(k, -1) for k in key_of_code],
                      dtype=np.int64)
    kj = np.flatnonzero(key_of[code_i] >= 0)
    group = row[kj] * len(key_ids) + key_of[code_i[kj]]
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    second = code_i[kj] != code_i[kj[first]][inverse]
    col_of_item[kj[second]] = -1


def _wide_frame(
    mn: npt.NDArray[np.object_],
    row: npt.NDArray[np.int64],
    codes: _Codes,
    col_of_item: npt.NDArray[np.int64],
    num: npt.NDArray[np.float64],
    items: _Items,
    cols: list[str],
    in_table: npt.NDArray[np.bool_] | None,
    ts: npt.NDArray[Any],
    base: int,
    n: int,
) -> pa.Table | None:
    """Arrow frame of one wide table: values scattered into a (row × column) matrix at once.

    ``in_table`` selects the table's items (None: every item is the table's).
    """
    sel = col_of_item >= 0 if in_table is None else (col_of_item >= 0) & in_table
    if not sel.any():
        return None
    at = np.flatnonzero(sel)
    r, c = row[at], col_of_item[at]
    w = _same_layout(r, c)
    if w:
        return _uniform_frame(mn, row, c, w, at, codes, num, items, cols, ts, base, n, sel)
    if len(r) < 2 or (r[1:] >= r[:-1]).all():  # items in packet order (the decoder's)
        rows = r[np.concatenate(([True], r[1:] != r[:-1]))]
    else:
        rows = np.unique(r)
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    m = len(rows)
    p = pos[r]
    used = np.flatnonzero(np.bincount(c, minlength=len(cols)))  # column ids, ascending
    slot = np.full(len(cols), -1, dtype=np.int64)
    slot[used] = np.arange(len(used))
    k = slot[c]
    is_text = np.array([is_text_column(cols[u]) for u in used.tolist()], dtype=bool)
    tx = is_text[k]
    # numbers and texts in separate (row × column) matrices, column-major and flat (column
    # j is the slice [j*m, (j+1)*m)), filled by one 1-D scatter each
    num_slot = np.cumsum(~is_text) - 1
    txt_slot = np.cumsum(is_text) - 1
    nx, tx_i = np.flatnonzero(~tx), np.flatnonzero(tx)
    numbers = np.full(int((~is_text).sum()) * m, np.nan)
    numbers[num_slot[k[nx]] * m + p[nx]] = num[at[nx]]
    present = np.zeros(len(used) * m, dtype=bool)
    present[k * m + p] = True
    texts = np.full(int(is_text.sum()) * m, None, dtype=object)
    texts[txt_slot[k[tx_i]] * m + p[tx_i]] = items.text(at[tx_i])
    data: dict[str, pa.Array] = {
        "mn": pa.array(mn[rows], pa.string()),
        "ts": pa.array(ts[rows], pa.timestamp("us")),
        "packet_id": pa.array(rows + base, pa.int64()),
        "sent_codes": pa.array(_sent_codes(len(rows), pos, row, codes, sel), pa.string()),
    }
    for j, u in enumerate(used.tolist()):
        if is_text[j]:
            t = txt_slot[j] * m
            data[cols[u]] = pa.array(texts[t:t + m], pa.string())
        else:
            q, r0 = num_slot[j] * m, j * m
            data[cols[u]] = pa.array(numbers[q:q + m], pa.float64(), mask=~present[r0:r0 + m])
    return pa.table(data)


def _same_layout(r: npt.NDArray[np.int64], c: npt.NDArray[np.int64]) -> int:
    """Columns per row when all rows share one layout; else 0.

    One layout: every row's items fill the same distinct columns in the same order and the
    rows ascend (a batch of loggers that all send the same parameters, in the decoder's
    packet order).
    """
    if not len(r):
        return 0
    w = int(np.argmax(r != r[0])) or len(r)  # items of the first row
    if len(r) % w or len(np.unique(c[:w])) != w:
        return 0
    rr, cc = r.reshape(-1, w), c.reshape(-1, w)
    if (cc == c[:w]).all() and (rr == rr[:, :1]).all() and (rr[1:, 0] > rr[:-1, 0]).all():
        return w
    return 0


def _uniform_frame(
    mn: npt.NDArray[np.object_],
    row: npt.NDArray[np.int64],
    c: npt.NDArray[np.int64],
    w: int,
    at: npt.NDArray[np.int64],
    codes: _Codes,
    num: npt.NDArray[np.float64],
    items: _Items,
    cols: list[str],
    ts: npt.NDArray[Any],
    base: int,
    n: int,
    sel: npt.NDArray[np.bool_],
) -> pa.Table:
    """:func:`_wide_frame` of rows of one layout (:func:`_same_layout`): no scatter, no mask.

    Every row fills every column of the layout, so each column is one strided read of the
    items; a numeric column holds no NaN (text where a number is expected went to long).
    The same frame as the scatter path, columns in ascending column id.
    """
    rows = row[at[::w]]
    m = len(rows)
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(m)
    order = np.argsort(c[:w], kind="stable")
    where = at.reshape(m, w)[:, order].T.copy()  # where[j]: item of column j in each row
    data: dict[str, pa.Array] = {
        "mn": pa.array(mn[rows], pa.string()),
        "ts": pa.array(ts[rows], pa.timestamp("us")),
        "packet_id": pa.array(rows + base, pa.int64()),
        "sent_codes": pa.array(_sent_codes(m, pos, row, codes, sel), pa.string()),
    }
    for j, u in enumerate(c[:w][order].tolist()):
        if is_text_column(cols[u]):
            data[cols[u]] = items.arrow_text(where[j])
        else:
            data[cols[u]] = pa.array(num[where[j]], pa.float64())
    return pa.table(data)


def _sent_codes(
    m: int,
    pos: npt.NDArray[np.int64],
    row: npt.NDArray[np.int64],
    codes: _Codes,
    sel: npt.NDArray[np.bool_],
) -> list[str | None]:
    """Per wide row, the ``sent_codes`` text for codes that are not the 2017 code."""
    out: list[str | None] = [None] * m
    if not codes.any_alt:  # the batch has none (a pass over the table's items spared)
        return out
    gl = by_code()
    code_u, code_i, key_of_code = codes.table, codes.ids, codes.key_of
    present = np.flatnonzero(np.bincount(code_i[sel], minlength=len(code_u))).tolist()
    alt_ids = [
        ci
        for ci in present
        if key_of_code[ci] is not None and gl[str(code_u[ci])].code_2017 != code_u[ci]
    ]
    if not alt_ids:
        return out
    maps: dict[int, dict[str, str]] = {}
    for j in np.flatnonzero(sel & np.isin(code_i, alt_ids)):
        maps.setdefault(int(pos[row[j]]), {})[key_of_code[code_i[j]]] = code_u[code_i[j]]
    for p, mp in maps.items():
        out[p] = encode_sent_codes(mp)
    return out
