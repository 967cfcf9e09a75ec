"""Columnar bulk decoding: many frames → header columns plus one long table of values.

For imports, where Packet objects are not needed: headers come out as lists of strings,
values as a long table (packet index, code, suffix, number, text as sent), ready for
``value_long`` or a pivot to the wide tables. Frames in the canonical form are read by a
compiled single pass (:mod:`lantian.hj212.scan`, via :mod:`lantian.hj212.columnar_fast`):
framing, CRC, header, CP items, number parsing and checks, at a few µs per frame. Frames off
that form (non-ASCII text, log text, other header orders, a Modbus CRC, any problem) go
through :func:`lantian.hj212.parse_packet`, so verdicts, errors and warnings are the
parser's; differential tests compare the two paths on every shared packet and on generated
ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from lantian.errors import PacketError
from lantian.hj212.columnar_fast import Items, fast_pass
from lantian.hj212.columnar_names import NAMES
from lantian.hj212.packet import STRING_SUFFIXES, Packet
from lantian.hj212.parser import parse_packet
from lantian.hj212.scan import FAST

__all__ = ["CHUNK", "DecodedBatch", "ItemStrings", "code_ids", "column_decoder", "decode_batch",
           "decode_columns"]

CHUNK = 4096
"""Lines decoded together in one compiled pass (larger inputs are cut into chunks)."""

_HEADER_KEYS = ("qn", "st", "cn", "pw", "mn", "flag", "pnum", "pno", "rf", "data_time",
                "version")


class ItemStrings:
    """Strings of items held as ids into a table of the distinct strings (built on demand).

    ``s[index]`` is ``table[ids][index]`` (a string for an int; an object array for a slice,
    an index array or a mask), ``np.asarray(s)``, ``list(s)`` and ``s.tolist()`` the whole
    column; an id of −1 stands for None. The import's decoder
    (:func:`decode_batch` with ``strings=False``) gives each item's code, suffix and text
    so: a block of 11,654 minute packets has ≈ 440,000 items, and building three object
    arrays of a Python string each (per chunk, then joined) cost ≈ 2 µs of its ≈ 15 µs per
    packet, for strings the store reads only for the few values that go to ``value_long``.
    """

    __slots__ = ("ids", "table")

    def __init__(self, table: npt.NDArray[np.object_], ids: npt.NDArray[np.int64]) -> None:
        self.table = (np.concatenate([table, np.array([None], dtype=object)])
                      if (ids < 0).any() else table)
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        return self.table[self.ids[index]]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> npt.NDArray[Any]:
        a = self.table[self.ids]
        return a if dtype is None else a.astype(dtype)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def __eq__(self, other: object) -> bool:
        """Return whether ``other`` holds the same strings in the same order."""
        if not isinstance(other, ItemStrings):
            return NotImplemented
        return self.tolist() == other.tolist()

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside: not hashable

    def tolist(self) -> list[Any]:
        """Return the strings as a list (None included)."""
        return self.table[self.ids].tolist()  # type: ignore[no-any-return]


ObjectColumn = npt.NDArray[np.object_] | ItemStrings
"""Code, suffix or text of every item: an object array, or ids into the distinct ones."""


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Decoded frames as columns (index ``i`` = input line ``i``).

    ``ok`` and ``crc_ok`` are boolean arrays; ``error`` the parser's message or ``None``;
    ``columns`` maps each header field (and ``data_time``, ``version``) to a list of strings
    as sent (``None`` where absent or unreadable); ``params`` maps a line index to its other
    CP items (only lines that have some); ``warnings`` lists each line's warnings. The value
    table holds the values of the packets that are ``ok`` only: ``item_packet`` (line
    index), ``item_code``, ``item_suffix``, ``item_value`` (float64, NaN for text fields such
    as Flag), ``item_text`` (as sent) and ``item_name`` (the field name's id in this
    process's name registry, which :func:`column_decoder` turns into code and suffix ids);
    ``item_text_id`` numbers each item's text in ``text_vocab`` (``text_vocab[item_text_id]
    == item_text``, None included), so that a caller can build an Arrow string column by
    ``take`` from the few distinct texts instead of converting a Python string per item
    (:func:`decode_columns`). With ``strings=False`` (:func:`decode_batch`), code, suffix
    and text are :class:`ItemStrings` over the name and text ids.
    """

    ok: npt.NDArray[np.bool_]
    crc_ok: npt.NDArray[np.bool_]
    error: list[str | None]
    columns: dict[str, list[str | None]]
    params: dict[int, dict[str, str]]
    warnings: list[tuple[str, ...]]
    item_packet: npt.NDArray[np.int64]
    item_code: ObjectColumn
    item_suffix: ObjectColumn
    item_value: npt.NDArray[np.float64]
    item_text: ObjectColumn
    item_name: npt.NDArray[np.int64] | None = None
    item_text_id: npt.NDArray[np.int64] | None = None
    text_vocab: npt.NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.error)

    def values_of(self, i: int) -> dict[str, dict[str, float | str]]:
        """Values of packet ``i`` in :attr:`Packet.values` form (slow; for checks)."""
        out: dict[str, dict[str, float | str]] = {}
        for j in np.flatnonzero(self.item_packet == i):
            suffix = str(self.item_suffix[j])
            v: float | str = (str(self.item_text[j]) if suffix in STRING_SUFFIXES
                              else float(self.item_value[j]))
            out.setdefault(str(self.item_code[j]), {})[suffix] = v
        return out


def decode_batch(lines: Sequence[bytes], *, strict: bool = True,
                 number_text: bool = True, digit_warnings: bool = True,
                 header_warnings: bool = True, text_ids: bool = False,
                 strings: bool = True) -> DecodedBatch:
    """Decode many frames into columns, with the verdicts :func:`parse_packet` gives.

    Parameters
    ----------
    lines : sequence of bytes
        One frame each (``##LLLL…CCCC``), CRLF optional.
    strict : bool
        Strict or lenient checking, as in :func:`parse_packet`.
    number_text : bool
        Keep the text as sent of numeric values in ``item_text`` too. False leaves it None
        for the numbers of canonical frames (text fields keep their text), which saves
        building millions of strings the store never reads.
    digit_warnings : bool
        False skips the warnings of values with more digits than the code table's format
        for canonical frames (their ``warnings`` then lack them; frames that go through
        the parser keep all its warnings). Verdicts and values are unchanged.
    header_warnings : bool
        False skips the header warnings (13-digit QN, unusual MN) of canonical frames, in
        the same way (the gateway keeps no warnings, session 5).
    text_ids : bool
        True fills ``item_text_id`` and ``text_vocab`` (the distinct texts items use,
        numbered across chunks); False leaves them None.
    strings : bool
        False (only with ``text_ids``) gives ``item_code``, ``item_suffix`` and
        ``item_text`` as :class:`ItemStrings` over the name and text ids instead of object
        arrays (the same strings; none built per item).

    Raises
    ------
    ValueError
        For ``strings=False`` without ``text_ids``.

    Notes
    -----
    Work runs in chunks of :data:`CHUNK` lines, which keeps the numpy buffers in cache.

    """
    if not strings and not text_ids:
        raise ValueError("strings=False needs text_ids=True")
    if len(lines) <= CHUNK:
        return _decode_chunk(lines, strict, number_text, digit_warnings, header_warnings,
                             text_ids, strings)
    parts = [_decode_chunk(lines[lo:lo + CHUNK], strict, number_text, digit_warnings,
                           header_warnings, text_ids, strings)
             for lo in range(0, len(lines), CHUNK)]
    offsets = np.cumsum([0] + [len(b) for b in parts[:-1]]).tolist()
    ids_vocab = _text_ids(parts) if text_ids else None
    item_text_id, text_vocab = ids_vocab or (None, None)
    item_name = np.concatenate([_names_of(b) for b in parts])
    if strings or ids_vocab is None:
        code: ObjectColumn = np.concatenate([np.asarray(b.item_code) for b in parts])
        suffix: ObjectColumn = np.concatenate([np.asarray(b.item_suffix) for b in parts])
        text: ObjectColumn = np.concatenate([np.asarray(b.item_text) for b in parts])
    else:
        code, suffix, text = _item_strings(item_name, *ids_vocab)
    params: dict[int, dict[str, str]] = {}
    for off, b in zip(offsets, parts, strict=True):
        params.update({off + i: p for i, p in b.params.items()})
    return DecodedBatch(
        ok=np.concatenate([b.ok for b in parts]),
        crc_ok=np.concatenate([b.crc_ok for b in parts]),
        error=list(chain.from_iterable(b.error for b in parts)),
        columns={k: list(chain.from_iterable(b.columns[k] for b in parts))
                 for k in _HEADER_KEYS},
        params=params,
        warnings=list(chain.from_iterable(b.warnings for b in parts)),
        item_packet=np.concatenate([b.item_packet + off
                                    for off, b in zip(offsets, parts, strict=True)]),
        item_code=code,
        item_suffix=suffix,
        item_value=np.concatenate([b.item_value for b in parts]),
        item_text=text,
        item_name=item_name,
        item_text_id=item_text_id,
        text_vocab=text_vocab,
    )


def _item_strings(name: npt.NDArray[np.int64], text_id: npt.NDArray[np.int64],
                  text_vocab: npt.NDArray[np.object_]
                  ) -> tuple[ItemStrings, ItemStrings, ItemStrings]:
    """Code, suffix and text of items from their name ids and text ids (no string per item)."""
    code_tab, suffix_tab = NAMES.tables_of_text()
    return (ItemStrings(code_tab, name), ItemStrings(suffix_tab, name),
            ItemStrings(text_vocab, text_id))


def _text_ids(parts: Sequence[DecodedBatch]) -> tuple[npt.NDArray[np.int64],
                                                      npt.NDArray[np.object_]]:
    """Return the chunks' item text ids in one vocabulary (their vocabularies in order).

    A chunk's ids number its items' distinct texts (:attr:`DecodedBatch.item_text_id`);
    a chunk without them numbers each item alone. A None text has an id too (a None of
    the vocabulary).
    """
    ids: list[npt.NDArray[np.int64]] = []
    vocab: list[npt.NDArray[np.object_]] = []
    at = 0
    for b in parts:
        tid, voc = b.item_text_id, b.text_vocab
        if tid is None or voc is None:
            tid, voc = np.arange(len(b.item_text), dtype=np.int64), np.asarray(b.item_text)
        ids.append(tid + at if at else tid)
        vocab.append(voc)
        at += len(voc)
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    return np.concatenate(ids), np.concatenate(vocab)


def column_decoder(strict: bool = True) -> Callable[[Sequence[bytes]], dict[str, Any]]:
    """Bulk decoder for the store's fast import path.

    Returns a function mapping a batch of lines to the fields of
    :class:`lantian.store.columns.ColumnBatch` other than ``raw``, ``source`` and
    ``received_at`` (pass it as ``decode_columns`` to
    :func:`lantian.store.bulk.import_packet_file`): :func:`decode_columns` with the given
    ``strict``. The function is picklable, so an import may run it in worker processes.
    """
    return functools.partial(decode_columns, strict=strict)


def decode_columns(lines: Sequence[bytes], strict: bool = True) -> dict[str, Any]:
    """Decode ``lines`` into the fields of :class:`lantian.store.columns.ColumnBatch`.

    Verdicts and values are those of :func:`decode_batch` with the given ``strict``
    (``number_text=False``: ``item_text`` holds the text of text fields; numbers may have
    None there; ``digit_warnings=False``: the store keeps no warnings). Code and suffix
    come also as integer ids with their tables (``item_code_id``, ``code_table`` …); the
    ids are those of this process. Item texts come also as ids (``item_text_id``) into
    ``text_table``, the distinct texts the items use (and None); ``item_code``,
    ``item_suffix`` and ``item_text`` are :class:`ItemStrings` over those ids.
    """
    d = decode_batch(lines, strict=strict, number_text=False, digit_warnings=False,
                     text_ids=True, strings=False)
    head = {k: d.columns[k] for k in ("mn", "st", "cn", "qn", "data_time", "version")}
    return {
        "ok": d.ok,
        "error": d.error,
        **head,
        "item_row": d.item_packet,
        "item_code": d.item_code,
        "item_suffix": d.item_suffix,
        "item_num": d.item_value,
        "item_text": d.item_text,
        "item_text_id": d.item_text_id,
        "text_table": d.text_vocab,
        **code_ids(d),
    }


def _names_of(b: DecodedBatch) -> npt.NDArray[np.int64]:
    """Name ids of a batch's items (registered now if the batch was built without them)."""
    if b.item_name is not None:
        return b.item_name
    return np.fromiter((NAMES.id_of(f"{c}-{s}") for c, s in zip(b.item_code.tolist(),
                                                                  b.item_suffix.tolist(),
                                                                  strict=True)),
                       dtype=np.int64, count=len(b.item_code))


def code_ids(d: DecodedBatch) -> dict[str, Any]:
    """Return integer code and suffix ids of ``d``'s items with their tables.

    ``{"item_code_id", "item_suffix_id", "code_table", "suffix_table"}``, with
    ``code_table[item_code_id[j]] == d.item_code[j]`` (likewise suffixes): optional fields of
    :class:`lantian.store.columns.ColumnBatch` that spare the store hashing every value's
    code and suffix strings. Select items with the same mask as ``item_code`` when a batch
    keeps only some rows; the tables stay whole.
    """
    reg = NAMES
    names = _names_of(d)
    return {
        "item_code_id": np.array(reg.code_id, dtype=np.int64)[names],
        "item_suffix_id": np.array(reg.suffix_id, dtype=np.int64)[names],
        "code_table": np.array(list(reg.code_ids), dtype=object),
        "suffix_table": np.array(list(reg.suffix_ids), dtype=object),
    }


def _decode_chunk(lines: Sequence[bytes], strict: bool, number_text: bool = True,
                  digit_warnings: bool = True, header_warnings: bool = True,
                  text_ids: bool = False, strings: bool = True) -> DecodedBatch:
    frames = [ln.rstrip(b"\r\n") for ln in lines]
    n = len(frames)
    fp = fast_pass(frames, digit_warnings, number_text, header_warnings, text_ids,
                   strings or not text_ids)
    cols, warns, params = fp.columns, fp.warnings, fp.params
    ok = fp.status == FAST
    crc_ok = ok.copy()
    error: list[str | None] = [None] * n
    parts = [fp.items] if fp.items is not None else []
    # text ids: the compiled pass's numbering of its items' texts, then one per parser item
    vocab = [fp.text_vocab if fp.text_vocab is not None else np.array([None], dtype=object)]
    tids = [fp.text_id] if fp.items is not None and fp.text_id is not None else []
    at = len(vocab[0])
    for i in np.flatnonzero(~ok).tolist():
        try:
            p: Packet | None = parse_packet(frames[i], strict=strict)
            ok[i] = True
        except PacketError as exc:
            p = getattr(exc, "partial", None)
            error[i] = str(exc)
        for k in _HEADER_KEYS:
            cols[k][i] = getattr(p, k) if p is not None else None
        if p is None:
            continue
        crc_ok[i] = p.crc_ok
        if p.warnings:
            warns[i] = list(p.warnings)
        if p.params:
            params[i] = dict(p.params)
        if ok[i]:
            part = _items_of(i, p)
            vocab.append(part[4])
            tids.append(np.arange(at, at + len(part[4]), dtype=np.int64))
            at += len(part[4])
            parts.append(part if strings or not text_ids
                         else (part[0], None, None, part[3], None, part[5]))
    have_ids = text_ids and len(tids) == len(parts)
    if have_ids:
        parts = [(*part, tid) for part, tid in zip(parts, tids, strict=True)]
    pk, code, suffix, value, text, name, *rest = _concat(parts, 7 if have_ids else 6)
    warnings: list[tuple[str, ...]] = [()] * n
    for i, w in warns.items():
        warnings[i] = tuple(w)
    text_vocab = np.concatenate(vocab) if have_ids else None
    if not strings and have_ids and text_vocab is not None:
        code, suffix, text = _item_strings(name, rest[0], text_vocab)
    return DecodedBatch(ok=ok, crc_ok=crc_ok, error=error, columns=cols, params=params,
                        warnings=warnings, item_packet=pk, item_code=code,
                        item_suffix=suffix, item_value=value, item_text=text, item_name=name,
                        item_text_id=rest[0] if have_ids else None,
                        text_vocab=text_vocab)


def _items_of(i: int, p: Packet) -> Items:
    rows = [(name.partition("-")[0], name.partition("-")[2], text)
            for g in p.cp for name, text in g if "-" in name]
    rows = [r for r in rows if r[1] in p.values.get(r[0], {})]
    value = [p.values[c][s] for c, s, _ in rows]
    num = np.array([v if isinstance(v, float) else np.nan for v in value], dtype=np.float64)
    names = np.array([NAMES.id_of(f"{c}-{s}") for c, s, _ in rows], dtype=np.int64)
    return (np.full(len(rows), i, dtype=np.int64), np.array([r[0] for r in rows], dtype=object),
            np.array([r[1] for r in rows], dtype=object), num,
            np.array([r[2] for r in rows], dtype=object), names)


def _concat(parts: list[Items], width: int = 6) -> Items:
    """Items of the parts in packet order (a 7th column, the text ids, follows them)."""
    if not parts:
        e = np.array([], dtype=object)
        i0 = np.array([], dtype=np.int64)
        return (i0, e, e, np.array([], dtype=np.float64), e, i0, i0)[:width]
    if len(parts) == 1:
        return parts[0]
    line = np.concatenate([p[0] for p in parts])
    cat = [line] + [None if parts[0][k] is None else np.concatenate([p[k] for p in parts])
                    for k in range(1, width)]  # a None column (strings=False) stays None
    if not (np.diff(line) < 0).any():
        return tuple(cat)  # already in packet order (the fast path alone)
    order = np.argsort(line, kind="stable")
    return tuple(None if c is None else c[order] for c in cat)
