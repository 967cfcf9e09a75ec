"""The import's decoder gives item texts as ids, and the store takes text columns by them.

Session 11 (issue 2): ``decode_columns`` numbers each item's text in ``text_table``
(``item_text_id``, −1 for None) and the wide frames' text columns (the 11 Flag columns of
a minute packet) are taken from those few distinct texts in Arrow instead of converting a
Python string per value; the journal's ``source`` column is built by Arrow's kernels. The
frames, verdicts and the rows stored must be exactly those of the string path, also for
frames the compiled pass leaves to the parser and across the decoder's chunks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from lantian.hj212.builder import build_packet
from lantian.hj212.columnar import CHUNK, decode_batch, decode_columns
from lantian.store.blocks import decoded_batch
from lantian.store.prepared import prepare_batch

FLAGS = ("N", "D", "M", "C", "F", "T")


def _lines(n: int) -> list[bytes]:
    """Minute packets of 7 loggers with varied Flags; every 97th has non-ASCII text
    (left by the compiled pass to the parser), every 89th a flag the compiled pass
    reads but of an unknown code (goes to value_long)."""
    out = []
    for i in range(n):
        values: dict[str, dict[str, object]] = {
            "a34013": {"Avg": 5 + i % 7, "Flag": FLAGS[i % 6]},
            "a21026": {"Avg": 18.5, "Min": 16.1, "Max": 20.2, "Flag": FLAGS[(i // 3) % 6]},
            "a19001": {"Avg": 9.9, "Flag": "N"},
        }
        if i % 97 == 5:
            values["a21026"]["Info"] = "校准中"
        if i % 89 == 7:
            values["x99999"] = {"Avg": 1.0, "Flag": "N"}
        minute = i // 7
        out.append(build_packet(
            st="31", cn="2051", pw="123456", mn=f"0100000000000000000000{i % 7:02d}",
            qn=f"20240101{minute // 60 % 24:02d}{minute % 60:02d}00{i % 1000:03d}",
            data_time=f"20240101{minute // 60 % 24:02d}{minute % 60:02d}00",
            values=values).rstrip(b"\r\n"))
    return out


def _without_ids(cb):
    return dataclasses.replace(cb, item_text_id=None, text_table=None,
                               source=list(cb.source.to_pylist()))


def test_text_ids_name_every_item_text_across_chunks_and_parser_frames():
    lines = _lines(CHUNK + 700)  # two chunks
    d = decode_columns(lines)
    ids, table = d["item_text_id"], d["text_table"]
    assert ids is not None and table is not None
    assert len(ids) == len(d["item_text"]) > 0
    assert ids.min() >= 0
    got = table[ids].tolist()
    assert got == list(d["item_text"])
    assert "校准中" in got  # a parser frame's text is numbered too
    assert None in got  # numbers' texts (not kept) are None
    assert len(table) < len(ids) // 10  # the distinct texts only, not one per item
    assert not any(str(t).startswith("2024") for t in table)  # no header text (QN, DataTime)


def test_frames_and_stored_rows_equal_the_string_path():
    lines = _lines(CHUNK + 700)
    numbers = range(11, 11 + len(lines))
    cb, _ = decoded_batch(decode_columns, numbers, lines, "f.txt", None)
    assert isinstance(cb.source, pa.Array)
    assert cb.source.to_pylist() == [f"file:f.txt:{n}" for n in numbers]
    a = prepare_batch(cb, with_raw=True)
    b = prepare_batch(_without_ids(cb), with_raw=True)
    assert a.verdict == b.verdict
    assert set(a.wide) == set(b.wide) == {"flue_minute"}
    for t in a.wide:
        assert a.wide[t].equals(b.wide[t]), t
    assert a.long is not None and a.long.equals(b.long)
    for col in a.journal.column_names:
        if col != "received_at":  # "now" when the batch has no receive time
            assert a.journal.column(col).equals(b.journal.column(col)), col
    flags = a.wide["flue_minute"].column("so2_flag").to_pylist()
    assert set(flags) == set(FLAGS)


def test_a_none_text_id_is_null():
    lines = _lines(40)
    cb, _ = decoded_batch(decode_columns, range(1, 41), lines, "f.txt", None)
    ids = cb.item_text_id.copy()
    flag_items = np.flatnonzero(np.equal(cb.item_text, "N"))
    ids[flag_items[0]] = -1
    text = np.array(cb.item_text, dtype=object)
    text[flag_items[0]] = None
    a = prepare_batch(dataclasses.replace(cb, item_text_id=ids, item_text=text))
    b = prepare_batch(dataclasses.replace(_without_ids(cb), item_text=text))
    assert a.wide["flue_minute"].equals(b.wide["flue_minute"])
    assert a.wide["flue_minute"].to_pandas().isna().to_numpy().sum() >= 1


def test_text_ids_not_selected_with_the_items_are_refused():
    lines = _lines(20)
    cb, _ = decoded_batch(decode_columns, range(1, 21), lines, "f.txt", None)
    keep = cb.item_row < 10
    with pytest.raises(ValueError, match="text ids"):
        dataclasses.replace(cb, item_row=cb.item_row[keep], item_text=cb.item_text[keep])
    dataclasses.replace(cb, item_row=cb.item_row[keep], item_text=cb.item_text[keep],
                        item_text_id=cb.item_text_id[keep])


def test_decode_batch_numbers_texts_only_when_asked():
    lines = _lines(CHUNK + 10)
    plain = decode_batch(lines, strict=False, number_text=False, digit_warnings=False)
    assert plain.item_text_id is None and plain.text_vocab is None  # the gateway's call
    short = decode_batch(lines[:50], text_ids=True, number_text=False)
    assert short.text_vocab[short.item_text_id].tolist() == list(short.item_text)
