r"""The HJ 212 CRC ("ANSI CRC16" of Appendix A) and the Modbus variants some devices send.

The HJ 212 check is the same in HJ/T 212-2005, HJ 212-2017 and HJ 212-2025 (Appendix A):
register 0xFFFF; for each byte ``b`` of the data segment the register becomes
``(reg >> 8) ^ b`` (the old low byte is discarded) and is then shifted right eight times,
XORing 0xA001 whenever a 1 falls out. In table form ``reg = T[(reg >> 8) ^ b]`` with ``T`` the
CRC-16/ARC table, so only 8 bits of state carry from one byte to the next:
``x = H[x] ^ b`` with ``H[i] = T[i] >> 8``, starting from ``x = 0xFF ^ b0``, result ``T[x]``.
That form vectorises across many packets (:mod:`lantian.hj212.bulk`).

Check values (reference notes §2): ``b""`` → 0xFFFF, ``b"\\x00"`` → 0x4040,
``b"123456789"`` → 0x2F80. CRC-16/MODBUS of the same inputs: 0xFFFF, 0x40BF, 0x4B37.

References
----------
HJ 212-2017 Appendix A (``CRC16_Checkout``); HJ/T 212-2005 Appendix A.

"""

from __future__ import annotations

__all__ = [
    "CRC_TABLE",
    "CRC_VARIANTS",
    "STATE_TABLE",
    "crc16_hj212",
    "crc16_modbus",
    "crc_matches",
    "format_crc",
]


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        reg = i
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


CRC_TABLE: tuple[int, ...] = _make_table()
"""CRC-16/ARC table (reflected polynomial 0xA001), ``T`` in the module docstring."""

STATE_TABLE: tuple[int, ...] = tuple(t >> 8 for t in CRC_TABLE)
"""``H[i] = T[i] >> 8``: the 8-bit state transition of the HJ 212 CRC."""

CRC_VARIANTS: tuple[str, ...] = ("hj212", "modbus_swapped", "modbus")
"""CRC forms accepted in lenient mode, in the order they are tried (reference notes §2)."""


def crc16_hj212(data: bytes) -> int:
    """Return the HJ 212 CRC of a data segment.

    Parameters
    ----------
    data : bytes
        The data segment only (``QN=…&&``), as bytes (UTF-8, or GBK for old devices).

    Returns
    -------
    int
        The 16-bit check value; printed as ``%04X`` in a frame.

    References
    ----------
    HJ 212-2017 Appendix A.

    """
    if not data:
        return 0xFFFF
    t = CRC_TABLE
    h = STATE_TABLE
    x = 0xFF ^ data[0]
    for b in data[1:]:
        x = h[x] ^ b
    return t[x]


def crc16_modbus(data: bytes) -> int:
    """Return CRC-16/MODBUS (init 0xFFFF, reflected 0xA001) of ``data``, register value.

    Some devices send this instead of the HJ 212 CRC, usually printed low byte first
    (``modbus_swapped``). Not part of the standard.
    """
    t = CRC_TABLE
    reg = 0xFFFF
    for b in data:
        reg = (reg >> 8) ^ t[(reg ^ b) & 0xFF]
    return reg


def format_crc(value: int) -> bytes:
    """Format a CRC as four upper-case hex digits, high byte first (``%04X``)."""
    return b"%04X" % value


def crc_matches(data: bytes, sent: int, *, lenient: bool = False) -> str | None:
    """Return which CRC variant of ``data`` equals the ``sent`` value, or ``None``.

    Strict mode tries only ``"hj212"``; lenient mode also tries ``"modbus_swapped"`` (CRC-16/
    MODBUS printed low byte first) and ``"modbus"`` (printed high byte first), in that order.
    """
    if crc16_hj212(data) == sent:
        return "hj212"
    if not lenient:
        return None
    m = crc16_modbus(data)
    if ((m & 0xFF) << 8 | m >> 8) == sent:
        return "modbus_swapped"
    if m == sent:
        return "modbus"
    return None
