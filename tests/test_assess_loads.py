"""Loads, HJ 75 substitution and capture rate through ``lantian assess --loads``.

Worked example (April 2024 = the first month of Q2, so α counts April's 720 hours only;
``flow`` 50 m³/s = 180,000 m³/h; SO2 20 mg/m³ → 20 × 180,000 × 10⁻⁶ = 3.6 kg/h, 40 → 7.2,
60 → 10.8 kg/h). Every hour is a production hour (no stop evidence).

* ``H``: SO2 60 in hour 10, 40 in hour 150, else 20; instrument fault (flag D) in hours
  200–202 (N = 3) and 400–429 (N = 30). α = 687/720 = 95.4 % ≥ 90 %: the 3-hour run takes
  the max of the 180 valid hours before it (hours 20–199 → 7.2, hour 10 is outside), the
  30-hour run the max of 720 (→ 10.8). Substituted 3 × 7.2 + 30 × 10.8 = 345.6 kg.
* ``L``: the same history and 3-hour fault, and no data at all in hours 600–699.
  α = 617/720 = 85.7 %, 75 % ≤ α < 90 %: every invalid hour takes the max of 2160 valid
  hours before it (→ 10.8). Substituted 103 × 10.8 = 1,112.4 kg.
* ``P``: 24 hours of SO2 50 mg/m³ on 31 March (→ 9.0 kg/h, the previous quarter), then all
  of April at 20 with a fault in hours 0–2: α = 717/720, N = 3, the 180 valid hours before
  the failure are the March ones → 3 × 9.0 = 27 kg (hours before the quarter serve as
  history, never in α).
* ``X``: flow sent in m³/h (180,000), SO2 20, data in hours 0–499 only: α = 500/720 =
  69.4 % < 75 %: nothing substituted (the authority decides), 220 hours left open.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from engine_support import make_db, minutes
from lantian.cli import app
from lantian.engine import backends
from lantian.engine.loads import load_hours, month_load_record, month_load_totals

HOURS = 720


def _point(mn: str, so2_by_hour: np.ndarray, flags_by_hour: np.ndarray, keep: np.ndarray,
           flow: float) -> pd.DataFrame:
    df = minutes(mn, "2024-04-01 00:00", HOURS * 60, so2=np.repeat(so2_by_hour, 60),
                 o2=10.0, flow=flow, temp=120.0, so2_flag=np.repeat(flags_by_hour, 60))
    return df[np.repeat(keep, 60)]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    so2 = np.full(HOURS, 20.0)
    so2[10], so2[150] = 60.0, 40.0
    flags = np.full(HOURS, "N", dtype=object)
    flags[200:203] = "D"
    h_flags = flags.copy()
    h_flags[400:430] = "D"
    everything = np.ones(HOURS, dtype=bool)
    l_keep = everything.copy()
    l_keep[600:700] = False
    x_keep = np.arange(HOURS) < 500
    p_flags = np.full(HOURS, "N", dtype=object)
    p_flags[0:3] = "D"
    march = minutes("P", "2024-03-31 00:00", 24 * 60, so2=50.0, o2=10.0, flow=50.0, temp=120.0)
    df = pd.concat([
        march,
        _point("P", np.full(HOURS, 20.0), p_flags, everything, 50.0),
        _point("H", so2, h_flags, everything, 50.0),
        _point("L", so2, flags, l_keep, 50.0),
        _point("X", np.full(HOURS, 20.0), np.full(HOURS, "N", dtype=object), x_keep, 180000.0),
    ], ignore_index=True)
    df["packet_id"] = np.arange(len(df))
    pts = [{"mn": mn, "source_type": "cement_kiln"} for mn in ("H", "L", "P", "X")]
    path = make_db(tmp_path_factory.mktemp("loads") / "l.duckdb", pts, df)
    con = duckdb.connect(str(path))
    con.execute("UPDATE monitoring_point SET flow_unit = 'm3/h' WHERE mn = 'X'")
    con.close()
    return path


@pytest.fixture(scope="module")
def monthly(db):
    con = backends.connect("duckdb", db=db)
    rows = month_load_totals(load_hours(con, "2024-04"), "2024-04").execute()
    con.disconnect()
    return {r["mn"]: month_load_record(r) for r in rows.to_dict("records")}


def test_a_list_of_points_gives_each_point_what_it_gets_alone(db, monthly):
    """``load_hours(mn=[...])`` (one query for the points a report lacks) equals the points
    computed one by one and the month of every point; the points outside the list are absent."""
    con = backends.connect("duckdb", db=db)
    try:
        both = month_load_totals(load_hours(con, "2024-04", mn=["P", "L"]), "2024-04").execute()
        alone = month_load_totals(load_hours(con, "2024-04", mn="P"), "2024-04").execute()
    finally:
        con.disconnect()
    got = {r["mn"]: month_load_record(r) for r in both.to_dict("records")}
    assert sorted(got) == ["L", "P"]
    assert got == {"P": monthly["P"], "L": monthly["L"]}
    assert month_load_record(alone.to_dict("records")[0]) == monthly["P"]
    # P's March history (before the quarter) still reaches its substitution through the list
    assert got["P"]["substituted_load_kg"]["so2"] == pytest.approx(27.0)


def test_report_loads_mix_stored_and_computed_points(db, monthly, tmp_path):
    """The report's ``point_month_loads``: a point with ``month_load`` rows shows them as
    stored; the points without are computed together and match their own month."""
    import shutil

    from lantian.reports.emissions import point_month_loads
    from lantian.reports.monthly import ibis_backend

    copy = tmp_path / "mix.duckdb"
    shutil.copyfile(db, copy)
    raw = duckdb.connect(str(copy))
    raw.execute("INSERT INTO month_load (mn, month, pollutant, load_kg, load_hours) "
                "VALUES ('H', '2024-04', 'so2', 1234.5, 700)")
    try:
        pts = [{"mn": mn, "outlet": f"o{mn}"} for mn in ("H", "L", "P")]
        rows, computed = point_month_loads(ibis_backend(raw), raw, "2024-04", pts)
    finally:
        raw.close()
    assert computed is True
    by = {(r["mn"], r["pollutant"]): r for r in rows}
    assert by[("H", "so2")]["source"] == "stored" and by[("H", "so2")]["load_kg"] == 1234.5
    for mn in ("L", "P"):
        r = by[(mn, "so2")]
        assert (r["source"], r["outlet"]) == ("computed", f"o{mn}")
        assert r["load_kg"] == pytest.approx(monthly[mn]["load_kg"]["so2"])
        assert r["substituted_load_kg"] == pytest.approx(monthly[mn]["substituted_load_kg"]["so2"])
    assert [r["mn"] for r in rows] == sorted(r["mn"] for r in rows)  # in the order of points


def test_measured_load_kg_from_mg_m3_and_m3_h(monthly):
    # H: 687 valid hours, 685 × 3.6 + 7.2 + 10.8
    assert monthly["H"]["load_kg"]["so2"] == pytest.approx(685 * 3.6 + 7.2 + 10.8)
    # X sends m³/h: 500 × 20 mg/m³ × 180,000 m³/h × 10⁻⁶ = 500 × 3.6
    assert monthly["X"]["load_kg"]["so2"] == pytest.approx(1800.0)


def test_high_capture_rate_short_and_long_runs(monthly):
    h = monthly["H"]
    assert h["capture_rate"]["so2"] == pytest.approx(687 / 720)
    assert h["substituted_hours"]["so2"] == 33
    assert h["substituted_load_kg"]["so2"] == pytest.approx(3 * 7.2 + 30 * 10.8)
    assert h["unsubstituted_hours"]["so2"] == 0


def test_capture_rate_between_75_and_90_uses_2160_hours(monthly):
    lo = monthly["L"]
    assert lo["capture_rate"]["so2"] == pytest.approx(617 / 720)
    assert lo["substituted_hours"]["so2"] == 103
    # the same 3-hour fault as H now takes 10.8 (hour 10 is within 2160 valid hours)
    assert lo["substituted_load_kg"]["so2"] == pytest.approx(103 * 10.8)


def test_capture_rate_below_75_substitutes_nothing(monthly):
    x = monthly["X"]
    assert x["capture_rate"]["so2"] == pytest.approx(500 / 720)
    assert x["substituted_hours"]["so2"] == 0 and x["substituted_load_kg"]["so2"] == 0.0
    assert x["unsubstituted_hours"]["so2"] == 220
    # O2 and flow are flue-gas parameters, not pollutants: no load for them
    assert set(x["load_kg"]) == {"so2"}


def test_history_before_the_quarter_feeds_the_window(monthly):
    p = monthly["P"]
    assert p["capture_rate"]["so2"] == pytest.approx(717 / 720)
    assert p["substituted_load_kg"]["so2"] == pytest.approx(3 * 9.0)
    assert p["load_kg"]["so2"] == pytest.approx(717 * 3.6)  # March is not April's load


MONTH_KEYS = {"mn", "source_type", "month", "production_hours", "valid_hours",
              "compliant_hours", "compliance_ratio", "ule_pass", "exceedance_hours",
              "invalid_hours"}
LOAD_KEYS = {"load_kg", "load_hours", "substituted_load_kg", "substituted_hours",
             "unsubstituted_hours", "capture_rate"}


def _run(args):
    res = CliRunner().invoke(app, ["assess", *args, "--format", "json"])
    assert res.exit_code == 0, res.stderr
    return [json.loads(x) for x in res.stdout.splitlines()]


def test_cli_loads_keeps_the_contract_and_stores_month_load(db):
    plain = {o["mn"]: o for o in _run(["--db", str(db), "--month", "2024-04", "--no-store"])}
    with_loads = {o["mn"]: o for o in _run(["--db", str(db), "--month", "2024-04", "--loads"])}
    assert set(plain) == set(with_loads) == {"H", "L", "P", "X"}
    for mn, obj in with_loads.items():
        assert set(obj) == MONTH_KEYS | LOAD_KEYS
        assert {k: obj[k] for k in MONTH_KEYS} == plain[mn]  # existing keys unchanged
    h = with_loads["H"]
    assert h["substituted_hours"] == {"so2": 33} and h["load_hours"] == {"so2": 687}
    assert h["substituted_load_kg"]["so2"] == pytest.approx(345.6)
    assert h["capture_rate"]["so2"] == pytest.approx(687 / 720)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT mn, pollutant, load_kg, substituted_load_kg, substituted_hours,"
                       " capture_rate FROM month_load WHERE month = '2024-04' ORDER BY mn"
                       ).fetchall()
    con.close()
    assert [r[:2] for r in rows] == [("H", "so2"), ("L", "so2"), ("P", "so2"), ("X", "so2")]
    assert rows[1][3] == pytest.approx(103 * 10.8) and rows[1][4] == 103
    assert rows[3][5] == pytest.approx(500 / 720)


def test_cli_detail_hours_marks_substituted_hours(db):
    hours = _run(["--db", str(db), "--month", "2024-04", "--detail", "hours", "--mn", "H",
                  "--loads"])
    assert len(hours) == 720
    by_ts = {o["ts"]: o for o in hours}
    ok = by_ts["2024-04-01T10:00:00"]
    assert ok["so2_load_kg_h"] == pytest.approx(10.8) and ok["so2_substituted"] is False
    assert ok["flow_m3_h"] == pytest.approx(180000.0)
    gap = by_ts["2024-04-09T08:00:00"]  # hour 200
    assert gap["so2_load_kg_h"] is None and gap["so2_substituted"] is True
    assert gap["so2_sub_load_kg_h"] == pytest.approx(7.2)
    assert sum(o["so2_substituted"] for o in hours) == 33
    # the hourly concentration of a substituted hour is not invented
    assert gap["so2_mg_m3"] is None or gap["so2_valid"] is False


def test_a_silent_month_of_the_quarter_counts_against_capture(db):
    # May 2024: H sent nothing, so α = 687 valid of 720 + 744 production hours = 46.9 % < 75 %
    con = backends.connect("duckdb", db=db)
    rows = month_load_totals(load_hours(con, "2024-05", mn="H"), "2024-05").execute()
    con.disconnect()
    (h,) = [month_load_record(r) for r in rows.to_dict("records")]
    assert h["capture_rate"]["so2"] == pytest.approx(687 / (720 + 744))
    assert h["load_kg"]["so2"] == 0.0 and h["substituted_hours"]["so2"] == 0
    assert h["unsubstituted_hours"]["so2"] == 744


def test_cli_table_shows_loads(db):
    res = CliRunner().invoke(app, ["assess", "--db", str(db), "--month", "2024-04", "--loads",
                                   "--no-store"])
    assert res.exit_code == 0, res.stderr
    # H: 2,484 kg measured + 345.6 kg substituted in 33 h, α = 687/720 = 95.4 %
    assert ("so2 排放量 load 2484.000 kg + 替代 substituted 345.600 kg (33 h, open 0 h, "
            "捕集率 capture 95.4%)") in res.stdout
