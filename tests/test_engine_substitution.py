"""HJ 75 load substitution: worked examples computed by hand (windows 180/720/2160 h)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.substitution import capture_rate, substitute_loads


def _point(mn, loads):
    ts = pd.date_range("2024-04-01", periods=len(loads), freq="h")
    return pd.DataFrame({"mn": mn, "ts": ts, "production": True, "so2_load_kg_h": loads})


@pytest.fixture(scope="module")
def result():
    early = 1000.0
    # S: 400 valid (hour 0 = 1000, then 1..399), 3 invalid → α = 400/403 = 99.3 %, N = 3 ≤ 24
    s = np.r_[early, np.arange(1.0, 400.0), np.full(3, np.nan)]
    # L: same history, 30 invalid → α = 400/430 = 93.0 %, N = 30 > 24 → 720 window
    lg = np.r_[early, np.arange(1.0, 400.0), np.full(30, np.nan)]
    # M: 100 valid, 20 invalid → α = 83.3 % → 2160 window
    m = np.r_[early, np.arange(1.0, 100.0), np.full(20, np.nan)]
    # X: 10 valid, 10 invalid → α = 50 % < 75 % → no substitute
    x = np.r_[np.arange(1.0, 11.0), np.full(10, np.nan)]
    df = pd.concat([_point("S", s), _point("L", lg), _point("M", m), _point("X", x)])
    # one stopped hour inside S's history does not count at all
    df.loc[(df.mn == "S") & (df.ts == pd.Timestamp("2024-04-01 05:00")), "production"] = False
    t = ibis.memtable(df)
    out = substitute_loads(t, "so2_load_kg_h").execute()
    alpha = capture_rate(t, "so2_load_kg_h").execute().set_index("mn")
    return out, alpha


def test_capture_rate(result):
    _, alpha = result
    assert alpha.loc["L", "alpha_pct"] == pytest.approx(400 / 430 * 100)
    assert alpha.loc["M", "alpha_pct"] == pytest.approx(100 / 120 * 100)
    assert alpha.loc["S", "production_hours"] == 402  # the stopped hour is not counted


def _subs(out, mn):
    o = out[(out.mn == mn) & out.so2_load_kg_h.isna()]
    return o.so2_load_kg_h_sub.tolist(), o.run_hours.tolist()


def test_short_run_uses_180_hours(result):
    out, _ = result
    subs, n = _subs(out, "S")
    # the last 180 valid hours carry loads 220..399 → max 399; the early 1000 is outside
    assert subs == [399.0] * 3 and n == [3] * 3


def test_long_run_uses_720_hours(result):
    out, _ = result
    subs, n = _subs(out, "L")
    assert subs == [1000.0] * 30 and n == [30] * 30  # 720 window reaches hour 0


def test_mid_alpha_uses_2160_hours(result):
    out, _ = result
    subs, _ = _subs(out, "M")
    assert subs == [1000.0] * 20


def test_low_alpha_is_not_substituted(result):
    out, _ = result
    subs, _ = _subs(out, "X")
    assert all(pd.isna(v) for v in subs)


def test_valid_hours_keep_measured_load(result):
    out, _ = result
    v = out[(out.mn == "S") & out.so2_load_kg_h.notna()]
    assert (v.so2_load_kg_h_filled == v.so2_load_kg_h).all()
    assert v.so2_load_kg_h_sub.isna().all()
