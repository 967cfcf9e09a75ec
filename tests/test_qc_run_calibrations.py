"""The month run hands ``level_shift`` the analyser parameter reports (qcframes13, s13).

:func:`lantian.engine.quality.run.detector_events` passes its ``params`` (``value_long``
rows: slope/intercept changes, HJ 212 i13007/i13008) to ``level_shift`` as
``calibrations`` (qcshift13: a level step at the hour the analyser was re-calibrated is that
calibration's, ``low``); without ``params`` it passes ``None`` (the detector's own default).
"""

from __future__ import annotations

import pytest

from lantian.engine.quality import statistics
from lantian.engine.quality.run import detector_events
from qc_demo import qc_demo_fixture  # noqa: F401  (fixture qc_demo)


@pytest.mark.parametrize("with_params", [True, False])
def test_level_shift_gets_the_parameter_reports(qc_demo, monkeypatch, with_params):
    _, kw = qc_demo
    kw = dict(kw)
    if not with_params:
        kw["params"] = None
    seen = []
    real = statistics.level_shift

    def spy(*args, **kwargs):
        seen.append(kwargs.get("calibrations", "absent"))
        return real(*args, **kwargs)

    monkeypatch.setattr(statistics, "level_shift", spy)
    detector_events(**kw, detectors=["level_shift"])
    assert len(seen) == 1
    assert seen[0] is kw["params"]
    assert (seen[0] is not None) == with_params
