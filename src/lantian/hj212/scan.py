"""Compiled single-pass scanner of canonical HJ 212 frames (numba), for the bulk decoders.

One call of :func:`scan_frames` walks a chunk of frames held in one contiguous ``uint8``
buffer (frame ``i`` is ``buf[starts[i]:ends[i]]``, CR/LF already stripped) and, per frame:

* checks the framing: ``##``, 4-digit length equal to the data segment's length (at most
  :data:`~lantian.hj212.fastpath.STD_SEGMENT` bytes, HJ 212-2017 Table 2), ``&&`` and the
  HJ 212 CRC (Appendix A, 8-bit state form of :mod:`lantian.hj212.crc`) against the 4 hex
  digits sent; ASCII only;
* reads the header in HJ 212-2017 Table 3 order with the usual field forms (the canonical
  form of :mod:`lantian.hj212.fastpath`) and checks the Flag bits (version known, D bit
  iff ``PNUM``/``PNO``, ``1 <= PNO <= PNUM``, QN present unless 2005);
* splits the CP at ``;`` and ``,``, looks every field name up in a small hash table of the
  names seen so far (:mod:`lantian.hj212.columnar_names`), checks each item (one ``=``, a
  registered valid name, no repeated name, the number grammar of HJ 212-2017 §6.3.3 for
  numeric fields, a real ``YYYYMMDDhhmmss`` for time parameters) and parses the numbers.

A frame off the canonical form or with any problem gets status :data:`SLOW` (its items are
dropped) and goes through :func:`lantian.hj212.parse_packet`, the reference, so verdicts and
messages stay the parser's. A frame with a field name not in the table gets
:data:`UNKNOWN`: the caller registers the names and scans again.

Numbers are parsed exactly as Python's ``float()`` (correctly rounded): the digits are read
as an integer ``m`` and, when ``m <= 2**53`` and there are at most 22 decimals, the value is
``m / 10**d`` — both operands exact, so the one IEEE division rounds correctly (Clinger's
fast path). Any other number is flagged (:data:`F_PYFLOAT`) and the caller parses its text
with ``float()``.

The functions are compiled with ``cache=True`` (the machine code is kept in ``__pycache__``
or ``NUMBA_CACHE_DIR``) and ``nogil=True`` (threads may decode while others work).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba import njit

from lantian.hj212.crc import CRC_TABLE, STATE_TABLE

__all__ = ["FAST", "F_OVER", "F_PYFLOAT", "H_COLS", "SLOW", "UNKNOWN", "crc16_segments",
           "intern_spans", "name_hash", "scan_frames", "warm"]

FAST, SLOW, UNKNOWN = 0, 1, 2
"""Frame status: canonical and sound / needs the parser / has an unregistered name."""
F_PYFLOAT = 1
"""Item flag: a number outside the exact fast path; parse its text with ``float()``."""
F_OVER = 2
"""Item flag: more digits than the code table's ``Nn.m`` (HJ 212-2017 Annex)."""

H_COLS = ("qn", "st", "cn", "pw", "mn", "flag", "pnum", "pno", "data_time")
"""Spans in the header array: column ``2k`` start, ``2k + 1`` end (−1 when absent)."""

_H = np.array(STATE_TABLE, dtype=np.int64)
_HP = np.zeros((9, 256), dtype=np.int64)  # _HP[k] = H applied k times (H is linear)
_HP[0] = np.arange(256)
for _k in range(1, 9):
    _HP[_k] = _H[_HP[_k - 1]]
_HP_FLAT = _HP.astype(np.uint8).ravel()  # _HP[k, i] at k * 256 + i (unsigned indexes)
_T = np.array(CRC_TABLE, dtype=np.int64)
_STOP = np.zeros(256, dtype=np.bool_)  # bytes that end a name or value: = ; , / & LF
_STOP[[61, 59, 44, 47, 38, 10]] = True
_P10 = np.array([10.0 ** k for k in range(23)], dtype=np.float64)  # exact doubles
_GUESSED = 256
"""Item positions of a frame whose name the scanner guesses from the frame before."""
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1


def name_hash(name: bytes) -> int:
    """FNV-1a 64-bit hash of ``name`` (the same as the scanner computes)."""
    h = _FNV_OFFSET
    for b in name:
        h = ((h ^ b) * _FNV_PRIME) & _MASK64
    return h


@njit(cache=True, nogil=True)
def _digits(buf: npt.NDArray[np.uint8], p: int, end: int) -> int:
    """Count the ASCII digits from ``p`` (not past ``end``)."""
    q = p
    while q < end and 48 <= buf[q] <= 57:
        q += 1
    return q - p


@njit(cache=True, nogil=True)
def _int_at(buf: npt.NDArray[np.uint8], p: int, n: int) -> int:
    v = 0
    for q in range(p, p + n):
        v = v * 10 + (buf[q] - 48)
    return v


@njit(cache=True, nogil=True)
def _lit(buf: npt.NDArray[np.uint8], p: int, end: int, lit: npt.NDArray[np.uint8]) -> bool:
    """Tell whether ``buf[p:]`` starts with ``lit`` (within ``end``)."""
    if p + len(lit) > end:
        return False
    for k in range(len(lit)):  # noqa: SIM110 - a plain loop compiles best
        if buf[p + k] != lit[k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _alnum(c: int) -> bool:
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122)


@njit(cache=True, nogil=True)
def _hexval(c: int) -> int:
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@njit(cache=True, nogil=True)
def _is_data_time(buf: npt.NDArray[np.uint8], p: int, end: int) -> bool:
    """``YYYYMMDDhhmmss``: 14 digits forming a real date and time (as ``is_data_time``)."""
    if end - p != 14 or _digits(buf, p, end) != 14:
        return False
    y = _int_at(buf, p, 4)
    mo = _int_at(buf, p + 4, 2)
    d = _int_at(buf, p + 6, 2)
    if y < 1 or mo < 1 or mo > 12 or d < 1:
        return False
    if mo == 2:
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        dim = 29 if leap else 28
    elif mo in (4, 6, 9, 11):
        dim = 30
    else:
        dim = 31
    return (d <= dim and _int_at(buf, p + 8, 2) <= 23 and _int_at(buf, p + 10, 2) <= 59
            and _int_at(buf, p + 12, 2) <= 59)


@njit(cache=True, nogil=True)
def _run(buf: npt.NDArray[np.uint8], q: int, end: int, m: int, sig: int
         ) -> tuple[int, int, int]:
    """Read a run of digits from ``q`` into mantissa ``m`` (at most 18 significant digits).

    ``sig`` counts significant digits so far (leading zeros are not). Returns ``(end of
    the run, m, sig)``.
    """
    while q < end and 48 <= buf[q] <= 57:
        c = buf[q] - 48
        if sig > 0 or c != 0:
            sig += 1
            if sig <= 18:
                m = m * 10 + c
        q += 1
    return q, m, sig


@njit(cache=True, nogil=True)
def _number_at(buf: npt.NDArray[np.uint8], p: int, end: int, p10: npt.NDArray[np.float64]
               ) -> tuple[bool, float, bool, int, int, int]:
    """Read ``[+-]?(digits[.digits*]|.digits)`` from ``p`` as far as it goes.

    Returns ``(found, value, exact, int digits, decimals, end of the number)``; ``int
    digits`` counts the integer part without leading zeros (at least 1); ``exact`` is false
    where the value must come from ``float()`` (then ``value`` is 0).
    """
    q = p
    neg = False
    if q < end and (buf[q] == 43 or buf[q] == 45):
        neg = buf[q] == 45
        q += 1
    q0 = q
    q, m, sig = _run(buf, q, end, 0, 0)
    n_int = q - q0
    int_digits = max(sig, 1)
    n_frac = 0
    if q < end and buf[q] == 46:
        q0 = q + 1
        q, m, sig = _run(buf, q0, end, m, sig)
        n_frac = q - q0
    if n_int == 0 and n_frac == 0:
        return False, 0.0, False, 0, 0, q
    exact = sig <= 18 and m <= 9007199254740992 and n_frac <= 22
    v = 0.0
    if exact:
        v = float(m) / p10[n_frac]
        if neg:
            v = -v
    return True, v, exact, int_digits, n_frac, q


@njit(cache=True, nogil=True)
def _number(buf: npt.NDArray[np.uint8], p: int, end: int, p10: npt.NDArray[np.float64]
            ) -> tuple[bool, float, bool, int, int]:
    """Parse ``buf[p:end]`` as a whole number text: (valid, value, exact, int digits, decimals)."""
    ok, v, exact, int_digits, n_frac, q = _number_at(buf, p, end, p10)
    if not ok or q != end:
        return False, 0.0, False, 0, 0
    return True, v, exact, int_digits, n_frac


@njit(cache=True, nogil=True)
def _same_bytes(x: npt.NDArray[np.uint8], i: int, y: npt.NDArray[np.uint8], j: int,
                n: int) -> bool:
    """Return whether ``x[i:i+n]`` and ``y[j:j+n]`` hold the same bytes."""
    for q in range(n):  # noqa: SIM110 - a plain loop: numba compiles no generator in all()
        if x[i + q] != y[j + q]:
            return False
    return True


@njit(cache=True, nogil=True)
def _lookup(buf: npt.NDArray[np.uint8], a: int, b: int, h: np.uint64,
            slots: npt.NDArray[np.int64], names: npt.NDArray[np.uint8],
            name_off: npt.NDArray[np.int64]) -> int:
    """Return the registered id of the name ``buf[a:b]`` of FNV-1a hash ``h``, or −1."""
    mask = np.uint64(len(slots) - 1)
    k = np.int64(h & mask)
    while True:
        nid: int = slots[k]
        if nid < 0:
            return -1
        s0 = name_off[nid]
        if name_off[nid + 1] - s0 == b - a and _same_bytes(names, s0, buf, a, b - a):
            return nid
        k = (k + 1) & (len(slots) - 1)


@njit(cache=True, nogil=True)
def _header(  # noqa: C901 - one straight walk of the header grammar
        buf: npt.NDArray[np.uint8], s: int, e: int, hs: npt.NDArray[np.int64], i: int,
        lits: npt.NDArray[np.uint8], lit_off: npt.NDArray[np.int64],
        version_ok: npt.NDArray[np.bool_]) -> int:
    """Read and check a canonical header; return the CP body's start or −1 (slow)."""
    n = e - s
    if n < 16 or buf[s] != 35 or buf[s + 1] != 35 or _digits(buf, s + 2, s + 6) != 4:
        return -1
    if _int_at(buf, s + 2, 4) != n - 10 or n - 10 > 1024:
        return -1
    if buf[e - 6] != 38 or buf[e - 5] != 38:
        return -1
    crc_sent = 0
    for q in range(e - 4, e):
        hv = _hexval(buf[q])
        if hv < 0:
            return -1
        crc_sent = crc_sent * 16 + hv
    # x = H[x] ^ b per byte; H is linear over XOR, so 8 bytes at a time with H^1..H^8
    x = np.uint8(0xFF ^ buf[s + 6])
    acc = buf[s + 6]
    q = s + 7
    end = e - 4
    hp = _HP_FLAT
    while q + 8 <= end:
        b0, b1, b2, b3 = buf[q], buf[q + 1], buf[q + 2], buf[q + 3]
        b4, b5, b6, b7 = buf[q + 4], buf[q + 5], buf[q + 6], buf[q + 7]
        acc |= b0 | b1 | b2 | b3 | b4 | b5 | b6 | b7
        x = (hp[2048 + x] ^ hp[1792 + b0] ^ hp[1536 + b1] ^ hp[1280 + b2] ^ hp[1024 + b3]
             ^ hp[768 + b4] ^ hp[512 + b5] ^ hp[256 + b6] ^ b7)
        q += 8
    while q < end:
        acc |= buf[q]
        x = hp[256 + x] ^ buf[q]
        q += 1
    if acc >= 128 or _T[x] != crc_sent:
        return -1
    p = s + 6
    lim = e - 6
    # QN=, ST=, CN=, PW=, MN=, Flag=, PNUM=, ;PNO=, CP=&&  (lits 0..8)
    has_qn = _lit(buf, p, lim, lits[lit_off[0]:lit_off[1]])
    if has_qn:
        k = _digits(buf, p + 3, lim)
        if (k != 13 and k != 17) or p + 3 + k >= lim or buf[p + 3 + k] != 59:
            return -1
        hs[i, 0], hs[i, 1] = p + 3, p + 3 + k
        p += 4 + k
    if not _lit(buf, p, lim, lits[lit_off[1]:lit_off[2]]) or p + 6 > lim:
        return -1
    if not (_alnum(buf[p + 3]) and _alnum(buf[p + 4])) or buf[p + 5] != 59:
        return -1
    hs[i, 2], hs[i, 3] = p + 3, p + 5
    p += 6
    if (not _lit(buf, p, lim, lits[lit_off[2]:lit_off[3]]) or p + 8 > lim
            or _digits(buf, p + 3, p + 7) != 4 or buf[p + 7] != 59):
        return -1
    hs[i, 4], hs[i, 5] = p + 3, p + 7
    p += 8
    if not _lit(buf, p, lim, lits[lit_off[3]:lit_off[4]]) or p + 10 > lim:
        return -1
    for q in range(p + 3, p + 9):
        c = buf[q]
        if c == 59 or c == 61 or c == 38 or c == 10:
            return -1
    if buf[p + 9] != 59:
        return -1
    hs[i, 6], hs[i, 7] = p + 3, p + 9
    p += 10
    if not _lit(buf, p, lim, lits[lit_off[4]:lit_off[5]]):
        return -1
    q = p + 3
    while q < lim and _alnum(buf[q]):
        q += 1
    if q == p + 3 or q >= lim or buf[q] != 59:
        return -1
    hs[i, 8], hs[i, 9] = p + 3, q
    p = q + 1
    fl = 0
    if _lit(buf, p, lim, lits[lit_off[5]:lit_off[6]]):
        k = _digits(buf, p + 5, lim)
        if k < 1 or k > 3 or p + 5 + k >= lim or buf[p + 5 + k] != 59:
            return -1
        fl = _int_at(buf, p + 5, k)
        hs[i, 10], hs[i, 11] = p + 5, p + 5 + k
        p += 6 + k
    has_pnum = _lit(buf, p, lim, lits[lit_off[6]:lit_off[7]])
    if has_pnum:
        k = _digits(buf, p + 5, lim)
        if k < 1 or k > 4 or not _lit(buf, p + 5 + k, lim, lits[lit_off[7]:lit_off[8]]):
            return -1
        pnum = _int_at(buf, p + 5, k)
        hs[i, 12], hs[i, 13] = p + 5, p + 5 + k
        p += 10 + k
        k = _digits(buf, p, lim)
        if k < 1 or k > 4 or p + k >= lim or buf[p + k] != 59:
            return -1
        pno = _int_at(buf, p, k)
        hs[i, 14], hs[i, 15] = p, p + k
        p += k + 1
        if pno < 1 or pno > pnum:
            return -1
    if not _lit(buf, p, lim, lits[lit_off[8]:lit_off[9]]):
        return -1
    if fl > 255 or not version_ok[fl >> 2] or ((fl & 2) == 2) != has_pnum:
        return -1
    if not has_qn and (fl >> 2) != 0:
        return -1
    return p + 5


@njit(cache=True, nogil=True)
def scan_frames(buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],  # noqa: C901
                ends: npt.NDArray[np.int64], lits: npt.NDArray[np.uint8],
                lit_off: npt.NDArray[np.int64], version_ok: npt.NDArray[np.bool_],
                slots: npt.NDArray[np.int64], names: npt.NDArray[np.uint8],
                name_off: npt.NDArray[np.int64], kind: npt.NDArray[np.int8],
                fmt_n: npt.NDArray[np.int64], fmt_m: npt.NDArray[np.int64], dt_id: int,
                digit_warnings: bool, capacity: int
                ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], int, int,
                           npt.NDArray[np.int64], npt.NDArray[np.int64],
                           npt.NDArray[np.int64], npt.NDArray[np.int64],
                           npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """Scan frames ``buf[starts[i]:ends[i]]``; see the module docstring.

    ``kind`` per name id: 0 parameter, 1 text field, 2 numeric field, 3 invalid, 4 time
    parameter; ``fmt_n``/``fmt_m`` the code table's ``Nn.m`` (``10**6``: none);
    ``dt_id`` the id of ``DataTime`` (−1 if not registered).

    Returns ``(status, header spans, field count, parameter start, item line, item name id,
    value start, value end, value, item flags)``: items ``[0, field count)`` are the text
    and numeric fields, items ``[parameter start, capacity)`` the parameters other than
    ``DataTime`` (whose span is in the header array), in reverse order. The field count is
    −1 when ``capacity`` was too small.
    """
    n = len(starts)
    status = np.full(n, FAST, dtype=np.int8)
    hs = np.full((n, 18), -1, dtype=np.int64)
    it_line = np.empty(capacity, dtype=np.int64)
    it_name = np.empty(capacity, dtype=np.int64)
    it_vs = np.empty(capacity, dtype=np.int64)
    it_ve = np.empty(capacity, dtype=np.int64)
    it_val = np.empty(capacity, dtype=np.float64)
    it_flag = np.empty(capacity, dtype=np.int8)
    seen = np.full(len(kind), -1, dtype=np.int64)
    # the name id of each item position in the last frame: the guess for the next frame
    guess = np.full(_GUESSED, -1, dtype=np.int64)
    nit = 0  # fields (text, numeric) from index 0 up
    pt = capacity  # parameters other than DataTime from the top down
    for i in range(n):
        s, e = starts[i], ends[i]
        bs = _header(buf, s, e, hs, i, lits, lit_off, version_ok)
        if bs < 0:
            status[i] = SLOW
            continue
        be = e - 6
        k0, p0 = nit, pt
        st = FAST
        a = bs
        pos = 0  # item position in the frame
        while a < be and st == FAST:
            # one item: a name up to '=', then its value. The name is first compared with
            # the name at this position in the last frame (loggers repeat their layout);
            # a guessed name holds no stop byte (it was found below), so bytes equal and
            # '=' after them is the same name the hash lookup would find
            nid = guess[pos] if pos < _GUESSED else -1
            if nid >= 0:
                s0 = name_off[nid]
                eq = a + name_off[nid + 1] - s0
                if eq >= be or buf[eq] != 61 or not _same_bytes(names, s0, buf, a, eq - a):
                    nid = -1
            if nid < 0:
                h = np.uint64(14695981039346656037)
                q = a
                while q < be:
                    c = buf[q]
                    if _STOP[c]:  # = ; , / & LF
                        break
                    h = (h ^ np.uint64(c)) * np.uint64(1099511628211)
                    q += 1
                if q == be or buf[q] != 61:
                    st = SLOW  # no '=' in the item, '/', '&' or LF
                    break
                eq = q
                nid = _lookup(buf, a, eq, h, slots, names, name_off)
                if nid < 0:
                    st = UNKNOWN
                    break
                if pos < _GUESSED:
                    guess[pos] = nid
            pos += 1
            kd = kind[nid]
            if kd == 3 or seen[nid] == i:
                st = SLOW
                break
            seen[nid] = i
            vs = eq + 1
            fl = 0
            val = np.nan
            if kd == 2:  # a number, read in the same walk; a separator or the end must follow
                ok, val, exact, idig, ndec, q = _number_at(buf, vs, be, _P10)
                if not ok or (q < be and buf[q] != 59 and buf[q] != 44):
                    st = SLOW
                    break
                if not exact:
                    fl |= F_PYFLOAT
                if digit_warnings and fmt_n[nid] < 1000000 and (
                        idig > fmt_n[nid] or ndec > fmt_m[nid]):
                    fl |= F_OVER
            else:
                q = vs
                while q < be:
                    c = buf[q]
                    if _STOP[c]:
                        break
                    q += 1
                if q < be and buf[q] != 59 and buf[q] != 44:
                    st = SLOW  # a second '=', '/', '&' or LF
                    break
            ve = q
            if q < be and q + 1 == be:
                st = SLOW  # an empty item after a trailing separator
                break
            if nit >= pt:
                return status, hs, -1, pt, it_line, it_name, it_vs, it_ve, it_val, it_flag
            if kd == 0 or kd == 4:
                if kd == 4 and not _is_data_time(buf, vs, ve):
                    st = SLOW
                    break
                if nid == dt_id:
                    hs[i, 16], hs[i, 17] = vs, ve
                else:  # other parameters: from the top of the arrays down
                    pt -= 1
                    it_line[pt], it_name[pt], it_vs[pt], it_ve[pt] = i, nid, vs, ve
                a = q + 1
                continue
            it_line[nit] = i
            it_name[nit] = nid
            it_vs[nit] = vs
            it_ve[nit] = ve
            it_val[nit] = val
            it_flag[nit] = fl
            nit += 1
            a = q + 1
        if st != FAST:
            status[i] = st
            nit, pt = k0, p0
            for c in range(18):
                hs[i, c] = -1
    return status, hs, nit, pt, it_line, it_name, it_vs, it_ve, it_val, it_flag


@njit(cache=True, nogil=True)
def intern_spans(buf: npt.NDArray[np.uint8], a: npt.NDArray[np.int64],
                 b: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Give each distinct text of spans ``buf[a[i]:b[i]]`` a number (``a[i] < 0``: id −1).

    Returns ``(ids, first)``: ``ids[i]`` the text's number, ``first[k]`` the first span
    with text number ``k`` — so only the distinct texts need building as strings.
    """
    n = len(a)
    size = 256
    slots = np.full(size, -1, dtype=np.int64)
    hashes = np.empty(n, dtype=np.uint64)  # of each distinct text, for growing the table
    ids = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    nd = 0
    for i in range(n):
        s, e = a[i], b[i]
        if s < 0:
            ids[i] = -1
            continue
        h = np.uint64(14695981039346656037)
        for q in range(s, e):
            h = (h ^ np.uint64(buf[q])) * np.uint64(1099511628211)
        h ^= h >> np.uint64(32)
        mask = size - 1
        k = np.int64(h & np.uint64(mask))
        while True:
            j = slots[k]
            if j < 0:
                slots[k] = nd
                first[nd] = i
                hashes[nd] = h
                ids[i] = nd
                nd += 1
                break
            f = first[j]
            fs = a[f]
            if hashes[j] == h and b[f] - fs == e - s and _same_bytes(buf, fs, buf, s, e - s):
                ids[i] = j
                break
            k = (k + 1) & mask
        if 2 * nd > size:  # keep the table at most half full (small: in cache)
            size *= 4
            slots = np.full(size, -1, dtype=np.int64)
            for j in range(nd):
                k = np.int64(hashes[j] & np.uint64(size - 1))
                while slots[k] >= 0:
                    k = (k + 1) & (size - 1)
                slots[k] = j
    return ids, first[:nd]


@njit(cache=True, nogil=True)
def _crc_spans(buf: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64],
               out: npt.NDArray[np.uint16]) -> None:
    hp = _HP_FLAT
    a = 0
    for k in range(len(ends)):
        b = ends[k]
        if a == b:
            out[k] = 0xFFFF
            continue
        x = np.uint8(0xFF ^ buf[a])
        for q in range(a + 1, b):
            x = hp[256 + x] ^ buf[q]
        out[k] = _T[x]
        a = b


def crc16_segments(segments: Sequence[bytes]) -> npt.NDArray[np.uint16]:
    """HJ 212 CRC (Appendix A) of every segment, compiled: ``crc16_hj212(s)`` for each.

    One pass over the joined bytes, so the cost is per byte (≈ 1-2 ns) plus a few µs per
    call, where :func:`lantian.hj212.bulk.crc16_many` costs ≈ 200 µs per call for ~80-byte
    segments whatever their number (one numpy step per byte column): the gateway's 9014
    replies come in batches of a few packets in the open loop (session 5).
    """
    n = len(segments)
    out = np.empty(n, dtype=np.uint16)
    if n:
        ends = np.cumsum(np.fromiter(map(len, segments), dtype=np.int64, count=n))
        _crc_spans(np.frombuffer(b"".join(segments), dtype=np.uint8), ends, out)
    return out


def warm() -> None:
    """Compile (or load from the cache) the scanner's entry points once.

    ``make venv`` calls it so that the first import, the test suite and the importer's
    worker processes find the machine code in numba's cache instead of each compiling it
    (several seconds of CPU).
    """
    from lantian.hj212.columnar import decode_batch

    decode_batch([b"##0000CP=&&&&FFFF"])
    crc16_segments([b"CP=&&&&"])
