"""The speed restructuring of ``lantian qc`` does not change a single event.

:func:`~lantian.engine.quality.suspects.suspect_minutes` hands ``zero``, ``over_range``,
``zs_mismatch``, ``flag_abuse`` and ``false_stop`` only the minutes they can keep; the hours
are aggregated from the minutes as read, with only the columns the detectors use. Each
detector run the straightforward way (on every running minute, hours from the running
minutes with every column, as before the change) must give exactly the events of
:func:`~lantian.engine.quality.run.detector_events`, on a small demo province with labelled
faults of every kind.
"""

from __future__ import annotations

import pandas as pd
import pytest
from ibis import _

from lantian.engine.backends import month_bounds
from lantian.engine.hours import valid_hours
from lantian.engine.quality import conduct, process, records, statistics, values
from lantian.engine.quality.blocks import block_hours, minute_blocks
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.run import detector_events
from lantian.engine.quality.suspects import suspect_minutes
from qc_demo import qc_demo_fixture  # noqa: F401  (the shared fixture qc_demo)
from test_qc_perf import _sorted


def _straightforward(kw) -> dict:
    """The minute and hour detectors as run before the suspect frame (every minute)."""
    th, keys, limits = kw["thresholds"], kw["keys"], kw["limits"]
    m = running_minutes(kw["minute"], th)
    hours = process.running_hours(valid_hours(m, keys), th)
    lp = long_minutes(m, [*keys, "o2"], with_zs=True)
    # zero's channel facts: month median and zero-crossing share (session 7) of the blocks
    pres = values.zero_presence(hours, minute_blocks(kw["minute"], keys, th), keys,
                                ranges=kw["ranges"], th=th)
    lpp = lp.filter(_.pollutant != "o2")
    run_h = hours.filter(_.running).group_by("mn").aggregate(hours=_.count())
    hl = statistics.hour_long(hours, keys, limits)
    start, end = month_bounds(kw["month"])
    return {
        "constant": values.constant(long_minutes(m, [*keys, "o2", "flow"]), th),
        "missing": records.missing(kw["minute"].select("mn", "ts"), start, end, th),
        "zero": values.zero(lp, pres, th),
        "over_range": values.over_range(lpp, kw["ranges"], th),
        "zs_mismatch": process.zs_mismatch(lpp, limits, th),
        "flag_abuse": conduct.flag_abuse(lpp, limits, run_h, th),
        "false_stop": process.false_stop(m, th),
        "dilution": process.dilution(hours, kw["points"], th),
        "pinned_under_limit": conduct.pinned_under_limit(hours, limits, keys, th),
        "level_shift": statistics.level_shift(  # the load as run.py gives it
            hl, th, load=hours.filter(_.running).select("mn", "ts", load=hours.flow_raw)),
        "spike": statistics.spike(  # the block scan as run.py gives it (qcspike9)
            hl, th, minutes=kw["minute"], candidates=statistics.spike_candidates(
                hl, th, blocks=minute_blocks(kw["minute"], keys, th))),
    }


@pytest.mark.parametrize("kept", [False, True], ids=["lazy", "materialized"])
def test_suspect_path_gives_the_straightforward_events(qc_demo, kept):
    con, kw = qc_demo
    old = _straightforward(kw)
    new = detector_events(**kw, detectors=list(old),
                          materialize=(lambda t: t.cache()) if kept else None)
    total = 0
    for name, expr in old.items():
        a, b = _sorted(con.execute(expr)), _sorted(con.execute(new[name]))
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
        total += len(a)
    # the comparison saw events of the restructured minute detectors
    seen = {d for d in old if len(con.execute(old[d]))}
    assert {"constant", "missing", "zero", "over_range", "false_stop"} <= seen, seen
    assert total > 0


def test_suspects_are_a_small_superset_of_what_the_detectors_keep(qc_demo):
    con, kw = qc_demo
    th, keys = kw["thresholds"], kw["keys"]
    m = running_minutes(kw["minute"], th)
    sus = suspect_minutes(m, keys, limits=kw["limits"], ranges=kw["ranges"], th=th)
    n_all = con.execute(m.count())
    n_sus = con.execute(sus.count())
    assert 0 < n_sus < 0.5 * n_all
    # every flagged T/M/C/D minute and every running zero minute flagged N is a suspect
    lp = long_minutes(m, keys).filter(_.flag.isin(["T", "M", "C", "D"])
                                      | (_.running & (_.flag == "N") & (_.value <= 0)))
    lp = lp.select("mn", "ts").distinct()
    s = sus.select(_smn=sus.mn, _sts=sus.ts)
    missing = lp.anti_join(s, [lp.mn == s._smn, lp.ts == s._sts])
    assert con.execute(missing.count()) == 0


def test_block_hours_equal_the_engine_valid_hours(qc_demo):
    """The hours from the one block scan are the engine's valid hours (float sums aside)."""
    con, kw = qc_demo
    th, keys = kw["thresholds"], kw["keys"]
    order = ["mn", "ts"]
    a = con.execute(valid_hours(kw["minute"], keys)).sort_values(order).reset_index(drop=True)
    b = con.execute(block_hours(minute_blocks(kw["minute"], keys, th), keys, th))
    b = b.sort_values(order).reset_index(drop=True)
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a[list(b.columns)], b, check_dtype=False, rtol=1e-12)
    # some hours are invalid (fewer than 45 valid minutes) and some valid: both kinds compared
    assert 0 < int((~b["so2_valid"]).sum()) < len(b)
