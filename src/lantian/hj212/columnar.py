"""Columnar bulk decoding: many frames → header columns plus one long table of values.

For imports, where Packet objects are not needed: headers come out as lists of strings,
values as a long table (packet index, code, suffix, number, text as sent), ready for
``value_long`` or a pivot to the wide tables. Work per packet is a header regex match and one
``findall`` over its CP; everything per value (number parsing, digit-count warnings,
duplicate and grammar checks) runs vectorised in numpy. Frames off the canonical form
(non-ASCII text, log text, other header orders, any problem) go through
:func:`lantian.hj212.parse_packet`, so verdicts, errors and warnings are the parser's; a
differential test compares the two paths on every shared packet.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from lantian.catalog.codes import data_format
from lantian.errors import PacketError
from lantian.hj212.bulk import crc16_many
from lantian.hj212.cp import NAME_RE, SUFFIX_RE
from lantian.hj212.fastpath import mn_warning
from lantian.hj212.packet import STRING_SUFFIXES, VERSION_BITS, Packet
from lantian.hj212.parser import DIGIT_SUFFIXES, STD_SEGMENT, TIME_PARAMS, parse_packet
from lantian.hj212.times import is_data_time

__all__ = ["CHUNK", "DecodedBatch", "code_ids", "column_decoder", "decode_batch", "decode_columns"]

CHUNK = 4096
"""Lines decoded together in one numpy pass (larger inputs are cut into chunks)."""

_HEADER_KEYS = ("qn", "st", "cn", "pw", "mn", "flag", "pnum", "pno", "rf", "data_time",
                "version")


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
    process's name registry, which :func:`column_decoder` turns into code and suffix ids).
    """

    ok: npt.NDArray[np.bool_]
    crc_ok: npt.NDArray[np.bool_]
    error: list[str | None]
    columns: dict[str, list[str | None]]
    params: dict[int, dict[str, str]]
    warnings: list[tuple[str, ...]]
    item_packet: npt.NDArray[np.int64]
    item_code: npt.NDArray[np.object_]
    item_suffix: npt.NDArray[np.object_]
    item_value: npt.NDArray[np.float64]
    item_text: npt.NDArray[np.object_]
    item_name: npt.NDArray[np.int64] | None = None

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


_LINE = re.compile(
    r"^(?:##([0-9]{4})(?:QN=([0-9]{13}|[0-9]{17});)?ST=([0-9A-Za-z]{2});"
    r"CN=([0-9]{4});PW=([^;=&\n]{6});MN=([0-9A-Za-z]+);"
    r"(?:Flag=([0-9]{1,3});)?(?:PNUM=([0-9]{1,4});PNO=([0-9]{1,4});)?"
    r"CP=&&([^\n]*)&&([0-9A-Fa-f]{4})|[^\n]*)$",
    re.MULTILINE,
)
_VERSION_OF = np.array([VERSION_BITS.get(v) for v in range(64)], dtype=object)


def _ints(col: Sequence[str], sel: list[bool], default: int,
          base: int = 10) -> npt.NDArray[np.int64]:
    """Integer value of the selected, non-empty strings of ``col``; ``default`` elsewhere."""
    out = np.full(len(col), default, dtype=np.int64)
    mask = np.fromiter(map(bool, col), dtype=bool, count=len(col)) & np.array(sel, dtype=bool)
    out[mask] = np.fromiter(map(int, compress(col, mask.tolist()), repeat(base)),
                            dtype=np.int64, count=int(mask.sum()))
    return out


def _header_pass(frames: list[bytes], crcs: npt.NDArray[np.uint16],
                 cols: dict[str, list[str | None]], warns: dict[int, list[str]]
                 ) -> tuple[list[int], pa.Array]:
    """Read the canonical headers of all frames at once; return fast indexes and CP bodies.

    One ``findall`` over the joined frames yields one tuple per line; checks on lengths,
    CRC, Flag bits and split fields run on numpy columns. The CP bodies of the fast lines
    come back as an Arrow string array cut out of the joined frames (:func:`_bodies`).
    """
    n = len(frames)
    blob = b"\n".join(frames)
    if not blob.isascii() or blob.count(b"\n") != n - 1:
        frames = [f if f.isascii() and b"\n" not in f else b"" for f in frames]
        blob = b"\n".join(frames)
    rows = _LINE.findall(blob.decode("ascii"))
    if len(rows) != n:  # pragma: no cover - a line the pattern cannot cover: all slow
        return [], pa.array([], pa.string())
    lf, qn, st, cn, pw, mn, flag, pnum, pno, body, crc = zip(*rows, strict=True)
    matched = list(map(bool, lf))
    m = np.array(matched, dtype=bool)
    seglen = np.fromiter(map(len, frames), dtype=np.int64, count=n) - 10
    fl = _ints(flag, matched, 0)
    has_pnum = np.fromiter(map(bool, pnum), dtype=bool, count=n)
    has_qn = np.fromiter(map(bool, qn), dtype=bool, count=n)
    version = _VERSION_OF[np.clip(fl >> 2, 0, 63)]
    good = (m & (_ints(lf, matched, -1) == seglen) & (seglen <= STD_SEGMENT)
            & (_ints(crc, matched, -1, 16) == crcs.astype(np.int64)) & (fl <= 255)
            & (version != None)  # noqa: E711 - elementwise on an object array
            & (((fl & 2) == 2) == has_pnum) & (has_qn | (fl >> 2 == 0)))
    if has_pnum.any():
        n_pnum, n_pno = _ints(pnum, matched, 1), _ints(pno, matched, 1)
        good &= ~has_pnum | ((n_pno >= 1) & (n_pno <= n_pnum))
    fast = np.flatnonzero(good).tolist()
    # required fields are never empty on matched lines; others are rewritten by the slow path
    for key, col in (("st", st), ("cn", cn), ("pw", pw), ("mn", mn)):
        cols[key] = list(col)
    for key, col in (("qn", qn), ("flag", flag), ("pnum", pnum), ("pno", pno)):
        cols[key] = [v or None for v in col]
    cols["version"] = version.tolist()
    qlen = np.fromiter(map(len, qn), dtype=np.int64, count=n)
    for i in np.flatnonzero(good & (qlen == 13)).tolist():  # the pattern admits 13 or 17
        warns.setdefault(i, []).append("QN has 13 digits, not 17 (YYYYMMDDhhmmsszzz)")
    mlen = np.fromiter(map(len, mn), dtype=np.int64, count=n)
    for i in np.flatnonzero(good & (mlen != 14)).tolist():  # any letters/digits: as the parser
        if (w := mn_warning(mn[i])) is not None:
            warns.setdefault(i, []).append(w)
    return fast, _bodies(blob, frames, body, np.flatnonzero(good))


def _bodies(blob: bytes, frames: list[bytes], body: Sequence[str],
            rows: npt.NDArray[np.int64]) -> pa.Array:
    """CP bodies of lines ``rows`` as an Arrow string array, without a Python string each.

    ``blob`` is the frames joined by LF and ``body[i]`` the CP text the header pattern
    captured for line ``i`` (it ends 6 bytes before the line end: ``&&`` and the CRC). The
    blob is viewed as one string array alternating the text between bodies and the bodies
    (offsets only, no copy); the bodies of ``rows`` are then taken out in one step.
    """
    n = len(frames)
    flen = np.fromiter(map(len, frames), dtype=np.int64, count=n)
    start = np.zeros(n, dtype=np.int64)
    np.cumsum(flen[:-1] + 1, out=start[1:])
    blen = np.fromiter(map(len, body), dtype=np.int64, count=n)
    end = np.where(blen > 0, start + flen - 6, start)
    large = len(blob) >= 2**31  # 32-bit offsets of a string array
    off = np.empty(2 * n + 2, dtype=np.int64 if large else np.int32)
    off[0], off[-1] = 0, len(blob)
    off[1:-1:2] = end - blen
    off[2:-1:2] = end
    kind = pa.LargeStringArray if large else pa.StringArray
    alt = kind.from_buffers(2 * n + 1, pa.py_buffer(off), pa.py_buffer(blob))
    return alt.take(pa.array(2 * rows + 1)).cast(pa.string())


class _Names:
    """Facts about each distinct CP field name, looked up by integer id (grows as needed)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.code: list[str] = []
        self.suffix: list[str] = []
        self.kind: list[int] = []  # 0 param, 1 text field, 2 numeric field, 3 invalid, 4 time
        self.fmt_n: list[int] = []
        self.fmt_m: list[int] = []
        self.code_ids: dict[str, int] = {}  # distinct codes and suffixes, numbered
        self.suffix_ids: dict[str, int] = {}
        self.code_id: list[int] = []  # name id -> code id, suffix id
        self.suffix_id: list[int] = []

    def id_of(self, name: str) -> int:
        """Integer id of ``name``, registered on first sight."""
        i = self.ids.get(name)
        if i is None:
            self.add(name)
            i = self.ids[name]
        return i

    def add(self, name: str) -> None:
        code, dash, suffix = name.partition("-")
        fmt = None
        if not dash:
            kind = 4 if name in TIME_PARAMS else (0 if NAME_RE.match(name) else 3)
        elif NAME_RE.match(code) is None or SUFFIX_RE.match(suffix) is None:
            kind = 3
        elif suffix in STRING_SUFFIXES:
            kind = 1
        else:
            kind = 2
            fmt = data_format(code) if suffix in DIGIT_SUFFIXES else None
        self.ids[name] = len(self.code)
        self.code.append(code)
        self.suffix.append(suffix)
        self.kind.append(kind)
        self.fmt_n.append(fmt[0] if fmt else 10**6)
        self.fmt_m.append(fmt[1] if fmt else 10**6)
        self.code_id.append(self.code_ids.setdefault(code, len(self.code_ids)))
        self.suffix_id.append(self.suffix_ids.setdefault(suffix, len(self.suffix_ids)))


_NAMES = _Names()


_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
"""HJ 212-2017 §6.3.3 number text, as :data:`lantian.hj212.cp.NUMBER_RE` (RE2 syntax)."""
_LEAD0 = r"^[+-]?0[0-9]"
"""An integer part with a leading zero (``012``): its digit count is taken one by one."""

Items = tuple[npt.NDArray[Any], ...]


def _np(arr: pa.Array | pa.ChunkedArray, dtype: Any) -> npt.NDArray[Any]:
    """Return a numeric Arrow array (no nulls) as a numpy array of ``dtype``."""
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _split_items(owner: npt.NDArray[np.int64], bodies: pa.Array
                 ) -> tuple[npt.NDArray[np.int64], pa.Array, npt.NDArray[np.bool_]]:
    """Split CP bodies at ``;`` and ``,``: (owner line of each item, items, bad item)."""
    arr = pc.replace_substring(bodies, ",", ";")
    lists = pc.split_pattern(arr, ";")
    flat = lists.flatten()
    parent = _np(pc.list_parent_indices(lists), np.int64)
    pk = owner[parent]
    slash = _np(pc.match_substring_regex(bodies, "[/&]"), bool)  # '/' or '&': slow path
    bad = ((_np(pc.binary_length(flat), np.int64) == 0)
           | (_np(pc.count_substring(flat, "="), np.int64) != 1)
           | slash[parent])
    return pk, flat, bad


def _name_ids(names: pa.Array) -> npt.NDArray[np.int64]:
    """Registry id (:data:`_NAMES`) of every field name; distinct names looked up once."""
    enc = pc.dictionary_encode(names)
    reg = _NAMES
    distinct = enc.dictionary.to_pylist()
    for nm in distinct:
        if nm not in reg.ids:
            reg.add(nm)
    lut = np.fromiter(map(reg.ids.__getitem__, distinct), dtype=np.int64, count=len(distinct))
    out: npt.NDArray[np.int64] = lut[_np(enc.indices, np.int64)]
    return out


def _item_pass(fast: list[int], bodies: pa.Array,
               params: dict[int, dict[str, str]], cols: dict[str, list[str | None]],
               warns: dict[int, list[str]], number_text: bool = True,
               digit_warnings: bool = True
               ) -> tuple[set[int], Items | None]:
    """Split CP bodies into items and check them with Arrow compute kernels (vectorised).

    Returns the line indexes to redo with the plain parser and the value columns of the
    others.
    """
    bad: set[int] = set()
    if not len(bodies):
        return bad, None
    has = np.flatnonzero(_np(pc.binary_length(bodies), np.int64) > 0)
    if not len(has):
        return bad, None
    owner = np.array(fast, dtype=np.int64)[has]
    pk, flat, bad_item = _split_items(owner, bodies.take(pa.array(has)))
    bad.update(pk[bad_item].tolist())
    good = ~bad_item
    pk = pk[good]
    pairs = pc.split_pattern(flat.filter(pa.array(good)), "=", max_splits=1)
    names, values = pc.list_element(pairs, 0), pc.list_element(pairs, 1)
    reg = _NAMES
    ids = _name_ids(names)
    kind = np.array(reg.kind, dtype=np.int64)[ids]
    bad.update(pk[kind == 3].tolist())
    numeric_kind = kind == 2
    is_num = np.zeros(len(ids), dtype=bool)
    if numeric_kind.any():
        is_num[numeric_kind] = _np(pc.match_substring_regex(
            values.filter(pa.array(numeric_kind)), _NUMBER), bool)
    bad.update(pk[numeric_kind & ~is_num].tolist())
    # time params (DataTime …): few per packet, each distinct text checked once
    tj = np.flatnonzero(kind == 4)
    times = values.take(pa.array(tj)).to_pylist() if len(tj) else []
    valid = {t: is_data_time(t) for t in set(times)}
    bad.update(int(pk[j]) for j, t in zip(tj.tolist(), times, strict=True) if not valid[t])
    # a field repeated in one packet
    bad.update(_repeated_fields(pk, ids, len(reg.code)))
    # params (no suffix): per packet; DataTime to its column
    dt_id = reg.ids.get("DataTime", -1)
    pj = np.flatnonzero((kind == 0) | (kind == 4))
    if len(pj):
        p_names = names.take(pa.array(pj)).to_pylist()
        p_values = values.take(pa.array(pj)).to_pylist()
        dcol = cols["data_time"]
        for j, i, nm, v in zip(pj.tolist(), pk[pj].tolist(), p_names, p_values, strict=True):
            if ids[j] == dt_id:
                dcol[i] = v
            else:
                params.setdefault(i, {})[nm] = v
    if digit_warnings:
        _digit_warnings(pk, ids, names, values, numeric_kind & is_num, warns)
    keep = (kind == 1) | numeric_kind
    if bad:
        keep &= ~np.isin(pk, np.fromiter(bad, dtype=np.int64, count=len(bad)))
    kept = values.filter(pa.array(keep))
    numeric = numeric_kind[keep]
    value = np.full(len(kept), np.nan)
    if numeric.any():  # grammar-checked numbers: Arrow's parse is correctly rounded, as float()
        value[numeric] = _np(pc.cast(kept.filter(pa.array(numeric)), pa.float64()), np.float64)
    if number_text or not numeric.any():
        text = np.asarray(kept.to_numpy(zero_copy_only=False), dtype=object)
    else:  # the store reads only the text of text fields (Flag …): skip building the others
        text = np.full(len(kept), None, dtype=object)
        text[~numeric] = kept.filter(pa.array(~numeric)).to_numpy(zero_copy_only=False)
    code_tab = np.array(reg.code, dtype=object)
    suffix_tab = np.array(reg.suffix, dtype=object)
    return bad, (pk[keep], code_tab[ids[keep]], suffix_tab[ids[keep]], value, text, ids[keep])


def _repeated_fields(pk: npt.NDArray[np.int64], ids: npt.NDArray[np.int64],
                     names: int) -> list[int]:
    """Lines (``pk``) in which a field name id (``ids``, fewer than ``names``) repeats.

    Counted in one ``bincount`` over (line, name) when that table is small, else by sorting.
    """
    if not len(pk):
        return []
    width = names + 1
    lo = int(pk[0]) if (pk[1:] >= pk[:-1]).all() else int(pk.min())
    size = (int(pk.max()) - lo + 1) * width
    key = (pk - lo) * width + ids
    if size <= 8 * len(key) + 4096:
        counts = np.bincount(key, minlength=size)
        if counts.max(initial=0) < 2:
            return []
        lines: list[int] = np.unique(np.flatnonzero(counts > 1) // width + lo).tolist()
        return lines
    srt = np.sort(key)
    dup = srt[1:][srt[1:] == srt[:-1]]
    lines = (dup // width + lo).tolist()
    return lines


def _digit_warnings(pk: npt.NDArray[np.int64], ids: npt.NDArray[np.int64], names: pa.Array,
                    values: pa.Array, numbers: npt.NDArray[np.bool_],
                    warns: dict[int, list[str]]) -> None:
    """Warn of values with more digits than the code table's ``Nn.m`` (HJ 212-2017 Annex)."""
    reg = _NAMES
    fmt_n = np.array(reg.fmt_n, dtype=np.int64)[ids]
    fmt_m = np.array(reg.fmt_m, dtype=np.int64)[ids]
    chk = numbers & (fmt_n < 10**6)
    if not chk.any():
        return
    cj = np.flatnonzero(chk)
    sel = values.take(pa.array(cj))
    length = _np(pc.binary_length(sel), np.int64)
    dot = _np(pc.find_substring(sel, "."), np.int64)
    has_dot = dot >= 0
    # the integer part's length, sign included, bounds its digit count: only values over
    # the format by that bound are looked at closely (sign, leading zeros)
    frac_all = np.where(has_dot, length - dot - 1, 0)
    near = ((np.maximum(np.where(has_dot, dot, length), 1) > fmt_n[cj])
            | (frac_all > fmt_m[cj]))
    if not near.any():
        return
    cj, sel = cj[near], sel.filter(pa.array(near))
    length, dot, has_dot = length[near], dot[near], has_dot[near]
    signed = _np(pc.or_(pc.starts_with(sel, "+"), pc.starts_with(sel, "-")), np.int64)
    int_digits = np.maximum(np.where(has_dot, dot, length) - signed, 1)
    lead0 = np.flatnonzero(_np(pc.match_substring_regex(sel, _LEAD0), bool))
    if len(lead0):  # "012": count the digits without the leading zeros, one by one
        for k, v in zip(lead0.tolist(), sel.take(pa.array(lead0)).to_pylist(), strict=True):
            int_digits[k] = len(v.lstrip("+-").split(".")[0].lstrip("0") or "0")
    frac = np.where(has_dot, length - dot - 1, 0)
    oj = cj[(int_digits > fmt_n[cj]) | (frac > fmt_m[cj])]
    if not len(oj):
        return
    owners, first, counts = np.unique(pk[oj], return_index=True, return_counts=True)
    # only the first three offenders of a packet are written out
    rank = np.arange(len(oj)) - np.repeat(first, counts)
    shown = oj[rank < 3]
    idx = pa.array(shown)
    texts = [f"{nm}={v} (N{reg.fmt_n[k]}.{reg.fmt_m[k]})" for nm, v, k in zip(
        names.take(idx).to_pylist(), values.take(idx).to_pylist(), ids[shown].tolist(),
        strict=True)]
    pos = 0
    for i, c in zip(owners.tolist(), counts.tolist(), strict=True):
        k = min(c, 3)
        more = f" and {c - 3} more" if c > 3 else ""
        warns.setdefault(i, []).append("more digits than the code table's format: "
                                       + ", ".join(texts[pos:pos + k]) + more)
        pos += k


def decode_batch(lines: Sequence[bytes], *, strict: bool = True,
                 number_text: bool = True, digit_warnings: bool = True) -> DecodedBatch:
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

    Notes
    -----
    Work runs in chunks of :data:`CHUNK` lines, which keeps the numpy buffers in cache.

    """
    if len(lines) <= CHUNK:
        return _decode_chunk(lines, strict, number_text, digit_warnings)
    parts = [_decode_chunk(lines[lo:lo + CHUNK], strict, number_text, digit_warnings)
             for lo in range(0, len(lines), CHUNK)]
    offsets = np.cumsum([0] + [len(b) for b in parts[:-1]]).tolist()
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
        item_code=np.concatenate([b.item_code for b in parts]),
        item_suffix=np.concatenate([b.item_suffix for b in parts]),
        item_value=np.concatenate([b.item_value for b in parts]),
        item_text=np.concatenate([b.item_text for b in parts]),
        item_name=np.concatenate([_names_of(b) for b in parts]),
    )


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
    ids are those of this process.
    """
    d = decode_batch(lines, strict=strict, number_text=False, digit_warnings=False)
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
        **code_ids(d),
    }


def _names_of(b: DecodedBatch) -> npt.NDArray[np.int64]:
    """Name ids of a batch's items (registered now if the batch was built without them)."""
    if b.item_name is not None:
        return b.item_name
    return np.fromiter((_NAMES.id_of(f"{c}-{s}") for c, s in zip(b.item_code, b.item_suffix,
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
    reg = _NAMES
    names = _names_of(d)
    return {
        "item_code_id": np.array(reg.code_id, dtype=np.int64)[names],
        "item_suffix_id": np.array(reg.suffix_id, dtype=np.int64)[names],
        "code_table": np.array(list(reg.code_ids), dtype=object),
        "suffix_table": np.array(list(reg.suffix_ids), dtype=object),
    }


def _decode_chunk(lines: Sequence[bytes], strict: bool, number_text: bool = True,
                  digit_warnings: bool = True) -> DecodedBatch:
    frames = [ln.rstrip(b"\r\n") for ln in lines]
    n = len(frames)
    crcs = crc16_many([f[6:-4] if len(f) >= 10 else b"" for f in frames])
    cols: dict[str, list[str | None]] = {k: [None] * n for k in _HEADER_KEYS}
    warns: dict[int, list[str]] = {}
    params: dict[int, dict[str, str]] = {}
    fast, bodies = (_header_pass(frames, crcs, cols, warns) if n
                    else ([], pa.array([], pa.string())))
    bad, items = _item_pass(fast, bodies, params, cols, warns, number_text, digit_warnings)
    ok = np.zeros(n, dtype=bool)
    ok[fast] = True
    crc_ok = ok.copy()
    error: list[str | None] = [None] * n
    parts = [items] if items is not None else []
    fast_set = set(fast)
    for i in sorted(bad.union(i for i in range(n) if i not in fast_set)):
        warns.pop(i, None)
        params.pop(i, None)
        try:
            p: Packet | None = parse_packet(frames[i], strict=strict)
            ok[i] = True
        except PacketError as exc:
            p = getattr(exc, "partial", None)
            ok[i] = False
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
            parts.append(_items_of(i, p))
    pk, code, suffix, value, text, name = _concat(parts)
    warnings: list[tuple[str, ...]] = [()] * n
    for i, w in warns.items():
        warnings[i] = tuple(w)
    return DecodedBatch(ok=ok, crc_ok=crc_ok, error=error, columns=cols, params=params,
                        warnings=warnings, item_packet=pk, item_code=code,
                        item_suffix=suffix, item_value=value, item_text=text, item_name=name)


def _items_of(i: int, p: Packet) -> Items:
    rows = [(name.partition("-")[0], name.partition("-")[2], text)
            for g in p.cp for name, text in g if "-" in name]
    rows = [r for r in rows if r[1] in p.values.get(r[0], {})]
    value = [p.values[c][s] for c, s, _ in rows]
    num = np.array([v if isinstance(v, float) else np.nan for v in value], dtype=np.float64)
    names = np.array([_NAMES.id_of(f"{c}-{s}") for c, s, _ in rows], dtype=np.int64)
    return (np.full(len(rows), i, dtype=np.int64), np.array([r[0] for r in rows], dtype=object),
            np.array([r[1] for r in rows], dtype=object), num,
            np.array([r[2] for r in rows], dtype=object), names)


def _concat(parts: list[Items]) -> Items:
    if not parts:
        e = np.array([], dtype=object)
        i0 = np.array([], dtype=np.int64)
        return i0, e, e, np.array([], dtype=np.float64), e, i0
    cat = [np.concatenate([p[k] for p in parts]) for k in range(6)]
    if len(parts) == 1 or not (np.diff(cat[0]) < 0).any():
        return tuple(cat)  # already in packet order (the fast path alone)
    order = np.argsort(cat[0], kind="stable")
    return tuple(c[order] for c in cat)
