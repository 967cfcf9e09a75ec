"""The suspect blocks are told from per-flag partials, not from "any flag other than N".

:func:`lantian.engine.quality.blocks.suspect_blocks` picks the blocks whose minutes the
minute-level detectors read again (``run._reread_minutes``). Session 7: a block is suspect
only when a minute of it can pass a first filter of ``zero``, ``over_range``, ``flag_abuse``,
``false_stop`` or ``zs_mismatch``, told from the block scan's partials (``xhi_k``, ``nb_k``
summed over the clock hour, ``fxf``, ``fmf``); a daily 15-minute calibration, S/B flags or a
declared and real shutdown make no block suspect. One day of one point with one case of each
(hand-made minutes, March 2026, CST): the blocks kept are exactly the expected ones and every
detector gives the events it gives on every minute.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from ibis import _

from lantian.engine.quality import conduct, load_thresholds, process, values
from lantian.engine.quality.blocks import block_seconds, minute_blocks, suspect_blocks
from lantian.engine.quality.frames import long_minutes, reference_flow, running_minutes
from lantian.engine.quality.run import detector_events

MN = "43000000000001"
DAY = dt.datetime(2026, 3, 2)
FLAGS = ("so2_flag", "nox_flag", "o2_flag", "flow_flag", "temp_flag")
_ORDER = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]
_DETECTORS = ("zero", "over_range", "flag_abuse", "false_stop", "zs_mismatch")


def _at(hh: int, mm: int) -> int:
    return hh * 60 + mm


def _day() -> pd.DataFrame:
    """One day of minutes with one case per suspect condition (and three harmless ones)."""
    n = 1440
    df = pd.DataFrame({
        "mn": MN, "ts": pd.date_range(DAY, periods=n, freq="min"),
        "so2_mg_m3": 20.0, "nox_mg_m3": 40.0, "o2_pct": 10.0, "flow_m3_s": 100.0,
        "temp_c": 120.0,
    })
    for c in FLAGS:
        df[c] = "N"

    def flag(lo: int, hi: int, code: str, cols: tuple[str, ...] = FLAGS) -> None:
        df.loc[lo:hi - 1, list(cols)] = code

    flag(_at(2, 10), _at(2, 25), "C")  # daily calibration, 15 min: harmless
    flag(_at(4, 22), _at(6, 0), "M")  # 8 + 8 M minutes in hour 04's blocks, hour 05 all M
    df.loc[_at(4, 22):_at(5, 59), "so2_mg_m3"] = 80.0  # flagged readings over the limit
    flag(_at(8, 5), _at(8, 10), "D", ("so2_flag",))  # invalid readings above the range
    df.loc[_at(8, 5):_at(8, 9), "so2_mg_m3"] = 500.0
    flag(_at(10, 0), _at(10, 6), "T", ("nox_flag",))  # over-range flag, ordinary value
    flag(_at(12, 0), _at(13, 30), "F")  # stop marked while the flow runs
    flag(_at(15, 0), _at(18, 0), "F")  # a real, declared shutdown: harmless
    df.loc[_at(15, 0):_at(17, 59), "flow_m3_s"] = 1.0
    flag(_at(19, 0), _at(19, 10), "S")  # set values and a bypass flag: harmless
    flag(_at(19, 10), _at(19, 11), "B")
    df.loc[_at(21, 0):_at(22, 29), "flow_m3_s"] = 1.0  # running declared, flow says stopped
    return df


@pytest.fixture(scope="module", name="case")
def case_fixture():
    con = ibis.duckdb.connect()
    minute = con.create_table("flue_minute", _day())
    limits = ibis.memtable(pd.DataFrame({
        "mn": [MN, MN], "pollutant": ["so2", "nox"], "limit_mg_m3": [35.0, 50.0],
        "o2_ref_pct": [10.0, 10.0]}))
    ranges = ibis.memtable(pd.DataFrame({
        "mn": [MN, MN], "pollutant": ["so2", "nox"], "range_mg_m3": [175.0, 250.0]}))
    kw = {"minute": minute, "month": "2026-03", "limits": limits, "ranges": ranges,
          "points": ibis.memtable(pd.DataFrame({"mn": [MN], "source_type": ["gas_boiler"]})),
          "keys": ["so2", "nox"], "thresholds": load_thresholds()}
    return con, kw


def test_only_the_blocks_a_detector_can_use_are_suspect(case):
    con, kw = case
    th = kw["thresholds"]
    minute = kw["minute"]
    blocks = minute_blocks(minute, kw["keys"], th)
    sus = suspect_blocks(blocks, reference_flow(minute), kw["keys"], limits=kw["limits"],
                         ranges=kw["ranges"], th=th)
    bs = block_seconds(th)
    got = sorted(int(b) for b in con.execute(sus)["block"])
    base = int(pd.Timestamp(DAY).timestamp()) // bs  # naive CST read as epoch, as the scan does

    def blk(hh: int, mm: int) -> int:
        return base + (hh * 3600 + mm * 60) // bs

    want = sorted({blk(4, 0), blk(4, 30), blk(5, 0), blk(5, 30),  # flag_abuse's hours
                   blk(8, 0),  # a D value above the range
                   blk(10, 0),  # T
                   blk(12, 0), blk(12, 30), blk(13, 0),  # F while running
                   blk(21, 0), blk(21, 30), blk(22, 0)})  # flags N while stopped
    assert got == want
    # harmless: the calibration, the declared shutdown, S/B flags
    assert not {blk(2, 0), blk(15, 0), blk(17, 30), blk(19, 0)} & set(got)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[_ORDER].sort_values(_ORDER, kind="stable").reset_index(drop=True)


def test_the_detectors_give_their_events_on_every_minute(case):
    con, kw = case
    th, keys, limits = kw["thresholds"], kw["keys"], kw["limits"]
    m = running_minutes(kw["minute"], th)
    lp = long_minutes(m, keys, with_zs=True)
    from lantian.engine.hours import valid_hours

    hours = process.running_hours(valid_hours(m, keys), th)
    run_h = hours.filter(_.running).group_by("mn").aggregate(hours=_.count())
    slow = {
        "over_range": values.over_range(lp, kw["ranges"], th),
        "flag_abuse": conduct.flag_abuse(lp, limits, run_h, th),
        "false_stop": process.false_stop(m, th),
        "zs_mismatch": process.zs_mismatch(lp, limits, th),
    }
    fast = detector_events(**kw, detectors=_DETECTORS, materialize=lambda t: t.cache())
    for name, expr in slow.items():
        a, b = _sorted(con.execute(expr)), _sorted(con.execute(fast[name]))
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
    seen = {n: len(con.execute(e)) for n, e in slow.items()}
    # each case found its event: the flag_abuse run needs hour 04, whose blocks hold 8 each
    assert seen["over_range"] == 2 and seen["flag_abuse"] >= 1 and seen["false_stop"] == 2
    assert np.isclose(len(con.execute(fast["zero"])), 0)
