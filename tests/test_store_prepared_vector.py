"""``prepare_batch`` classifies a whole batch with arrays (session 7, issue 2).

Its verdicts, DataTimes, first copies and de-duplication keys must be exactly those of the
per-row rules (:func:`classify_fields`, :func:`rejected`, :func:`first_copies`) that the
gateway's row path uses — for undecoded rows, empty strings, bad DataTimes, QN keys,
retransmissions inside the batch and packets without MN or CN.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np

from lantian.store.columns import ColumnBatch
from lantian.store.prepared import classify_fields, first_copies, prepare_batch, rejected

RX = dt.datetime(2024, 5, 1, 10, 0, 5)

# (ok, error, mn, cn, qn, data_time, version)
ROWS = [
    (True, None, "MN1", "2051", "q1", "20240501095900", "2017"),
    (True, None, "MN1", "2051", "q2", "20240501095900", "2017"),  # same key: duplicate
    (True, None, "MN1", "2061", "q3", "20240501095900", "2017"),  # other CN
    (True, None, "MN2", "2051", None, "20240501095900", None),  # other MN, no version
    (False, "bad CRC\nat byte 3", None, None, None, None, None),
    (False, None, None, None, None, None, None),  # undecodable without a reason
    (True, None, "MN1", "2051", "q4", "20241301000000", "2017"),  # month 13
    (True, None, "MN1", "2051", "q5", "2024050109590", "2017"),  # 13 digits
    (True, None, "MN1", "2051", "q6", "", "2017"),  # empty DataTime: key by QN
    (True, None, "MN1", "2051", "q6", None, "2017"),  # same QN: duplicate
    (True, None, "MN1", "2051", "", None, "2017"),  # neither: journalled, no key
    (True, None, "", "2051", "q7", "20240501100000", "2017"),  # empty MN: no key
    (True, None, "MN3", None, "q8", "20240501100000", "2017"),  # no CN: no key
    (True, None, "MN1", "2051", "q9", "20240229235900", "2005"),  # leap day
    (True, None, "MN1", "2051", "q1", "20240501095900", "2017"),  # duplicate again
    (True, None, "MN1", "2051", "x", "20230229000000", "2017"),  # no 29 Feb in 2023
]


def _batch(rows) -> ColumnBatch:
    n = len(rows)
    col = list(zip(*rows, strict=True))
    return ColumnBatch(
        raw=[b"##%d" % i for i in range(n)],
        source=[f"file:t:{i + 1}" for i in range(n)],
        received_at=[RX] * n,
        ok=np.array(col[0], dtype=bool),
        error=list(col[1]),
        mn=list(col[2]),
        st=["31"] * n,
        cn=list(col[3]),
        qn=list(col[4]),
        data_time=list(col[5]),
        version=list(col[6]),
        item_row=np.zeros(0, dtype=np.int64),
        item_code=np.zeros(0, dtype=object),
        item_suffix=np.zeros(0, dtype=object),
        item_num=np.zeros(0, dtype=np.float64),
        item_text=np.zeros(0, dtype=object),
    )


def _per_row(rows):
    """Verdicts, DataTimes, keys (first copies: (key, row)) by the per-row rules."""
    classified = [
        classify_fields(mn, cn, qn, t) if ok else rejected(err)
        for ok, err, mn, cn, qn, t, _ in rows
    ]
    verdict = [c[0] for c in classified]
    first = first_copies([c[2] for c in classified], verdict)
    return verdict, [c[1] for c in classified], first


def _check(rows) -> None:
    p = prepare_batch(_batch(rows))
    verdict, ts, first = _per_row(rows)
    assert p.verdict == verdict
    assert p.journal.column("data_time").to_pylist() == ts
    keys = p.keys.to_pydict() if p.keys is not None else {"mn": [], "cn": [], "k": [],
                                                          "ts": [], "row": []}
    assert list(zip(keys["mn"], keys["cn"], keys["k"], strict=True)) == list(first)
    assert keys["row"] == list(first.values())
    assert keys["ts"] == [ts[i] or RX for i in first.values()]
    proto = [i for i, (r, v) in enumerate(zip(rows, verdict, strict=True))
             if r[2] and r[6] and v == "accepted"]
    assert p.proto_row.tolist() == proto
    assert p.proto_mn == [rows[i][2] for i in proto]
    assert p.proto_version == [rows[i][6] for i in proto]


def test_the_batch_rules_are_the_per_row_rules():
    _check(ROWS)
    v = prepare_batch(_batch(ROWS)).verdict
    assert v[:3] == ["accepted", "duplicate", "accepted"]
    assert v[4] == "rejected:bad CRC at byte 3" and v[5] == "rejected:undecodable"
    assert v[6].startswith("rejected:DataTime '20241301000000' is not a valid time")
    assert v[7] == "rejected:DataTime '2024050109590' is not YYYYMMDDhhmmss"
    assert v[8:10] == ["accepted", "duplicate"]


def test_random_batches_match_the_per_row_rules():
    rnd = random.Random(7)
    times = ["20240501095900", "20240501100000", "20240532000000", "", None, "2024x501100000"]
    for _ in range(30):
        rows = [
            (rnd.random() > 0.1, rnd.choice([None, "garbage"]), rnd.choice(["A", "B", "", None]),
             rnd.choice(["2051", "2061", "", None]), rnd.choice(["q1", "q2", "", None]),
             rnd.choice(times), rnd.choice(["2017", "", None]))
            for _ in range(rnd.randint(1, 40))
        ]
        _check(rows)


def test_a_batch_without_keys_has_no_key_frame():
    p = prepare_batch(_batch([(True, None, None, "2051", None, "20240501095900", None)]))
    assert p.keys is None and p.verdict == ["accepted"]
