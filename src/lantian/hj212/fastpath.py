"""The lean decoding path for frames in the canonical form (shared by parser and bulk).

A frame qualifies when it is ASCII, its header is in HJ 212-2017 Table 3 order with the usual
field forms (17- or 13-digit QN, 2-character ST, 6-character PW, an MN of ASCII letters and
digits — any length, a warning as in the parser when it is neither 24 hex digits nor 14 characters),
its length, CRC and Flag bits are consistent, and its CP has no log text and no problem at
all. Such a frame is decoded here with one regular expression and a split walk; every other
frame returns ``None`` and goes through the full parser (:func:`parse_packet_full`), which is
the reference: differential tests check that both give the same packets.
"""

from __future__ import annotations

import functools
import re

from lantian.catalog.codes import data_format
from lantian.hj212.cp import NAME_RE, NUMBER_RE, SUFFIX_RE
from lantian.hj212.packet import STRING_SUFFIXES, Packet, version_of_flag
from lantian.hj212.times import is_data_time

__all__ = [
    "DIGIT_SUFFIXES",
    "STD_SEGMENT",
    "TIME_PARAMS",
    "decode_canonical",
    "mn_warning",
    "over_digits",
]

STD_SEGMENT = 1024
"""Largest data segment the standard allows [bytes] (HJ 212-2017 Table 2); more → warning."""
TIME_PARAMS = frozenset({"DataTime", "SystemTime", "BeginTime", "EndTime", "RestartTime"})
"""CP items holding a ``YYYYMMDDhhmmss`` time (HJ 212-2017 Table 4)."""
DIGIT_SUFFIXES = frozenset({"Rtd", "Min", "Avg", "Max", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax"})
"""Suffixes whose digit counts are compared with the code table's ``Nn.m``."""

_CANON = re.compile(
    r"##(?P<len>[0-9]{4})(?:QN=(?P<QN>[0-9]{13}|[0-9]{17});)?ST=(?P<ST>[0-9A-Za-z]{2});"
    r"CN=(?P<CN>[0-9]{4});PW=(?P<PW>[^;=&]{6});"
    r"MN=(?P<MN>[0-9A-Za-z]+);(?:Flag=(?P<Flag>[0-9]{1,3});)?"
    r"(?:PNUM=(?P<PNUM>[0-9]{1,4});PNO=(?P<PNO>[0-9]{1,4});)?"
    r"CP=&&(?P<cp>[^&/]*)&&(?P<crc>[0-9A-Fa-f]{4})\Z"
)
_HEADER = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
_MN17 = re.compile(r"[0-9A-F]{24}\Z")


@functools.lru_cache(maxsize=4096)
def mn_warning(mn: str) -> str | None:
    """Return the parser's warning for a non-standard MN, or None for a standard one.

    Standard: 24 hex digits (HJ 212-2017 §6.3.2) or 14 characters (HJ/T 212-2005).
    """
    if len(mn) == 14 or _MN17.match(mn) is not None:
        return None
    return f"MN {mn[:30]!r} is neither 24 hex digits (2017) nor 14 characters (2005)"

# name -> (code, suffix, is_string, fmt) for names that pass the grammar; None otherwise
_NameInfo = tuple[str, str, bool, tuple[int, int] | None] | None
_names: dict[str, _NameInfo] = {}


def _name_info(name: str) -> _NameInfo:
    code, dash, suffix = name.partition("-")
    if not dash or NAME_RE.match(code) is None or SUFFIX_RE.match(suffix) is None:
        return None
    fmt = data_format(code) if suffix in DIGIT_SUFFIXES else None
    return code, suffix, suffix in STRING_SUFFIXES, fmt


def decode_canonical(line: bytes, crc: int) -> Packet | None:  # noqa: C901
    """Decode a canonical frame (without CRLF) whose data segment has HJ 212 CRC ``crc``.

    Returns ``None`` for any frame off the canonical form or with any problem.
    """
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
    mn = g["MN"]
    if (mn_warn := mn_warning(mn)) is not None:
        warnings.append(mn_warn)
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
                    if "-" in name or name in params or NAME_RE.match(name) is None:
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
                if fmt is not None and over_digits(value, fmt):
                    digits_off.append(f"{name}={value} (N{fmt[0]}.{fmt[1]})")
            groups.append(tuple(items))
    if digits_off:
        more = f" and {len(digits_off) - 3} more" if len(digits_off) > 3 else ""
        warnings.append("more digits than the code table's format: "
                        + ", ".join(digits_off[:3]) + more)
    header = tuple((k, v) for k in _HEADER if (v := g[k]) is not None)
    return Packet(
        raw=line, version=version, qn=qn, st=g["ST"], cn=g["CN"], pw=g["PW"], mn=mn,
        flag=flag, pnum=pnum, pno=pno, rf=None, data_time=params.pop("DataTime", None),
        values=values, params=params, crc_ok=True, crc_variant="hj212",
        warnings=tuple(warnings), header=header, cp=tuple(groups), encrypted=False,
    )


def over_digits(value: str, fmt: tuple[int, int]) -> bool:
    """Whether a number text has more integer digits or decimals than ``Nn.m`` allows."""
    v = value.lstrip("+-")
    dot = v.find(".")
    if dot < 0:
        return len(v.lstrip("0") or "0") > fmt[0]
    return len(v[:dot].lstrip("0") or "0") > fmt[0] or len(v) - dot - 1 > fmt[1]
