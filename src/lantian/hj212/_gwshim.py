"""Temporary stand-ins used by the gateway only while the real codec is absent.

The gateway imports :mod:`lantian.hj212` (the codec) when it exists; this module is the
fallback with the same names and a reduced feature set, kept so that the networking can be
built and tested first. It is not a second codec: it only frames, checks the CRC and splits
the header and CP into strings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from lantian.errors import PacketError

__all__ = [
    "FrameError",
    "Framer",
    "Packet",
    "build_data_reply",
    "build_packet",
    "build_request",
    "crc16",
    "data_time_to_datetime",
    "parse_packet",
]


def crc16(data: bytes) -> int:
    """HJ 212 Appendix A CRC16 (reflected 0xA001, init 0xFFFF, bytes swapped in the shift)."""
    c = 0xFFFF
    for b in data:
        c = (c >> 8) ^ b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


@dataclass(frozen=True)
class FrameError:
    """Bytes the framer had to drop, and why."""

    reason: str
    dropped: int


class Framer:
    """Split a byte stream into ``##…CRLF`` frames; resync on ``##``; bounded buffer."""

    def __init__(self, max_frame: int = 10011) -> None:
        self.max_frame = max_frame
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Add bytes; return the complete frames and framing errors found so far."""
        buf = self._buf + data
        out: list[bytes | FrameError] = []
        while True:
            start = buf.find(b"##")
            if start < 0:
                if len(buf) > 1:
                    out.append(FrameError("garbage", len(buf) - 1))
                    buf = buf[-1:] if buf.endswith(b"#") else b""
                break
            if start > 0:
                out.append(FrameError("garbage", start))
                buf = buf[start:]
            end = buf.find(b"\r\n")
            nxt = buf.find(b"##", 2)
            if 0 <= nxt < (end if end >= 0 else len(buf)):
                out.append(FrameError("truncated", nxt))
                buf = buf[nxt:]
                continue
            if end < 0:
                if len(buf) > self.max_frame:
                    out.append(FrameError("oversized", len(buf)))
                    buf = b""
                break
            out.append(buf[: end + 2])
            buf = buf[end + 2 :]
        self._buf = buf
        return out


@dataclass(frozen=True)
class Packet:
    """Reduced packet: header fields as strings, CP values as floats or strings."""

    raw: bytes
    version: str
    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag: int | None
    data_time: str | None
    values: dict[str, dict[str, float | str]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    crc_ok: bool = True

    @property
    def needs_reply(self) -> bool:
        """Whether the A bit (bit 0 of Flag) is set."""
        return self.flag is not None and bool(self.flag & 1)


def parse_packet(frame: bytes, *, strict: bool = True, **_: Any) -> Packet:
    """Parse one frame (CRC checked); raise :class:`PacketError` on any defect."""
    f = frame.rstrip(b"\r\n")
    if len(f) < 10 or not f.startswith(b"##"):
        raise PacketError("not a frame")
    try:
        n = int(f[2:6])
    except ValueError:
        raise PacketError("bad length") from None
    seg, crc = f[6:-4], f[-4:]
    if len(seg) != n:
        raise PacketError("length mismatch")
    try:
        ok = int(crc, 16) == crc16(seg)
    except ValueError:
        ok = False
    if not ok and strict:
        raise PacketError("CRC mismatch")
    text = seg.decode("utf-8", "replace")
    head, sep, cp = text.partition("CP=&&")
    if not sep:
        raise PacketError("no CP")
    hdr = dict(kv.split("=", 1) for kv in head.split(";") if "=" in kv)
    values: dict[str, dict[str, float | str]] = {}
    params: dict[str, str] = {}
    for item in cp.rstrip("&").replace(",", ";").split(";"):
        k, eq, v = item.partition("=")
        if not eq:
            continue
        code, dash, suf = k.partition("-")
        if dash:
            try:
                values.setdefault(code, {})[suf] = float(v)
            except ValueError:
                values.setdefault(code, {})[suf] = v
        else:
            params[k] = v
    flag = int(hdr["Flag"]) if hdr.get("Flag", "").isdigit() else None
    version = "2005" if flag is None or flag < 4 else ("2017" if flag & 4 else "2025")
    return Packet(
        frame, version, hdr.get("QN"), hdr.get("ST"), hdr.get("CN"), hdr.get("PW"),
        hdr.get("MN"), flag, params.pop("DataTime", None), values, params, ok,
    )


def _frame(seg: str) -> bytes:
    b = seg.encode("utf-8")
    return b"##%04d" % len(b) + b + b"%04X\r\n" % crc16(b)


def _qn_now() -> str:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)
    return now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"


def build_packet(
    *, st: str, cn: str, pw: str, mn: str, flag: int | None = None, qn: str | None = None,
    data_time: str | None = None, values: dict[str, dict[str, Any]] | None = None,
    params: dict[str, Any] | None = None, **_: Any,
) -> bytes:
    """Build a framed packet with CRLF."""
    cp: list[str] = []
    if data_time:
        cp.append(f"DataTime={data_time}")
    cp += [f"{k}={v}" for k, v in (params or {}).items()]
    for code, fields in (values or {}).items():
        cp.append(",".join(f"{code}-{s}={v}" for s, v in fields.items()))
    hdr = []
    if qn:
        hdr.append(f"QN={qn}")
    hdr += [f"ST={st}", f"CN={cn}", f"PW={pw}", f"MN={mn}"]
    if flag is not None:
        hdr.append(f"Flag={flag}")
    return _frame(";".join(hdr) + ";CP=&&" + ";".join(cp) + "&&")


def build_data_reply(packet: Packet) -> bytes:
    """9014 data reply with the packet's QN."""
    return build_packet(st="91", cn="9014", pw=packet.pw or "", mn=packet.mn or "", flag=4,
                        qn=packet.qn)


def build_request(cn: str, *, mn: str, pw: str, qn: str | None = None,
                  params: dict[str, Any] | None = None, **_: Any) -> bytes:
    """Build a platform request (Flag=5, ST=91)."""
    return build_packet(st="91", cn=cn, pw=pw, mn=mn, flag=5, qn=qn or _qn_now(), params=params)


def data_time_to_datetime(s: str) -> dt.datetime:
    """``YYYYMMDDhhmmss`` → naive datetime (China Standard Time)."""
    return dt.datetime.strptime(s[:14], "%Y%m%d%H%M%S")
