"""Build HJ 212 frames: uploads, requests and replies.

Frames are ``##`` + 4-digit length + data segment + CRC (``%04X``) + CRLF; field order is that
of HJ 212-2017 Table 3 (HJ/T 212-2005 Table 3 for ``version="2005"``). The length counts the
bytes of the data segment in the chosen encoding (UTF-8 by default, GBK for old devices).

References
----------
HJ 212-2017 §6.3 and Appendix C (replies 9011-9014); HJ/T 212-2005 §6.5 (2005 replies carry
the request's QN and CN inside CP); HJ 212-2025 per reference notes §13 (Flag version bits
000010, ``RF``, 9015 heartbeat, SM4 data area), unverified.

"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from lantian.errors import FieldIssue, PacketError
from lantian.hj212.cp import NUMBER_RE, format_cp
from lantian.hj212.crc import crc16_hj212, format_crc
from lantian.hj212.packet import (
    HEADER_ORDER_2005,
    HEADER_ORDER_2017,
    STRING_SUFFIXES,
    Packet,
)
from lantian.hj212.parser import MAX_SEGMENT
from lantian.hj212.sm4 import encrypt_area
from lantian.hj212.times import qn_from_datetime

__all__ = [
    "DEFAULT_FLAG",
    "build_data_reply",
    "build_packet",
    "build_request",
    "format_number",
    "frame_segment",
    "rebuild_packet",
]

DEFAULT_FLAG: dict[str, int] = {"2005": 0, "2017": 4, "2025": 8}
"""Flag with only the version bits set, per version (HJ 212-2017 §6.3.3; 2025 per notes §13)."""

Value = float | int | str
_SEPARATORS = frozenset(";,=&")


def format_number(v: float | int) -> str:
    """Write a number as HJ 212 ``Nn.m`` text: plain decimal, never an exponent.

    Floats are written with the shortest text that reads back to the same float
    (``repr``), expanded to positional notation where ``repr`` would use an exponent.
    """
    if isinstance(v, bool):
        raise PacketError(FieldIssue(None, "CP", "a bool is not a number"))
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        raise PacketError(FieldIssue(None, "CP", f"{v!r} cannot be sent"))
    s = repr(float(v))
    if "e" in s or "E" in s:
        s = format(Decimal(s), "f")
    return s


def _text(name: str, v: Value, suffix: str | None) -> str:
    if isinstance(v, str):
        if suffix is not None and suffix not in STRING_SUFFIXES and NUMBER_RE.match(v) is None:
            raise PacketError(FieldIssue(None, name, f"{v[:20]!r} is not a number"))
        if not v.startswith("//") and _SEPARATORS.intersection(v):
            raise PacketError(FieldIssue(None, name, "value holds ; , = or & (wrap text in //…//)"))
        return v
    return format_number(v)


def frame_segment(segment: bytes) -> bytes:
    """Frame a data segment: ``##`` + length + segment + CRC + CRLF."""
    if len(segment) > MAX_SEGMENT:
        raise PacketError(FieldIssue(2, "length", f"data segment of {len(segment)} bytes "
                                                  f"exceeds {MAX_SEGMENT}: split it (PNUM/PNO)"))
    return b"##%04d" % len(segment) + segment + format_crc(crc16_hj212(segment)) + b"\r\n"


def _frame_parts(header: list[tuple[str, str]], body: str, encoding: str,
                 sm4_key: bytes | None) -> bytes:
    """Frame header + CP body; with a key, encrypt the CP area after the CRC is taken."""
    head = "".join(f"{k}={v};" for k, v in header)
    try:
        plain = f"{head}CP=&&{body}&&".encode(encoding)
    except UnicodeEncodeError as exc:
        raise PacketError(FieldIssue(None, "CP", f"text cannot be written in {encoding}: "
                                                 f"{exc.object[exc.start:exc.end]!r}")) from exc
    framed = frame_segment(plain)
    if sm4_key is None:
        return framed
    # length and CRC are those of the plaintext segment (notes §13, unverified)
    wire = f"{head}CP=&&".encode(encoding) + encrypt_area(body.encode(encoding), sm4_key) + b"&&"
    return framed[:6] + wire + framed[-6:]


def build_packet(
    *, st: str, cn: str, pw: str, mn: str, flag: int | str | None = None, qn: str | None = None,
    data_time: str | None = None, values: Mapping[str, Mapping[str, Value]] | None = None,
    params: Mapping[str, Value] | None = None, pnum: int | str | None = None,
    pno: int | str | None = None, rf: int | str | None = None, version: str = "2017",
    encoding: str = "utf-8", sm4_key: bytes | None = None,
) -> bytes:
    """Build one frame (with CRLF) in the field order of the standard's Table 3.

    Parameters
    ----------
    st, cn, pw, mn : str
        System code, command code, password, device id, written as given.
    flag : int or str, optional
        Flag as sent; default: the version bits of ``version``, plus the D bit when ``pnum``
        is given. ``None`` with ``version="2005"`` omits Flag (old uploads).
    qn : str, optional
        Request code ``YYYYMMDDhhmmsszzz``; omitted when ``None``.
    data_time : str, optional
        ``YYYYMMDDhhmmss`` (China Standard Time), written first in CP.
    values : mapping
        ``{code: {suffix: value}}``; numbers as int/float, or pre-formatted number text;
        Flag/Info/… as str. Written one group per code, in the mapping's order.
    params : mapping
        Other CP items (``QnRtn``, ``SystemTime`` …), one group each, after DataTime.
    pnum, pno : int or str, optional
        Split-packet total and number.
    rf : int or str, optional
        HJ 212-2025 re-send flag (``1`` for 补传 data; unverified).
    version : {"2005", "2017", "2025"}
        Header order and default Flag.
    encoding : str
        Character set of the data segment (``utf-8``; ``gbk`` for old devices).
    sm4_key : bytes, optional
        Encrypt the CP area with SM4-ECB (HJ 212-2025; unverified). CRC and length stay
        those of the plaintext.

    Raises
    ------
    PacketError
        On a value that cannot be written (NaN, text with separators, segment over 9999 bytes).

    """
    if version not in DEFAULT_FLAG:
        raise PacketError(FieldIssue(None, "Flag", f"unknown version {version!r}"))
    if flag is None and version != "2005":
        flag = DEFAULT_FLAG[version] | (2 if pnum is not None else 0)
    fields: dict[str, str | None] = {
        "QN": qn, "ST": st, "CN": cn, "PW": pw, "MN": mn,
        "Flag": None if flag is None else str(flag),
        "RF": None if rf is None else str(rf),
        "PNUM": None if pnum is None else (f"{pnum:04d}" if isinstance(pnum, int) else pnum),
        "PNO": None if pno is None else (f"{pno:04d}" if isinstance(pno, int) else pno),
    }
    order = HEADER_ORDER_2005 if version == "2005" else HEADER_ORDER_2017
    header = [(k, v) for k in order if (v := fields.get(k)) is not None]
    if version == "2005" and rf is not None:
        header.append(("RF", str(rf)))
    groups: list[tuple[tuple[str, str], ...]] = []
    if data_time is not None:
        groups.append((("DataTime", data_time),))
    for name, pv in (params or {}).items():
        groups.append(((name, _text(name, pv, None)),))
    for code, fv in (values or {}).items():
        if fv:
            groups.append(tuple((f"{code}-{s}", _text(f"{code}-{s}", v, s))
                                for s, v in fv.items()))
    return _frame_parts(header, format_cp(tuple(groups)), encoding, sm4_key)


def rebuild_packet(packet: Packet, *, encoding: str = "utf-8",
                   sm4_key: bytes | None = None) -> bytes:
    """Write a decoded packet back from its fields as sent (``header`` and ``cp``), with CRLF.

    For a packet decoded without problems this gives the received frame byte for byte (CRC
    printed upper-case).
    """
    return _frame_parts(list(packet.header), format_cp(packet.cp), encoding, sm4_key)


def _reply_header(packet: Packet) -> tuple[str, str, str]:
    return packet.pw or "", packet.mn or "", packet.version or "2017"


def build_data_reply(packet: Packet, *, now: datetime | None = None) -> bytes:
    """Answer an upload with CN 9014 (数据应答).

    HJ 212-2017 Appendix C: ``ST=91;CN=9014;Flag=4;CP=&&&&`` with the upload's QN (Flag 8 for
    2025). HJ/T 212-2005: the QN and CN of the upload go inside CP
    (``CP=&&QN=…;CN=2051[;PNO=…;PNUM=…]&&``) and the header QN is a new one from ``now``
    (China Standard Time; default: the clock of this machine).
    """
    pw, mn, version = _reply_header(packet)
    if version == "2005":
        t = now or datetime.now()
        params: dict[str, Value] = {}
        if packet.qn is not None:
            params["QN"] = packet.qn
        params["CN"] = packet.cn or ""
        if packet.pno is not None and packet.pnum is not None:
            params["PNO"] = packet.pno
            params["PNUM"] = packet.pnum
        return build_packet(st="91", cn="9014", pw=pw, mn=mn, flag=0, qn=qn_from_datetime(t),
                            params=params, version="2005")
    return build_packet(st="91", cn="9014", pw=pw, mn=mn, qn=packet.qn, version=version)


def build_request(cn: str, *, mn: str, pw: str, st: str | None = None, qn: str | None = None,
                  params: Mapping[str, Value] | None = None, version: str = "2017",
                  flag: int | None = None, now: datetime | None = None) -> bytes:
    """Build a platform → device request or notification reply.

    Examples: ``1012`` set time (``params={"SystemTime": …}``), ``2051``/``2061`` history
    fetch (``BeginTime``/``EndTime``), ``9013`` notification reply (``st="91"``, ``qn`` of
    the notification), ``9015`` heartbeat (2025, unverified).

    Requests (CN below 9000) get the A bit (Flag 5 in 2017, 9 in 2025); replies (CN 9xxx)
    do not. ``st`` defaults to ``"91"`` (system interaction) for 9xxx and to ``"31"`` (flue
    gas, HJ 212-2017 Table 5) otherwise; pass the device's own ST where it differs. ``qn``
    defaults to ``now`` (China Standard Time; default the machine's clock).
    """
    if st is None:
        st = "91" if cn.startswith("9") else "31"
    if qn is None:
        qn = qn_from_datetime(now or datetime.now())
    if flag is None:
        ack = 0 if cn.startswith("9") else 1
        flag = DEFAULT_FLAG.get(version, 4) | ack
    return build_packet(st=st, cn=cn, pw=pw, mn=mn, flag=flag, qn=qn, params=params,
                        version=version)
