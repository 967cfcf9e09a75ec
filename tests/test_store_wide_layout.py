"""Wide frames of rows that share one layout skip the scatter (session 8, issue 2).

``columns._uniform_frame`` builds a wide table's frame directly when every row fills the
same columns in the same order (``_same_layout``); it must give exactly the frame of the
general scatter path (``_wide_frame`` with the layout check disabled) — texts, numbers,
``sent_codes`` of 2005 codes, packet ids — and batches of mixed layouts must take the
general path.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from lantian.store import columns
from lantian.store.columns import ColumnBatch, _same_layout
from lantian.store.prepared import prepare_batch

RX = dt.datetime(2024, 5, 1, 10, 0, 5)


def _batch(packets: list[tuple[str, str, dict[str, dict[str, float | str]]]]) -> ColumnBatch:
    """Decoded packets ``(MN, CN, values)`` at 09:59 as columns (values in the order given)."""
    n = len(packets)
    rows, codes, sufs, nums, texts = [], [], [], [], []
    for i, (_, _, values) in enumerate(packets):
        for code, fields in values.items():
            for suffix, v in fields.items():
                rows.append(i)
                codes.append(code)
                sufs.append(suffix)
                nums.append(float("nan") if isinstance(v, str) else float(v))
                texts.append(str(v))
    return ColumnBatch(
        raw=[b"##%d" % i for i in range(n)], source=["10.0.0.1:1"] * n, received_at=[RX] * n,
        ok=np.ones(n, dtype=bool), error=[None] * n, mn=[p[0] for p in packets],
        st=["31"] * n, cn=[p[1] for p in packets], qn=[f"q{i}" for i in range(n)],
        data_time=["20240501095900"] * n, version=["2017"] * n,
        item_row=np.array(rows, dtype=np.int64), item_code=np.array(codes, dtype=object),
        item_suffix=np.array(sufs, dtype=object), item_num=np.array(nums),
        item_text=np.array(texts, dtype=object))


V2017 = {"a21026": {"Min": 10.0, "Avg": 12.5, "Max": 14.0, "Flag": "N"},
         "a19001": {"Avg": 8.5, "Flag": "D"}, "a01011": {"Avg": 15.2, "Flag": "N"}}
V2005 = {"02": {"Avg": 12.5, "Flag": "N"}, "01": {"Avg": 3.25, "Flag": "M"}}


def _frames(batch: ColumnBatch, monkeypatch: pytest.MonkeyPatch, uniform: bool) -> dict:
    with monkeypatch.context() as m:
        if not uniform:
            m.setattr(columns, "_same_layout", lambda r, c: 0)
        return prepare_batch(batch).wide


@pytest.mark.parametrize("values", [V2017, V2005], ids=["2017", "2005"])
def test_one_layout_gives_the_scatter_paths_frame(monkeypatch, values):
    packets = [(f"MN{i}", cn, values) for i in range(5) for cn in ("2051", "2061")]
    batch = _batch(packets)
    fast, slow = _frames(batch, monkeypatch, True), _frames(batch, monkeypatch, False)
    assert set(fast) == set(slow) == {"flue_minute", "flue_hour"}
    for table in fast:
        assert fast[table].equals(slow[table]), table
    minute = fast["flue_minute"].to_pydict()
    assert minute["packet_id"] == [0, 2, 4, 6, 8]
    if values is V2005:
        assert minute["sent_codes"] == ["so2=02;pm=01"] * 5 and minute["pm_mg_m3"] == [3.25] * 5


def test_mixed_layouts_take_the_scatter_path(monkeypatch):
    fewer = {"a21026": {"Avg": 12.5, "Flag": "N"}}
    other_order = {"a19001": V2017["a19001"], "a21026": V2017["a21026"]}
    batch = _batch([("MN1", "2051", V2017), ("MN2", "2051", fewer),
                    ("MN3", "2051", other_order), ("MN4", "2051", V2017)])
    seen: list[int] = []
    real = columns._same_layout

    def spy(r, c):
        seen.append(real(r, c))
        return seen[-1]

    monkeypatch.setattr(columns, "_same_layout", spy)
    got = prepare_batch(batch).wide["flue_minute"].to_pydict()
    assert seen == [0]
    assert got["so2_mg_m3"] == [12.5, 12.5, 12.5, 12.5]
    assert got["o2_pct"] == [8.5, None, 8.5, 8.5]


def test_same_layout_rules():
    r = np.array([0, 0, 1, 1, 3, 3])
    assert _same_layout(r, np.array([4, 2, 4, 2, 4, 2])) == 2
    assert _same_layout(r, np.array([4, 2, 2, 4, 4, 2])) == 0  # other order in row 1
    assert _same_layout(r, np.array([4, 4, 4, 4, 4, 4])) == 0  # one column twice
    assert _same_layout(np.array([0, 0, 1, 2, 2, 2]), np.array([1, 2, 1, 1, 2, 3])) == 0
    assert _same_layout(np.array([1, 1, 0, 0]), np.array([1, 2, 1, 2])) == 0  # rows descend
    assert _same_layout(np.array([2, 2, 2]), np.array([5, 1, 3])) == 3  # one row
    assert _same_layout(np.zeros(0, np.int64), np.zeros(0, np.int64)) == 0
