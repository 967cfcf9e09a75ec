"""The demo province generator: files, schema, labels, realism checks, determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lantian.demo.faults import FAULT_KINDS
from lantian.demo.generate import flue_minute_columns, generate
from lantian.demo.profiles import profiles
from lantian.demo.signals import clean_signals


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    s = generate(out, points=8, days=3, start="2026-02-01", seed=3, fault_share=1.0)
    return out, s


def test_parquet_columns_exactly_like_flue_minute(small):
    out, s = small
    files = sorted((out / "flue_minute").glob("*.parquet"))
    assert len(files) == 8
    names = [n for n, _ in flue_minute_columns()]
    for f in files:
        assert pq.read_schema(f).names == names
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    assert rows == s.rows


def test_registry_ground_truth_and_records(small):
    out, _ = small
    reg = json.loads((out / "registry.json").read_text("utf-8"))
    assert len(reg["points"]) == 8
    p = reg["points"][0]
    assert len(p["mn"]) == 24 and p["password"].isdigit()
    assert "有限公司" in p["enterprise"] and p["source_type"] in profiles()
    ev = pd.read_csv(out / "events.csv", keep_default_na=False)
    faults = ev[ev["detector"] != ""]
    assert set(faults["detector"]) <= set(FAULT_KINDS) and len(faults) >= 8
    assert set(ev[ev["detector"] == ""]["kind"]) >= {"maintenance"}
    assert (pd.to_datetime(ev["end"]) >= pd.to_datetime(ev["start"])).all()
    m = pd.read_csv(out / "maintenance.csv")
    assert list(m.columns) == ["mn", "start", "end", "kind", "contractor", "note"]
    par = pd.read_parquet(out / "params.parquet")
    assert set(par["code"]) == {"i13001", "i13007", "i13008"}


def test_same_seed_same_data(tmp_path):
    a = generate(tmp_path / "a", points=2, days=1, seed=42)
    b = generate(tmp_path / "b", points=2, days=1, seed=42)
    assert a.rows == b.rows
    fa = sorted((tmp_path / "a" / "flue_minute").glob("*.parquet"))
    fb = sorted((tmp_path / "b" / "flue_minute").glob("*.parquet"))
    assert pq.read_table(fa[0]).equals(pq.read_table(fb[0]))


@pytest.mark.parametrize("source_type", sorted(profiles()))
def test_clean_signals_behave_like_the_source(source_type):
    prof = profiles()[source_type]
    s = clean_signals(np.random.default_rng(0), prof, pd.Timestamp("2026-01-05"), 7 * 1440)
    run = s.running
    assert run.any()
    # typical running level within ±25 % of the profile, analyser noise present
    for p, typ in prof.typical.items():
        assert abs(np.median(s.conc[p][run]) / typ - 1) < 0.25
        assert np.mean(np.diff(np.round(s.conc[p][run], 3)) == 0) < 0.05
    # O2 near the profile while running, near ambient when stopped
    assert abs(np.median(s.o2[run]) - prof.o2_pct) < 1.5
    if (~run).sum() > 600:
        assert np.median(s.o2[~run]) > 19.5
    # daily cycle: hourly medians differ through the day for load-following sources
    if prof.pattern in ("daytime", "foundry"):
        assert run.mean() < 0.8


def test_hj212_packets_load_through_the_store_like_parquet(tmp_path):
    import duckdb

    from lantian.demo.load import load_demo

    generate(tmp_path / "pq", points=1, days=1, seed=9, fault_share=0.0)
    generate(tmp_path / "hj", points=1, days=1, seed=9, fault_share=0.0, fmt="hj212")
    text = next(iter((tmp_path / "hj" / "hj212").glob("*.txt"))).read_bytes()
    lines = text.split(b"\r\n")[:-1]
    assert len(lines) == 1440
    assert all(x.startswith(b"##") and b"CN=2051" in x and b"a21026-Avg=" in x for x in lines)
    a = load_demo(tmp_path / "a.duckdb", tmp_path / "pq")
    b = load_demo(tmp_path / "b.duckdb", tmp_path / "hj")
    assert a.minute_rows == b.minute_rows == 1440
    q = ("SELECT ts, so2_mg_m3, so2_zs, so2_flag, o2_pct, flow_m3_s FROM flue_minute "
         "ORDER BY ts")
    rows = []
    for name in ("a", "b"):
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
        rows.append(con.execute(q).fetchall())
        con.close()
    assert rows[0] == rows[1]
