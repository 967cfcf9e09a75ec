"""level_shift: the two-window path's segments are judged for suddenness too.

qcshift17 (session 17). Until session 16 only the weak path's segments (``level_shift.seg_k``)
were judged by their onset (``level_shift.sudden_k``, evidence ``sudden_sigmas``); a segment
of the two-window threshold (``level_shift.k_mad``) was an alarm however slowly its level
came, and `high` when halved. Hand-made hourly series of test_qc_level_shift_long (20 mg/m³,
a daily load cycle of ±10 %, analyser noise of 8 % AR(1) φ = 0.8, a day-to-day wander of 7 %,
fixed seeds), a ×0.4 fault for four days: as a step (an analyser's fault) it stays `high`,
its onset 13–14 spreads of the channel's own 3-h jumps; the same fall reached over 36 hours
and left over 36 (a gradual drift, the process's wander) reads 2.5–2.8 and is `low`.
"""

from __future__ import annotations

import json

import pytest

from lantian.engine.quality import load_thresholds
from test_qc_level_shift_long import START, _run
from test_qc_level_shift_sudden import _ramped

FAULT = (START, 96, 0.4)  # a ×0.4 fault for four days


@pytest.mark.parametrize("seed", [2, 4])
def test_a_sudden_halving_of_the_two_window_path_stays_high(seed):
    ev = _run(_ramped(seed, FAULT, 0))
    assert ev.severity.tolist() == ["high"]
    evid = json.loads(ev.iloc[0].evidence)
    assert evid["step_sigmas"] is None  # the two-window path's segment, not the weak path's
    assert evid["sudden_sigmas"] >= 10  # an analyser's step: far beyond sudden_k


@pytest.mark.parametrize("seed", [2, 4])
def test_a_two_window_high_on_a_gradual_drift_is_low(seed):
    ev = _run(_ramped(seed, FAULT, 36))
    assert ev.severity.tolist() == ["low"]
    evid = json.loads(ev.iloc[0].evidence)
    assert evid["step_sigmas"] is None  # the two-window path (k_mad), no mean test
    assert evid["ratio"] < 0.5  # halved: `high` by its size ...
    assert evid["sudden_sigmas"] < load_thresholds().get("level_shift", "sudden_k")  # ... gradual
    assert evid["process_change"] == "false"  # not the load or another pollutant
    # the rule is what makes it low: with sudden_k 0 it is the `high` it was before
    th = load_thresholds().with_value("level_shift", "sudden_k", 0)
    assert _run(_ramped(seed, FAULT, 36), th=th).severity.tolist() == ["high"]
