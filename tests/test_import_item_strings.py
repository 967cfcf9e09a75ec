"""The import's decoder gives item code, suffix and text as ids, not a string per item.

Session 12 (issue 2): ``decode_batch(..., strings=False)`` (``decode_columns``, the import's
decoder) builds no object array of a Python string per item (≈ 440,000 items in an 8-MB
block): ``item_code``, ``item_suffix`` and ``item_text`` are
:class:`~lantian.hj212.columnar.ItemStrings` over the name ids and text ids, and the store
takes the long frame's code, field and text columns from the few distinct strings in Arrow.
The strings, the frames and the verdicts must be exactly those of the string path, across
the decoder's chunks and for frames the compiled pass leaves to the parser.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lantian.hj212.builder import build_packet
from lantian.hj212.columnar import CHUNK, ItemStrings, decode_batch, decode_columns
from lantian.store.blocks import decoded_batch
from lantian.store.prepared import prepare_batch

FLAGS = ("N", "D", "M", "C")


def _lines(n: int) -> list[bytes]:
    """Minute packets of 5 loggers; every 97th has non-ASCII text (parser path), every
    89th an unknown code (its values go to value_long)."""
    out = []
    for i in range(n):
        values: dict[str, dict[str, object]] = {
            "a34013": {"Avg": 5 + i % 7, "Flag": FLAGS[i % 4]},
            "a21026": {"Avg": 18.5, "Min": 16.1, "Max": 20.2, "Flag": FLAGS[(i // 3) % 4]},
        }
        if i % 97 == 5:
            values["a21026"]["Info"] = "校准中"
        if i % 89 == 7:
            values["x99999"] = {"Avg": 1.0 + i, "Flag": "N"}
        minute = i // 5
        out.append(build_packet(
            st="31", cn="2051", pw="123456", mn=f"0100000000000000000000{i % 5:02d}",
            qn=f"20240101{minute // 60 % 24:02d}{minute % 60:02d}00{i % 1000:03d}",
            data_time=f"20240101{minute // 60 % 24:02d}{minute % 60:02d}00",
            values=values).rstrip(b"\r\n"))
    return out


@pytest.mark.parametrize("n", [60, CHUNK + 700])  # one chunk, two chunks
def test_ids_give_the_strings_of_the_string_path(n):
    lines = _lines(n)
    a = decode_batch(lines, number_text=False, digit_warnings=False, text_ids=True,
                     strings=False)
    b = decode_batch(lines, number_text=False, digit_warnings=False, text_ids=True)
    for name in ("item_code", "item_suffix", "item_text"):
        assert isinstance(getattr(a, name), ItemStrings), name
        assert isinstance(getattr(b, name), np.ndarray), name
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
    assert "Info" in a.item_suffix.tolist() and "x99999" in a.item_code.tolist()
    assert "校准中" in a.item_text.tolist()  # a parser frame's text
    np.testing.assert_array_equal(a.item_packet, b.item_packet)
    np.testing.assert_array_equal(a.item_value, b.item_value)
    np.testing.assert_array_equal(a.item_name, b.item_name)
    assert a.values_of(5) == b.values_of(5)


def test_item_strings_index_like_the_object_array():
    table = np.array(["N", "D", None, "C"], dtype=object)
    ids = np.array([0, 1, 1, -1, 2, 3], dtype=np.int64)  # −1: None
    s = ItemStrings(table, ids)
    full = np.array(["N", "D", "D", None, None, "C"], dtype=object)
    assert len(s) == 6
    assert s[1] == "D" and s[3] is None
    assert s[1:4].tolist() == full[1:4].tolist()
    mask = np.array([True, False, True, True, False, False])
    assert s[mask].tolist() == full[mask].tolist()
    assert s[np.array([5, 0])].tolist() == ["C", "N"]
    assert np.asarray(s).tolist() == full.tolist() == list(s) == s.tolist()
    assert s == ItemStrings(np.array(["N", "D", None, "C", "X"], dtype=object), ids)
    assert s != ItemStrings(table, ids[::-1])


def test_strings_false_needs_text_ids():
    with pytest.raises(ValueError, match="text_ids"):
        decode_batch(_lines(3), strings=False)


def test_frames_equal_those_of_object_arrays():
    lines = _lines(CHUNK + 700)
    numbers = range(1, 1 + len(lines))
    cb, _ = decoded_batch(decode_columns, numbers, lines, "f.txt", None)
    assert isinstance(cb.item_code, ItemStrings)
    # the string path of earlier sessions: object arrays, no ids (factorized from strings)
    old = dataclasses.replace(
        cb, item_code=np.asarray(cb.item_code), item_suffix=np.asarray(cb.item_suffix),
        item_text=np.asarray(cb.item_text), item_text_id=None, text_table=None,
        item_code_id=None, item_suffix_id=None, code_table=None, suffix_table=None)
    a = prepare_batch(cb, with_raw=True)
    b = prepare_batch(old, with_raw=True)
    assert a.verdict == b.verdict
    assert set(a.wide) == set(b.wide) == {"flue_minute"}
    # column order follows the code ids (this process's name registry, or the order of
    # appearance without ids); rows are inserted BY NAME
    cols = sorted(a.wide["flue_minute"].column_names)
    assert cols == sorted(b.wide["flue_minute"].column_names)
    assert a.wide["flue_minute"].select(cols).equals(b.wide["flue_minute"].select(cols))
    assert a.long is not None and a.long.equals(b.long)
    long = a.long.to_pydict()
    assert "x99999" in long["code"] and "Info" in long["field"] and "校准中" in long["text"]
    assert any(t is None for t in long["text"]) and any(v is None for v in long["num"])
    for col in a.journal.column_names:
        if col != "received_at":  # "now" when the batch has no receive time
            assert a.journal.column(col).equals(b.journal.column(col)), col
