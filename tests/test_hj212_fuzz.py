"""Bounded fuzz: parse_packet and the bulk decoder raise nothing but PacketError."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lantian.errors import PacketError
from lantian.hj212 import parse_packet
from lantian.hj212.bulk import decode_lines
from lantian.hj212.crc import crc16_hj212

SEED = (b"##0160QN=20240601085857223;ST=31;CN=2051;PW=123456;MN=010000A8900016F000169DC0;"
        b"Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20240601085800;a21026-Avg=1.5,a21026-Flag=N;"
        b"i11001-Info=//x;y//&&")


def _reframe(seg: bytes) -> bytes:
    return b"##%04d" % (len(seg) % 10000) + seg + b"%04X" % crc16_hj212(seg)


def _never_internal(data: bytes, **kw) -> None:
    try:
        parse_packet(data, **kw)
    except PacketError as exc:
        assert "internal decoder error" not in str(exc), (data, exc)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes(data, strict):
    _never_internal(data, strict=strict)
    _never_internal(b"##" + data, strict=strict)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_random_segments_with_valid_framing(seg, strict):
    """Valid framing and CRC around random bytes reaches the header and CP grammar."""
    _never_internal(_reframe(seg), strict=strict)
    _never_internal(_reframe(b"ST=31;CN=2011;PW=1;MN=A;CP=&&" + seg + b"&&"), strict=strict)


def test_mutations_of_a_real_frame():
    rnd = random.Random(5)
    seg = SEED[6:]
    alphabet = b"#&;,=-/{}0123456789AaNx\r\n\x00\xff\xe4"
    frames = []
    for _ in range(3000):
        s = bytearray(seg)
        for _ in range(rnd.randint(1, 4)):
            op = rnd.random()
            i = rnd.randrange(len(s) + 1)
            if op < 0.4 and s:
                s[min(i, len(s) - 1)] = rnd.choice(alphabet)
            elif op < 0.7:
                s[i:i] = bytes([rnd.choice(alphabet)])
            elif s:
                del s[min(i, len(s) - 1)]
        f = _reframe(bytes(s))
        frames.append(f)
        for strict in (True, False):
            _never_internal(f, strict=strict)
            _never_internal(f, strict=strict, sm4_key=b"0" * 16)
            _never_internal(f, strict=strict, encoding="gbk")
    for r in decode_lines(frames) + decode_lines(frames, strict=False):
        assert not isinstance(r, PacketError) or "internal decoder error" not in str(r)
