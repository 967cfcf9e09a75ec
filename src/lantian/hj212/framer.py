r"""Stream framing for HJ 212 over TCP: sticky and half packets, resync on ``##``.

A TCP stream carries frames back to back (粘包) or cut anywhere (拆包). :class:`Framer`
buffers at most ``max_frame`` bytes, cuts frames by the 4-digit length field, tolerates a
missing CRLF or ``\\r\\r\\n``, falls back to the line end when a device declares a wrong
length, and reports skipped garbage as :class:`FrameError` values instead of raising.
The framer never checks the CRC or the grammar: :func:`lantian.hj212.parse_packet` does.

References
----------
HJ 212-2017 §6.3.1 Table 2 (frame layout); reference notes §1 (lengths up to 9999 seen).

"""

from __future__ import annotations

import re

from lantian.errors import FieldIssue, PacketError

__all__ = ["DEFAULT_MAX_FRAME", "FrameError", "Framer"]

DEFAULT_MAX_FRAME = 10_016
"""Largest frame kept [bytes]: ``##`` + 4 + 9999 + CRC 4 + CRLF, rounded up."""

_WS = b"\r\n \t\0"


_NEXT = re.compile(rb"&&[0-9A-Fa-f]{4}(?=##[0-9]{4})")


def _next_frame_start(buf: bytearray, limit: int) -> int:
    """Start of a following frame glued on without CRLF (``…&&CCCC##LLLL``) before ``limit``."""
    m = _NEXT.search(buf, 6, limit + 6)
    return m.end() if m is not None and m.end() < limit else -1


class FrameError(PacketError):
    """Bytes the framer skipped: ``offset`` is the stream offset, ``skipped`` the count."""

    def __init__(self, offset: int, reason: str, skipped: int) -> None:
        super().__init__(FieldIssue(offset, "frame", reason))
        self.skipped = skipped


class Framer:
    """Cut a byte stream into HJ 212 frames (``##…CCCC`` without CRLF).

    Parameters
    ----------
    max_frame : int
        Largest frame accepted [bytes]; a declared length beyond it is skipped as garbage.
        Memory held per stream stays below ``max_frame`` plus one ``feed`` chunk.

    """

    __slots__ = ("_buf", "_pos", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0  # stream offset of _buf[0]

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Add received bytes; return the complete frames and the errors found, in order."""
        buf = self._buf
        buf += data
        out: list[bytes | FrameError] = []
        while buf:
            if not self._step(buf, out):
                break
        if len(buf) > self.max_frame:  # cannot happen after _step, kept as a hard bound
            out.append(FrameError(self._pos, "buffer over the frame limit", len(buf)))
            self._drop(len(buf))
        return out

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._pos += n

    def _garbage(self, n: int, reason: str, out: list[bytes | FrameError]) -> None:
        if n and bytes(self._buf[:n]).strip(_WS):
            out.append(FrameError(self._pos, reason, n))
        self._drop(n)

    def _step(self, buf: bytearray, out: list[bytes | FrameError]) -> bool:
        """Try to take one frame (or one run of garbage); False when more bytes are needed."""
        start = buf.find(b"##")
        if start < 0:
            keep = 1 if buf.endswith(b"#") else 0
            self._garbage(len(buf) - keep, "bytes outside a frame", out)
            return False
        if start:
            self._garbage(start, "bytes before '##'", out)
            return True
        if len(buf) < 6:
            return False
        lf = bytes(buf[2:6])
        if not (lf.isdigit() and lf.isascii()):
            self._garbage(2, f"length field {lf!r} is not 4 digits; resync on '##'", out)
            return True
        total = 10 + int(lf)
        if total > self.max_frame:
            self._garbage(2, f"declared length {int(lf)} over the limit; resync on '##'", out)
            return True
        nl = buf.find(b"\n", 6, total)
        if nl >= 0:  # declared length too long: the line ends first
            self._emit(nl, nl + 1, out)
            return True
        end = _next_frame_start(buf, total)
        if end >= 0:  # declared length too long, no line end: the next frame begins first
            self._emit(end, end, out)
            return True
        if len(buf) < total:
            return False
        after = bytes(buf[total:total + 2])
        if after in (b"", b"\r", b"\r\n", b"\n", b"\r\r", b"##") or after[:1] == b"\n" or (
            after[:1] == b"#" and len(after) == 1
        ):
            self._emit(total, total, out)
            return True
        # declared length too short: take the frame up to the line end when it comes
        nl = buf.find(b"\n", total)
        if nl >= 0:
            self._emit(nl, nl + 1, out)
            return True
        nxt = buf.find(b"##", total)
        if nxt >= 0:
            self._emit(nxt, nxt, out)
            return True
        if len(buf) >= self.max_frame:
            self._garbage(2, "no frame end within the limit; resync on '##'", out)
            return True
        return False

    def _emit(self, end: int, consume: int, out: list[bytes | FrameError]) -> None:
        frame = bytes(self._buf[:end]).rstrip(b"\r")
        out.append(frame)
        self._drop(consume)
