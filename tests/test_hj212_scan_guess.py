"""The scanner's name guess (the name at the same item position in the frame before) never
changes a verdict or a value: every sequence of frames decodes as the parser decodes it.

Session 12 (issue 2): ``scan_frames`` compares an item's bytes with the name the previous
frame had at that position before hashing and looking the name up. The cases where a guess
must be refused: the guessed name is a prefix of the item's name (no ``=`` after it), the
item's name is a prefix of the guessed one, the frame ends inside the guess, the layout
changes, a repeated field (guessed the first time, refused by the repeat check).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import lantian.hj212.columnar as col_mod
from lantian.hj212 import build_packet
from test_hj212_bulk import assert_batch_same

MN = "010000A8900016F000169DC0"


def _frame(values=None, params=None):
    return build_packet(st="31", cn="2051", pw="123456", mn=MN, qn="20240601085857223",
                        data_time="20240601085800", values=values or {},
                        params=params or {})


def test_refused_guesses_decode_as_the_parser_does():
    lines = [
        _frame({"a21026": {"Avg": 1.5, "Flag": "N"}}),
        _frame({"a21026": {"AvgX": 1.5, "Flag": "N"}}),  # guess "a21026-Avg" is a prefix
        _frame({"a21026": {"Avg": 2.5, "Flag": "N"}}),  # guess "a21026-AvgX" is longer
        _frame({"a2102": {"Avg": 2.5}}),  # a shorter code at the same position
        _frame({"a21026": {"Flag": "N", "Avg": 3.5}}),  # layout changed
        _frame({"a21026": {"Avg": 4.5, "Flag": "N"}}),
        _frame({"a21026": {"Avg": 4.5, "Flag": "N"}, "a21002": {"Avg": 7}}),  # longer
        _frame({"a21026": {"Avg": 4.5}}),  # shorter: ends where the guess goes on
        _frame(params={"p1": "x"}),
        _frame(params={"p1": "x", "p2": "y"}),
    ]
    assert col_mod.decode_batch(lines).ok.all()
    assert_batch_same(lines, True)
    assert_batch_same(lines, False)


def test_a_repeated_field_is_refused_after_a_guess():
    good = _frame({"a21026": {"Avg": 1.5, "Min": 1.0}})
    seg = good.rstrip(b"\r\n")[6:-4].replace(b"a21026-Min=1.0", b"a21026-Avg=1.0")
    from lantian.hj212.crc import crc16_hj212

    repeated = b"##%04d" % len(seg) + seg + b"%04X" % crc16_hj212(seg)
    lines = [good, good, repeated, good]
    b = col_mod.decode_batch(lines)
    assert b.ok.tolist() == [True, True, False, True]
    assert_batch_same(lines, True)


NAMES = ["a21026-Avg", "a21026-Av", "a21026-AvgZ", "a21002-Avg", "a2102-Avg", "a21026-Flag",
         "p1", "p12"]


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5), min_size=2,
                max_size=8))
def test_any_sequence_of_layouts_decodes_as_the_parser_does(layouts):
    lines = []
    for names in layouts:
        values: dict[str, dict[str, object]] = {}
        params: dict[str, str] = {}
        for k, name in enumerate(names):
            code, _, suffix = name.partition("-")
            if not suffix:
                params[code] = str(k)
            else:
                values.setdefault(code, {})[suffix] = "N" if suffix == "Flag" else k + 0.5
        lines.append(_frame(values, params))
    assert_batch_same(lines, True)
