"""``constant``: a lost minute packet does not split a frozen run; a present minute does.

A frozen analyser keeps sending its value; when the logger loses a packet (no row for that
minute at all) nothing says the reading moved, so the run goes on across the hole
(``constant.gap_minutes``). A minute that is present but does not count (calibration ``C``,
a stop) still ends the run. Checked on the long-frame form (``values.constant``) and on the
block path the month run uses (``values.constant_near`` / ``constant_from_near``), which
must agree.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.blocks import frozen_blocks, minute_blocks
from lantian.engine.quality.frames import long_minutes, reference_flow, running_minutes
from lantian.engine.quality.values import constant, constant_blocks

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 08:00")
KEYS = ["so2", "o2", "flow"]


def _minutes(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min")})
    df["so2_mg_m3"] = np.round(20 + rng.normal(0, 0.5, n), 3)
    df["so2_flag"] = "N"
    df["o2_pct"] = np.round(9 + rng.normal(0, 0.1, n), 2)
    df["o2_flag"] = "N"
    df["flow_m3_s"] = np.round(50 + rng.normal(0, 0.5, n), 2)
    df["flow_flag"] = "N"
    return df


def _long_form(df: pd.DataFrame) -> pd.DataFrame:
    m = running_minutes(ibis.memtable(df), TH)
    return ibis.duckdb.connect().execute(constant(long_minutes(m, KEYS), TH))


def _block_path(df: pd.DataFrame) -> pd.DataFrame:
    """The month run's path: frozen blocks of the one scan, then the minutes near them."""
    minute = ibis.memtable(df)
    ref = reference_flow(minute)
    frozen = frozen_blocks(minute_blocks(minute, ["so2"], TH), ref, KEYS, TH)
    return ibis.duckdb.connect().execute(constant_blocks(minute, frozen, ref, KEYS, TH))


def _runs(ev: pd.DataFrame) -> list[tuple[str, int, str]]:
    return sorted((p, json.loads(e)["minutes"], s)
                  for p, e, s in zip(ev["pollutant"], ev["evidence"], ev["severity"],
                                     strict=True))


def test_a_lost_packet_does_not_split_a_frozen_run():
    df = _minutes(400)
    df.loc[175:260, "so2_mg_m3"] = 21.125  # frozen 86 min, 10:55-12:20
    # two lost packets: the half-hour from 11:00 is whole and frozen, the one from 11:30 is
    # not fully counted, so the run goes on into the half-hour from 12:00 (read too)
    df = df.drop(index=[220, 245])
    for ev in (_long_form(df), _block_path(df)):
        assert _runs(ev) == [("so2", 86, "medium")]
        assert ev["start"].iloc[0] == T0 + pd.Timedelta(minutes=175)
        assert ev["end"].iloc[0] == T0 + pd.Timedelta(minutes=260)


def test_a_calibration_minute_or_a_long_hole_still_splits_the_run():
    gap = int(TH.get("constant", "gap_minutes"))
    df = _minutes(400)
    df.loc[100:189, "so2_mg_m3"] = 21.125
    df.loc[140, "so2_flag"] = "C"  # present, but not a valid reading: the run ends there
    df.loc[250:339, "flow_m3_s"] = 48.25
    df = df.drop(index=range(290, 291 + gap))  # a hole longer than gap_minutes
    assert _long_form(df).empty
    assert _block_path(df).empty


def test_a_value_the_channel_holds_often_is_judged_against_its_own_quiet_runs():
    """A coarse channel sits on its usual step for long spells; a frozen one on any value."""
    df = _minutes(14_400)  # ten days of a lively 3-decimal SO2 around 20 mg/m3
    for k in range(8):  # eight quiet spells of 90 min on the step 4 (no alarm by the model)
        s = 600 + k * 1500
        df.loc[s : s + 89, "so2_mg_m3"] = 4.0
    df.loc[12_600 : 12_759, "so2_mg_m3"] = 4.0  # 160 min on that same step
    df.loc[13_300 : 13_459, "so2_mg_m3"] = 21.125  # 160 min on a value held nowhere else
    ev = _long_form(df)
    long = ev[[json.loads(e)["minutes"] == 160 for e in ev["evidence"]]]
    got = {json.loads(e)["value"]: (s, json.loads(e)["natural_run_minutes"])
           for e, s in zip(long["evidence"], long["severity"], strict=True)}
    assert got[4.0] == ("info", 90.0)  # the channel's own spells on that step: 90 min
    assert got[21.125][0] == "medium" and got[21.125][1] < 80  # the run-length model
    assert set(ev["severity"]) <= {"info", "medium"}


def test_a_freeze_resumed_after_the_calibration_does_not_excuse_itself():
    df = _minutes(2_000)
    df.loc[1_000:1_258, "so2_mg_m3"] = 21.125  # frozen 259 min ...
    df.loc[1_163:1_173, "so2_flag"] = "C"  # ... cut by an 11-min daily check: 163 + 85 min
    ev = _long_form(df)
    got = sorted((json.loads(e)["minutes"], s)
                 for e, s in zip(ev["evidence"], ev["severity"], strict=True))
    # the 85-min half is no quiet run of the channel's own to judge the 163-min half by
    assert got == [(85, "info"), (163, "medium")]


def test_the_shift_cap_bounds_the_model_not_the_channels_own_quiet_runs():
    shift = TH.get("constant", "shift_minutes")
    df = _minutes(14_400)
    for k in range(20):  # a channel that sits on its usual step for 250 min time and again
        s = 300 + k * 650
        df.loc[s : s + 249, "so2_mg_m3"] = 4.0
    df.loc[13_300 : 13_789, "so2_mg_m3"] = 4.0  # 490 min: past the shift cap (480)
    ev = _long_form(df).sort_values("start")
    last = json.loads(ev["evidence"].iloc[-1])
    assert last["minutes"] == 490 > shift
    assert (ev["severity"].iloc[-1], last["medium_from_minutes"]) == ("info", 500)


def test_a_freeze_with_a_lost_packet_in_every_half_hour_is_still_read():
    df = _minutes(400)
    df.loc[100:189, "so2_mg_m3"] = 21.125  # frozen 90 min, 09:40-11:09
    df = df.drop(index=[130, 160, 161])  # no half-hour inside it is whole
    for ev in (_long_form(df), _block_path(df)):
        assert _runs(ev) == [("so2", 90, "medium")]
