"""The labels' trace: how many transmitted values a fault changed (session 15, qczs15).

The evaluation sets (benchmarks/qc_blind.py, the demo generator) add to their labels how many
minutes sent in the fault's window the fault changed after the logger's rounding, and for
zs_mismatch how many by more than the detector's per-minute tolerance, so the evaluation can
tell a missed fault from a fault that left no trace. The trace must not change any generated
value nor any random draw.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import qc_blind as qb  # benchmarks/ (on sys.path through conftest)

from lantian.demo import generate as gen
from lantian.engine.quality.process import zs_minute_tolerance
from lantian.engine.quality.thresholds import load_thresholds

TH = (load_thresholds().with_value("zs_mismatch", "abs_tol", 0.3)
      .with_value("zs_mismatch", "rel_tol", 0.1)
      .with_value("zs_mismatch", "rounding_share", 0.5))


def test_zs_minute_tolerance_is_the_detectors_rule():
    # max(0.3, 0.1 x |own|) + 0.5 x step
    tol = zs_minute_tolerance(np.array([17.0, 2.0, -40.0]), 1.0, TH)
    np.testing.assert_allclose(tol, [1.7 + 0.5, 0.3 + 0.5, 4.0 + 0.5])


def test_zs_beyond_tolerance_counts_only_moves_past_the_tolerance():
    clean = np.array([17.0, 17.0, 2.0, 2.0, np.nan])
    faulted = np.array([15.0, 14.0, 1.0, 2.0, np.nan])
    got = qb.zs_beyond_tolerance(clean, faulted, 1.0, TH)
    # 17 -> 15 (2 <= 2.2) no; 17 -> 14 (3) yes; 2 -> 1 (1 > 0.8) yes; unchanged and NaN no
    assert got.tolist() == [False, True, True, False, False]


def _point(n=10):
    ts = pd.date_range("2026-03-01 10:00", periods=n, freq="min").to_numpy()
    return pd.DataFrame({"mn": "P1", "ts": ts})


def test_trace_counts_changed_values_that_were_sent():
    df = _point()
    clean = np.array([17.0] * 10)
    sent = clean.copy()
    sent[2:6] = [15.0, 14.0, 17.0, 15.0]  # 3 changed in the window, one by 3 (beyond 2.2)
    sent[8] = 10.0  # outside the label's window
    df["so2_zs"] = sent
    keep = np.ones(10, dtype=bool)
    keep[5] = False  # a changed minute that was lost in transmission
    lab = {"detector": "zs_mismatch", "pollutant": "so2", "start": df.ts[1], "end": df.ts[6],
           "info": str({"strength": "borderline", "factor": 0.89})}
    meta = {"zs_dec": 0}
    qb._trace_labels([lab], df, meta, keep, {}, {}, {"so2_zs": clean}, thresholds=TH)
    assert (lab["compared"], lab["changed"], lab["beyond_tol"]) == (5, 2, 1)


def test_trace_of_a_value_fault_and_kinds_without_one():
    df = _point()
    before = {"pm_mg_m3": np.arange(10.0), "o2_pct": np.full(10, 6.0)}
    after = {"pm_mg_m3": before["pm_mg_m3"].copy(), "o2_pct": before["o2_pct"].copy()}
    after["pm_mg_m3"][3:7] = [3.0, 0.0, 0.0, np.nan]  # 3 -> 3 unchanged; 6 -> NaN not sent
    labs = [{"detector": "zero", "pollutant": "pm", "start": df.ts[3], "end": df.ts[6],
             "info": "{}"},
            {"detector": "missing", "pollutant": None, "start": df.ts[0], "end": df.ts[9],
             "info": "{}"}]
    qb._trace_labels(labs, df, {"zs_dec": None}, np.ones(10, dtype=bool), before, after, {},
                     thresholds=TH)
    assert (labs[0]["compared"], labs[0]["changed"]) == (3, 2)
    assert "changed" not in labs[1]  # a gap changes no value: no trace counted


def test_blind_case_is_the_same_with_and_without_the_trace(monkeypatch):
    with_trace = qb.build_case(2, 18, 14)
    monkeypatch.setattr(qb, "_trace_labels", lambda *a, **k: None)
    without = qb.build_case(2, 18, 14)
    pd.testing.assert_frame_equal(with_trace.minute, without.minute)
    pd.testing.assert_frame_equal(with_trace.params, without.params)
    base = ["detector", "mn", "pollutant", "start", "end", "info"]
    pd.testing.assert_frame_equal(with_trace.truth[base], without.truth[base])
    z = with_trace.truth[with_trace.truth.detector == "zs_mismatch"]
    assert len(z) and (z["changed"] > 0).all() and (z["changed"] <= z["compared"]).all()
    assert without.truth["changed"].isna().all()


def test_the_report_lists_traceless_labels_and_recall_over_traced(capsys):
    t0 = pd.Timestamp("2026-03-01 10:00")
    truth = pd.DataFrame([
        {"detector": "zs_mismatch", "mn": "A", "pollutant": "so2", "start": t0,
         "end": t0 + pd.Timedelta(hours=3), "info": "{'strength': 'clear'}", "compared": 180,
         "changed": 180, "beyond_tol": 170},
        {"detector": "zs_mismatch", "mn": "B", "pollutant": "pm", "start": t0,
         "end": t0 + pd.Timedelta(hours=3), "info": "{'strength': 'borderline'}",
         "compared": 180, "changed": 0, "beyond_tol": 0},
        {"detector": "missing", "mn": "C", "pollutant": None, "start": t0,
         "end": t0 + pd.Timedelta(hours=3), "info": "{'strength': 'clear'}", "compared": None,
         "changed": None, "beyond_tol": None},
    ])
    for c in qb.TRACE_COLUMNS:
        truth[c] = truth[c].astype("Int64")
    ev = pd.DataFrame([{"detector": "zs_mismatch", "mn": "A", "pollutant": "so2",
                        "start": t0, "end": t0 + pd.Timedelta(hours=2), "severity": "high",
                        "evidence": "{}"}])
    t = qb.label_traces(ev, truth)
    assert t["mn"].tolist() == ["A", "B"] and t["found"].tolist() == [True, False]
    qb._print_traces(t.assign(seed=9))
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("zs_mismatch"))
    # faults 2, found 1, traced 1, found_traced 1, recall_traced 1.0
    assert row.split()[1:6] == ["2", "1", "1", "1", "1.0"]
    assert "traceless labels (no transmitted value changed): 1" in out
    assert " B " in out.split("traceless labels")[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    gen.generate(out, points=24, days=7, seed=5, fault_share=1.0)
    return out


def test_demo_zs_labels_carry_their_trace(demo):
    ev = pd.read_csv(demo / "events.csv", keep_default_na=False)
    z = ev[ev.detector == "zs_mismatch"]
    assert len(z)
    for d in z["details"].map(json.loads):
        assert 0 < d["changed"] <= d["compared"] and d["beyond_tol"] <= d["changed"]


def test_demo_data_are_the_same_without_the_trace(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "trace_zs_label", lambda label, s, prof: label)
    gen.generate(tmp_path, points=24, days=7, seed=5, fault_share=1.0)
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                   if p.is_file() and p.name != "events.csv")
    assert files
    for f in files:
        assert (tmp_path / f).read_bytes() == (demo / f).read_bytes(), f
