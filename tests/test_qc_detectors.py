"""Worked examples of the detectors on small hand-made frames (expected values by hand)."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.frames import long_minutes, running_minutes
from lantian.engine.quality.maintenance import read_maintenance
from lantian.engine.quality.process import zs_mismatch
from lantian.engine.quality.records import calibration_change, missing
from lantian.engine.quality.thresholds import Thresholds, _read
from lantian.engine.quality.trust import explain, trust_scores
from lantian.engine.quality.values import constant
from lantian.errors import CatalogError, InputFileError

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 08:00")


def _con():
    return ibis.duckdb.connect()


def _minutes(n: int, **cols) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min")})
    df["so2_mg_m3"] = np.round(20 + rng.normal(0, 0.5, n), 3)
    df["so2_flag"] = "N"
    df["so2_zs"] = np.nan
    df["o2_pct"] = np.round(9 + rng.normal(0, 0.1, n), 2)
    df["o2_flag"] = "N"
    df["flow_m3_s"] = np.round(50 + rng.normal(0, 0.5, n), 2)
    df["flow_flag"] = "N"
    for k, v in cols.items():
        df[k] = v
    return df


@pytest.mark.parametrize(("frozen", "expected"), [(59, []), (60, [(60, "medium")]),
                                                  (250, [(250, "high")])])
def test_constant_needs_an_hour_of_identical_readings(frozen, expected):
    df = _minutes(400)
    df.loc[100 : 100 + frozen - 1, "so2_mg_m3"] = 21.125
    m = running_minutes(ibis.memtable(df), TH)
    ev = _con().execute(constant(long_minutes(m, ["so2", "o2", "flow"]), TH))
    pairs = zip(ev["evidence"], ev["severity"], strict=True)
    got = [(json.loads(e)["minutes"], s) for e, s in pairs]
    assert got == expected
    if expected:
        assert ev["start"][0] == T0 + pd.Timedelta(minutes=100)
        assert ev["end"][0] == T0 + pd.Timedelta(minutes=100 + frozen - 1)


def test_constant_ignores_flagged_and_stopped_minutes():
    df = _minutes(300)
    df.loc[50:200, "so2_mg_m3"] = 21.125
    df.loc[50:200, "so2_flag"] = "C"  # calibration: already invalid data
    df.loc[220:299, "flow_m3_s"] = 1.0  # stopped: flow far below 30 % of p90
    df.loc[220:299, "o2_pct"] = 20.9
    m = running_minutes(ibis.memtable(df), TH)
    ev = _con().execute(constant(long_minutes(m, ["so2", "o2", "flow"]), TH))
    assert ev.empty


def test_missing_reports_the_gap_exactly():
    df = _minutes(24 * 60)
    df = df[~df["ts"].between(T0 + pd.Timedelta(minutes=300), T0 + pd.Timedelta(minutes=419))]
    start, end = dt.datetime(2026, 1, 5, 8), dt.datetime(2026, 1, 6, 8)
    ev = _con().execute(missing(ibis.memtable(df), start, end, TH))
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["minutes"] == 120  # 13:00 .. 14:59 CST
    assert ev["start"][0] == pd.Timestamp("2026-01-05 13:00")
    assert ev["end"][0] == pd.Timestamp("2026-01-05 14:59")
    assert e["month_transmission_rate"] == pytest.approx((1440 - 120) / 1440, abs=1e-4)
    assert ev["severity"][0] == "medium"


def test_zs_mismatch_hand_computed():
    df = _minutes(200)
    df["so2_mg_m3"] = 20.0
    df["o2_pct"] = 12.0
    # reference O2 9 %: own = 20 × (21 − 9)/(21 − 12) = 26.667 mg/m3
    df["so2_zs"] = 26.667
    df.loc[50:149, "so2_zs"] = 20.0  # logger sends the measured value as "converted"
    m = running_minutes(ibis.memtable(df), TH)
    lim = ibis.memtable(pd.DataFrame({"mn": ["P1"], "pollutant": ["so2"],
                                      "limit_mg_m3": [35.0], "o2_ref_pct": [9.0]}))
    ev = _con().execute(zs_mismatch(long_minutes(m, ["so2"], with_zs=True), lim, TH))
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e["minutes"] == 100
    assert e["platform_mean"] == pytest.approx(26.6667, abs=1e-3)
    assert e["logger_zs_mean"] == 20.0


def _params(values):
    rows = [{"mn": "P1", "ts": pd.Timestamp("2026-01-01") + pd.Timedelta(days=i),
             "code": "i13008", "num": v, "text": "a21026"} for i, v in enumerate(values)]
    return ibis.memtable(pd.DataFrame(rows))


def test_calibration_change_without_and_with_record():
    p = _params([1.0, 1.0, 1.0, 0.7, 0.7, 0.7, 0.95])
    none = ibis.memtable(pd.DataFrame({"mn": pd.Series(dtype=str),
                                       "start_ts": pd.Series(dtype="datetime64[us]"),
                                       "end_ts": pd.Series(dtype="datetime64[us]")}))
    start, end = dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)
    ev = _con().execute(calibration_change(p, none, start, end, TH)).sort_values("start")
    assert list(ev["start"]) == [pd.Timestamp("2026-01-04"), pd.Timestamp("2026-01-07")]
    assert set(ev["pollutant"]) == {"so2"} and set(ev["severity"]) == {"high"}
    assert json.loads(ev["evidence"].iloc[0])["after"] == 0.7
    # a calibration record the evening before the first change covers it (within 24 h)
    rec = ibis.memtable(pd.DataFrame({"mn": ["P1"], "start_ts": [pd.Timestamp("2026-01-03 20:00")],
                                      "end_ts": [pd.Timestamp("2026-01-03 21:00")]}))
    ev = _con().execute(calibration_change(p, rec, start, end, TH))
    assert list(ev["start"]) == [pd.Timestamp("2026-01-07")]


def test_trust_score_arithmetic_and_explanations():
    ev = pd.DataFrame([
        {"detector": "constant", "mn": "A", "pollutant": "so2", "start": T0, "end": T0,
         "severity": "high", "evidence": '{"minutes": 300}'},
        {"detector": "missing", "mn": "A", "pollutant": None, "start": T0, "end": T0,
         "severity": "medium", "evidence": '{"minutes": 120}'},
        {"detector": "spike", "mn": "A", "pollutant": "nox", "start": T0, "end": T0,
         "severity": "low", "evidence": "{}"},
    ])
    s = trust_scores(ev, ["A", "B"]).set_index("mn")
    assert s.loc["A", "trust"] == 100 - 25 - 10 - 2
    assert s.loc["A", "events"] == 3
    assert s.loc["B", "trust"] == 100 and s.loc["B", "events"] == 0
    zh = explain(ev.iloc[0].to_dict())
    assert "数值恒定" in zh and "北京时间" in zh and "minutes=300" in zh
    assert "(CST)" in explain(ev.iloc[1].to_dict(), "en")


def test_thresholds_file_rules():
    assert TH.get("dilution", "o2_max_pct", "gas_boiler") == 9.0
    assert TH.get("dilution", "o2_max_pct", "unknown_type") == 19.0
    with pytest.raises(CatalogError):
        TH.get("constant", "no_such")
    with pytest.raises(CatalogError, match="source"):
        _read("detector,name,scope,value,unit,source,note\nx,y,*,1,min,,n\n", "t.csv")
    assert isinstance(TH.with_value("constant", "min_minutes", 30), Thresholds)
    assert TH.with_value("constant", "min_minutes", 30).get("constant", "min_minutes") == 30


def test_every_threshold_has_a_source():
    assert all(r.source for r in TH.rows)


def test_maintenance_reader_names_row(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("mn,start,end,kind\nP1,2026-01-02 09:00,2026-01-02 08:00,maintenance\n", "utf-8")
    with pytest.raises(InputFileError, match="row 2"):
        read_maintenance(p)
    p.write_text("mn,start,end,kind\nP1,2026-01-02 09:00,2026-01-02 10:00,party\n", "utf-8")
    with pytest.raises(InputFileError, match="kind"):
        read_maintenance(p)
