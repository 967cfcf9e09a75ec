"""Batch 9014 replies (gwreply) are byte for byte the codec's build_data_reply."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from lantian.hj212 import build_data_reply, build_packet, parse_packet
from lantian.hj212.gwbatch import decode_batch, head_of
from lantian.hj212.gwreply import data_replies

NOW = dt.datetime(2024, 3, 1, 8, 4, 5)


def _upload(version: str, mn: str, pw: str, qn: str | None, **kw: object) -> bytes:
    flag = {"2005": None, "2017": 5, "2025": 9}[version]
    return build_packet(st="31", cn="2051", pw=pw, mn=mn, flag=flag, qn=qn,
                        data_time="20240301080000", values={"a21026": {"Avg": 1.5}},
                        version=version, **kw)  # type: ignore[arg-type]


def test_every_version_and_split_parts_match_the_codec():
    frames = [
        _upload("2017", "0" * 24, "123456", "20240301080000123"),
        _upload("2025", "A1B2" * 6, "pw", "20240301080000999"),
        _upload("2005", "88888880000001", "123456", None),
        _upload("2017", "X" * 14, "p", "20240301080000001", pnum=2, pno=1),
        _upload("2017", "口口", "p", "20240301080000001"),  # not ASCII: the codec writes it
    ]
    pkts = [parse_packet(f, strict=False) for f in frames]
    assert data_replies(pkts, NOW) == [bytes(build_data_reply(p, now=NOW)) for p in pkts]
    d = decode_batch(frames, strict=False)
    heads = [head_of(d, i) for i in range(len(frames))]
    assert data_replies(heads, NOW) == [bytes(build_data_reply(h, now=NOW)) for h in heads]
    assert data_replies([], NOW) == []


@settings(max_examples=60, deadline=None)
@given(mn=st.text("0123456789ABCDEFabc", min_size=1, max_size=24),
       pw=st.text("0123456789abcdef", min_size=0, max_size=9),
       qn=st.from_regex(r"\A[0-9]{17}\Z"), version=st.sampled_from(["2017", "2025"]))
def test_random_headers_match_the_codec(mn, pw, qn, version):
    pkt = parse_packet(_upload(version, mn, pw, qn), strict=False)
    assert data_replies([pkt, pkt], NOW) == [bytes(build_data_reply(pkt, now=NOW))] * 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_compiled_crc_of_many_segments_is_the_codec_crc(segments):
    """``scan.crc16_segments`` (the replies' CRCs since session 5) = ``crc16_hj212`` each."""
    from lantian.hj212.crc import crc16_hj212
    from lantian.hj212.scan import crc16_segments

    assert crc16_segments(segments).tolist() == [crc16_hj212(s) for s in segments]


def test_compiled_crc_known_value():
    from lantian.hj212.scan import crc16_segments

    # HJ 212-2017 Appendix A example segment, CRC 1C80 as printed in the standard's frame
    seg = (b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
           b"Flag=5;CP=&&RtdInterval=30&&")
    assert crc16_segments([seg, b""]).tolist() == [0x1C80, 0xFFFF]


def test_template_reply_without_qn_and_mixed_batches_keep_their_order():
    """A 2017/2025 head without QN is answered from the template, as the codec writes it;
    a batch mixing template and codec replies keeps the input order."""
    from lantian.hj212.gwbatch import Head

    no_qn = Head("0" * 24, "123456", "2051", None, "31", "5", "2017", "20240301080000", None)
    old = Head("88888880000001", "123456", "2051", None, "31", None, "2005",
               "20240301080000", None)
    new = Head("A1B2" * 6, "pw", "2051", "20240301080000999", "31", "9", "2025",
               "20240301080000", None)
    heads = [no_qn, old, new, no_qn]
    assert data_replies(heads, NOW) == [bytes(build_data_reply(h, now=NOW)) for h in heads]
    assert data_replies([no_qn], NOW)[0].startswith(b"##") and b"QN=" not in data_replies(
        [no_qn], NOW)[0]
