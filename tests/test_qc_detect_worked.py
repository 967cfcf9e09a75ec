"""Worked examples (numbers by hand) of false_stop with enterprise marks, pinned_under_limit
with the outlet's history, dilution at start-up and at low firing (session 7), and
calibration_change on Spark.

Times are China Standard Time wall-clock.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.conduct import pinned_under_limit
from lantian.engine.quality.frames import running_minutes
from lantian.engine.quality.process import dilution, false_stop, false_stop_marks, firing_flow
from lantian.engine.quality.records import calibration_change

TH = load_thresholds()
T0 = pd.Timestamp("2026-03-02 08:00")


def _con():
    return ibis.duckdb.connect()


# ---------------------------------------------------------------- false_stop with marks


def _minutes(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="min")})
    df["so2_mg_m3"] = np.round(20 + rng.normal(0, 0.5, n), 3)
    df["so2_flag"] = "N"
    df["flow_m3_s"] = 50.0
    df["flow_flag"] = "N"
    df["ts"] = df["ts"].astype("datetime64[us]")
    return df


def _marks(*rows: tuple[str, int, int]) -> ibis.Table:
    """Marks (kind, first minute, end minute exclusive) of point P1."""
    frame = pd.DataFrame([{"mn": "P1", "kind": k, "start_ts": T0 + pd.Timedelta(minutes=a),
                           "end_ts": T0 + pd.Timedelta(minutes=b)} for k, a, b in rows])
    for c in ("start_ts", "end_ts"):
        frame[c] = frame[c].astype("datetime64[us]")
    return ibis.memtable(frame)


def test_stop_mark_while_flow_says_running_is_reported_exactly():
    df = _minutes(600)
    df.loc[400:599, "flow_m3_s"] = 1.0  # really stopped: 1 < 0.3 × p90 (50)
    m = running_minutes(ibis.memtable(df), TH)
    marks = _marks(("stopped", 100, 220),      # 120 running minutes under a stop mark
                   ("maintenance", 250, 380),  # analyser maintenance: the source may run
                   ("stopped", 400, 600))      # a true stop: no finding
    ev = _con().execute(false_stop(m, TH, marks=marks))
    assert len(ev) == 1
    e = json.loads(ev["evidence"][0])
    assert e == {"kind": "stop_mark_while_running", "minutes": 120.0}
    assert ev["start"][0] == T0 + pd.Timedelta(minutes=100)
    assert ev["end"][0] == T0 + pd.Timedelta(minutes=219)
    assert ev["severity"][0] == "medium"  # 120 min < false_stop.high_minutes (240)
    assert ev["pollutant"].isna().all()


@pytest.mark.parametrize(("length", "expected"), [(59, None), (60, "medium"), (240, "high")])
def test_stop_mark_needs_the_minimum_run(length, expected):
    m = running_minutes(ibis.memtable(_minutes(400)), TH)
    ev = _con().execute(false_stop_marks(m, _marks(("stopped", 10, 10 + length)), TH))
    assert list(ev["severity"]) == ([] if expected is None else [expected])


def test_false_stop_without_marks_is_unchanged():
    df = _minutes(300)
    df.loc[50:149, ["so2_flag", "flow_flag"]] = "F"  # 100 minutes marked F while running
    m = running_minutes(ibis.memtable(df), TH)
    a = _con().execute(false_stop(m, TH))
    b = _con().execute(false_stop(m, TH, marks=_marks(("stopped", 0, 1))))
    pd.testing.assert_frame_equal(a, b)
    assert json.loads(a["evidence"][0]) == {"kind": "stop_marked_while_running",
                                            "minutes": 100.0}


# ------------------------------------------------------- pinned_under_limit with history


def _hours(values: list[float], start: str) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({
        "mn": "P1", "ts": pd.date_range(start, periods=n, freq="h").astype("datetime64[us]"),
        "running": True, "so2_mg_m3": values, "so2_valid": True, "o2_pct": 6.0})


LIMITS = ibis.memtable(pd.DataFrame({"mn": ["P1"], "pollutant": ["so2"], "limit_mg_m3": [100.0],
                                     "o2_ref_pct": [None]}).astype({"o2_ref_pct": "float64"}))


def _sd(a: float, b: float, n: int) -> float:
    """Sample standard deviation of n values alternating a and b (n even), by hand."""
    return abs(a - b) / 2 * math.sqrt(n / (n - 1))


def _pinned(month: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    hist = None if history is None else ibis.memtable(history)
    return _con().execute(pinned_under_limit(ibis.memtable(month), LIMITS, ["so2"], TH,
                                             history=hist))


MONTH = _hours([86.0, 99.9] * 50, "2026-03-01")  # 100 h in [80, 100): share 1


def test_pinned_first_month_is_judged_alone():
    # mean 92.95, sd = 6.95·√(100/99) = 6.985, cv = 0.0751 > max_cv 0.06: a low finding
    ev = _pinned(MONTH, None)
    e = json.loads(ev["evidence"][0])
    assert ev["severity"][0] == "low"
    assert e["share_in_band"] == 1.0
    assert e["cv"] == pytest.approx(round(_sd(86, 99.9, 100) / 92.95, 4))
    assert e["history_hours"] is None and e["sd_vs_history"] is None


@pytest.mark.parametrize(("hist", "n", "expected"), [
    ((40.0, 80.0), 100, "medium"),  # sd 20.10: ratio 6.985/20.10 = 0.35 ≤ 0.5
    ((75.0, 105.0), 100, "medium"),  # sd 15.08: ratio 0.46 ≤ 0.5
    ((82.0, 100.0), 100, "low"),  # sd 9.05: ratio 0.77, as variable as before
    ((40.0, 80.0), 50, "low"),  # 50 h of history < min_hours (72): first-month rule
])
def test_pinned_history_with_far_larger_variance_strengthens(hist, n, expected):
    history = _hours(list(hist) * (n // 2), "2026-01-01")
    ev = _pinned(MONTH, history)
    assert list(ev["severity"]) == [expected]
    e = json.loads(ev["evidence"][0])
    if n >= 72:
        assert e["history_hours"] == n
        assert e["sd_vs_history"] == pytest.approx(
            round(_sd(86, 99.9, 100) / _sd(*hist, n), 4), abs=1e-4)


def test_pinned_steady_month_is_high_with_or_without_history():
    steady = _hours([94.0, 96.0] * 50, "2026-03-01")  # cv = 1.005/95 = 0.0106 ≤ 0.06
    assert list(_pinned(steady, None)["severity"]) == ["high"]
    assert list(_pinned(steady, _hours([94.0, 96.0] * 50, "2026-01-01"))["severity"]) == ["high"]


# ------------------------------------------------------------------ dilution at start-up


def test_o2_excess_right_after_a_stop_with_low_flow_is_a_start_up():
    n = 48
    running = [h >= 10 for h in range(n)]
    o2 = [20.9] * 10 + [15.0] * 3 + [6.0] * 35
    flow = [1.0] * 10 + [40.0] * 3 + [100.0] * 35
    for h in range(30, 34):  # air let in mid-run: O2 16 %, flow 100 × (21 − 6)/(21 − 16)
        o2[h], flow[h] = 16.0, 300.0  # (session 7: was 130, a flow no air inlet gives)
    hours = pd.DataFrame({"mn": "P1", "ts": pd.date_range(T0, periods=n, freq="h")
                          .astype("datetime64[us]"), "running": running, "o2_pct": o2,
                          "o2_valid": True, "flow_raw": flow})
    points = ibis.memtable(pd.DataFrame({"mn": ["P1"], "source_type": ["coal_power_boiler"]}))
    ev = _con().execute(dilution(ibis.memtable(hours), points, TH)).sort_values("start")
    ev = ev.reset_index(drop=True)
    got = [(s, json.loads(e)["next_to_stop"], json.loads(e)["hours"])
           for s, e in zip(ev["severity"], ev["evidence"], strict=True)]
    # start-up: hours 10-12, O2 15 > band 10, flow 40/100 = 0.4 of the month median, next
    # to the stop (hour 9) → low; mid-run: O2 16 > 6 + 2 (own median), flow 3.0 → medium
    assert got == [("low", 1.0, 3.0), ("medium", 0.0, 4.0)]
    assert ev["start"][0] == T0 + pd.Timedelta(hours=10)


def _dilution_hours(o2: list[float], flow: list[float]) -> pd.DataFrame:
    ts = pd.date_range(T0, periods=len(o2), freq="h").astype("datetime64[us]")
    hours = pd.DataFrame({"mn": "P1", "ts": ts, "running": True, "o2_pct": o2,
                          "o2_valid": True, "flow_raw": flow})
    points = ibis.memtable(pd.DataFrame({"mn": ["P1"], "source_type": ["coal_power_boiler"]}))
    ev = _con().execute(dilution(ibis.memtable(hours), points, TH)).sort_values("start")
    return ev.reset_index(drop=True)


def test_firing_flow_is_unchanged_by_air_let_in():
    # 100 m3/s at 6 % O2 plus 200 m3/s of air (21 %): 300 m3/s at (600 + 4200)/300 = 16 %
    assert _con().execute(firing_flow(ibis.literal(100.0), ibis.literal(6.0))) == \
        pytest.approx(1500 / 21)
    assert _con().execute(firing_flow(ibis.literal(300.0), ibis.literal(16.0))) == \
        pytest.approx(1500 / 21)


def test_o2_above_band_at_low_firing_is_low_and_air_let_in_is_medium():
    # coal_power_boiler band 10 %; usual hours O2 6 %, flow 100 → firing flow 100·15/21
    n = 60
    o2, flow = [6.0] * n, [100.0] * n
    for h in (10, 11):  # minimum fire: O2 13 %, flow 50 → 50·8 / (100·15) = 0.267 < 0.7
        o2[h], flow[h] = 13.0, 50.0
    for h in (20, 21):  # just below the firing limit: 130.5·8/1500 = 0.696 → low
        o2[h], flow[h] = 13.0, 130.5
    for h in (30, 31):  # just above it: 131.5·8/1500 = 0.701 → medium (13 > 6 + 2)
        o2[h], flow[h] = 13.0, 131.5
    for h in (40, 41, 42):  # air let in: 100·15/8 = 187.5 at 13 % → ratio 1.0 → medium
        o2[h], flow[h] = 13.0, 187.5
    ev = _dilution_hours(o2, flow)
    got = [(s, json.loads(e)["hours"], round(json.loads(e)["firing_vs_month_median"], 4))
           for s, e in zip(ev["severity"], ev["evidence"], strict=True)]
    assert got == [("low", 2.0, round(400 / 1500, 4)), ("low", 2.0, round(1044 / 1500, 4)),
                   ("medium", 2.0, round(1052 / 1500, 4)), ("medium", 3.0, 1.0)]


# -------------------------------------------------------------- calibration_change (Spark)


def _params() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for d in range(6):
        t = pd.Timestamp("2026-03-01") + pd.Timedelta(days=d)
        slope = 1.0 if d < 2 else (0.95 if d < 4 else 0.80)  # 2nd → 3rd day, 4th → 5th day
        rng_v = 200.0 if d < 5 else 100.0  # range halved on the 6th day
        rows += [{"mn": "P1", "ts": t, "code": "i13008", "num": slope, "text": "a21026"},
                 {"mn": "P1", "ts": t, "code": "i13001", "num": rng_v, "text": "a21026"},
                 {"mn": "P1", "ts": t, "code": "i13007", "num": 0.0, "text": "a21026"}]
    p = pd.DataFrame(rows)
    p["ts"] = p["ts"].astype("datetime64[us]")
    # O&M record 10 h before the 3rd-day report: the 1.0 → 0.95 change is covered
    m = pd.DataFrame({"mn": ["P1"], "start_ts": [pd.Timestamp("2026-03-02 12:00")],
                      "end_ts": [pd.Timestamp("2026-03-02 14:00")]})
    for c in ("start_ts", "end_ts"):
        m[c] = m[c].astype("datetime64[us]")
    return p, m


def _calibration(con) -> pd.DataFrame:
    p, m = _params()
    params = con.create_table("qc_params", p, overwrite=True)
    maint = con.create_table("qc_maint", m, overwrite=True)
    expr = calibration_change(params, maint, dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1),
                              TH)
    return con.execute(expr).sort_values("start").reset_index(drop=True)


def test_calibration_change_worked_example_duckdb():
    ev = _calibration(_con())
    got = [(str(s), sev, json.loads(e)["parameter"], json.loads(e)["before"],
            json.loads(e)["after"]) for s, sev, e in zip(ev["start"], ev["severity"],
                                                         ev["evidence"], strict=True)]
    assert got == [("2026-03-05 00:00:00", "high", "slope", 0.95, 0.8),
                   ("2026-03-06 00:00:00", "medium", "range", 200.0, 100.0)]
    assert set(ev["pollutant"]) == {"so2"}


def test_calibration_change_on_spark_matches_duckdb(spark_ibis):
    duck = _calibration(_con())
    spark = _calibration(spark_ibis)
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def test_history_hours_from_earlier_minutes_feed_the_pinned_test():
    from lantian.engine.quality.conduct import history_hours

    n_h = 96  # four days of earlier minutes, hourly level alternating 40 / 80 mg/m3
    ts = pd.date_range("2026-02-01", periods=n_h * 60, freq="min")
    level = np.where((np.arange(n_h * 60) // 60) % 2 == 0, 40.0, 80.0)
    before = pd.DataFrame({"mn": "P1", "ts": ts.astype("datetime64[us]"), "so2_mg_m3": level,
                           "so2_flag": "N", "o2_pct": 6.0, "o2_flag": "N", "flow_m3_s": 50.0,
                           "flow_flag": "N", "temp_c": 120.0, "temp_flag": "N"})
    hist = history_hours(ibis.memtable(before), ["so2"], TH)
    ev = _con().execute(pinned_under_limit(ibis.memtable(MONTH), LIMITS, ["so2"], TH,
                                           history=hist))
    e = json.loads(ev["evidence"][0])
    assert ev["severity"][0] == "medium"
    assert e["history_hours"] == n_h
    assert e["history_sd_mg_m3"] == pytest.approx(round(_sd(40, 80, n_h), 4))


def test_side_tables_read_from_the_database_file(db_path):
    from lantian.engine.quality.records import read_side_tables
    from lantian.store.db import connect

    con = connect(db_path)
    try:
        con.execute("INSERT INTO value_long (packet_id, mn, cn, ts, code, field, num, text) "
                    "VALUES (1, 'P1', '3020', '2026-03-01 00:00', 'i13008', 'Info', 1.0, "
                    "'a21026'), (2, 'P1', '3020', '2026-03-05 00:00', 'i13008', 'Info', 0.8, "
                    "'a21026'), (3, 'P1', '3020', '2026-03-05 00:00', 'i13008', 'Rtd', 5.0, "
                    "'a21026'), (4, 'P1', '3020', '2026-04-02 00:00', 'i13008', 'Info', 0.7, "
                    "'a21026')")
        con.execute("INSERT INTO maintenance_record (mn, start_ts, end_ts, kind) VALUES "
                    "('P1', '2026-03-10 08:00', '2026-03-10 10:00', 'calibration')")
        con.execute("INSERT INTO enterprise_mark (mn, kind, start_ts, end_ts) VALUES "
                    "('P1', 'stopped', '2026-03-02 00:00', '2026-03-03 00:00')")
    finally:
        con.close()
    side = read_side_tables(db_path, "2026-03")
    # Info rows before the month's end only (the April report and the Rtd row are not read)
    assert side["params"]["num"].tolist() == [1.0, 0.8]
    assert side["maintenance"]["start_ts"].tolist() == [pd.Timestamp("2026-03-10 08:00")]
    assert side["marks"][["kind"]].to_dict("list") == {"kind": ["stopped"]}
    ev = _con().execute(calibration_change(
        ibis.memtable(side["params"]), ibis.memtable(side["maintenance"]),
        dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1), TH))
    assert list(ev["severity"]) == ["high"]  # slope 1.0 → 0.8, no record within 24 h


def test_side_tables_of_a_new_database_are_empty(tmp_path):
    from lantian.engine.quality.records import read_side_tables

    side = read_side_tables(tmp_path / "new.duckdb", "2026-03")
    assert {k: len(v) for k, v in side.items()} == {"params": 0, "maintenance": 0, "marks": 0}
    assert list(side["marks"].columns) == ["mn", "kind", "start_ts", "end_ts"]


def test_qc_cli_reports_a_stop_mark_while_the_source_runs(tmp_path):
    """End to end: ``lantian qc`` reads ``enterprise_mark`` and reports the false stop."""
    import duckdb
    from typer.testing import CliRunner

    from lantian.cli import app

    run = CliRunner().invoke
    out, db = tmp_path / "demo", tmp_path / "lantian.duckdb"
    r = run(app, ["demo", "generate", "--out", str(out), "--points", "2", "--days", "3",
                  "--start", "2026-01-01", "--seed", "11", "--fault-share", "0"])
    assert r.exit_code == 0, r.output
    assert run(app, ["demo", "load", str(out), "--db", str(db)]).exit_code == 0
    con = duckdb.connect(str(db))
    m = con.execute("SELECT mn, ts, flow_m3_s FROM flue_minute ORDER BY mn, ts").df()
    # a 120-minute window (on the hour) whose every minute runs: flow ≥ 0.3 × the point's p90
    m["run"] = m["flow_m3_s"] >= 0.3 * m.groupby("mn")["flow_m3_s"].transform(
        lambda s: s.quantile(0.9))
    m["hour"] = m["ts"].dt.floor("h")
    ok = m.groupby(["mn", "hour"])["run"].agg(["sum", "size"]).reset_index()
    ok = ok[(ok["sum"] == 60) & (ok["size"] == 60)]
    ok["next"] = ok.groupby("mn")["hour"].shift(-1)
    pick = ok[ok["next"] == ok["hour"] + pd.Timedelta(hours=1)].iloc[0]
    start = pick["hour"]
    con.execute("INSERT INTO enterprise_mark (mn, kind, start_ts, end_ts, status) "
                "VALUES (?, 'stopped', ?, ?, 'pending')",
                [pick["mn"], start.to_pydatetime(),
                 (start + pd.Timedelta(hours=2)).to_pydatetime()])
    con.close()
    r = run(app, ["qc", "--db", str(db), "--month", "2026-01", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    hits = [x for x in rows if x["detector"] == "false_stop"
            and x["evidence"]["kind"] == "stop_mark_while_running"]
    assert len(hits) == 1
    assert hits[0]["mn"] == pick["mn"]
    assert hits[0]["start"] == start.strftime("%Y-%m-%dT%H:%M:%S")
    assert hits[0]["evidence"]["minutes"] == 120
    assert hits[0]["severity"] == "medium"
