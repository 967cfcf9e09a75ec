"""``zero`` at the analyser's floor and an analyser reading its zero (qczs14, session 14).

Two physical facts, worked examples with numbers by hand (China Standard Time wall-clock):

* an analyser reading its zero (zero gas left on, a failed cell) scatters about 0 with its
  noise, so about half its readings are ≤ 0: on a channel clear of zero (median ≥
  ``zero.clear_frac`` of its range) a run needs ``zero.clear_density`` (0.375) of its span
  ≤ 0, not ``zero.min_density`` (0.75);
* readings rounded to a step (1 mg/m³) cannot quantify a level below their limit of
  quantification, ``zero.loq_sigmas`` (10) × step/√12 = 2.89 steps: a channel whose month
  median is below it reads 0 legitimately (below half a step) and its zero runs are
  ``info``. ``zero_presence`` finds the step from the blocks' smallest and largest readings.
"""

from __future__ import annotations

import json
import math

import ibis
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.values import zero, zero_presence

TH = load_thresholds()
T0 = pd.Timestamp("2026-03-02 08:00")


def _ts(x) -> pd.Series:
    return pd.Series(x).astype("datetime64[us]")


def _long(values: list[float]) -> pd.DataFrame:
    ts = pd.date_range(T0, periods=len(values), freq="min").astype("datetime64[us]")
    return pd.DataFrame({"mn": "P1", "ts": ts, "running": True, "pollutant": "so2",
                         "value": values, "flag": "N"})


def _zero(values, median: float, rng: float | None = None,
          step: float | None = None) -> pd.DataFrame:
    pres = {"mn": ["P1"], "pollutant": ["so2"], "month_median": [median], "zero_share": [0.0]}
    if step is not None:
        pres["step"] = [step]
    ranges = None
    if rng is not None:
        ranges = ibis.memtable(pd.DataFrame({"mn": ["P1"], "pollutant": ["so2"],
                                             "range_mg_m3": [rng]}))
    ev = ibis.duckdb.connect().execute(
        zero(ibis.memtable(_long(values)), ibis.memtable(pd.DataFrame(pres)), TH, ranges=ranges))
    return ev.sort_values("start").reset_index(drop=True)


# zero noise: -0.3, 0.2, -0.1, 0.4 repeated: half the readings <= 0
NOISE = [-0.3, 0.2, -0.1, 0.4]


def test_an_analyser_reading_its_zero_noise_alarms_on_a_channel_clear_of_zero():
    v = [14.0] * 5 + NOISE * 20 + [14.0] * 5  # 80 minutes at zero noise, 40 of them <= 0
    # median 14 on a 100 mg/m3 range: 14 >= 0.05 x 100 -> clear of zero. The run spans the
    # first to the last <= 0 minute: 79 minutes, 40 <= 0: 40/79 = 0.51 >= 0.375
    ev = _zero(v, 14.0, rng=100.0)
    assert list(ev["severity"]) == ["medium"]  # 40 zero minutes < high_minutes 60
    e = json.loads(ev["evidence"][0])
    assert (e["minutes"], e["lowest"]) == (40.0, -0.3)
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=5)
    assert ev["end"][0] == T0 + pd.Timedelta(minutes=5 + 78)
    # not clear of zero (14 < 0.05 x 500): 0.51 < min_density 0.75, as before -> nothing
    assert _zero(v, 14.0, rng=500.0).empty
    assert _zero(v, 14.0).empty  # no range known: as before


def test_readings_above_zero_in_most_of_the_span_stay_no_run_on_a_clear_channel():
    # one <= 0 minute in every four (0.25 of the span < 0.375): a reading that dips to 0
    # now and then, not a reading of zero noise
    v = [14.0] * 5 + [0.0, 0.3, 0.4, 0.2] * 40 + [14.0] * 5
    assert _zero(v, 14.0, rng=100.0).empty


@pytest.mark.parametrize(("step", "median", "severity"), [
    (1.0, 1.37, "info"),     # 1.37 < 10 x 1/sqrt(12) = 2.89: below the LOQ of whole mg/m3
    (1.0, 3.0, "high"),      # 3.0 >= 2.89
    (0.1, 1.37, "high"),     # LOQ of 0.1-mg readings: 0.289
    (None, 1.37, "high"),    # no step known: as before
])
def test_zero_runs_below_the_readings_limit_of_quantification_are_info(step, median, severity):
    v = [1.0] * 5 + [0.0] * 90 + [1.0] * 5  # 90 minutes of 0 (>= high_minutes 60)
    ev = _zero(v, median, step=step)
    assert list(ev["severity"]) == [severity]
    loq = json.loads(ev["evidence"][0])["quantification_limit"]
    if step is None:
        assert loq is None
    else:
        assert loq == pytest.approx(10 * step / math.sqrt(12), abs=1e-4)  # evidence: 4 dp


def test_zero_presence_finds_each_channels_reading_step():
    hours = pd.DataFrame({"mn": "P1", "ts": _ts(pd.date_range(T0, periods=2, freq="h")),
                          "running": True, "flow_raw": 50.0, "o2_valid": True,
                          "o2_pct": 6.0, "pm_mg_m3": 1.5, "pm_valid": True,
                          "so2_mg_m3": 1.5, "so2_valid": True})
    blocks = pd.DataFrame({"mn": "P1", "t0": _ts(pd.date_range(T0, periods=4, freq="30min")),
                           "n_pm": [30, 30, 30, 0], "lo_pm": [0.0, 1.0, 0.0, 0.37],
                           "hi_pm": [2.0, 3.0, 1.0, 0.37],  # block 3 counts nothing
                           "n_so2": 30, "lo_so2": [0.0, 0.3, -0.2, 1.0],
                           "hi_so2": [2.0, 3.0, 1.1, 2.0],
                           "n_o2": 30, "lo_o2": [5.25, 5.5, 5.0, 5.0],
                           "hi_o2": [7.0, 7.0, 7.0, 7.0]})
    got = ibis.duckdb.connect().execute(
        zero_presence(ibis.memtable(hours), ibis.memtable(blocks), ["pm", "so2"]))
    step = got.set_index("pollutant")["step"]
    assert step["pm"] == 1.0  # every counted block's largest reading a whole number
    assert step["so2"] == pytest.approx(0.1)  # 1.1
    assert pd.isna(step["o2"])  # O2: no step (no limit of quantification wanted)
