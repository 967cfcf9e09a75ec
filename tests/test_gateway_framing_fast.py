"""The connection's one-frame fast path cuts exactly what the codec's Framer cuts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lantian.hj212.builder import build_packet
from lantian.hj212.framer import Framer
from lantian.hj212.gwconn import whole_frame

FRAME = build_packet(st="31", cn="2051", pw="123456", mn="0" * 24, flag=5,
                     qn="20240101000000000", data_time="20240101000000",
                     values={"a21026": {"Avg": 1.5, "Flag": "N"}})


def _framer(data: bytes) -> list[object]:
    return list(Framer().feed(data))


def test_a_whole_frame_with_crlf_is_taken_as_the_framer_takes_it():
    assert FRAME.endswith(b"\r\n")
    got = whole_frame(FRAME, 10_016)
    assert got == FRAME[:-2]
    assert _framer(FRAME) == [got]


def test_reads_that_are_not_exactly_one_frame_go_to_the_framer():
    body = FRAME[:-2]
    cases = [
        body,  # no CRLF
        FRAME + FRAME,  # two frames in one read
        FRAME[:-10] + b"\r\n",  # truncated: length field no longer matches
        b"xx" + FRAME,  # garbage before
        FRAME[:2] + b"00A1" + FRAME[6:],  # length field not digits
        FRAME[:30] + b"\n" + FRAME[31:],  # line feed inside
        FRAME[:30] + b"##" + FRAME[32:],  # a second frame start inside
        b"##0000\r\n",  # shorter than a frame
    ]
    for data in cases:
        assert whole_frame(data, 10_016) is None, data


def test_oversized_frame_is_left_to_the_framer():
    assert whole_frame(FRAME, len(FRAME) - 3) is None
    assert whole_frame(FRAME, len(FRAME) - 2) == FRAME[:-2]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(FRAME) - 1), st.binary(min_size=0, max_size=3))
def test_mutated_reads_agree_with_the_framer(pos, ins):
    """Whenever the fast path takes a read, the framer yields that one frame and nothing else."""
    data = FRAME[:pos] + ins + FRAME[pos + len(ins):]
    got = whole_frame(data, 10_016)
    if got is not None:
        assert _framer(data) == [got]
