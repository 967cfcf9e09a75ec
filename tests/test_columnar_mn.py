"""Real MNs (14 characters, letters, other lengths) take the bulk decoders' fast paths.

The strict parser accepts any non-empty MN and only warns when it is neither 24 hex digits
(HJ 212-2017) nor 14 characters (HJ/T 212-2005). The fast paths of both bulk decoders must
take every MN of ASCII letters and digits (not fall back to the slow parser) and give the
parser's packets and warnings.
"""

from __future__ import annotations

import pytest

import lantian.hj212.bulk as bulk_mod
import lantian.hj212.columnar as col_mod
from lantian.hj212 import build_packet
from test_hj212_bulk import assert_batch_same, assert_same, plain

MNS = [
    "010000A8900016F000169DC0",  # 24 hex digits (2017): no warning
    "88888880000001",  # 14 digits (2005): no warning
    "ABCD1234efgh56",  # 14 letters and digits: no warning
    "010000a8900016f000169dc0",  # lower-case hex: warning
    "3301000001",  # 10 characters: warning
    "33010000010000Z",  # 15 characters with a letter: warning
    "X" * 40,  # long: warning (the text is cut at 30 characters)
]


def _lines() -> list[bytes]:
    return [
        build_packet(st="31", cn="2051", pw="123456", mn=mn, qn="20240601085857223",
                     data_time="20240601085800",
                     values={"a21026": {"Avg": 12.5, "Flag": "N"}, "a19001": {"Avg": 8.5}})
        for mn in MNS
    ]


def _no_slow(*args: object, **kwargs: object) -> None:
    raise AssertionError("a canonical frame fell back to the slow parser")


@pytest.mark.parametrize("strict", [True, False])
def test_columnar_fast_path_takes_any_alphanumeric_mn(strict, monkeypatch):
    lines = _lines()
    assert_batch_same(lines, strict)  # same as the parser (header, warnings, values)
    monkeypatch.setattr(col_mod, "parse_packet", _no_slow)
    b = col_mod.decode_batch(lines, strict=strict)
    assert b.ok.all()
    assert b.columns["mn"] == MNS
    warned = [any(w.startswith("MN ") for w in ws) for ws in b.warnings]
    assert warned == [False, False, False, True, True, True, True]
    assert b.warnings[6] == (f"MN {'X' * 30!r} is neither 24 hex digits (2017) nor 14 "
                             "characters (2005)",)


@pytest.mark.parametrize("strict", [True, False])
def test_line_decoder_fast_path_takes_any_alphanumeric_mn(strict, monkeypatch):
    lines = _lines()
    ref = plain(lines, strict)
    monkeypatch.setattr(bulk_mod, "parse_packet_full", _no_slow)
    got = bulk_mod.decode_lines(lines, strict=strict)
    assert_same(got, ref)
    assert [p.mn for p in got] == MNS
