"""The zero-crossing share cannot be gamed with forced zeros (issue 4; qcshift9, session 9).

``zero_share`` (:func:`~lantian.engine.quality.values.zero_presence`) tells a channel at its
detection limit: its noise crosses zero in many half-hours, so its zero runs are ``info``
(``zero.cross_share``) and its level shifts ``low`` (``level_shift.cross_share``). The
session 8 review found the hole: a plant that puts one forced zero minute into every
half-hour of its real readings makes every block "cross" zero, and so silences both
detectors on that channel. With the analyser ranges, a block crosses zero only when its
readings stay within ``zero.cross_band`` × range of zero (analyser drift, HJ 75-2017).

The minutes come from a small generator of this file (:func:`_minutes`), written for this
test and documented there; the blocks, hours and share from the platform's own scan
(:func:`~lantian.engine.quality.blocks.minute_blocks`, :func:`block_hours`,
:func:`~lantian.engine.quality.process.running_hours`). Times are China Standard Time.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds, process
from lantian.engine.quality.blocks import block_hours, minute_blocks
from lantian.engine.quality.statistics import hour_long, level_shift
from lantian.engine.quality.values import zero, zero_presence

TH = load_thresholds()
T0 = pd.Timestamp("2026-03-01")
DAYS = 20
RANGE = 200.0  # mg/m3 SO2 analyser range: band = 0.05 × 200 = 10 mg/m3
FAULT = (pd.Timestamp("2026-03-05 10:05"), 45)  # a forced zero run of 45 min (the fault)
SHIFT = (8 * 24, 11 * 24)  # hours 192-263: the analyser reads ×0.4 (a level-shift fault)


def _minutes(level: float, noise: float, gamed: bool, seed: int = 7) -> pd.DataFrame:
    """Wide minute rows of one point ``P1``, running all month, SO2 and O2.

    SO2 = ``level`` × (1 ± 10 % daily load cycle) + AR(1) analyser noise (phi 0.9, stationary
    sd ``noise`` mg/m³), rounded to 0.1 mg/m³ as a logger sends it (negative readings kept:
    an analyser near zero reads both signs); ×0.4 in the ``SHIFT`` hours and 0 in the
    ``FAULT`` run. ``gamed``: in every half-hour one minute (at a random place) is replaced
    by 0 — the forced zero that pumps the share. O2 6 % ± 0.2, flow 50 m³/s, flags N.
    """
    rng = np.random.default_rng(seed)
    n = DAYS * 24 * 60
    ts = T0 + pd.to_timedelta(np.arange(n), "min")
    hour = np.arange(n) / 60.0
    e = np.zeros(n)
    w = rng.normal(0, noise * np.sqrt(1 - 0.9 ** 2), n)
    for i in range(1, n):
        e[i] = 0.9 * e[i - 1] + w[i]
    v = level * (1 + 0.1 * np.sin(2 * np.pi * hour / 24)) + e
    shifted = (hour >= SHIFT[0]) & (hour < SHIFT[1])
    v[shifted] *= 0.4
    f0 = int((FAULT[0] - T0) / pd.Timedelta(minutes=1))
    v[f0:f0 + FAULT[1]] = 0.0
    if gamed:
        starts = np.arange(0, n, 30)
        v[starts + rng.integers(0, 30, len(starts))] = 0.0
    return pd.DataFrame({"mn": "P1", "ts": ts.astype("datetime64[us]"), "so2_mg_m3": v.round(1),
                         "so2_flag": "N", "o2_pct": 6.0 + rng.normal(0, 0.2, n).round(1),
                         "o2_flag": "N", "flow_m3_s": 50.0, "flow_flag": "N"})


def _ranges(rng: float = RANGE) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({"mn": ["P1"], "pollutant": ["so2"],
                                       "range_mg_m3": [rng]}))


def _facts(minute: pd.DataFrame, ranges: ibis.Table | None):
    m = ibis.memtable(minute)
    blocks = minute_blocks(m, ["so2"], TH)
    hours = process.running_hours(block_hours(blocks, ["so2"], TH), TH)
    pres = zero_presence(hours, blocks, ["so2"], ranges=ranges, th=TH)
    return m, hours, pres


def _share_and_events(minute: pd.DataFrame, ranges: ibis.Table | None):
    con = ibis.duckdb.connect()
    m, hours, pres = _facts(minute, ranges)
    share = con.execute(pres).set_index("pollutant").loc["so2", "zero_share"]
    long = m.select("mn", "ts", running=ibis.literal(True), pollutant=ibis.literal("so2"),
                    value=m.so2_mg_m3, flag=m.so2_flag)
    zr = con.execute(zero(long, pres, TH)).sort_values("start")
    hl = hour_long(hours, ["so2"])
    ls = con.execute(level_shift(hl, TH, presence=pres))
    return share, zr, ls


def test_forced_zero_minutes_in_every_half_hour_no_longer_silence_zero_and_level_shift():
    gamed = _minutes(40.0, 0.5, gamed=True)
    # the hole, as it was (no ranges: the plain crossing test): every half-hour crosses zero
    share, zr, ls = _share_and_events(gamed, None)
    assert share > 0.95
    assert zr.severity.tolist() == ["info"]  # the 45-min forced zero run is silenced
    assert ls.severity.tolist() == ["low"]  # and so is the ×0.4 shift (at_detection_limit)
    # closed: 0 → 40 mg/m3 in one half-hour is no drift within ±10 mg/m3 of zero
    share, zr, ls = _share_and_events(gamed, _ranges())
    assert share < 0.01  # only the half-hours without a 40 mg/m3 reading could count
    assert zr.severity.tolist() == ["medium"]  # 45 min ≥ zero.min_minutes, < high_minutes
    fault_end = FAULT[0] + pd.Timedelta(minutes=FAULT[1] - 1)
    # (a forced minute up to zero.gap_minutes away may join the run at either end)
    assert zr.start.iloc[0] <= FAULT[0] and zr.end.iloc[0] >= fault_end
    assert ls.severity.tolist() == ["high"]  # ×0.4 ≤ 1 / high_ratio


@pytest.mark.parametrize(("level", "noise", "rng"), [(1.0, 1.0, RANGE), (3.0, 2.0, 50.0)],
                         ids=["within-band", "mean-mid-range"])
def test_a_channel_at_its_detection_limit_keeps_its_share(level, noise, rng):
    # gas-fired SO2/PM of 1-3 mg/m3 with analyser noise of the same order: its crossings are
    # noise. At 1 ± 1 mg/m3 on a 200 mg/m3 range they stay within the band (±10 mg/m3); at
    # 3 ± 2 on a 50 mg/m3 range (band ±2.5) the readings reach 6-9 mg/m3, but the block mean
    # sits mid-range (zero.cross_mean_pos). The share is kept either way (≥ cross_share)
    quiet_dl = _minutes(level, noise, gamed=False)
    plain = _share_and_events(quiet_dl, None)[0]
    banded, zr, _ls = _share_and_events(quiet_dl, _ranges(rng))
    assert plain > 0.3
    assert banded == pytest.approx(plain, abs=0.03)
    assert set(zr.severity) <= {"info"}  # its zero runs stay info


def test_an_honest_channel_clear_of_zero_is_unchanged():
    honest = _minutes(40.0, 0.5, gamed=False)
    plain = _share_and_events(honest, None)
    banded = _share_and_events(honest, _ranges())
    # only the two blocks at the ends of the forced zero run cross (2 of 960 half-hours);
    # both are mostly zero (25 and 20 of 30 minutes): their means sit low in their range
    assert plain[0] == banded[0] == pytest.approx(2 / 960)
    assert plain[1].severity.tolist() == banded[1].severity.tolist() == ["medium"]
    assert plain[2].severity.tolist() == banded[2].severity.tolist() == ["high"]


def test_spark_gives_the_same_share_as_duckdb(spark_ibis):
    # a gamed channel (share 0 with ranges) and a channel at its detection limit (kept)
    two = pd.concat([_minutes(40.0, 0.5, gamed=True).iloc[:2 * 24 * 60],
                     _minutes(1.0, 1.0, gamed=False).iloc[:2 * 24 * 60].assign(mn="P2")],
                    ignore_index=True)
    rng = pd.DataFrame({"mn": ["P1", "P2"], "pollutant": "so2", "range_mg_m3": RANGE})

    def run(con) -> pd.DataFrame:
        m = con.create_table("gaming_minutes", two, overwrite=True)
        r = con.create_table("gaming_ranges", rng, overwrite=True)
        blocks = minute_blocks(m, ["so2"], TH)
        hours = process.running_hours(block_hours(blocks, ["so2"], TH), TH)
        got = con.execute(zero_presence(hours, blocks, ["so2"], ranges=r, th=TH))
        return got.sort_values(["mn", "pollutant"]).reset_index(drop=True)

    duck, spark = run(ibis.duckdb.connect()), run(spark_ibis)
    so2 = duck[duck.pollutant == "so2"].set_index("mn").zero_share
    assert so2["P1"] == 0.0 and so2["P2"] > 0.3
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def test_the_month_run_passes_the_ranges_so_the_hole_is_closed_there_too():
    # the gamed channel of the first test through run.detector_events (what `lantian qc` runs)
    from lantian.engine.quality.inputs import point_limits
    from lantian.engine.quality.run import detector_events

    pts = pd.DataFrame({"mn": ["P1"], "source_type": ["coal_power_boiler"],
                        "jurisdiction": [None]})
    con = ibis.duckdb.connect()
    m = con.create_table("gaming_month", _minutes(40.0, 0.5, gamed=True), overwrite=True)
    parts = detector_events(m, month="2026-03", points=ibis.memtable(pts[["mn", "source_type"]]),
                            limits=point_limits(pts, T0.date()), ranges=_ranges(),
                            keys=["so2"], detectors=["zero", "level_shift"], thresholds=TH)
    zr = con.execute(parts["zero"])
    ls = con.execute(parts["level_shift"])
    assert zr[zr.pollutant == "so2"].severity.tolist() == ["medium"]  # not info
    assert ls[ls.pollutant == "so2"].severity.tolist() == ["high"]  # not low
