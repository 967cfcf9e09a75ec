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

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lantian.errors import PacketError
from lantian.hj212.crc import CRC_TABLE, STATE_TABLE
from lantian.hj212.fastpath import decode_canonical
from lantian.hj212.packet import Packet
from lantian.hj212.parser import parse_packet_full

__all__ = ["crc16_many", "decode_lines"]

_H = np.array(STATE_TABLE, dtype=np.uint8)
_T = np.array(CRC_TABLE, dtype=np.uint16)
_PAD = 0xFF ^ STATE_TABLE.index(0xFF)  # 0xAB: keeps the state at its initial value
_CHUNK = 8192

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
        p = decode_canonical(f, c) if len(f) >= 10 else None
        if p is None:
            try:
                p = parse_packet_full(f, strict=strict)
            except PacketError as exc:
                out.append(exc)
                continue
        out.append(p)
    return out
