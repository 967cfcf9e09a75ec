"""Cached tables on the Spark engine are local checkpoints: a query over a stack of cached
tables is analysed from the last one, not from every layer below it.

Ibis's own ``DataFrame.cache()`` kept each layer's plan; the quality-control month run's
stacked caches made Spark's analyser run out of heap (CI, 2026-11-23).
"""

from __future__ import annotations

import pandas as pd
import pytest

from lantian.engine.backends import cache_table

pytestmark = pytest.mark.spark


def _plan(con, table) -> str:
    return con._session.table(table.op().name)._jdf.queryExecution().analyzed().toString()


def test_a_cached_table_over_a_cached_table_keeps_no_lineage(spark_ibis):
    con = spark_ibis
    t = con.create_view("lineage_src", con.create_table(
        "lineage_base", pd.DataFrame({"mn": ["P1", "P2", "P1"], "v": [1.0, 2.0, 3.0]}),
        overwrite=True), overwrite=True)
    first = cache_table(con, t.filter(t.v > 1.5).mutate(w=t.v * 2))
    second = cache_table(con, first.group_by("mn").agg(s=first.w.sum()))
    try:
        assert second.to_pandas().sort_values("mn").to_dict("list") == {
            "mn": ["P1", "P2"], "s": [6.0, 4.0]}
        for c in (first, second):
            plan = _plan(con, c)
            assert "LogicalRDD" in plan, plan
            # neither the filter, the aggregate nor the base table survive in the plan
            for word in ("Filter", "Aggregate", "lineage_base"):
                assert word not in plan, plan
    finally:
        second.release()
        first.release()
