"""Differential test: the bulk decoder agrees with parse_packet packet by packet."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import dataset
from lantian.errors import PacketError
from lantian.hj212 import build_packet, parse_packet
from lantian.hj212.bulk import decode_lines
from test_hj212_roundtrip import packets


def plain(lines, strict):
    out = []
    for ln in lines:
        try:
            out.append(parse_packet(ln, strict=strict))
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
    from lantian.hj212.bulk import _fast
    from lantian.hj212.crc import crc16_hj212

    sim = (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()
    assert all(_fast(ln, crc16_hj212(ln[6:-4])) is not None for ln in sim)


@settings(max_examples=200, deadline=None)
@given(st.lists(packets(), min_size=1, max_size=8), st.booleans(), st.data())
def test_agrees_on_generated_packets(xs, strict, data):
    lines = [build_packet(**x) for x in xs]
    # also corrupt some: a flipped byte somewhere
    for i in range(len(lines)):
        if data.draw(st.booleans()):
            b = bytearray(lines[i])
            j = data.draw(st.integers(0, len(b) - 1))
            b[j] = data.draw(st.sampled_from(b"0;,=&-A#\xe4"))
            lines[i] = bytes(b)
    assert_same(decode_lines(lines, strict=strict), plain(lines, strict))
