"""Routing a batch whose packets go to several wide tables, or to none (session 12).

``route_values`` counts the items of each wide table once and builds frames only for the
tables present; when every item is one table's, no per-table selection is built. The frames
must hold exactly each table's rows, and the values of a CN without a wide table (or no CN)
go to ``value_long`` with the CN as sent ("" for none).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from lantian.store.columns import ColumnBatch
from lantian.store.prepared import prepare_batch

RX = dt.datetime(2024, 5, 1, 10, 0, 5)
V = {"a21026": {"Avg": 12.5, "Flag": "N"}, "a19001": {"Avg": 8.5}}


def _batch(cns: list[str | None]) -> ColumnBatch:
    n = len(cns)
    rows, codes, sufs, nums, texts = [], [], [], [], []
    for i in range(n):
        for code, fields in V.items():
            for suffix, v in fields.items():
                rows.append(i)
                codes.append(code)
                sufs.append(suffix)
                nums.append(float("nan") if isinstance(v, str) else float(v) + i)
                texts.append(str(v) if isinstance(v, str) else None)
    return ColumnBatch(
        raw=[b"##%d" % i for i in range(n)], source=["f"] * n, received_at=[RX] * n,
        ok=np.ones(n, dtype=bool), error=[None] * n, mn=[f"MN{i}" for i in range(n)],
        st=["31"] * n, cn=cns, qn=[f"q{i}" for i in range(n)],
        data_time=["20240501095900"] * n, version=["2017"] * n,
        item_row=np.array(rows, dtype=np.int64), item_code=np.array(codes, dtype=object),
        item_suffix=np.array(sufs, dtype=object), item_num=np.array(nums),
        item_text=np.array(texts, dtype=object))


def test_each_table_gets_its_rows_and_no_table_goes_long():
    cns = ["2051", "2061", "9999", "2051", None, "2011", "2061"]
    p = prepare_batch(_batch(cns))
    assert set(p.wide) == {"flue_minute", "flue_hour", "flue_rtd"}
    assert p.wide["flue_minute"].column("packet_id").to_pylist() == [0, 3]
    assert p.wide["flue_hour"].column("packet_id").to_pylist() == [1, 6]
    assert p.wide["flue_rtd"].column("packet_id").to_pylist() == [5]
    assert p.wide["flue_hour"].column("so2_mg_m3").to_pylist() == [13.5, 18.5]
    assert p.long is not None
    long = p.long.to_pydict()
    assert sorted(set(long["packet_id"])) == [2, 4, 5]  # 5: no Avg column in flue_rtd
    assert long["cn"] == ["9999"] * 3 + [""] * 3 + ["2011"] * 2
    assert long["num"].count(None) == long["text"].count("N") == 2
    assert p.wide["flue_rtd"].column("so2_flag").to_pylist() == ["N"]


def test_one_table_for_every_item():
    p = prepare_batch(_batch(["2051"] * 4))
    assert set(p.wide) == {"flue_minute"} and p.long is None
    minute = p.wide["flue_minute"].to_pydict()
    assert minute["packet_id"] == [0, 1, 2, 3]
    assert minute["so2_mg_m3"] == [12.5, 13.5, 14.5, 15.5]
    assert minute["o2_pct"] == [8.5, 9.5, 10.5, 11.5]


def test_sent_codes_only_where_a_2005_code_was_sent():
    b = _batch(["2051"] * 3)
    code = np.asarray(b.item_code).copy()
    code[b.item_row == 1] = np.where(code[b.item_row == 1] == "a21026", "02", "a19001")
    alt = prepare_batch(dataclasses.replace(b, item_code=code)).wide["flue_minute"]
    assert alt.column("sent_codes").to_pylist() == [None, "so2=02", None]
    assert alt.column("so2_mg_m3").to_pylist() == [12.5, 13.5, 14.5]
    plain = prepare_batch(b).wide["flue_minute"]  # 2017 codes only: no sent_codes at all
    assert plain.column("sent_codes").to_pylist() == [None, None, None]
