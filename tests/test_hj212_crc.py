"""HJ 212 CRC: check values, the standard's bitwise procedure, the 65 public vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dataset
from lantian.hj212 import crc16_hj212, crc16_modbus, parse_packet
from lantian.hj212.bulk import crc16_many
from lantian.hj212.crc import crc_matches
from lantian.hj212.packet import PacketDecodeError


def bitwise_appendix_a(data: bytes) -> int:
    """HJ 212-2017 Appendix A in words: reg = (reg >> 8) ^ byte, then 8 shifts with 0xA001."""
    reg = 0xFFFF
    for b in data:
        reg = (reg >> 8) ^ b
        for _ in range(8):
            lsb = reg & 1
            reg >>= 1
            if lsb:
                reg ^= 0xA001
    return reg


def test_check_values_from_the_reference():
    assert crc16_hj212(b"") == 0xFFFF
    assert crc16_hj212(b"\x00") == 0x4040
    assert crc16_hj212(b"123456789") == 0x2F80
    assert crc16_modbus(b"") == 0xFFFF
    assert crc16_modbus(b"\x00") == 0x40BF
    assert crc16_modbus(b"123456789") == 0x4B37


@given(st.binary(max_size=300))
def test_table_form_equals_the_standards_procedure(data):
    assert crc16_hj212(data) == bitwise_appendix_a(data)


@given(st.lists(st.binary(max_size=80), max_size=40))
def test_vectorised_crc_equals_the_plain_one(segments):
    assert crc16_many(segments).tolist() == [crc16_hj212(s) for s in segments]


def test_low_byte_is_always_one_of_eight_values():
    # only 8 bits of state: the result is a table entry, low byte in {00,01,40,41,80,81,C0,C1}
    for data in (b"a", b"QN=1", bytes(range(256)), b"x" * 1000):
        assert crc16_hj212(data) & 0xFF in {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


def _vectors():
    path = dataset("hj212-vectors") / "vectors.tsv"
    rows = [ln.split(b"\t") for ln in path.read_bytes().splitlines()]
    return [(r[0], r[1].decode(), r[2].decode("utf-8")) for r in rows]


def test_all_65_vectors_get_the_right_crc_verdict():
    rows = _vectors()
    assert len(rows) == 65
    assert sum(v == "crc_ok" for _, v, _ in rows) == 50
    for frame, verdict, note in rows:
        try:
            crc_ok = parse_packet(frame).crc_ok
        except PacketDecodeError as exc:
            assert exc.partial is not None, note
            crc_ok = exc.partial.crc_ok
        assert crc_ok == (verdict == "crc_ok"), note


def test_official_examples_verify():
    ex2017 = (b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;"
              b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80")
    ex2025 = (b"##0087QN=20240601085857223;ST=32;CN=1011;PW=123456;"
              b"MN=010000A8900016F000169DC0;Flag=9;CP=&&&&2200")
    assert crc16_hj212(ex2017[6:-4]) == 0x1C80
    p = parse_packet(ex2025)
    assert (p.version, p.cn, p.needs_reply, p.crc_ok) == ("2025", "1011", True, True)


@pytest.mark.parametrize("line", [56, 57, 58])
def test_modbus_swapped_captures_rejected_strict_accepted_lenient(line):
    frame, verdict, _ = _vectors()[line - 1]
    assert verdict == "crc_bad"
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(frame)
    assert err.value.field == "crc"
    p = parse_packet(frame, strict=False)
    assert p.crc_ok is False
    assert p.crc_variant == "modbus_swapped"
    assert any("modbus_swapped" in w for w in p.warnings)


def test_plain_modbus_variant_is_recognised():
    seg = b"QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=A;Flag=4;CP=&&&&"
    m = crc16_modbus(seg)
    assert crc_matches(seg, m, lenient=True) == "modbus"
    assert crc_matches(seg, ((m & 0xFF) << 8) | (m >> 8), lenient=True) == "modbus_swapped"
    assert crc_matches(seg, m, lenient=False) is None
    frame = b"##%04d" % len(seg) + seg + b"%04X" % m
    assert parse_packet(frame, strict=False).crc_variant == "modbus"
