"""The import fast path's shortcuts keep the parser's results (engineer "import-perf").

* numbers of the columnar decoder are parsed by Arrow's string→float64 cast: each must be
  the float the parser (Python's ``float``) gives for the same text, sign, leading dot,
  trailing dot, leading zeros and long digit strings included;
* ``lantian.hj212.columnar.column_decoder`` (used by the CLI, the API job and the demo
  loader) gives the ColumnBatch fields of :func:`decode_batch`.
"""

from __future__ import annotations

import math

import numpy as np

from lantian.hj212 import build_packet, parse_packet
from lantian.hj212.columnar import column_decoder, decode_batch

# number text as a logger may send it (HJ 212-2017 6.3.3: digits, one '.', optional sign)
TEXTS = ["+5", "-0", ".5", "5.", "-.5", "0001.2500", "12345678901234567890", "0.1",
         "9007199254740993", "1.00000000000000011102230246251565404236316680908203125",
         "18.40", "-273.15"]


def _lines() -> list[bytes]:
    return [
        build_packet(st="31", cn="2051", pw="123456", mn="0100000000000000000000AB",
                     data_time=f"20240101{k:02d}0000", qn=f"20240101{k:02d}0000000",
                     values={"a01012": {"Avg": text, "Flag": "N"}})
        for k, text in enumerate(TEXTS)
    ]


def test_numbers_equal_python_float() -> None:
    lines = _lines()
    d = decode_batch(lines)
    assert d.ok.all(), d.error
    avg = d.item_suffix == "Avg"
    got = d.item_value[avg]
    want = [float(t) for t in TEXTS]  # hand check: the text as sent, through float()
    assert [str(x) for x in d.item_text[avg]] == TEXTS
    for g, w in zip(got.tolist(), want, strict=True):
        assert g == w and math.copysign(1, g) == math.copysign(1, w)
    # and equal to the packet parser's values, packet by packet
    for i, line in enumerate(lines):
        assert parse_packet(line).values["a01012"]["Avg"] == got[i]
    # text fields stay NaN in the number column
    assert np.isnan(d.item_value[d.item_suffix == "Flag"]).all()


def test_column_decoder_fields() -> None:
    lines = [*_lines(), b"##0001garbage\r\n"]
    d = decode_batch(lines)
    parts = column_decoder(True)(lines)
    assert parts["ok"].tolist() == d.ok.tolist() == [True] * len(TEXTS) + [False]
    assert parts["error"] == d.error and parts["error"][-1] is not None
    for key in ("mn", "st", "cn", "qn", "data_time", "version"):
        assert parts[key] == d.columns[key]
    assert parts["item_row"].tolist() == d.item_packet.tolist()
    assert parts["item_code"].tolist() == d.item_code.tolist()
    assert parts["item_suffix"].tolist() == d.item_suffix.tolist()
    assert np.array_equal(parts["item_num"], d.item_value, equal_nan=True)
    # text fields keep their text; numbers need none in the store (item_num holds them)
    is_text = np.isnan(d.item_value)
    assert parts["item_text"][is_text].tolist() == d.item_text[is_text].tolist() == ["N"] * 12
    assert set(parts["item_text"][~is_text].tolist()) == {None}
    # integer ids name the same code and suffix as the strings
    assert parts["code_table"][parts["item_code_id"]].tolist() == d.item_code.tolist()
    assert parts["suffix_table"][parts["item_suffix_id"]].tolist() == d.item_suffix.tolist()
    # items are in packet order (the fast path is not re-sorted)
    assert (np.diff(parts["item_row"]) >= 0).all()


# a21026 is N5.2 and a34013 N4.0 in the code table: texts at, over and just under the limits,
# with signs, leading zeros and leading/trailing dots (session 3: digit counts are looked at
# closely only for values whose text is long enough to exceed the format)
DIGIT_TEXTS = ["12345.12", "123456", "+12345", "-12345.1", "+123456", "00012345.1", "-0012.123",
               "12.123", ".123", "123.", "1.", "+.12", "99999", "0", "-000000.1"]


def _digit_lines() -> list[bytes]:
    return [
        build_packet(st="31", cn="2051", pw="123456", mn="0100000000000000000000AB",
                     data_time=f"2024010100{k:02d}00", qn=f"2024010100{k:02d}00000", values={
                         "a21026": {"Avg": text, "Flag": "N"}, "a34013": {"Avg": text}})
        for k, text in enumerate(DIGIT_TEXTS)
    ]


def test_digit_count_warnings_equal_the_parsers() -> None:
    lines = _digit_lines()
    d = decode_batch(lines)
    want = [parse_packet(ln).warnings for ln in lines]
    assert [tuple(w) for w in d.warnings] == [tuple(w) for w in want]
    # worked by hand: "12345.12" fits a21026 (N5.2) but not a34013 (N4.0)
    assert any("a34013-Avg=12345.12" in w for w in d.warnings[0])
    assert not any("a21026" in w for w in d.warnings[0])
    assert any("a21026-Avg=123456" in w for w in d.warnings[1])  # six integer digits
    assert not any("a21026" in w for w in d.warnings[5])  # 00012345.1: leading zeros
    assert d.warnings[13] == ()  # "0"


def test_digit_warnings_off_changes_nothing_else() -> None:
    lines = _digit_lines()
    on, off = decode_batch(lines), decode_batch(lines, digit_warnings=False)
    assert any(on.warnings) and not any(off.warnings)
    assert on.ok.tolist() == off.ok.tolist() == [True] * len(lines)
    assert np.array_equal(on.item_value, off.item_value, equal_nan=True)
    assert on.item_text.tolist() == off.item_text.tolist()
