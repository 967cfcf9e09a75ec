"""The journal's receive time of a prepared batch (session 12).

A file's lines have no receive time: ``prepare_batch`` gives every line the one time it
runs at (taken from a single value, without a list per line); lines with a receive time
keep it, and only the others get that time. A packet without DataTime keys on its receive
time.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from lantian.store.columns import ColumnBatch
from lantian.store.prepared import prepare_batch
from lantian.store.times import cst_now

RX = dt.datetime(2024, 5, 1, 10, 0, 5)


def _batch(received: list[dt.datetime | None], data_time: list[str | None]) -> ColumnBatch:
    n = len(received)
    e = np.zeros(0, dtype=object)
    return ColumnBatch(
        raw=[b"##%d" % i for i in range(n)], source=["f"] * n, received_at=received,
        ok=np.ones(n, dtype=bool), error=[None] * n, mn=[f"MN{i}" for i in range(n)],
        st=["31"] * n, cn=["2051"] * n, qn=[f"2024050110000{i}000" for i in range(n)],
        data_time=data_time, version=["2017"] * n, item_row=np.zeros(0, dtype=np.int64),
        item_code=e, item_suffix=e, item_num=np.zeros(0), item_text=e)


def test_lines_without_receive_time_get_the_time_of_preparing():
    before = cst_now().replace(microsecond=0)
    p = prepare_batch(_batch([None] * 5, ["20240501095900", None, None, "20240501095900",
                                          None]))
    after = cst_now() + dt.timedelta(seconds=1)
    got = p.journal.column("received_at")
    assert got.type == pa.timestamp("us") and got.null_count == 0
    times = got.to_pylist()
    assert len(set(times)) == 1 and before <= times[0] <= after
    keys = p.keys.to_pydict()
    assert keys["row"] == [0, 1, 2, 3, 4]
    want = [dt.datetime(2024, 5, 1, 9, 59), times[0], times[0], dt.datetime(2024, 5, 1, 9, 59),
            times[0]]  # no DataTime: the receive time
    assert keys["ts"] == want


def test_given_receive_times_are_kept():
    before = cst_now().replace(microsecond=0)
    p = prepare_batch(_batch([RX, None, RX], [None] * 3))
    times = p.journal.column("received_at").to_pylist()
    assert times[0] == times[2] == RX
    assert before <= times[1] <= cst_now() + dt.timedelta(seconds=1)
