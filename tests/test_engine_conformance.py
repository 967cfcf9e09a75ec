"""Conformance: the same cases on DuckDB and PySpark, compared with a plain pandas reference.

The data are three days of synthetic minute data (fixed seed) for points of different
source types, layers and registrations, with every flag kind, F hours with and without a
flow drop, O2 swings that push converted values over the limits, and enterprise marks.
Month 2024-02 (29 days = 696 hours, CST): hours without data are production hours with
invalid data, the same on every engine.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine_support import make_db, minutes, reference_monthly
from lantian.engine import backends
from lantian.engine.assess import (
    assess_hours,
    assess_month,
    hour_record,
    monthly_record,
    monthly_results,
)

MONTH = "2024-02"
N = 3 * 24 * 60


def _point(rng, mn, keys, base):
    n = N
    vals = {k: np.round(rng.normal(base[k], base[k] * 0.25, n).clip(0), 3) for k in keys}
    o2 = np.round(rng.normal(10, 1.5, n).clip(2, 20.9), 2)
    flow = np.round(rng.normal(60, 5, n), 1)
    df = minutes(mn, "2024-02-01 00:00", n, o2=o2, flow=flow, temp=120.0, **vals)
    flags = rng.choice(list("NNNNNNNNNNNNNNNNCMDSTB"), size=(len(keys) + 1, n))
    for i, k in enumerate(keys):
        df[f"{k}_flag"] = flags[i]
    df["o2_flag"] = np.where(rng.random(n) < 0.02, "C", "N")
    # a stop: hours 30–33 all F with the flow near zero; hours 40–41 F with normal flow
    for h0, h1, low in ((30, 34, True), (40, 42, False)):
        sl = slice(h0 * 60, h1 * 60)
        for k in keys:
            df.loc[df.index[sl], f"{k}_flag"] = "F"
        if low:
            df.loc[df.index[sl], "flow_m3_s"] = 0.4
            df.loc[df.index[sl], "flow_flag"] = "F"
    # one hour with 44 valid minutes, one with exactly 45
    for h, n_ok in ((50, 44), (51, 45)):
        idx = df.index[h * 60 : h * 60 + 60]
        for k in keys:
            df.loc[idx, f"{k}_flag"] = ["N"] * n_ok + ["M"] * (60 - n_ok)
        df.loc[idx, "o2_flag"] = "N"
    # exceedance episode: hours 60–65 doubled
    for k in keys:
        df.loc[df.index[60 * 60 : 66 * 60], f"{k}_mg_m3"] *= 2.2
    return df


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    rng = np.random.default_rng(20240201)
    frames = [
        _point(rng, "C1", ["pm", "so2", "nox"], {"pm": 5, "so2": 22, "nox": 38}),
        _point(
            rng,
            "K1",
            ["pm", "so2", "nox", "nh3", "nmhc"],
            {"pm": 6, "so2": 20, "nox": 110, "nh3": 5, "nmhc": 60},
        ),
        _point(rng, "G1", ["nox"], {"nox": 22}),
    ]
    df = pd.concat(frames, ignore_index=True)
    df["packet_id"] = np.arange(len(df))
    points = [
        {"mn": "C1", "source_type": "cement_kiln", "parameters": ["pm", "so2", "nox"]},
        {"mn": "K1", "source_type": "coke_oven_stack", "jurisdiction": "CN-43"},
        {"mn": "G1", "source_type": "gas_boiler", "jurisdiction": "CN-11", "parameters": ["nox"]},
    ]
    marks = [
        {
            "mn": "C1",
            "kind": "shutting_down",
            "start": "2024-02-02 10:30",
            "end": "2024-02-02 12:00",
            "status": "accepted",
        }
    ]
    tmp = tmp_path_factory.mktemp("conf")
    db = make_db(tmp / "c.duckdb", points, df, marks=marks)
    ref = reference_monthly(df, MONTH, points, marks)
    return db, tmp / "lake", ref


def _run(con, spark=False):
    if spark:  # one pipeline run: detail cached, monthly computed from it on Spark
        verdicts = assess_hours(con, MONTH).cache()
        rows = monthly_results(con, verdicts, MONTH).execute()
        detail = verdicts.order_by(["mn", "ts"]).execute()
    else:
        rows = assess_month(con, MONTH).execute()
        detail = assess_month(con, MONTH, detail=True).execute()
    monthly = [monthly_record(r) for r in rows.to_dict("records")]
    return {m["mn"]: m for m in monthly}, [hour_record(r) for r in detail.to_dict("records")]


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.fixture(scope="module")
def duck(case):
    db, _, _ = case
    return _run(backends.connect(db=db))


def test_duckdb_matches_pandas_reference(case, duck):
    _, _, ref = case
    monthly, _ = duck
    assert set(monthly) == set(ref)
    for mn, exp in ref.items():
        got = monthly[mn]
        assert got.keys() == exp.keys()
        for k in exp:
            assert _same(got[k], exp[k]), (mn, k, got[k], exp[k])
    # the cases really exercise the rules
    assert ref["C1"]["production_hours"] < 696  # stop hours and a mark
    assert sum(ref["K1"]["exceedance_hours"].values()) > 0
    assert set(ref["K1"]["exceedance_hours"]) == {"pm", "so2", "nox", "nh3", "nmhc"}
    assert set(ref["G1"]["exceedance_hours"]) == {"nox"}


@pytest.mark.spark
def test_spark_equals_duckdb(case, duck, spark_session):
    db, lake, _ = case
    con = backends.connect("spark", db=db, lake=lake, month=MONTH, session=spark_session)
    monthly, detail = _run(con, spark=True)
    d_monthly, d_detail = duck
    assert monthly.keys() == d_monthly.keys()
    for mn in monthly:
        for k, v in d_monthly[mn].items():
            assert _same(monthly[mn][k], v), (mn, k, monthly[mn][k], v)
    assert len(detail) == len(d_detail) == 3 * 696
    for s, d in zip(detail, d_detail, strict=True):
        for k, v in d.items():
            sv = s[k]
            if hasattr(sv, "isoformat"):
                sv, v = pd.Timestamp(sv), pd.Timestamp(v)
            assert _same(sv, v), (d["mn"], d["ts"], k, sv, v)
