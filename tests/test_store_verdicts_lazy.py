"""The ``also`` hook's verdicts are made when read (session 10, gw9's request of session 9).

``PacketStore.ingest_prepared(parts, also)`` hands ``also`` a :class:`Verdicts` sequence
instead of a list of one :class:`Verdict` per record (≈ 0.5 µs/packet on the gateway's
materialiser, which reads only the last one): the same verdicts, by index, slice or in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pytest

from lantian.store.db import connect
from lantian.store.ingest import PacketStore, Verdict, Verdicts
from test_import_parallel import mixed_lines
from test_import_rowgroup_cut import _prepared


def test_also_reads_the_returned_verdicts_lazily(tmp_path):
    p = _prepared(mixed_lines(tmp_path))
    a, b = p.split(5)
    store = PacketStore(connect(tmp_path / "v.duckdb"))
    got: list[Sequence[Verdict]] = []

    def also(con: duckdb.DuckDBPyConnection, verdicts: Sequence[Verdict]) -> None:
        got.append(verdicts)

    returned = store.ingest_prepared([a, b], also=also)
    seen = got[0]
    assert isinstance(seen, Verdicts)  # not a list built per record
    assert len(seen) == len(returned) == p.n
    assert list(seen) == returned
    assert [seen[i] for i in range(p.n)] == returned
    assert seen[-1] == returned[-1] and seen[-p.n] == returned[0]
    assert seen[2:9:3] == returned[2:9:3] and seen[::-1] == returned[::-1]
    assert [v.verdict for v in seen].count("duplicate") == 6
    for bad in (p.n, -p.n - 1):
        with pytest.raises(IndexError):
            seen[bad]


def test_verdicts_count_from_their_base():
    v = Verdicts(41, ["accepted", "duplicate"])
    assert list(v) == [Verdict(41, "accepted"), Verdict(42, "duplicate")]
    assert v[1].stored and v.index(Verdict(42, "duplicate")) == 1
