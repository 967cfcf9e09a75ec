"""One small demo province with labelled faults of every kind, shared by the qc speed tests.

``qc_demo`` (session scope): 14 points × 10 days (March 2026, CST), 90 % of the points
faulty, loaded into an in-memory DuckDB backend; returns ``(con, inputs)`` with ``inputs``
the keyword arguments of :func:`~lantian.engine.quality.run.detector_events` from
:func:`~lantian.engine.quality.inputs.read_inputs`. Used by ``test_qc_perf.py``,
``test_qc_speed.py`` and ``test_qc_shared.py`` (import ``qc_demo_fixture``; the tests ask
for ``qc_demo``). Tests must not change the backend's settings.
"""

from __future__ import annotations

import pytest

from lantian.demo.generate import generate
from lantian.demo.load import demo_backend
from lantian.engine.quality import load_thresholds
from lantian.engine.quality.inputs import read_inputs

MONTH = "2026-03"


@pytest.fixture(scope="session", name="qc_demo")
def qc_demo_fixture(tmp_path_factory):
    out = tmp_path_factory.mktemp("qc_demo")
    generate(out, points=14, days=10, start=f"{MONTH}-01", seed=23, fault_share=0.9)
    con = demo_backend(out)
    return con, read_inputs(con, MONTH, load_thresholds())


def constant_from_block_scan(minute, pollutants, th, keep=None, channels=None):
    """``constant`` events as ``detector_events`` builds them (an Ibis table, not executed).

    Frozen blocks from the one scan of the minutes (:mod:`lantian.engine.quality.blocks`),
    then :func:`~lantian.engine.quality.values.constant_blocks`; ``minute`` without
    ``running``, with ``o2_pct`` and ``flow_m3_s`` columns. ``channels`` defaults to
    ``pollutants`` + O2 + flow, as ``lantian qc`` screens them.
    """
    from lantian.engine.quality import values
    from lantian.engine.quality.blocks import frozen_blocks, minute_blocks
    from lantian.engine.quality.frames import reference_flow

    ref = reference_flow(minute)
    chans = list(channels) if channels is not None else [*pollutants, "o2", "flow"]
    frozen = frozen_blocks(minute_blocks(minute, pollutants, th), ref, chans, th)
    return values.constant_blocks(minute, frozen, ref, chans, th, materialize=keep)
