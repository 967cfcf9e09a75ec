"""Fast bulk decoding of HJ 212 packets for imports (many frames at once).

Two things make it fast:

* The CRC runs across all packets at once with numpy. The HJ 212 CRC carries only 8 bits of
  state (:mod:`lantian.hj212.crc`): ``x = H[x] ^ byte``, result ``T[x]``. Segments are
  right-aligned in a matrix, padded on the left with the byte 0xAB, which keeps the initial
  state (``H[0xFF ^ 0xAB] == 0xFF``), and one numpy step per column advances every packet.
* Frames in the canonical form (Table 3 header order, ASCII, no log text) take a lean path
  with the header read by one regular expression and field names checked once per name;
  any other frame goes through :func:`lantian.hj212.parse_packet`, so both paths give the
  same result (a differential test checks this on every shared packet).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lantian.catalog.codes import data_format
from lantian.errors import PacketError
from lantian.hj212.cp import NUMBER_RE
from lantian.hj212.crc import CRC_TABLE, STATE_TABLE
from lantian.hj212.packet import STRING_SUFFIXES, Packet, version_of_flag
from lantian.hj212.parser import DIGIT_SUFFIXES, STD_SEGMENT, TIME_PARAMS, _over, parse_packet
from lantian.hj212.times import is_data_time

__all__ = ["crc16_many", "decode_lines"]

_H = np.array(STATE_TABLE, dtype=np.uint8)
_T = np.array(CRC_TABLE, dtype=np.uint16)
_PAD = 0xFF ^ STATE_TABLE.index(0xFF)  # 0xAB: keeps the state at its initial value
_CHUNK = 8192

_CANON = re.compile(
    r"##(?P<len>[0-9]{4})(?:QN=(?P<QN>[0-9]{13}|[0-9]{17});)?ST=(?P<ST>[0-9A-Za-z]{2});"
    r"CN=(?P<CN>[0-9]{4});PW=(?P<PW>[^;=&]{6});"
    r"MN=(?P<MN>[0-9A-F]{24}|[0-9A-Za-z]{14});(?:Flag=(?P<Flag>[0-9]{1,3});)?"
    r"(?:PNUM=(?P<PNUM>[0-9]{1,4});PNO=(?P<PNO>[0-9]{1,4});)?"
    r"CP=&&(?P<cp>[^&/]*)&&(?P<crc>[0-9A-Fa-f]{4})\Z"
)
_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
_SUFFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_HEADER = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")

# name -> (code, suffix, is_string, fmt) for names that pass the grammar; None otherwise
_NameInfo = tuple[str, str, bool, tuple[int, int] | None] | None
_names: dict[str, _NameInfo] = {}


def crc16_many(segments: Sequence[bytes]) -> npt.NDArray[np.uint16]:
    """HJ 212 CRC of every segment, vectorised across segments with numpy.

    Parameters
    ----------
    segments : sequence of bytes
        Data segments (``QN=…&&``), any lengths.

    Returns
    -------
    numpy.ndarray of uint16
        ``crc16_hj212(s)`` for each segment, in order.

    """
    n = len(segments)
    out = np.empty(n, dtype=np.uint16)
    if n == 0:
        return out
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=n)
    order = np.argsort(lengths, kind="stable")
    pad = bytes([_PAD])
    for lo in range(0, n, _CHUNK):
        idx = order[lo:lo + _CHUNK]
        width = int(lengths[idx[-1]])
        if width == 0:
            out[idx] = 0xFFFF
            continue
        rows = [pad * (width - len(s)) + s for s in (segments[i] for i in idx)]
        mat = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(idx), width)
        x = np.full(len(idx), 0xFF, dtype=np.uint8)
        np.bitwise_xor(x, mat[:, 0], out=x)
        h = _H
        for j in range(1, width):  # one step of every packet's state per column
            np.take(h, x, out=x)
            np.bitwise_xor(x, mat[:, j], out=x)
        res = _T[x]
        res[lengths[idx] == 0] = 0xFFFF
        out[idx] = res
    return out


def _name_info(name: str) -> _NameInfo:
    code, dash, suffix = name.partition("-")
    if not dash or _NAME.match(code) is None or _SUFFIX.match(suffix) is None:
        return None
    fmt = data_format(code) if suffix in DIGIT_SUFFIXES else None
    return code, suffix, suffix in STRING_SUFFIXES, fmt


def _fast(line: bytes, crc: int) -> Packet | None:  # noqa: C901
    """Decode a canonical frame; ``None`` sends it to :func:`parse_packet`."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return None
    m = _CANON.match(text)
    if m is None or int(m["crc"], 16) != crc:
        return None
    seglen = len(text) - 10
    if int(m["len"]) != seglen or seglen > STD_SEGMENT:
        return None
    g = m.groupdict()
    flag = g["Flag"]
    version = version_of_flag(flag)
    if version is None or (flag is not None and int(flag) > 255):
        return None
    d_bit = flag is not None and int(flag) & 2 == 2
    pnum, pno = g["PNUM"], g["PNO"]
    if d_bit != (pnum is not None):
        return None
    if pnum is not None and (int(pnum) < 1 or int(pno) < 1 or int(pno) > int(pnum)):
        return None
    warnings: list[str] = []
    qn = g["QN"]
    if qn is not None and len(qn) != 17:
        warnings.append(f"QN has {len(qn)} digits, not 17 (YYYYMMDDhhmmsszzz)")
    if qn is None and version != "2005":
        return None
    values: dict[str, dict[str, float | str]] = {}
    params: dict[str, str] = {}
    groups = []
    digits_off: list[str] = []
    body = g["cp"]
    names = _names
    if body:
        for grp in body.split(";"):
            items = []
            for it in grp.split(","):
                name, eq, value = it.partition("=")
                if not eq:
                    return None
                items.append((name, value))
                try:
                    info = names[name]
                except KeyError:
                    info = names[name] = _name_info(name)
                if info is None:
                    if "-" in name or name in params or _NAME.match(name) is None:
                        return None
                    if name in TIME_PARAMS and not is_data_time(value):
                        return None
                    params[name] = value
                    continue
                code, suffix, is_str, fmt = info
                d = values.get(code)
                if d is None:
                    d = values[code] = {}
                elif suffix in d:
                    return None
                if is_str:
                    d[suffix] = value
                    continue
                if NUMBER_RE.match(value) is None:
                    return None
                d[suffix] = float(value)
                if fmt is not None and _over(value, fmt):
                    digits_off.append(f"{name}={value} (N{fmt[0]}.{fmt[1]})")
            groups.append(tuple(items))
    if digits_off:
        more = f" and {len(digits_off) - 3} more" if len(digits_off) > 3 else ""
        warnings.append("more digits than the code table's format: "
                        + ", ".join(digits_off[:3]) + more)
    header = tuple((k, v) for k in _HEADER if (v := g[k]) is not None)
    return Packet(
        raw=line, version=version, qn=qn, st=g["ST"], cn=g["CN"], pw=g["PW"], mn=g["MN"],
        flag=flag, pnum=pnum, pno=pno, rf=None, data_time=params.pop("DataTime", None),
        values=values, params=params, crc_ok=True, crc_variant="hj212",
        warnings=tuple(warnings), header=header, cp=tuple(groups), encrypted=False,
    )


def _strip(line: bytes) -> bytes:
    end = len(line)
    while end and line[end - 1] in (10, 13):
        end -= 1
    return line[:end] if end != len(line) else line


def decode_lines(lines: Sequence[bytes], *, strict: bool = True) -> list[Packet | PacketError]:
    """Decode many frames (one per item, CRLF optional) as :func:`parse_packet` would.

    Parameters
    ----------
    lines : sequence of bytes
        Frames ``##LLLL…CCCC``.
    strict : bool
        Strict or lenient checking, as in :func:`parse_packet`.

    Returns
    -------
    list
        For each line, its :class:`Packet` or the :class:`PacketError` that
        :func:`parse_packet` raises for it (returned, not raised).

    """
    frames = [_strip(ln) for ln in lines]
    crcs = crc16_many([f[6:-4] if len(f) >= 10 else b"" for f in frames]).tolist()
    out: list[Packet | PacketError] = []
    for f, c in zip(frames, crcs, strict=True):
        p = _fast(f, c) if len(f) >= 10 else None
        if p is None:
            try:
                p = parse_packet(f, strict=strict)
            except PacketError as exc:
                out.append(exc)
                continue
        out.append(p)
    return out
