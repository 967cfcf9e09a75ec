"""The block scan's one-minute steps (``dx_<k>``) come from a narrow window (session 12).

A window operator holds its whole input (DuckDB materialises it before it evaluates); when
the lag of ``spike``'s one-minute steps ran over the wide minute rows of
:func:`~lantian.engine.quality.blocks.minute_blocks` (every value and flag column), the
500-point monthly job ran out of DuckDB's memory limit (and over only ``mn``, ``ts`` and the
values it would need ~20 GiB at 5,000 points, since DuckDB does not spill a window partitioned
by the text ``mn``). The window may hold none of the wide columns, must be partitioned by an
integer, and the steps must stay what they were: the
largest |valid value − the point's previous row's valid value| of each block, null after an
invalid or absent value.
"""

from __future__ import annotations

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.blocks import block_seconds, minute_blocks

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 00:00")  # CST


def _wide(n: int = 180) -> pd.DataFrame:
    """Two points' minutes with every column the block scan reads (flags, Zs, flow)."""
    rng = np.random.default_rng(7)
    parts = []
    for mn in ("P1", "P2"):
        df = pd.DataFrame({"mn": mn, "ts": pd.date_range(T0, periods=n, freq="min")})
        for k in ("so2", "nox", "pm"):
            df[f"{k}_mg_m3"] = np.round(rng.uniform(10, 60, n), 1)
            df[f"{k}_flag"] = "N"
            df[f"{k}_zs"] = df[f"{k}_mg_m3"] * 1.2
        df["o2_pct"], df["o2_flag"] = 10.0, "N"
        df["flow_m3_s"], df["flow_flag"] = 100.0, "N"
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    # invalid minutes (C, M), a null value and lost rows, some at block borders
    df.loc[(df.mn == "P1") & df.ts.isin(T0 + pd.to_timedelta([29, 30, 75], "min")),
           "nox_flag"] = "C"
    df.loc[(df.mn == "P2") & (df.ts == T0 + pd.Timedelta(minutes=61)), "so2_flag"] = "M"
    df.loc[(df.mn == "P2") & (df.ts == T0 + pd.Timedelta(minutes=100)), "pm_mg_m3"] = np.nan
    lost = (df.mn == "P1") & df.ts.isin(T0 + pd.to_timedelta([59, 60, 61, 140], "min"))
    return df[~lost].sample(frac=1.0, random_state=3).reset_index(drop=True)  # any order


def test_the_step_window_holds_no_wide_column_and_no_text_partition_key():
    keys = ["so2", "nox", "pm"]
    expr = minute_blocks(ibis.memtable(_wide()), keys, TH)

    def own(n):  # an expression's own nodes, not the relations its columns come from
        return not isinstance(n, ops.Relation)

    # the projections that evaluate a window: their input is what the operator holds
    found = [(p.parent, w) for p in expr.op().find(ops.Project) for v in p.values.values()
             for w in v.find(ops.WindowFunction, filter=own)]
    assert found, "the block scan has no window: dx_<k> from where?"
    for rel, w in found:
        cols = rel.schema.names
        # mn, ts, the partition key and one value column per key: no flag, Zs, O2 or flow
        assert len(cols) <= 3 + len(keys), sorted(cols)
        assert not any(c.endswith(("_flag", "_zs")) or c in ("o2_pct", "flow_m3_s")
                       for c in cols), sorted(cols)
        # DuckDB (2.0) could not spill a window partitioned by the text mn: 600 MB ran out
        # at 500 points, where an integer partition key spills (session 12)
        assert w.group_by and not any(g.dtype.is_string() for g in w.group_by), w.group_by


def test_the_steps_are_each_block_s_largest_change_from_the_previous_row():
    df = _wide()
    keys = ["so2", "nox", "pm"]
    got = ibis.duckdb.connect().execute(minute_blocks(ibis.memtable(df), keys, TH))
    bs = block_seconds(TH)
    # the reference, row by row in pandas: lag within the point in ts order
    ref = df.sort_values(["mn", "ts"]).copy()
    ref["block"] = (ref.ts - pd.Timestamp(0)).dt.total_seconds().astype("int64") // bs
    for k in keys:
        v = ref[f"{k}_mg_m3"].where(ref[f"{k}_flag"] == "N")
        ref[f"dx_{k}"] = (v - v.groupby(ref.mn).shift()).abs()
    want = ref.groupby(["mn", "block"])[[f"dx_{k}" for k in keys]].max().reset_index()
    got = got[["mn", "block", *[f"dx_{k}" for k in keys]]]
    got = got.sort_values(["mn", "block"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
