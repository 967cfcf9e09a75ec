"""The decoded HJ 212 packet and the protocol constants shared by parser and builder.

Field names follow HJ 212-2017 Table 3 (QN, ST, CN, PW, MN, Flag, PNUM, PNO, CP) plus the
HJ 212-2025 re-send flag ``RF`` (reference notes §13, unverified against the 2025 text).
"""

from __future__ import annotations

from dataclasses import dataclass

from lantian.errors import FieldIssue, PacketError

__all__ = [
    "HEADER_ORDER_2005",
    "HEADER_ORDER_2017",
    "STRING_SUFFIXES",
    "VERSION_BITS",
    "Packet",
    "PacketDecodeError",
    "version_of_flag",
]

HEADER_ORDER_2017: tuple[str, ...] = ("QN", "ST", "CN", "PW", "MN", "Flag", "RF", "PNUM", "PNO")
"""Header field order of HJ 212-2017 Table 3 (``RF`` placed after Flag: 2025, unverified)."""

HEADER_ORDER_2005: tuple[str, ...] = ("QN", "PNUM", "PNO", "ST", "CN", "PW", "MN", "Flag")
"""Header field order of HJ/T 212-2005 Table 3."""

STRING_SUFFIXES: frozenset[str] = frozenset({"Flag", "EFlag", "Info", "SampleTime", "SN"})
"""CP field suffixes whose values stay strings (data flags, field info, times, ids)."""

VERSION_BITS: dict[int, str] = {0: "2005", 1: "2017", 2: "2025"}
"""Flag bits V5..V0 (``flag >> 2``) → standard version (HJ 212-2017 §6.3.3; 2025 per §13 notes)."""


def version_of_flag(flag: str | None) -> str | None:
    """Return the standard version a Flag value declares.

    No Flag at all means an HJ/T 212-2005 device (2005 has only the D and A bits);
    otherwise ``flag >> 2`` is looked up in :data:`VERSION_BITS`; unknown bit patterns give
    ``None``.
    """
    if flag is None:
        return "2005"
    if not flag.isdigit() or not flag.isascii():
        return None
    return VERSION_BITS.get(int(flag) >> 2)


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded HJ 212 frame.

    Header fields are kept as the strings sent. ``values`` maps each factor code as sent to
    its fields by suffix (``{"a21026": {"Rtd": 12.3, "Flag": "N"}}``): numbers as float,
    suffixes in :data:`STRING_SUFFIXES` as str. ``params`` holds the other CP items
    (``QnRtn``, ``SystemTime``, 2005 reply ``QN``/``CN`` …); ``data_time`` is CP
    ``DataTime`` as sent (China Standard Time wall clock).

    ``header`` and ``cp`` keep the fields exactly as sent, in order (``cp`` is a tuple of
    groups, each a tuple of ``(name, value text)`` items), so :func:`rebuild_packet` can
    write the frame back byte for byte.
    """

    raw: bytes
    version: str | None
    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag: str | None
    pnum: str | None
    pno: str | None
    rf: str | None
    data_time: str | None
    values: dict[str, dict[str, float | str]]
    params: dict[str, str]
    crc_ok: bool
    crc_variant: str | None
    warnings: tuple[str, ...]
    header: tuple[tuple[str, str], ...] = ()
    cp: tuple[tuple[tuple[str, str], ...], ...] = ()
    encrypted: bool = False

    @property
    def needs_reply(self) -> bool:
        """Whether the A bit (bit 0) of Flag is set: the receiver must answer (§4)."""
        f = self.flag
        return f is not None and f.isdigit() and f.isascii() and int(f) & 1 == 1

    @property
    def is_split(self) -> bool:
        """Whether this is one part of a split message: D bit (bit 1) set or PNUM/PNO present."""
        if self.pnum is not None or self.pno is not None:
            return True
        f = self.flag
        return f is not None and f.isdigit() and f.isascii() and int(f) & 2 == 2


class PacketDecodeError(PacketError):
    """A frame failed strict decoding; ``partial`` holds what could be read of it.

    ``partial`` is ``None`` when not even the framing could be read. Its ``crc_ok`` tells the
    CRC verdict where the framing allowed computing it.
    """

    def __init__(self, issues: list[FieldIssue] | FieldIssue | str,
                 partial: Packet | None = None) -> None:
        super().__init__(issues)
        self.partial = partial
