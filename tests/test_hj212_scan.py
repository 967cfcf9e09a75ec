"""The compiled scanner (lantian.hj212.scan) agrees with the plain parser and Python's float.

* numbers: every text of the HJ 212-2017 §6.3.3 grammar (signs, leading zeros, many digits,
  many decimals) parses to exactly ``float(text)`` — in the scanner's exact path or through
  its ``float()`` fallback — and the decoded packets carry those floats;
* times: the scanner's ``YYYYMMDDhhmmss`` check is ``is_data_time``;
* CRC: segments of every length modulo 8 (the 8-byte steps and the tail) are accepted with
  the right CRC and sent to the parser with a wrong one;
* canonical frames take the compiled path (no parser call), everything else gets the
  parser's verdicts: repeated fields, Modbus CRC (lenient), GBK text, LF inside a frame,
  2005 / 2017 / 2025 headers, subpackets, new field names, frames of the shortest items.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lantian.hj212.columnar as col_mod
from lantian.hj212 import build_packet
from lantian.hj212.crc import crc16_hj212, crc16_modbus
from lantian.hj212.scan import _P10, FAST, SLOW, _is_data_time, _number
from lantian.hj212.times import is_data_time
from test_hj212_bulk import assert_batch_same

NUMBER = r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})"
MN = "010000A8900016F000169DC0"


def _frame(values=None, params=None, **kw):
    args = dict(st="31", cn="2051", pw="123456", mn=MN, qn="20240601085857223",
                data_time="20240601085800", values=values or {}, params=params or {})
    args.update(kw)
    return build_packet(**args)


def _no_slow(*args, **kwargs):
    raise AssertionError("a canonical frame fell back to the slow parser")


def _same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@settings(max_examples=400, deadline=None)
@given(st.from_regex(NUMBER, fullmatch=True))
def test_number_parse_is_python_float(text):
    buf = np.frombuffer(text.encode(), dtype=np.uint8)
    ok, value, exact, int_digits, decimals = _number(buf, 0, len(buf), _P10)
    assert ok
    if exact:  # the fast path: bit for bit float()
        assert _same_float(value, float(text)), text
    body = text.lstrip("+-")
    assert decimals == (len(body) - body.index(".") - 1 if "." in body else 0)
    assert int_digits == len(body.split(".")[0].lstrip("0") or "0")


def test_number_parse_worked_examples():
    # by hand: 0.1 = 1 / 10 (one rounding), 9007199254740993 = 2**53 + 1 is not exact in
    # the fast path (mantissa over 2**53) and must go to float(); so do 19 significant
    # digits, 1.0000000000000000 (mantissa 10**16: trailing zeros count) and more than 22
    # decimals (10**23 is not a double)
    cases = {"0.1": (0.1, True), "-0": (-0.0, True), "+.5": (0.5, True), "5.": (5.0, True),
             "0001.2500": (1.25, True), "9007199254740992": (2.0**53, True),
             "9007199254740993": (None, False), "1234567890123456789": (None, False),
             "0." + "0" * 21 + "1": (1e-22, True), "0." + "0" * 22 + "1": (None, False),
             "1." + "0" * 15: (1.0, True), "1." + "0" * 16: (None, False)}
    for text, (want, exact) in cases.items():
        buf = np.frombuffer(text.encode(), dtype=np.uint8)
        ok, value, is_exact, _, _ = _number(buf, 0, len(buf), _P10)
        assert ok and is_exact is exact, text
        if exact:
            assert _same_float(value, want), text
    for bad in ["", "+", ".", "-.", "1.2.3", "1e5", " 1", "1,0", "0x1"]:
        buf = np.frombuffer(bad.encode() or b"\0", dtype=np.uint8)
        assert not _number(buf, 0, len(bad), _P10)[0], bad


@settings(max_examples=150, deadline=None)
@given(st.lists(st.from_regex(NUMBER, fullmatch=True), min_size=1, max_size=12))
def test_decoded_values_are_python_floats(texts):
    codes = ["a21026", "a21002", "a21005", "a34013", "a19001", "a01012"]
    values = {}
    for k, text in enumerate(texts):
        values.setdefault(codes[k % len(codes)], {})[["Avg", "Min", "Max"][k // 6 % 3]
                                                    ] = text
    line = _frame(values)
    original = col_mod.parse_packet
    col_mod.parse_packet = _no_slow  # every grammar number stays on the compiled path
    try:
        b = col_mod.decode_batch([line])
    finally:
        col_mod.parse_packet = original
    assert b.ok.tolist() == [True]
    got = {(str(c), str(s)): float(v) for c, s, v in zip(b.item_code, b.item_suffix,
                                                         b.item_value, strict=True)}
    for code, fields in values.items():
        for suffix, text in fields.items():
            assert _same_float(got[(code, suffix)], float(text)), text
    assert_batch_same([line], True)  # and the digit-count warnings are the parser's


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(st.sampled_from("0123456789"), min_size=14, max_size=14),
                 st.builds(lambda y, m, d, h, mi, s: f"{y:04d}{m:02d}{d:02d}{h:02d}{mi:02d}{s:02d}",
                           st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
                           st.integers(0, 24), st.integers(0, 60), st.integers(0, 60)),
                 st.text(st.sampled_from("0123456789x"), max_size=16)))
def test_data_time_check_is_is_data_time(text):
    raw = text.encode()
    buf = np.frombuffer(raw or b"\0", dtype=np.uint8)
    assert _is_data_time(buf, 0, len(raw)) is is_data_time(text)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.booleans())
def test_crc_over_every_length_modulo_8(pad, corrupt):
    line = _frame({"a21026": {"Avg": "1" * (pad % 20 + 1), "Flag": "N" * (pad // 20 + 1)}})
    frame = line.rstrip(b"\r\n")
    if corrupt:
        crc = int(frame[-4:], 16) ^ 0x0101
        frame = frame[:-4] + b"%04X" % crc
    d = col_mod.decode_batch([frame])
    assert bool(d.ok[0]) is not corrupt
    assert crc16_hj212(frame[6:-4]) == int(line.rstrip()[-4:], 16)
    assert_batch_same([frame], True)


def test_canonical_frames_take_the_compiled_path(monkeypatch):
    from lantian.hj212.columnar_fast import fast_pass

    lines = [_frame({"a21026": {"Avg": 12.5, "Flag": "N"}}),
             _frame({"a21026": {"Rtd": "3"}}, version="2005", qn=None, flag=None),
             _frame({"a21026": {"Rtd": "3"}}, version="2025"),
             _frame({"a21026": {"Avg": "1"}}, pnum=3, pno=2),
             _frame({"a21026": {"Avg": "1"}}, params={"SystemTime": "20240601085800"})]
    frames = [ln.rstrip(b"\r\n") for ln in lines]
    assert fast_pass(frames).status.tolist() == [FAST] * 5
    monkeypatch.setattr(col_mod, "parse_packet", _no_slow)
    b = col_mod.decode_batch(lines)
    assert b.columns["version"] == ["2017", "2005", "2025", "2017", "2017"]
    assert b.columns["pnum"][3] == "0003" and b.columns["pno"][3] == "0002"  # as sent
    assert b.params == {4: {"SystemTime": "20240601085800"}}
    monkeypatch.undo()
    assert_batch_same(lines, True)


def _modbus(line: bytes) -> bytes:
    frame = line.rstrip(b"\r\n")
    m = crc16_modbus(frame[6:-4])
    return frame[:-4] + b"%04X" % ((m & 0xFF) << 8 | m >> 8)


@pytest.mark.parametrize("strict", [True, False])
def test_off_canonical_frames_get_the_parsers_verdicts(strict):
    from lantian.hj212.columnar_fast import fast_pass

    base = _frame({"a21026": {"Avg": 1.5}})
    repeated = base.replace(b"a21026-Avg=1.5", b"a21026-Avg=1.5,a21026-Avg=2.5")
    lines = [
        _modbus(base),  # lenient: accepted, reported as the Modbus variant
        _frame({"a21026": {"Avg": 1.5}, "i11001": {"Info": "炉膛温度"}}),  # UTF-8 text
        _frame({"i11001": {"Info": "炉膛温度"}}, encoding="gbk"),  # GBK text
        _fix(base.replace(b"1.5", b"1.\n5")),  # LF inside
        _frame({"a21026": {"Avg": 1.5}}, rf=1, version="2025"),  # RF: not canonical
        _fix(base.replace(b"20240601085800", b"20230229000000")),  # not a real date
        _fix(base.replace(b"1.5", b"1.5/2")),  # log text
        _fix(base.replace(b"1.5", b"1e5")),  # not the number grammar
        _fix(base.replace(b"a21026-Avg", b"a21026-Av!g")),  # not a field name
        base[:-8] + b"x" + base[-8:],  # CRC and length now wrong
    ]
    lines.append(_fix(repeated))
    frames = [ln.rstrip(b"\r\n") for ln in lines]
    assert fast_pass(frames).status.tolist() == [SLOW] * len(lines)
    b = col_mod.decode_batch(lines, strict=strict)
    assert bool(b.ok[0]) is not strict and bool(b.ok[-1]) is not strict  # Modbus, repeat
    text_numbers = [3, 6, 7]  # lenient keeps a non-number's text: item_text has it, value NaN
    if not strict:
        for i, want in zip(text_numbers, ["1.\n5", "1.5/2", "1e5"], strict=True):
            j = np.flatnonzero(b.item_packet == i)
            assert b.item_text[j].tolist() == [want] and np.isnan(b.item_value[j]).all()
        lines = [ln for i, ln in enumerate(lines) if i not in text_numbers]
    assert_batch_same(lines, strict)


def _fix(line: bytes) -> bytes:
    """Rewrite the length and CRC of an edited frame."""
    frame = line.rstrip(b"\r\n")
    seg = frame[6:-4]
    return b"##%04d" % len(seg) + seg + b"%04X" % crc16_hj212(seg)


def test_repeated_field_is_rejected_as_the_parser_does():
    line = _fix(_frame({"a21026": {"Avg": 1.5}}).replace(b"a21026-Avg=1.5",
                                                          b"a21026-Avg=1.5;a21026-Avg=1.5"))
    b = col_mod.decode_batch([line])
    assert b.ok.tolist() == [False] and "a21026-Avg" in (b.error[0] or "")
    assert_batch_same([line], True)


def test_new_names_and_many_small_items():
    # names this process has not seen yet are registered and then take the compiled path;
    # 200 shortest items ("pN=1;") fit the room the scan sets aside (bytes / 3)
    fresh = {f"w{k:05d}": {"Avg": k} for k in range(7)}
    many = {f"p{k}": "1" for k in range(200)}
    lines = [_frame(fresh), _fix(_frame().replace(
        b"DataTime=20240601085800", b"DataTime=20240601085800;" + ";".join(
            f"{k}={v}" for k, v in many.items()).encode()))]
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    lines.append(_fix(_frame().replace(b"DataTime=20240601085800", b"DataTime=20240601085800;"
                                       + ";".join(f"{c}=" for c in letters).encode())))
    b = col_mod.decode_batch(lines)
    assert b.ok.tolist() == [True, True, True]
    assert b.values_of(0) == {code: {"Avg": float(k)} for k, code in enumerate(fresh)}
    assert b.params[1] == many
    assert b.params[2] == dict.fromkeys(letters, "")
    assert_batch_same(lines, True)


def test_threads_decode_alike():
    lines = [_frame({"a21026": {"Avg": k / 8, "Flag": "N"}}) for k in range(3000)]
    want = col_mod.decode_batch(lines)
    got = []
    threads = [threading.Thread(target=lambda: got.append(col_mod.decode_batch(lines)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g in got:
        assert g.ok.tolist() == want.ok.tolist()
        assert np.array_equal(g.item_value, want.item_value, equal_nan=True)
        assert g.item_code.tolist() == want.item_code.tolist()
