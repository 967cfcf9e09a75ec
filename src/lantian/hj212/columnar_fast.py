"""The canonical path of the columnar decoder: compiled scan, then columns in a few numpy steps.

:func:`fast_pass` runs :func:`lantian.hj212.scan.scan_frames` over a chunk of frames and turns
its spans into the header columns, parameters, warnings and value table of the frames it
accepted (status :data:`~lantian.hj212.scan.FAST`); the caller sends every other frame
through :func:`lantian.hj212.parse_packet`. Warnings are the parser's, in its order: the
13-digit QN, the non-standard MN, then values with more digits than the code table's
``Nn.m`` (the first three written out).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lantian.hj212.columnar_names import NAMES, TEXT
from lantian.hj212.fastpath import mn_warning
from lantian.hj212.packet import VERSION_BITS, version_of_flag
from lantian.hj212.scan import (
    F_OVER,
    F_PYFLOAT,
    FAST,
    H_COLS,
    SLOW,
    UNKNOWN,
    intern_spans,
    scan_frames,
)

__all__ = ["FastResult", "fast_pass"]

_LITS = (b"QN=", b"ST=", b"CN=", b"PW=", b"MN=", b"Flag=", b"PNUM=", b";PNO=", b"CP=&&")
_LIT_BUF = np.frombuffer(b"".join(_LITS), dtype=np.uint8)
_LIT_OFF = np.concatenate([[0], np.cumsum([len(x) for x in _LITS])]).astype(np.int64)
_VERSION_OK = np.array([VERSION_BITS.get(v) is not None for v in range(64)], dtype=np.bool_)
_REQUIRED = frozenset({"st", "cn", "pw", "mn"})
_ITEM_SEP = re.compile("[;,]")

Items = tuple[Any, ...]
"""(line, code, suffix, value, text, name id) arrays of items; code, suffix and text are None
when the caller asked for no strings (``fast_pass(..., strings=False)``)."""


@dataclass
class FastResult:
    """What the canonical path found: ``status`` per frame and the accepted frames' data."""

    status: npt.NDArray[np.int8]
    columns: dict[str, list[str | None]]
    params: dict[int, dict[str, str]]
    warnings: dict[int, list[str]]
    items: Items | None
    #: per item, the number of its text in :attr:`text_vocab`: ``text_vocab[text_id] ==
    #: items[4]``, item by item (a None text, e.g. a number's with ``number_text=False``,
    #: is the None that ends ``text_vocab``)
    text_id: npt.NDArray[np.int64] | None = None
    #: the distinct texts of the chunk's items, then None
    text_vocab: npt.NDArray[np.object_] | None = None


_version = functools.lru_cache(maxsize=1024)(version_of_flag)


def _register_names(frames: Sequence[bytes], lines: npt.NDArray[np.int64]) -> bool:
    """Register the CP field names of ``lines`` (ASCII frames); whether any was new."""
    before = len(NAMES.full)
    for i in lines.tolist():
        text = frames[i].decode("ascii")
        body = text[text.index("CP=&&") + 5:-6]
        for item in _ITEM_SEP.split(body):
            name, eq, value = item.partition("=")
            if eq and "=" not in value:
                NAMES.id_of(name)
    return len(NAMES.full) > before


def _scan(frames: Sequence[bytes], buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
          ends: npt.NDArray[np.int64], digit_warnings: bool) -> tuple[Any, ...]:
    """Scan until no frame has an unregistered name (a frame that keeps one is slow)."""
    # room for every item: each takes at least 3 bytes ("a=" and a separator, the last one
    # 2), so a frame of b bytes has at most b // 3 + 1 (np.empty: untouched room is free)
    cap = len(buf) // 3 + len(starts) + 1
    while True:
        t = NAMES.scan_tables()
        out = scan_frames(buf, starts, ends, _LIT_BUF, _LIT_OFF, _VERSION_OK, t.slots,
                          t.names, t.name_off, t.kind, t.fmt_n, t.fmt_m, t.dt_id,
                          digit_warnings, cap)
        if out[2] < 0:  # pragma: no cover - impossible by the bound above
            raise RuntimeError("HJ 212 scanner: more CP items than bytes allow")
        unknown = np.flatnonzero(out[0] == UNKNOWN)
        if not len(unknown):
            return (t, *out)
        if not _register_names(frames, unknown) and NAMES.scan_tables() is t:
            out[0][unknown] = SLOW  # pragma: no cover - defensive (cannot happen)
            return (t, *out)


def fast_pass(frames: Sequence[bytes], digit_warnings: bool = True,
              number_text: bool = True, header_warnings: bool = True,
              text_ids: bool = False, strings: bool = True) -> FastResult:
    """Decode the canonical frames of ``frames`` (no CR/LF); see the module docstring.

    ``columns`` has every header key of the fast frames (``None`` elsewhere); ``items`` is
    ``(line, code, suffix, value, text, name id)`` for their text and numeric fields, in
    line order; ``number_text=False`` leaves the text of numbers ``None``;
    ``header_warnings=False`` skips the QN/MN warnings (the gateway keeps none);
    ``text_ids=True`` fills ``text_id`` and ``text_vocab``; ``strings=False`` (with
    ``text_ids``) leaves code, suffix and text of the items None: the name ids and text
    ids say them, and no object array of a Python string per item is built.
    """
    n = len(frames)
    lens = np.fromiter(map(len, frames), dtype=np.int64, count=n)
    ends = np.cumsum(lens)
    starts = ends - lens
    blob = b"".join(frames)
    buf = np.frombuffer(blob, dtype=np.uint8) if blob else np.zeros(1, dtype=np.uint8)
    t, status, hs, nit, pt, il, iname, ivs, ive, ival, iflag = _scan(
        frames, buf, starts, ends, digit_warnings)
    fast = np.flatnonzero(status == FAST)
    names = iname[:nit]
    is_text = t.kind[names] == TEXT
    # every header text and the fields' texts numbered at once: strings for distinct ones
    texted = slice(0, nit) if number_text else np.flatnonzero(is_text)
    sa = np.concatenate([hs[:, 0::2].ravel(), ivs[texted]])
    sb = np.concatenate([hs[:, 1::2].ravel(), ive[texted]])
    ids, first = intern_spans(buf, sa, sb)
    vocab = np.array([blob[x:y].decode("ascii") for x, y in zip(
        sa[first].tolist(), sb[first].tolist(), strict=True)] + [None], dtype=object)
    head = ids[:n * len(H_COLS)].reshape(n, len(H_COLS))
    columns: dict[str, list[str | None]] = {
        key: vocab[head[:, c]].tolist() for c, key in enumerate(H_COLS)}
    # version from the Flag text; no Flag: 2005 (index −2); not a fast frame: None (−1)
    versions = np.full(len(vocab) + 1, None, dtype=object)
    versions[-2] = _version(None)
    flags = head[:, 5]
    for k in np.unique(flags[flags >= 0]).tolist():  # the distinct Flag texts only
        versions[k] = _version(vocab[k])
    flag_ids = np.where(head[:, 5] >= 0, head[:, 5], -2)
    columns["version"] = versions[np.where(status == FAST, flag_ids, -1)].tolist()
    columns["rf"] = [None] * n
    warns = _header_warnings(hs, head, vocab, fast) if header_warnings else {}
    params: dict[int, dict[str, str]] = {}
    for j in range(len(il) - 1, pt - 1, -1):  # parameters other than DataTime (rare)
        params.setdefault(int(il[j]), {})[NAMES.full[iname[j]]] = (
            blob[ivs[j]:ive[j]].decode("ascii"))
    if digit_warnings:
        _digit_warnings(blob, il[:nit], names, ivs, ive, iflag[:nit], warns)
    ival = ival[:nit]
    for j in np.flatnonzero(iflag[:nit] & F_PYFLOAT).tolist():
        ival[j] = float(blob[ivs[j]:ive[j]])
    items: Items | None = None
    text_id = text_vocab = None
    if nit:
        tail = ids[n * len(H_COLS):]
        if text_ids:
            text_id, text_vocab = _item_text_ids(nit, texted, tail, vocab)
        if strings or not text_ids:
            item_text = np.full(nit, None, dtype=object)
            item_text[texted] = vocab[tail]
            code_tab, suffix_tab = NAMES.tables_of_text()
            items = (il[:nit], code_tab[names], suffix_tab[names], ival, item_text, names)
        else:
            items = (il[:nit], None, None, ival, None, names)
    return FastResult(status=status, columns=columns, params=params, warnings=warns,
                      items=items, text_id=text_id, text_vocab=text_vocab)


def _item_text_ids(nit: int, texted: npt.NDArray[np.int64] | slice,
                   tail: npt.NDArray[np.int64], vocab: npt.NDArray[np.object_]
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Per item, its text's number among the distinct texts the items use; those texts.

    ``vocab`` holds the chunk's distinct texts (headers too) and ends with None, ``tail``
    numbers the texts of the items at ``texted`` in it (−1: None). Items left out of
    ``texted`` have no text (None). Only the texts of items are kept, numbered anew, so a
    caller turns a few texts, not every QN of the chunk, into Arrow strings.
    """
    used = np.zeros(len(vocab), dtype=bool)
    used[tail] = True  # −1: the None at the end of vocab
    used[-1] = True
    renum = np.cumsum(used) - 1
    text_id = np.full(nit, renum[-1], dtype=np.int64)
    text_id[texted] = renum[tail]
    return text_id, vocab[used]


def _header_warnings(hs: npt.NDArray[np.int64], head: npt.NDArray[np.int64],
                     vocab: npt.NDArray[np.object_], fast: npt.NDArray[np.int64]
                     ) -> dict[int, list[str]]:
    """Return the parser's header warnings of fast frames: a 13-digit QN, an unusual MN.

    The MN check runs once per distinct MN text (``head[:, 4]`` numbers them).
    """
    warns: dict[int, list[str]] = {}
    for i in np.flatnonzero(hs[:, 1] - hs[:, 0] == 13).tolist():
        warns.setdefault(i, []).append("QN has 13 digits, not 17 (YYYYMMDDhhmmsszzz)")
    mn_ids = head[fast, 4]
    text_of = {k: w for k in set(mn_ids.tolist()) if (w := mn_warning(vocab[k])) is not None}
    if text_of:
        warned = np.isin(mn_ids, np.fromiter(text_of, dtype=np.int64, count=len(text_of)))
        for i, k in zip(fast[warned].tolist(), mn_ids[warned].tolist(), strict=True):
            warns.setdefault(i, []).append(text_of[k])
    return warns


def _digit_warnings(blob: bytes, il: npt.NDArray[np.int64], iname: npt.NDArray[np.int64],
                    ivs: npt.NDArray[np.int64], ive: npt.NDArray[np.int64],
                    iflag: npt.NDArray[np.int8], warns: dict[int, list[str]]) -> None:
    """Warn of values with more digits than the code table's ``Nn.m`` (HJ 212-2017 Annex)."""
    oj = np.flatnonzero(iflag & F_OVER)
    if not len(oj):
        return
    owners, first, counts = np.unique(il[oj], return_index=True, return_counts=True)
    for i, f, c in zip(owners.tolist(), first.tolist(), counts.tolist(), strict=True):
        shown = []
        for j in oj[f:f + min(c, 3)].tolist():
            k = int(iname[j])
            shown.append(f"{NAMES.full[k]}={blob[ivs[j]:ive[j]].decode('ascii')} "
                         f"(N{NAMES.fmt_n[k]}.{NAMES.fmt_m[k]})")
        more = f" and {c - 3} more" if c > 3 else ""
        warns.setdefault(i, []).append("more digits than the code table's format: "
                                       + ", ".join(shown) + more)
