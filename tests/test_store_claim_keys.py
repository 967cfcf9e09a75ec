"""De-duplication keys across batches and parts (``claim_keys``, session 8, issue 2).

The key claim decides which copy of a packet is stored. These tests hold the verdicts, the
stored keys and the value rows to the first-copy rule when every key is new, and when
retransmissions of an earlier transaction or of an earlier part of the same transaction are
mixed with new keys, in varying positions (the cases a claim that counts inserted keys
instead of returning them — tried in session 8, not kept — must also get right).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from lantian.store.columns import ColumnBatch
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from lantian.store.prepared import claim_keys, prepare_batch

RX = dt.datetime(2024, 5, 1, 10, 0, 5)


def _batch(minutes: list[tuple[str, int]]) -> ColumnBatch:
    """CN 2051 packets ``(MN, minute of 10:00)``, each with one SO2 average (= the minute)."""
    n = len(minutes)
    return ColumnBatch(
        raw=[b"##%d" % i for i in range(n)], source=[f"file:t:{i + 1}" for i in range(n)],
        received_at=[RX] * n, ok=np.ones(n, dtype=bool), error=[None] * n,
        mn=[m for m, _ in minutes], st=["31"] * n, cn=["2051"] * n,
        qn=[f"q{i}" for i in range(n)],
        data_time=[f"2024050110{k:02d}00" for _, k in minutes], version=["2017"] * n,
        item_row=np.arange(n, dtype=np.int64), item_code=np.array(["a21026"] * n, dtype=object),
        item_suffix=np.array(["Avg"] * n, dtype=object),
        item_num=np.array([float(k) for _, k in minutes]),
        item_text=np.array([str(k) for _, k in minutes], dtype=object),
    )


@pytest.fixture
def con(db_path):
    c = connect(db_path)
    yield c
    c.close()


def _stored(con) -> list[tuple[str, int, float]]:
    rows = con.execute("SELECT mn, packet_id, so2_mg_m3 FROM flue_minute ORDER BY packet_id")
    return [(mn, int(pid), float(v)) for mn, pid, v in rows.fetchall()]


def test_all_new_keys_are_claimed_and_returned(con):
    p = prepare_batch(_batch([("MN1", 0), ("MN2", 0), ("MN1", 1)]))
    con.execute("BEGIN TRANSACTION")
    rows = claim_keys(con, p.keys, 100)
    con.execute("COMMIT")
    assert sorted(rows.tolist()) == [0, 1, 2]
    got = con.execute("SELECT mn, k, packet_id FROM packet_key ORDER BY packet_id").fetchall()
    assert got == [("MN1", "20240501100000", 100), ("MN2", "20240501100000", 101),
                   ("MN1", "20240501100100", 102)]


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]])
def test_retransmissions_of_an_earlier_batch_among_new_keys(con, order):
    store = PacketStore(con)
    first = store.ingest_columns(_batch([("MN1", 0), ("MN1", 2)]))
    again = [("MN1", 0), ("MN1", 1), ("MN1", 2), ("MN2", 0)]  # 0 and 2 were stored
    sent = [again[i] for i in order]
    verdicts = store.ingest_columns(_batch(sent))
    expect = ["duplicate" if m == ("MN1", 0) or m == ("MN1", 2) else "accepted" for m in sent]
    assert [v.verdict for v in verdicts] == expect
    ids = {m: v.packet_id for m, v in zip(sent, verdicts, strict=True)}
    assert _stored(con) == sorted(
        [("MN1", first[0].packet_id, 0.0), ("MN1", first[1].packet_id, 2.0),
         ("MN1", ids[("MN1", 1)], 1.0), ("MN2", ids[("MN2", 0)], 0.0)],
        key=lambda r: r[1])
    keys = con.execute("SELECT mn, k, packet_id FROM packet_key ORDER BY packet_id").fetchall()
    assert [k[2] for k in keys] == sorted(r[1] for r in _stored(con))


def test_second_part_repeating_the_first_part_in_one_transaction(con):
    store = PacketStore(con)
    store.ingest_columns(_batch([("MN9", 5)]))
    parts = [prepare_batch(_batch([("MN1", 0), ("MN1", 1)])),
             prepare_batch(_batch([("MN1", 1), ("MN9", 5), ("MN1", 2), ("MN1", 0)]))]
    verdicts = store.ingest_prepared(parts)
    assert [v.verdict for v in verdicts] == ["accepted", "accepted", "duplicate", "duplicate",
                                             "accepted", "duplicate"]
    assert [v.packet_id for v in verdicts] == [2, 3, 4, 5, 6, 7]
    assert _stored(con) == [("MN9", 1, 5.0), ("MN1", 2, 0.0), ("MN1", 3, 1.0), ("MN1", 6, 2.0)]


def test_a_batch_of_retransmissions_only_writes_no_values(con):
    store = PacketStore(con)
    store.ingest_columns(_batch([("MN1", 0), ("MN1", 1)]))
    verdicts = store.ingest_columns(_batch([("MN1", 1), ("MN1", 0)]))
    assert [v.verdict for v in verdicts] == ["duplicate", "duplicate"]
    assert [r[1] for r in _stored(con)] == [1, 2]
    assert con.execute("SELECT count(*) FROM packet_key").fetchone()[0] == 2
