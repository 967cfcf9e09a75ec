"""HJ 212-2025 data-area encryption: SM4 in ECB mode, no padding (notes §13, UNVERIFIED).

What rests on third-party notes, not on the 2025 text (which was not available): the CP body
(between ``CP=&&`` and ``&&``) is cut into 16-byte blocks; every whole block is encrypted
with SM4-ECB and written as ``{0xE4,0x3E,…}`` (upper-case hex bytes, comma separated); a
trailing part shorter than 16 bytes stays plaintext after the ``}``. The CRC and the length
field are those of the plaintext data segment. The published example key is 16 × ``0x30``.
Keys are kept per MN in the registry; this module only transforms bytes.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lantian.errors import FieldIssue, PacketError

__all__ = ["EXAMPLE_KEY", "decrypt_area", "encrypt_area", "is_encrypted_area"]

EXAMPLE_KEY: bytes = b"0" * 16
"""The example key of HJ 212-2025 Appendix A.2 as quoted by third-party code (16 × 0x30)."""

_HEX_AREA = re.compile(rb"\{((?:0[xX][0-9A-Fa-f]{2},)*0[xX][0-9A-Fa-f]{2})\}")


def _cipher(key: bytes) -> Cipher[modes.ECB]:
    if len(key) != 16:
        raise PacketError(FieldIssue(None, "CP", f"SM4 key must be 16 bytes, got {len(key)}"))
    return Cipher(algorithms.SM4(key), modes.ECB())  # noqa: S305 - ECB is what the standard specifies


def is_encrypted_area(body: bytes) -> bool:
    """Whether a CP body starts with the ``{0x..`` ciphertext form."""
    return body[:3] in (b"{0x", b"{0X")


def encrypt_area(body: bytes, key: bytes) -> bytes:
    """Encrypt a plaintext CP body: whole 16-byte blocks → ``{0x..,…}``, the rest kept.

    An empty body or one shorter than 16 bytes is returned unchanged (nothing to encrypt).
    """
    n = len(body) // 16 * 16
    if n == 0:
        return body
    enc = _cipher(key).encryptor()
    ct = enc.update(body[:n]) + enc.finalize()
    return b"{" + b",".join(b"0x%02X" % b for b in ct) + b"}" + body[n:]


def decrypt_area(body: bytes, key: bytes) -> bytes:
    """Decrypt a CP body written by :func:`encrypt_area`; raises :class:`PacketError`."""
    m = _HEX_AREA.match(body)
    if m is None:
        raise PacketError(FieldIssue(None, "CP", "encrypted area is not {0xNN,...}"))
    ct = bytes(int(h, 16) for h in m.group(1).split(b","))
    if len(ct) % 16:
        raise PacketError(FieldIssue(None, "CP",
                                     f"ciphertext of {len(ct)} bytes is not whole 16-byte blocks"))
    dec = _cipher(key).decryptor()
    return dec.update(ct) + dec.finalize() + body[m.end():]
