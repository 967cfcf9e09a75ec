"""Decode one HJ 212 frame: ``##`` + 4-digit length + data segment + CRC (+ CRLF).

Strict mode (import, tests) rejects anything off the grammar: framing, the length field, the
CRC, header syntax, the CP grammar, non-numeric values and malformed times. Lenient mode
(the live gateway) accepts the Modbus CRC variants and turns grammar, length and value-syntax
problems into warnings; framing problems and a CRC that matches no variant stay errors.
Neither mode rejects an MN's characters, a QN's digit count or a value's digit count: those
are warnings (real devices send 14-character MNs, 13-digit epoch QNs and extra decimals).

References
----------
HJ 212-2017 §6.3 (Table 2 frame, Table 3 header, Table 4 data types, §6.3.4 CP),
HJ/T 212-2005 §6, HJ 212-2025 per reference notes §13 (unverified).

"""

from __future__ import annotations

import codecs
import re

from lantian.catalog.codes import data_format
from lantian.errors import ConfigurationError, FieldIssue, PacketError
from lantian.hj212.cp import NAME_RE, NUMBER_RE, SUFFIX_RE, split_cp
from lantian.hj212.crc import crc16_hj212, crc_matches
from lantian.hj212.fastpath import (
    DIGIT_SUFFIXES,
    STD_SEGMENT,
    TIME_PARAMS,
    decode_canonical,
    over_digits,
)
from lantian.hj212.packet import STRING_SUFFIXES, Packet, PacketDecodeError, version_of_flag
from lantian.hj212.sm4 import decrypt_area, is_encrypted_area
from lantian.hj212.times import is_data_time

__all__ = [
    "DIGIT_SUFFIXES",
    "MAX_SEGMENT",
    "STD_SEGMENT",
    "TIME_PARAMS",
    "parse_packet",
    "parse_packet_full",
]

MAX_SEGMENT = 9999
"""Largest data segment the 4-digit length field can declare [bytes]."""

HEADER_KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO", "RF")
_KEY_BY_FOLD = {k.casefold(): k for k in HEADER_KEYS}
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}\Z")
_ST = re.compile(r"[0-9A-Za-z]+\Z")
_MN17 = re.compile(r"[0-9A-F]{24}\Z")


class _Acc:
    """Issues found so far: ``hard`` fail in every mode, ``soft`` only in strict mode."""

    __slots__ = ("encoding", "hard", "soft", "text", "warnings")

    def __init__(self, encoding: str = "utf-8") -> None:
        self.hard: list[FieldIssue] = []
        self.soft: list[FieldIssue] = []
        self.warnings: list[str] = []
        self.text = ""
        self.encoding = encoding

    def off(self, i: int) -> int:
        """Byte offset in the frame of character ``i`` of the decoded data segment."""
        t = self.text
        if t.isascii():
            return 6 + i
        return 6 + len(t[:i].encode(self.encoding, "replace"))


def parse_packet(frame: bytes, *, strict: bool = True, encoding: str = "utf-8",
                 sm4_key: bytes | None = None) -> Packet:
    r"""Decode one HJ 212 frame.

    Parameters
    ----------
    frame : bytes
        ``##LLLL…CCCC`` with or without the trailing CRLF (``\\r\\r\\n`` and a bare LF are
        tolerated too).
    strict : bool
        Strict (default) or lenient checking, see the module docstring.
    encoding : str
        Character set of the data segment: ``utf-8`` (HJ 212-2017 §6.3) or ``gbk`` for old
        devices. The CRC and the length always count bytes.
    sm4_key : bytes, optional
        16-byte SM4 key of this MN for an HJ 212-2025 encrypted data area.

    Returns
    -------
    Packet

    Raises
    ------
    PacketDecodeError
        (a :class:`lantian.errors.PacketError`) naming the byte offset, the field and the
        reason of every problem; ``partial`` holds the fields read so far. No other exception
        escapes for any byte string.

    """
    if type(frame) is bytes and encoding in _UTF8:
        line = frame.rstrip(b"\r\n")
        if len(line) >= 10:
            p = decode_canonical(line, crc16_hj212(line[6:-4]))
            if p is not None:
                return p
    return parse_packet_full(frame, strict=strict, encoding=encoding, sm4_key=sm4_key)


_UTF8 = frozenset({"utf-8", "utf8", "UTF-8", "UTF8"})


def parse_packet_full(frame: bytes, *, strict: bool = True, encoding: str = "utf-8",
                      sm4_key: bytes | None = None) -> Packet:
    """Decode one frame with the full parser only (the reference for the fast path).

    Same contract as :func:`parse_packet`, which tries
    :func:`lantian.hj212.fastpath.decode_canonical` first and gives the same result.
    """
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise ConfigurationError(f"unknown encoding {encoding!r}") from exc
    try:
        return _parse(frame, strict, encoding, sm4_key)
    except PacketError:
        raise
    except Exception as exc:  # a decoder bug must still surface as a PacketError
        raise PacketDecodeError(FieldIssue(None, None, f"internal decoder error: {exc!r}")) from exc


def _fail(offset: int | None, field: str, reason: str) -> PacketDecodeError:
    return PacketDecodeError(FieldIssue(offset, field, reason))


def _frame(frame: bytes) -> tuple[bytes, int, bytes, int]:
    """Check the framing; return (raw without CRLF, declared length, segment, sent CRC)."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise _fail(None, "frame", f"expected bytes, got {type(frame).__name__}")
    raw = bytes(frame)
    end = len(raw)
    while end and raw[end - 1] in (10, 13):
        end -= 1
    raw = raw[:end]
    if raw[:2] != b"##":
        raise _fail(0, "header", "frame does not start with '##'")
    if len(raw) < 10:
        raise _fail(len(raw), "frame", f"frame of {len(raw)} bytes is shorter than ##LLLL…CCCC")
    lf = raw[2:6]
    if not (lf.isdigit() and lf.isascii()):
        raise _fail(2, "length", f"length field {lf!r} is not 4 decimal digits")
    crc_text = raw[-4:]
    if _HEX4.match(crc_text) is None:
        raise _fail(len(raw) - 4, "crc", f"CRC {crc_text!r} is not 4 hex digits")
    return raw, int(lf), raw[6:-4], int(crc_text, 16)


def _decrypt(data: bytes, key: bytes | None) -> tuple[bytes, bool]:
    cp = data.find(b"CP=&&")
    if cp < 0:
        return data, False
    body = data[cp + 5:]
    if not is_encrypted_area(body):
        return data, False
    if key is None:
        raise _fail(6 + cp + 5, "CP", "encrypted data area (HJ 212-2025 SM4) and no key for it")
    closed = body.endswith(b"&&")
    try:
        plain = decrypt_area(body[:-2] if closed else body, key)
    except PacketError as exc:
        raise _fail(6 + cp + 5, "CP", exc.reason) from exc
    return data[:cp + 5] + plain + (b"&&" if closed else b""), True


def _parse(frame: bytes, strict: bool, encoding: str, sm4_key: bytes | None) -> Packet:
    raw, declared, data, crc_sent = _frame(frame)
    data, encrypted = _decrypt(data, sm4_key)
    acc = _Acc(encoding)
    variant = crc_matches(data, crc_sent, lenient=not strict)
    if variant is None:
        acc.hard.append(FieldIssue(len(raw) - 4, "crc",
                                   f"CRC {raw[-4:].decode('ascii')} does not match the data "
                                   "segment (HJ 212 Appendix A)"))
    elif variant != "hj212":
        acc.warnings.append(f"CRC is the {variant} variant, not the HJ 212 CRC")
    if declared != len(data):
        acc.soft.append(FieldIssue(2, "length", f"declared {declared} bytes, data segment "
                                                f"has {len(data)}"))
    if len(data) > STD_SEGMENT:
        acc.warnings.append(f"data segment of {len(data)} bytes exceeds {STD_SEGMENT} "
                            "(HJ 212-2017 Table 2)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        acc.soft.append(FieldIssue(6 + exc.start, "segment", f"bytes are not valid {encoding}"))
        text = data.decode(encoding, "replace")
    acc.text = text
    return _fields(raw, text, acc, strict, variant, encrypted)


def _header(text: str, acc: _Acc) -> tuple[tuple[tuple[str, str], ...], dict[str, str], int]:
    """Split the header (before ``CP=&&``); return pairs as sent, fields by key, CP index."""
    idx = text.find("CP=&&")
    if idx < 0:
        acc.hard.append(FieldIssue(acc.off(len(text)), "CP", "no 'CP=&&' data area"))
        idx = len(text)
    head = text[:idx]
    if head.endswith(";"):
        head = head[:-1]
    elif head:
        acc.soft.append(FieldIssue(acc.off(idx), "CP", "missing ';' before 'CP='"))
    pairs: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    pos = 0
    for part in head.split(";") if head else ():
        key, eq, value = part.partition("=")
        at = acc.off(pos)
        pos += len(part) + 1
        if not eq:
            acc.soft.append(FieldIssue(at, part[:20] or "header", "header item has no '='"))
            continue
        pairs.append((key, value))
        canon = key if key in _KEY_BY_FOLD.values() else None
        if canon is None:
            folded = _KEY_BY_FOLD.get("".join(c for c in key if c.isalnum()).casefold())
            acc.soft.append(FieldIssue(at, key, "unknown header field" if folded is None
                                       else f"header field written {key!r}, not {folded!r}"))
            canon = folded
        if canon is None:
            continue
        if canon in fields:
            acc.soft.append(FieldIssue(at, canon, "header field repeated"))
            continue
        fields[canon] = value
        _check_header(canon, value, at, acc)
    return tuple(pairs), fields, idx


def _check_header(key: str, v: str, at: int, acc: _Acc) -> None:  # noqa: C901
    soft = acc.soft
    if key == "QN":
        if not (v.isdigit() and v.isascii()):
            soft.append(FieldIssue(at, key, f"QN {v[:20]!r} is not digits"))
        elif len(v) != 17:
            acc.warnings.append(f"QN has {len(v)} digits, not 17 (YYYYMMDDhhmmsszzz)")
    elif key == "ST":
        if _ST.match(v) is None:
            soft.append(FieldIssue(at, key, f"ST {v[:20]!r} is not letters and digits"))
        elif len(v) != 2:
            acc.warnings.append(f"ST {v!r} is not 2 characters")
    elif key == "CN":
        if len(v) != 4 or not (v.isdigit() and v.isascii()):
            soft.append(FieldIssue(at, key, f"CN {v[:20]!r} is not 4 digits"))
    elif key == "PW":
        if len(v) != 6:
            acc.warnings.append(f"PW has {len(v)} characters, not 6")
    elif key == "MN":
        if not v:
            soft.append(FieldIssue(at, key, "empty MN"))
        elif _MN17.match(v) is None and not (len(v) == 14 and v.isalnum() and v.isascii()):
            acc.warnings.append(f"MN {v[:30]!r} is neither 24 hex digits (2017) nor 14 "
                                "characters (2005)")
    elif key == "Flag":
        if not (v.isdigit() and v.isascii()) or int(v) > 255:
            soft.append(FieldIssue(at, key, f"Flag {v[:20]!r} is not an integer 0-255"))
        elif version_of_flag(v) is None:
            acc.warnings.append(f"Flag {v} declares unknown version bits {int(v) >> 2}")
    elif key in ("PNUM", "PNO"):
        if not (v.isdigit() and v.isascii()) or int(v) < 1 or len(v) > 4:
            soft.append(FieldIssue(at, key, f"{key} {v[:20]!r} is not a number 1-9999"))
    elif key == "RF" and not (v.isdigit() and v.isascii()):
        soft.append(FieldIssue(at, key, f"RF {v[:20]!r} is not a number"))


def _header_at(acc: _Acc, key: str) -> int | None:
    """Byte offset of header field ``key=`` (error path only)."""
    t = acc.text
    i = t.find(key + "=")
    while i > 0 and t[i - 1] != ";":
        i = t.find(key + "=", i + 1)
    return acc.off(i) if i >= 0 else None


def _check_split(fields: dict[str, str], acc: _Acc) -> None:
    pnum, pno, flag = fields.get("PNUM"), fields.get("PNO"), fields.get("Flag")
    if (pnum is None) != (pno is None):
        acc.soft.append(FieldIssue(_header_at(acc, "PNO" if pnum is None else "PNUM"),
                                   "PNUM" if pnum is None else "PNO",
                                   "PNUM and PNO must come together"))
    elif pnum and pno and pnum.isdigit() and pno.isdigit() and int(pno) > int(pnum):
        acc.soft.append(FieldIssue(_header_at(acc, "PNO"), "PNO", f"PNO {pno} > PNUM {pnum}"))
    d_bit = flag is not None and flag.isdigit() and flag.isascii() and int(flag) & 2 == 2
    if d_bit and pnum is None:
        acc.warnings.append("Flag D bit set but no PNUM/PNO")
    elif pnum is not None and not d_bit:
        acc.warnings.append("PNUM/PNO present but Flag D bit not set")


def _fields(raw: bytes, text: str, acc: _Acc, strict: bool, variant: str | None,
            encrypted: bool) -> Packet:
    pairs, fields, idx = _header(text, acc)
    for need in ("ST", "CN", "MN", "PW"):
        if need not in fields:
            acc.soft.append(FieldIssue(acc.off(idx), need, "required header field missing"))
    _check_split(fields, acc)
    flag = fields.get("Flag")
    version = version_of_flag(flag) if flag is None or flag.isdigit() else None
    if version in ("2017", "2025") and "QN" not in fields:
        acc.warnings.append("no QN in a 2017/2025 packet")
    groups: tuple[tuple[tuple[str, str], ...], ...] = ()
    values: dict[str, dict[str, float | str]] = {}
    params: dict[str, str] = {}
    if idx < len(text):
        rest = text[idx + 5:]
        if rest.endswith("&&"):
            body = rest[:-2]
        else:
            acc.soft.append(FieldIssue(acc.off(len(text)), "CP", "data area not closed by '&&'"))
            body = rest
        groups, cp_issues = split_cp(body, 6 + idx + 5)
        acc.soft.extend(cp_issues)
        _items(groups, values, params, acc, idx + 5)
    packet = Packet(
        raw=raw, version=version, qn=fields.get("QN"), st=fields.get("ST"),
        cn=fields.get("CN"), pw=fields.get("PW"), mn=fields.get("MN"), flag=flag,
        pnum=fields.get("PNUM"), pno=fields.get("PNO"), rf=fields.get("RF"),
        data_time=params.pop("DataTime", None), values=values, params=params,
        crc_ok=variant == "hj212", crc_variant=variant,
        warnings=tuple(acc.warnings) + (() if strict else tuple(str(i) for i in acc.soft)),
        header=pairs, cp=groups, encrypted=encrypted,
    )
    problems = acc.hard + acc.soft if strict else acc.hard
    if problems:
        raise PacketDecodeError(problems, packet)
    return packet


def _items(groups: tuple[tuple[tuple[str, str], ...], ...],
           values: dict[str, dict[str, float | str]], params: dict[str, str], acc: _Acc,
           base: int) -> None:
    soft = acc.soft
    digits_off: list[str] = []
    for group in groups:
        for name, value in group:
            code, dash, suffix = name.partition("-")
            if not dash:
                if NAME_RE.match(name) is None:
                    soft.append(FieldIssue(_at(acc, name, base), name[:40],
                                          "CP field name is not letters, digits or '_'"))
                if name in params:
                    soft.append(FieldIssue(_at(acc, name, base), name, "CP field repeated"))
                    continue
                if name in TIME_PARAMS and not is_data_time(value):
                    soft.append(FieldIssue(_at(acc, name, base), name,
                                          f"{value[:20]!r} is not YYYYMMDDhhmmss"))
                params[name] = value
                continue
            if NAME_RE.match(code) is None or SUFFIX_RE.match(suffix) is None:
                soft.append(FieldIssue(_at(acc, name, base), name[:40],
                                      "CP field is not code-Suffix"))
            fv: float | str = value
            if suffix not in STRING_SUFFIXES:
                if NUMBER_RE.match(value) is None:
                    soft.append(FieldIssue(_at(acc, name, base), name,
                                          f"value {value[:20]!r} is not a number"))
                else:
                    fv = float(value)
                    if suffix in DIGIT_SUFFIXES:
                        fmt = data_format(code)
                        if fmt is not None and over_digits(value, fmt):
                            digits_off.append(f"{name}={value} (N{fmt[0]}.{fmt[1]})")
            d = values.setdefault(code, {})
            if suffix in d:
                soft.append(FieldIssue(_at(acc, name, base), name, "CP field repeated"))
                continue
            d[suffix] = fv
    if digits_off:
        more = f" and {len(digits_off) - 3} more" if len(digits_off) > 3 else ""
        acc.warnings.append("more digits than the code table's format: "
                            + ", ".join(digits_off[:3]) + more)


def _at(acc: _Acc, name: str, base: int) -> int | None:
    """Byte offset of the first item called ``name`` in the CP (error path only)."""
    i = acc.text.find(name + "=", base)
    return acc.off(i) if i >= 0 else None
