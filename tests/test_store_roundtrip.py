"""Property: whatever values a packet carries, the export gives them back as sent.

Both store paths are checked: packets (the gateway's) and columns (the bulk import's).
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lantian.catalog.glossary import glossary
from lantian.store.db import connect
from lantian.store.export import export_records
from lantian.store.ingest import ColumnBatch, Incoming, PacketStore
from test_store_ingest import P

CODES = sorted(
    {e.code_2017 for e in glossary()}
    | {e.code_2005 for e in glossary() if e.code_2005}
    | {"w01018", "i12001", "SB1", "a99999"}
)
SUFFIXES = [
    "Rtd",
    "Avg",
    "Min",
    "Max",
    "Cou",
    "ZsRtd",
    "ZsAvg",
    "ZsMin",
    "Flag",
    "EFlag",
    "Info",
    "RS",
    "SampleTime",
]
value = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from(["N", "F", "M", "D", "0", "1", "20240501100000"]),
)
values = st.dictionaries(
    st.sampled_from(CODES),
    st.dictionaries(st.sampled_from(SUFFIXES), value, min_size=1, max_size=5),
    max_size=8,
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    con = connect(tmp_path_factory.mktemp("rt") / "roundtrip.duckdb")
    yield PacketStore(con)
    con.close()


def as_columns(mn: str, cn: str, vals: dict) -> ColumnBatch:
    items = [(c, s, v) for c, f in vals.items() for s, v in f.items()]
    return ColumnBatch(
        raw=[b"##"],
        source=["t"],
        received_at=[None],
        ok=np.array([True]),
        error=[None],
        mn=[mn],
        st=["31"],
        cn=[cn],
        qn=[None],
        data_time=["20240501100000"],
        version=["2017"],
        item_row=np.zeros(len(items), dtype=np.int64),
        item_code=np.array([c for c, _, _ in items], dtype=object),
        item_suffix=np.array([s for _, s, _ in items], dtype=object),
        item_num=np.array(
            [np.nan if isinstance(v, str) else v for _, _, v in items], dtype=np.float64
        ),
        item_text=np.array(
            [v if isinstance(v, str) else repr(v) for _, _, v in items], dtype=object
        ),
    )


@settings(max_examples=40, deadline=None)
@given(cn=st.sampled_from(["2011", "2051", "2061", "2031", "2021"]), vals=values)
def test_export_gives_back_values_as_sent(store, cn, vals):
    n = next(_counter)
    [v1] = store.ingest([Incoming(b"##", "t", None, packet=P(f"P{n}", cn, "20240501100000", vals))])
    [v2] = store.ingest_columns(as_columns(f"C{n}", cn, vals))
    assert v1.verdict == v2.verdict == "accepted"
    for mn in (f"P{n}", f"C{n}"):
        [rec] = list(export_records(store.con, mn=mn))
        assert rec["cn"] == cn and rec["data_time"] == dt.datetime(2024, 5, 1, 10)
        assert rec["values"] == vals, mn
