"""The screens of ``spike`` and ``level_shift`` give exactly the events of the full windows.

``spike_windows`` (screen) refines only the hours whose value can pass the spike test by a
bound from block quantiles, and ``shift_screen`` leaves out the series that cannot have a
change point (engineer "qcstats", session 5). Both are bounds, so the events must be the same
as with the rolling windows over every hour (``screen=False``, the session-4 path): checked
on random series built to sit near the thresholds (hypothesis), on hand-made edge cases and
on the labelled demo province. Times are China Standard Time (naive).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import (
    level_shift,
    shift_screen,
    spike,
    spike_candidates,
    spike_span_hours,
    spike_windows,
)
from qc_demo import qc_demo_fixture  # noqa: F401  (the shared demo province fixture)

TH = load_thresholds()
T0 = pd.Timestamp("2026-04-01")


def _kept(t):
    """Keep a frame once (the hook `lantian qc` gives its detectors)."""
    return t.cache()


CON = ibis.duckdb.connect()
COLS = ["mn", "pollutant", "start", "end", "severity", "evidence"]


def _events(expr) -> list[tuple]:
    df = CON.execute(expr)
    return sorted(map(tuple, df[COLS].astype(str).values.tolist()))


def _frame(seed: int, hours: int, level: float, cycle: float, noise: float,
           n_spikes: int, spike_x: float, steps: int, step_x: float) -> pd.DataFrame:
    """Two pollutants of one point: daily cycle, noise, spikes and level steps (by seed)."""
    rng = np.random.default_rng(seed)
    parts = []
    for pol, lev in (("so2", level), ("nox", 3 * level)):
        h = np.arange(hours)
        v = lev * (1 + cycle * np.sin(2 * np.pi * h / 24)) * rng.lognormal(0, noise, hours)
        for _ in range(steps):
            a = int(rng.integers(0, hours))
            v[a:a + int(rng.integers(12, 96))] *= step_x
        for _ in range(n_spikes):
            a = int(rng.integers(0, hours))
            v[a:a + int(rng.integers(1, 4))] *= spike_x
        ts = T0 + pd.to_timedelta(np.sort(rng.choice(hours + hours // 5, hours, False)), "h")
        parts.append(pd.DataFrame({"mn": "P1", "ts": ts, "pollutant": pol, "value": v,
                                   "idx": np.arange(1, hours + 1)}))
    return pd.concat(parts, ignore_index=True)


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), hours=st.integers(1, 200),
       level=st.sampled_from([0.3, 2.0, 40.0]), cycle=st.sampled_from([0.0, 0.2, 0.5]),
       noise=st.sampled_from([0.02, 0.15, 0.4]), n_spikes=st.integers(0, 6),
       spike_x=st.sampled_from([1.8, 2.2, 3.0, 8.0]), steps=st.integers(0, 2),
       step_x=st.sampled_from([0.5, 1.3, 1.45, 2.5]))
def test_screened_and_full_windows_give_the_same_events(seed, hours, level, cycle, noise,
                                                        n_spikes, spike_x, steps, step_x):
    hl = ibis.memtable(_frame(seed, hours, level, cycle, noise, n_spikes, spike_x, steps,
                              step_x))
    assert _events(spike(hl, TH)) == _events(spike(hl, TH, screen=False))
    assert _events(level_shift(hl, TH)) == _events(level_shift(hl, TH, screen=False))


def test_screened_windows_are_the_full_windows_of_the_hours_they_keep():
    hl = ibis.memtable(_frame(7, 300, 20.0, 0.2, 0.05, 8, 4.0, 0, 1.0))
    full = CON.execute(spike_windows(hl, TH, screen=False))
    kept = CON.execute(spike_windows(hl, TH))
    assert 0 < len(kept) < len(full) / 5  # a few hours of 600: the spikes and their partners
    j = kept.merge(full, on=["mn", "pollutant", "idx"], suffixes=("", "_full"))
    assert len(j) == len(kept)
    for c in ("m", "q", "before", "after"):
        pd.testing.assert_series_equal(j[c], j[f"{c}_full"], check_names=False)


def test_a_spike_at_the_edge_of_a_block_passes_the_screen():
    # worked example of the bound (spike.window_h 12, blocks of 24 running hours, 4th
    # smallest, k_iqr 6, abs_floor 1, min_rel 1): block 0 (idx 1..24) at 9 mg/m3, block 1
    # (idx 25..48) at 4. Hours idx 13..36 reach both blocks: L = min(9, 4) = 4, a value must
    # reach max(4 + 6, 2·4) = 10; idx 1..12 see block 0 only: L = 9, threshold 18.
    # idx 24 at 50: its window (idx 12..36) holds 12 x 9, 50, 12 x 4: median 9, IQR 9 - 4 = 5,
    # 50 > 9 + 6·5 = 39 and > 2·9: a spike (high: 50 >= 5·9). idx 11 at 9.9 < 18 and every
    # other hour stay out.
    v = np.r_[np.full(24, 9.0), np.full(24, 4.0)]
    v[23] = 50.0
    v[10] = 9.9
    df = pd.DataFrame({"mn": "P1", "ts": T0 + pd.to_timedelta(np.arange(48), "h"),
                       "pollutant": "so2", "value": v, "idx": np.arange(1, 49)})
    kept = CON.execute(spike_windows(ibis.memtable(df), TH))
    assert kept.idx.tolist() == [24]
    assert (kept.m.iloc[0], kept.q.iloc[0]) == (9.0, 5.0)
    ev = CON.execute(spike(ibis.memtable(df), TH))
    assert ev.start.tolist() == [T0 + pd.Timedelta(hours=23)]
    assert ev.severity.tolist() == ["high"]


def test_a_quiet_series_is_screened_out_and_a_stepped_one_kept():
    quiet = _frame(3, 480, 20.0, 0.05, 0.03, 0, 1.0, 0, 1.0)
    step = quiet.assign(pollutant=quiet.pollutant + "_x")
    step.loc[step.idx.between(200, 300), "value"] *= 0.4
    hl = ibis.memtable(pd.concat([quiet, step], ignore_index=True))
    kept = CON.execute(shift_screen(hl, TH))
    assert sorted(kept.pollutant) == ["nox_x", "so2_x"]
    assert len(CON.execute(level_shift(hl, TH))) == 2


def test_the_demo_province_gives_the_same_events(qc_demo):
    from lantian.engine.hours import column_of, valid_hours
    from lantian.engine.quality import process
    from lantian.engine.quality.statistics import hour_long

    con, kw = qc_demo
    keys = list(kw.get("keys", ("pm", "so2", "nox")))
    cols = ["mn", "ts", "flow_raw"]
    for k in (*keys, "o2"):
        cols += [column_of(k), f"{k}_valid"]
    hours = process.running_hours(valid_hours(kw["minute"], keys).select(*cols), TH)
    hl = hour_long(hours, keys, kw["limits"])
    load = hours.filter(hours.running).select("mn", "ts", load=hours.flow_raw)
    got = {}
    for screen in (True, False):
        ls = con.execute(level_shift(hl, TH, load=load, screen=screen))
        sp = con.execute(spike(hl, TH, minutes=kw["minute"], screen=screen))
        got[screen] = (sorted(map(tuple, ls[COLS].astype(str).values.tolist())),
                       sorted(map(tuple, sp[COLS].astype(str).values.tolist())))
    assert got[True] == got[False]
    assert got[True][0] and got[True][1]  # the demo's injected faults are found


def test_spark_screens_give_the_duckdb_events(spark_ibis):
    df = _frame(11, 150, 20.0, 0.3, 0.15, 5, 4.0, 1, 0.4)
    df["ts"] = df["ts"].astype("datetime64[us]")

    def run(con, screen: bool) -> list[tuple]:
        t = con.create_table("qcstats_screen_hl", df, overwrite=True)
        out = []
        # level_shift's windowed hours kept once, as `lantian qc` keeps them: Spark's
        # analyser runs out of heap on the unkept plan (test_qc_level_shift's parity test)
        for expr in (spike(t, TH, screen=screen),
                     level_shift(t, TH, screen=screen, materialize=_kept)):
            ev = con.execute(expr)
            out.append(sorted(zip(ev.detector, ev.pollutant, ev.start.astype(str),
                                  ev.severity, strict=True)))
        return out

    want = run(ibis.duckdb.connect(), False)
    assert want[0] and want[1]  # both detectors have events in this series
    assert run(spark_ibis, True) == want


def test_spike_from_kept_candidates_and_the_span_minutes_only():
    # the split interface for a caller that reads the spans' minutes with other detectors'
    # (run.py): candidates kept, minutes cut to spike_span_hours: the same events as spike()
    n = 48 * 60
    ts = pd.date_range(T0, periods=n, freq="min")
    v = 50.0 + np.where(np.arange(n) % 2 == 1, 0.5, -0.5)
    v[10 * 60 + 20:11 * 60 + 40] += 400.0  # a glitch 10:20-11:40 (CST) on day one
    m = pd.DataFrame({"mn": "P1", "ts": ts, "nox_mg_m3": v, "nox_flag": "N"})
    h = m.groupby(m.ts.dt.floor("h")).nox_mg_m3.mean().reset_index()
    hl = ibis.memtable(h.rename(columns={"nox_mg_m3": "value"}).assign(
        mn="P1", pollutant="nox", idx=np.arange(1, len(h) + 1)))
    minutes = ibis.memtable(m)
    cand = CON.create_table("qcstats_cand", CON.execute(spike_candidates(hl, TH)))
    hours = CON.execute(spike_span_hours(cand, TH))
    # the run is 10:00 and 11:00; its span one hour either side: 09:00 .. 12:00
    assert sorted(hours.ts) == [T0 + pd.Timedelta(hours=x) for x in (9, 10, 11, 12)]
    few = minutes.filter(minutes.ts.truncate("h").isin(hours.ts.tolist()))
    split = _events(spike(hl, TH, minutes=few, candidates=cand))
    assert split == _events(spike(hl, TH, minutes=minutes))
    assert len(split) == 1 and split[0][4] == "high"


def test_spark_screens_on_hour_long_with_limits(spark_ibis):
    # lantian qc --engine spark: hl is hour_long(...) with a limits table joined in; the
    # screens run on PySpark too and give DuckDB's events
    from lantian.engine.quality.statistics import hour_long

    df = _frame(1, 300, 20.0, 0.3, 0.1, 5, 4.0, 1, 0.4)
    w = df.pivot_table(index=["mn", "ts"], columns="pollutant", values="value").reset_index()
    w = w.rename(columns={"so2": "so2_mg_m3", "nox": "nox_mg_m3"}).dropna()
    w = w.assign(running=True, so2_valid=True, nox_valid=True, o2_pct=9.0)
    w["ts"] = w["ts"].astype("datetime64[us]")
    lim = pd.DataFrame({"mn": ["P1", "P1"], "pollutant": ["so2", "nox"],
                        "o2_ref_pct": [9.0, 9.0]})

    def run(con) -> list[list[tuple]]:
        h = con.create_table("qcstats_hours", w, overwrite=True)
        li = con.create_table("qcstats_limits", lim, overwrite=True)
        hl = hour_long(h, ["so2", "nox"], li)
        out = []
        for expr in (spike(hl, TH), level_shift(hl, TH, materialize=_kept)):
            ev = con.execute(expr)
            out.append(sorted(zip(ev.detector, ev.pollutant, ev.start.astype(str),
                                  ev.severity, strict=True)))
        return out

    want = run(ibis.duckdb.connect())
    assert want[0] and want[1]
    got = run(spark_ibis)
    assert got == want
