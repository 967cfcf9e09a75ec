"""One re-read of the minutes for ``constant``, ``spike`` and the minute-level detectors.

:func:`lantian.engine.quality.run.detector_events` reads the minutes of the suspect blocks
(``zero``, ``over_range``, ``zs_mismatch``, ``flag_abuse``, ``false_stop``), of the
blocks near a frozen one (``constant``) and of ``spike``'s candidate spans in ONE semi-join
of the minute files and keeps only the rows each needs (session 5). Whichever subset of
detectors is asked for (so that one branch of the combined read is empty or absent), every
detector's events must equal the ones of the full
run, and ``constant``'s the long-frame form on every running minute (``values.constant``).
"""

from __future__ import annotations

import pandas as pd
import pytest

from lantian.engine.quality import values
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.run import detector_events
from qc_demo import qc_demo_fixture  # noqa: F401  (fixture qc_demo)

_ORDER = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]
_MINUTE_DETECTORS = ("constant", "zero", "over_range", "zs_mismatch", "flag_abuse",
                     "false_stop", "spike")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[_ORDER].sort_values(_ORDER, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module", name="full_run")
def full_run_fixture(qc_demo):
    con, kw = qc_demo
    parts = detector_events(**kw, detectors=_MINUTE_DETECTORS,
                            materialize=lambda t: t.cache())
    return {name: _sorted(con.execute(expr)) for name, expr in parts.items()}


@pytest.mark.parametrize("subset", [("constant",), ("zero", "false_stop"),
                                    ("over_range", "flag_abuse", "zs_mismatch"), ("spike",),
                                    ("constant", "spike")])
def test_each_branch_of_the_shared_read_gives_the_full_run_events(qc_demo, full_run, subset):
    con, kw = qc_demo
    parts = detector_events(**kw, detectors=subset, materialize=lambda t: t.cache())
    assert sorted(parts) == sorted(subset)
    for name, expr in parts.items():
        pd.testing.assert_frame_equal(_sorted(con.execute(expr)), full_run[name],
                                      check_dtype=False)


def test_constant_from_the_shared_read_equals_the_long_frame_form(qc_demo, full_run):
    con, kw = qc_demo
    th = kw["thresholds"]
    m = running_minutes(kw["minute"], th)
    slow = _sorted(con.execute(values.constant(long_minutes(m, [*kw["keys"], "o2", "flow"]),
                                               th)))
    assert len(slow) > 0  # the demo has frozen channels
    pd.testing.assert_frame_equal(full_run["constant"], slow, check_dtype=False)
    # the suspect detectors saw events too (the other branch of the read is not empty)
    assert sum(len(full_run[n]) for n in _MINUTE_DETECTORS if n != "constant") > 0


def test_spike_from_the_shared_read_equals_spike_on_every_minute(qc_demo, full_run):
    from lantian.engine.quality import statistics
    from lantian.engine.quality.blocks import block_hours, minute_blocks
    from lantian.engine.quality.process import running_hours

    con, kw = qc_demo
    th = kw["thresholds"]
    blocks = minute_blocks(kw["minute"], kw["keys"], th)
    hours = running_hours(block_hours(blocks, kw["keys"], th), th)
    hl = statistics.hour_long(hours, kw["keys"], kw["limits"])
    # the candidates as run.py makes them: with the block scan (short glitches, qcspike9)
    cands = statistics.spike_candidates(hl, th, blocks=blocks)
    direct = _sorted(con.execute(statistics.spike(hl, th, minutes=kw["minute"],
                                                  candidates=cands)))
    assert len(direct) > 0  # the demo has spikes
    pd.testing.assert_frame_equal(full_run["spike"], direct, check_dtype=False)


def test_the_re_read_keeps_only_the_columns_the_detectors_read(qc_demo):
    """No kept frame carries the flue temperature: no detector reads it (session 18).

    The re-read of the minutes decoded and kept ``temp_c`` for every suspect, near and
    span minute. Its flag is still read (every flag counts for the declared state).
    """
    _, kw = qc_demo
    assert "temp_c" in kw["minute"].columns and "temp_flag" in kw["minute"].columns
    kept: list[list[str]] = []

    def keep(t):
        kept.append(list(t.columns))
        return t.cache()

    detector_events(**kw, detectors=_MINUTE_DETECTORS, materialize=keep)
    assert kept and not [cols for cols in kept if "temp_c" in cols]
