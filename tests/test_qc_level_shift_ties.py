"""level_shift: a plateau of tied two-window statistics is one change point, at its middle.

qcshift15 (session 15). ``d(i)``, the difference of the medians of the 24 running hours from
``i`` on and the 24 before, moves only when the hour that enters or leaves a window crosses
its median: with quantised readings (an analyser that reports whole mg/m³) ``d`` stays on
the same value for hours around a step, every hour of such a plateau was a change point,
and the 1-h segments between them (shorter than ``level_shift.min_hours``, so never judged)
took those hours off the fault: a ×0.6 fault of 40 h was reported as 27-29 h (seeds 1, 4, 5
below, session 14's code). The plateau of a median test is centred on the step, so its
middle hour is the change point: its first hour put both cuts up to 11 h early, the end's
inside the fault (29 h of 40 kept in seeds 1, 4 and 5 again).
Hand-made hourly series as test_qc_level_shift_edges.py: 20 mg/m³, a daily load cycle of
±10 %, analyser noise of 4 % (log-normal, fixed seeds), readings rounded to 1 mg/m³.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import level_shift

N = 20 * 24
T0 = pd.Timestamp("2026-03-01")
FAULT = (200, 40, 0.6)  # start hour, hours, factor


def _series(seed: int, step: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hour = np.arange(N) % 24
    v = 20.0 * (1 + 0.1 * np.sin(2 * np.pi * hour / 24)) * np.exp(rng.normal(0, 0.04, N))
    s, h, f = FAULT
    v[s:s + h] *= f
    v = np.round(v / step) * step  # the analyser's resolution: readings tie
    return pd.DataFrame({"mn": "P1", "ts": T0 + pd.to_timedelta(np.arange(N), "h"),
                         "pollutant": "so2", "value": v, "idx": np.arange(1, N + 1)})


def _run(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events and the kept hours (``materialize`` hook: d, _cp, _cpw per hour)."""
    kept = {}

    def keep(t):
        kept["t"] = t
        return t

    con = ibis.duckdb.connect()
    ev = con.execute(level_shift(ibis.memtable(df), load_thresholds(), materialize=keep))
    return ev, con.execute(kept["t"]).sort_values("idx").reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_a_plateau_of_tied_d_is_one_change_point(seed):
    ev, t = _run(_series(seed))
    assert (t.d.diff() == 0).sum() > 50  # the readings do tie (hours of equal d)
    for col in ("_cp", "_cpw"):
        cp = t[t[col] == 1]
        # a change point is the only one of its sign within the 24-h windows around it
        for sign in (1, -1):
            idx = cp[np.sign(cp.d) == sign].idx.to_numpy()
            assert (np.diff(idx) > 24).all(), (col, sign, idx)
    assert not ev.empty


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_fault_keeps_its_hours(seed):
    ev, _ = _run(_series(seed))
    al = ev[ev.severity.isin(["medium", "high"])]
    assert len(al) == 1 and len(ev) == 1
    s, h, _ = FAULT
    a, b = T0 + pd.Timedelta(hours=s), T0 + pd.Timedelta(hours=s + h)
    e = al.iloc[0]
    inside = (min(e.end + pd.Timedelta(minutes=1), b) - max(e.start, a)) / pd.Timedelta(hours=1)
    assert inside >= 0.8 * h  # 27-29 of the fault's 40 hours kept with session 14's code
