"""Precision and recall of every detector on a generated demo province (issue 4).

One province of 36 points × 31 days of minute data (seed 5, different from the seeds used
while designing the detectors); 70 % of the points carry one or two labelled faults, the
others are clean and must raise nothing above ``low``. Targets: precision and recall ≥ 0.9
per detector at the default thresholds.
"""

from __future__ import annotations

import pandas as pd
import pytest

from lantian.demo.evaluate import read_truth, score
from lantian.demo.generate import generate
from lantian.demo.load import demo_backend
from lantian.engine.quality import DETECTORS, load_thresholds, quality_events
from lantian.engine.quality.inputs import read_inputs


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    out = tmp_path_factory.mktemp("province")
    generate(out, points=36, days=31, start="2026-03-01", seed=5, fault_share=0.7)
    con = demo_backend(out)
    kw = read_inputs(con, "2026-03", load_thresholds())
    events = con.execute(quality_events(**kw))
    return events, read_truth(out / "events.csv")


def test_every_fault_kind_is_labelled(province):
    _, truth = province
    assert set(truth["detector"]) == set(DETECTORS)


@pytest.mark.parametrize("detector", DETECTORS)
def test_precision_and_recall_per_detector(province, detector):
    events, truth = province
    s = score(events, truth, [detector])[detector]
    assert s.faults > 0
    assert s.recall >= 0.9, s
    assert s.precision >= 0.9, s


def test_alarms_only_counting_medium_and_high_still_meet_targets(province):
    events, truth = province
    alarms = events[events["severity"].isin(["medium", "high"])]
    for det, s in score(alarms, truth, DETECTORS).items():
        assert s.recall >= 0.9 and s.precision >= 0.9, (det, s)


def test_clean_points_raise_nothing_above_low(province):
    events, truth = province
    faulty = set(truth["mn"])
    clean = events[~events["mn"].isin(faulty)]
    assert clean["mn"].nunique() == 0 or set(clean["severity"]) <= {"info", "low"}, clean


def test_events_have_the_contract_columns(province):
    events, _ = province
    assert list(events.columns) == ["detector", "mn", "pollutant", "start", "end", "severity",
                                    "evidence"]
    assert set(events["severity"]) <= {"info", "low", "medium", "high"}
    assert (pd.to_datetime(events["end"]) >= pd.to_datetime(events["start"])).all()
