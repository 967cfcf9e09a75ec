"""Framer (sticky/half packets, resync, limits), Reassembler, SM4 data area (2025)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import dataset
from lantian.errors import PacketError
from lantian.hj212 import FrameError, Framer, Reassembler, build_packet, parse_packet
from lantian.hj212.sm4 import EXAMPLE_KEY, decrypt_area, encrypt_area

A = (b"##0077QN=20160701105851914;ST=21;CN=9014;PW=123456;MN=DXCBZ000000005;"
     b"Flag=5;CP=&&&&71C0")


def feed_all(framer, chunks):
    out = []
    for c in chunks:
        out += framer.feed(c)
    return out


def test_sticky_and_half_packets_of_the_simulator_log():
    lines = (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()[:500]
    stream = b"".join(ln + b"\r\n" for ln in lines)
    rnd = random.Random(7)
    cuts = sorted(rnd.sample(range(1, len(stream)), 400))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert feed_all(Framer(), chunks) == lines
    assert feed_all(Framer(), [bytes([b]) for b in stream[:3000]]) == [
        ln for ln in lines if stream.find(ln + b"\r\n") + len(ln) + 2 <= 3000]


@pytest.mark.parametrize("sep", [b"", b"\r\n", b"\r\r\n", b"\n"])
def test_crlf_missing_or_doubled(sep):
    assert Framer().feed(A + sep + A + sep) == [A, A]


def test_garbage_is_reported_and_skipped():
    out = Framer().feed(b"\x00\xffjunk" + A + b"\r\nxyz" + A + b"\r\n")
    assert [type(x) for x in out] == [FrameError, bytes, FrameError, bytes]
    assert out[0].offset == 0 and out[0].skipped == 6
    assert (out[2].offset, out[2].skipped) == (6 + len(A), 5)  # "\r\nxyz"
    assert isinstance(out[0], PacketError)


def test_bad_length_field_resyncs_on_next_header():
    out = Framer().feed(b"##00x7garbage" + A)
    assert out[-1] == A
    assert any(isinstance(x, FrameError) and x.field == "frame" for x in out)


def test_declared_length_wrong_falls_back_to_line_end():
    longer = b"##0099" + A[6:]
    shorter = b"##0050" + A[6:]
    out = Framer().feed(longer + b"\r\n" + shorter + b"\r\n" + A + b"\r\n")
    assert out == [longer, shorter, A]
    with pytest.raises(PacketError) as err:  # the parser then names the length problem
        parse_packet(out[0])
    assert err.value.field == "length"


def test_oversize_declared_length_is_skipped_and_memory_bounded():
    f = Framer(max_frame=200)
    out = f.feed(b"##9999" + b"x" * 5000)
    assert all(isinstance(x, FrameError) for x in out)
    assert f.buffered <= 200
    assert f.feed(A + b"\r\n") == [A]


def test_frames_up_to_9999_accepted():
    values = {f"a{i:05d}": {"Rtd": 1.5} for i in range(600)}
    frame = build_packet(st="31", cn="2011", pw="123456", mn="88888880000001", values=values)
    assert 1024 < len(frame) - 12 <= 9999
    assert Framer().feed(frame) == [frame[:-2]]
    assert any("exceeds 1024" in w for w in parse_packet(frame).warnings)


def test_framer_fuzz_never_raises():
    rnd = random.Random(11)
    pieces = [A, b"##", b"\r\n", b"##0", b"##9999", b"#", b"\n", b"&&", b"CP=&&"]
    for _ in range(300):
        f = Framer(max_frame=400)
        for _ in range(30):
            data = rnd.choice(pieces) if rnd.random() < 0.5 else rnd.randbytes(rnd.randint(0, 40))
            for item in f.feed(data):
                assert isinstance(item, bytes | FrameError)
            assert f.buffered <= 400 + 40


# ------------------------------------------------------------------ Reassembler

def part(pno, pnum=3, **kw):
    return parse_packet(build_packet(
        st="31", cn="2051", pw="123456", mn="010000A8900016F000169DC0",
        qn=f"2024060108585722{pno}", data_time="20240601085800", pnum=pnum, pno=pno,
        values={f"a2102{pno}": {"Avg": float(pno), "Flag": "N"}}, **kw))


def test_reassembler_joins_parts_in_any_order():
    r = Reassembler()
    assert r.add(part(3), now=0) is None
    assert r.add(part(1), now=1) is None
    whole = r.add(part(2), now=2)
    assert whole is not None and len(r) == 0
    assert whole.values == {"a21021": {"Avg": 1.0, "Flag": "N"},
                            "a21022": {"Avg": 2.0, "Flag": "N"},
                            "a21023": {"Avg": 3.0, "Flag": "N"}}
    assert whole.pnum == "0003" and whole.pno is None
    assert whole.crc_ok and whole.raw.count(b"##") == 3
    assert [g[0][0] for g in whole.cp].count("DataTime") == 1


def test_reassembler_passes_whole_packets_and_bounds_memory():
    r = Reassembler(max_pending=2, timeout=10)
    single = parse_packet(build_packet(st="31", cn="2011", pw="1", mn="A"))
    assert r.add(single) is single
    for i in range(5):
        p = parse_packet(build_packet(st="31", cn="2051", pw="1", mn=f"M{i}", pnum=2, pno=1,
                                      data_time="20240601085800"))
        assert r.add(p, now=0) is None
    assert len(r) == 2 and len(r.dropped) == 3
    assert r.expire(now=11) and len(r) == 0


def test_reassembler_retransmitted_part_replaces_earlier():
    r = Reassembler()
    r.add(part(1, pnum=2), now=0)
    r.add(part(1, pnum=2), now=0)
    assert r.add(part(2, pnum=2), now=0) is not None


# ------------------------------------------------------------------ SM4 (HJ 212-2025)

def test_sm4_reference_vector():
    """GB/T 32907-2016 Appendix A example 1 (the cipher itself, via `cryptography`)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_area_round_trip_with_example_key():
    body = b"DataTime=20240601085800;a21026-Rtd=12.5,a21026-Flag=N"
    area = encrypt_area(body, EXAMPLE_KEY)
    assert area.startswith(b"{0x") and area.endswith(body[len(body) // 16 * 16:])
    assert decrypt_area(area, EXAMPLE_KEY) == body
    assert encrypt_area(b"short", EXAMPLE_KEY) == b"short"


def test_sm4_packet_round_trip_crc_over_plaintext():
    kw = dict(st="31", cn="2011", pw="123456", mn="010000A8900016F000169DC0",
              qn="20240601085857223", data_time="20240601085800",
              values={"a21026": {"Rtd": 12.5, "Flag": "N"}}, version="2025")
    plain = build_packet(**kw)
    enc = build_packet(**kw, sm4_key=EXAMPLE_KEY)
    assert b"{0x" in enc and enc[:6] == plain[:6] and enc[-6:] == plain[-6:]
    p = parse_packet(enc, sm4_key=EXAMPLE_KEY)
    assert p.encrypted and p.values == {"a21026": {"Rtd": 12.5, "Flag": "N"}}
    assert p.raw == enc[:-2]
    with pytest.raises(PacketError) as err:
        parse_packet(enc)
    assert "no key" in err.value.reason
    with pytest.raises(PacketError):
        parse_packet(enc, sm4_key=b"1" * 16)  # wrong key: garbage plaintext, CRC fails


# ------------------------------------------------------------------ property: framing


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from([b"\r\n", b"", b"\r\r\n", b"\n"])),
                min_size=1, max_size=12),
       st.lists(st.integers(1, 97), min_size=1, max_size=30))
def test_framer_recovers_every_frame_whatever_the_cuts(spec, cuts):
    frames = [build_packet(st="31", cn="2011", pw="123456", mn="88888880000001",
                           data_time="20240601085800",
                           values={f"a{k:05d}": {"Rtd": 1.5, "Flag": "N"} for k in range(n)})
              .rstrip(b"\r\n") for n, _ in spec]
    stream = b"".join(f + sep for f, (_, sep) in zip(frames, spec, strict=True))
    framer, out, pos, i = Framer(), [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        out += framer.feed(stream[pos:pos + step])
        pos += step
        i += 1
    out += framer.feed(b"")
    assert out == frames


def test_declared_length_too_long_without_crlf_cuts_at_next_frame():
    longer = b"##0099" + A[6:]
    assert Framer().feed(longer + A) == [longer, A]
    assert Framer().feed(longer + A + b"\r\n") == [longer, A]
    f = Framer()  # cut in the middle of the second frame
    assert f.feed(longer + A[:50]) == [longer]
    assert f.feed(A[50:]) == [A]
