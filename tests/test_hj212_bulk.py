"""Differential test: the bulk decoder agrees with parse_packet packet by packet."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import dataset
from lantian.errors import PacketError
from lantian.hj212 import build_packet, parse_packet
from lantian.hj212.bulk import decode_lines
from lantian.hj212.parser import parse_packet_full
from test_hj212_roundtrip import packets


def plain(lines, strict, parse=parse_packet_full):
    """The reference: the full parser, line by line."""
    out = []
    for ln in lines:
        try:
            out.append(parse(ln, strict=strict))
        except PacketError as exc:
            out.append(exc)
    return out


def assert_same(bulk, ref):
    assert len(bulk) == len(ref)
    for b, r in zip(bulk, ref, strict=True):
        if isinstance(r, PacketError):
            assert isinstance(b, PacketError)
            assert b.issues == r.issues
            assert getattr(b, "partial", None) == getattr(r, "partial", None)
        else:
            assert b == r


@pytest.mark.parametrize("strict", [True, False])
def test_agrees_on_every_shared_packet(strict):
    sim = (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()
    vec = [ln.split(b"\t")[0] for ln in
           (dataset("hj212-vectors") / "vectors.tsv").read_bytes().splitlines()]
    lines = sim + vec + [ln + b"\r\n" for ln in vec[:10]] + [b"", b"##", b"junk"]
    assert_same(decode_lines(lines, strict=strict), plain(lines, strict))


def test_bulk_takes_the_fast_path_on_the_simulator_log():
    from lantian.hj212.crc import crc16_hj212
    from lantian.hj212.fastpath import decode_canonical

    sim = (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()
    assert all(decode_canonical(ln, crc16_hj212(ln[6:-4])) is not None for ln in sim)


@pytest.mark.parametrize("strict", [True, False])
def test_parse_packet_fast_path_equals_full_parser_on_shared_packets(strict):
    sim = (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()
    vec = [ln.split(b"\t")[0] for ln in
           (dataset("hj212-vectors") / "vectors.tsv").read_bytes().splitlines()]
    lines = sim + vec + [ln + b"\r\n" for ln in vec]
    assert_same(plain(lines, strict, parse_packet), plain(lines, strict))


@settings(max_examples=120, deadline=None)
@given(st.lists(packets(), min_size=1, max_size=8), st.booleans(), st.data())
def test_agrees_on_generated_packets(xs, strict, data):
    """decode_lines and parse_packet (both with the fast path) equal the full parser."""
    lines = [build_packet(**x) for x in xs]
    # also corrupt some: a flipped byte somewhere
    for i in range(len(lines)):
        if data.draw(st.booleans()):
            b = bytearray(lines[i])
            j = data.draw(st.integers(0, len(b) - 1))
            b[j] = data.draw(st.sampled_from(b"0;,=&-A#\xe4"))
            lines[i] = bytes(b)
    assert_same(decode_lines(lines, strict=strict), plain(lines, strict))
    assert_same(plain(lines, strict, parse_packet), plain(lines, strict))


# ------------------------------------------------------------------ columnar decoder

def assert_batch_same(lines, strict):
    from lantian.hj212.columnar import decode_batch

    batch = decode_batch(lines, strict=strict)
    ref = plain(lines, strict)
    assert len(batch) == len(ref)
    for i, r in enumerate(ref):
        p = r if not isinstance(r, PacketError) else getattr(r, "partial", None)
        assert bool(batch.ok[i]) is (not isinstance(r, PacketError)), i
        assert batch.error[i] == (str(r) if isinstance(r, PacketError) else None)
        if p is None:
            continue
        assert bool(batch.crc_ok[i]) is p.crc_ok
        for k in ("qn", "st", "cn", "pw", "mn", "flag", "pnum", "pno", "rf", "data_time",
                  "version"):
            assert batch.columns[k][i] == getattr(p, k), (i, k)
        assert batch.warnings[i] == p.warnings, i
        assert batch.params.get(i, {}) == p.params, i
        if not isinstance(r, PacketError):
            assert batch.values_of(i) == p.values, i


@pytest.mark.parametrize("strict", [True, False])
def test_columnar_agrees_on_every_shared_packet(strict):
    sim = (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()
    vec = [ln.split(b"\t")[0] for ln in
           (dataset("hj212-vectors") / "vectors.tsv").read_bytes().splitlines()]
    crafted = [build_packet(st="31", cn="2011", pw="123456", mn="88888880000001",
                            qn="20240601085857223", data_time=dt, values={"a21026": {"Rtd": v}})
               for v, dt in [("00123.456", "20240601085800"), ("-0012", "20240229000000"),
                             ("+.5", "20230229000000"), ("123456", "20240631000000"),
                             ("0.12345", "20241301000000"), ("1.", "00000101000000")]]
    assert_batch_same(sim + vec + crafted + [b"", b"##", b"junk"], strict)


def test_columnar_value_table():
    from lantian.hj212.columnar import decode_batch

    lines = [build_packet(st="31", cn="2051", pw="123456", mn="010000A8900016F000169DC0",
                          qn="20240601085857223", data_time="20240601085800",
                          values={"a21026": {"Avg": 12.25, "Flag": "N"}, "a19001": {"Avg": 8}}),
             b"junk"]
    b = decode_batch(lines)
    assert b.ok.tolist() == [True, False]
    assert b.item_packet.tolist() == [0, 0, 0]
    assert b.item_code.tolist() == ["a21026", "a21026", "a19001"]
    assert b.item_suffix.tolist() == ["Avg", "Flag", "Avg"]
    assert b.item_text.tolist() == ["12.25", "N", "8"]
    v = b.item_value.tolist()
    assert v[0] == 12.25 and v[2] == 8.0 and v[1] != v[1]  # NaN for the flag


@settings(max_examples=120, deadline=None)
@given(st.lists(packets(), min_size=1, max_size=8), st.booleans(), st.data())
def test_columnar_agrees_on_generated_packets(xs, strict, data):
    lines = [build_packet(**x) for x in xs]
    for i in range(len(lines)):
        if data.draw(st.booleans()):
            b = bytearray(lines[i])
            j = data.draw(st.integers(0, len(b) - 1))
            b[j] = data.draw(st.sampled_from(b"0;,=&-A#.+\xe4"))
            lines[i] = bytes(b)
    assert_batch_same(lines, strict)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60),
                          st.binary(max_size=40).map(lambda b: b"##0010" + b + b"&&FFFF"),
                          packets().map(lambda x: build_packet(**x))), max_size=10),
       st.booleans())
def test_both_bulk_decoders_agree_on_garbage_mixed_with_frames(lines, strict):
    ref = plain(lines, strict)
    assert_same(decode_lines(lines, strict=strict), ref)
    assert_batch_same(lines, strict)


def test_empty_and_all_garbage_inputs():
    from lantian.hj212.columnar import decode_batch

    assert decode_lines([]) == []
    assert len(decode_batch([])) == 0
    b = decode_batch([b"junk"] * 5000)  # more than one chunk
    assert len(b) == 5000 and not b.ok.any() and len(b.item_packet) == 0
    assert b.error[4999] == "byte 0 field 'header': frame does not start with '##'"
