"""Spike's one-minute steps (``dx_<k>``) from the block scan's own rows on DuckDB (session 13).

On DuckDB the block scan pairs each minute row with the row before it in the scan (a
streaming ``lag`` with no order: no sort, nothing held) and counts, per point, the rows so
linked to an earlier row of the same point. A point whose rows are one run in time order
has one row fewer linked than it has rows, and its steps are then exact; any other point
(rows out of order, interleaved with another point's, two rows in one minute) takes its
steps from the sorted window over its own rows. So ``dx_<k>`` is the largest |valid
value − the point's previous row's valid value| of each block whatever order the rows are
read in: these tests read the same rows in several orders and compare with a per-point
lag in pandas.
"""

from __future__ import annotations

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import blocks, load_thresholds
from lantian.engine.quality.blocks import _streams, block_seconds, minute_blocks

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 00:00")  # CST
KEYS = ["so2", "nox", "pm"]


def _minutes(n: int = 150) -> pd.DataFrame:
    """Three points' minutes in (mn, ts) order, with invalid, null and lost minutes."""
    rng = np.random.default_rng(11)
    parts = []
    for mn in ("P1", "P2", "P3"):
        df = pd.DataFrame({"mn": mn, "ts": pd.date_range(T0, periods=n, freq="min")})
        for k in KEYS:
            df[f"{k}_mg_m3"] = np.round(rng.uniform(5, 80, n), 2)
            df[f"{k}_flag"] = "N"
        df["o2_pct"], df["o2_flag"] = 9.5, "N"
        df["flow_m3_s"], df["flow_flag"] = 80.0, "N"
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    at = T0 + pd.to_timedelta([29, 30, 61, 90], "min")  # at and beside block borders
    df.loc[(df.mn == "P1") & df.ts.isin(at), "nox_flag"] = "C"
    df.loc[(df.mn == "P2") & (df.ts == at[2]), "so2_flag"] = "M"
    df.loc[(df.mn == "P3") & (df.ts == at[1]), "pm_mg_m3"] = np.nan
    lost = df.ts.isin(T0 + pd.to_timedelta([59, 60, 119, 120], "min")) & (df.mn != "P2")
    return df[~lost].reset_index(drop=True)


def _reference(df: pd.DataFrame) -> pd.DataFrame:
    """dx per (mn, block): a lag within the point in time order, in pandas."""
    bs = block_seconds(TH)
    ref = df.sort_values(["mn", "ts"]).copy()
    ref["block"] = (ref.ts - pd.Timestamp(0)).dt.total_seconds().astype("int64") // bs
    out = {}
    for k in KEYS:
        v = ref[f"{k}_mg_m3"].where(ref[f"{k}_flag"] == "N")
        ref[f"dx_{k}"] = (v - v.groupby(ref.mn).shift()).abs()
        out[f"dx_{k}"] = (f"dx_{k}", "max")
    return ref.groupby(["mn", "block"]).agg(**out).reset_index()


def _scan(df: pd.DataFrame, monkeypatch=None) -> tuple[pd.DataFrame, set[str]]:
    """minute_blocks' dx of ``df`` read from a DuckDB table in ``df``'s row order, and the
    points whose steps came from the sorted window (told by marking its steps -1)."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET threads = 1")  # the table is read in the order it was written
    t = con.create_table("flue_minute", df)
    assert _streams(t)
    cols = ["mn", "block", *[f"dx_{k}" for k in KEYS]]
    got = con.execute(minute_blocks(t, KEYS, TH).select(*cols))
    sorted_window = blocks._step_maxima
    monkeypatch.setattr(blocks, "_step_maxima", lambda *a: sorted_window(*a).mutate(
        **{f"dx_{k}": ibis.literal(-1.0) for k in KEYS}))
    marked = con.execute(minute_blocks(t, KEYS, TH).select(*cols))
    monkeypatch.undo()
    fell = marked[(marked[cols[2:]] == -1.0).any(axis=1)]
    # a point takes the sorted window for all its blocks or for none
    assert (fell.groupby("mn").size() == marked[marked.mn.isin(fell.mn)].groupby(
        "mn").size()).all()
    return got, set(fell.mn)


def _same(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    got = got.sort_values(["mn", "block"]).reset_index(drop=True)
    ref = ref.sort_values(["mn", "block"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False, check_exact=True)


def test_rows_in_time_order_take_no_sorted_window_and_give_the_lag(monkeypatch):
    df = _minutes()
    got, odd = _scan(df, monkeypatch)
    assert odd == set()
    _same(got, _reference(df))


@pytest.mark.parametrize("order", ["one point shuffled", "interleaved in time",
                                   "points in reverse", "a point in two runs"])
def test_rows_read_out_of_order_give_the_same_steps(order, monkeypatch):
    df = _minutes()
    if order == "one point shuffled":
        p2 = df[df.mn == "P2"].sample(frac=1.0, random_state=5)
        df2, want = pd.concat([df[df.mn == "P1"], p2, df[df.mn == "P3"]]), {"P2"}
    elif order == "interleaved in time":
        df2, want = df.sort_values(["ts", "mn"]), {"P1", "P2", "P3"}
    elif order == "points in reverse":  # each point one time run: no fallback needed
        df2, want = df.sort_values(["mn", "ts"], ascending=[False, True]), set()
    else:  # P3's second half before its first: each half in order, not one run
        p3 = df[df.mn == "P3"]
        half = len(p3) // 2
        df2 = pd.concat([df[df.mn != "P3"], p3.iloc[half:], p3.iloc[:half]])
        want = {"P3"}
    got, odd = _scan(df2.reset_index(drop=True), monkeypatch)
    assert odd == want
    _same(got, _reference(df))


def test_the_scan_pairs_rows_without_a_sort_on_duckdb_only():
    df = _minutes(40)
    con = ibis.duckdb.connect()
    bound = minute_blocks(con.create_table("m", df), KEYS, TH)
    wins = [w for w in bound.op().find(ops.WindowFunction)]
    # the scan's lag has no order and no partition (DuckDB streams it); the sorted window
    # (partitioned, ordered) remains for the points out of order
    assert any(not w.order_by and not w.group_by for w in wins)
    assert any(w.order_by for w in wins)
    # in-memory tables (no backend) and other engines keep the sorted window only
    mem = minute_blocks(ibis.memtable(df), KEYS, TH)
    assert not _streams(ibis.memtable(df))
    assert all(w.order_by for w in mem.op().find(ops.WindowFunction))
    # both forms give every column the same
    a = con.execute(bound).sort_values(["mn", "block"]).reset_index(drop=True)
    b = con.execute(mem).sort_values(["mn", "block"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
