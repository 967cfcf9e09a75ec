"""Staggered-production agreements against operating evidence (issue 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pytest

from lantian.errors import InputFileError
from lantian.ledger.production_control import (
    agreement_violations,
    load_agreements,
    running_from_flow,
    running_from_power,
)
from lantian.store.db import connect

T = dt.datetime
AGREEMENTS = (
    "enterprise,line,rule,value,from_md,to_md,valid_from,valid_to,source\n"
    "辛铸造,1号冲天炉,max_hours_per_day,12,,,2025-01-01,,太原市铸造行业错峰生产协议\n"
    "辛铸造,1号冲天炉,rest_weekday,7,,,2025-01-01,,太原市铸造行业错峰生产协议\n"
    "辛铸造,,halt_window,,11-01,12-31,2025-01-01,,采暖季停产\n"
    "辛铸造,2号电炉,rest_days_per_month,2,,,2025-01-01,,太原市铸造行业错峰生产协议\n"
)


@pytest.fixture
def con(db_path: Path, tmp_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, sector) VALUES (700, '辛铸造', 'foundry')")
    c.execute("INSERT INTO outlet (id, enterprise_id, name, stop_flow_threshold)"
              " VALUES (70, 700, '冲天炉排口', 1.0)")
    c.execute("INSERT INTO monitoring_point (mn, password, outlet_id) VALUES ('MN-C1', 'p', 70)")
    c.execute("INSERT INTO production_line (id, enterprise_id, name, kind, idle_kw) VALUES"
              " (71, 700, '1号冲天炉', 'cupola', NULL), (72, 700, '2号电炉', 'electric', 50)")
    c.execute("INSERT INTO production_line_outlet VALUES (71, 70)")
    f = tmp_path / "agreements.csv"
    f.write_text(AGREEMENTS, encoding="utf-8")
    assert load_agreements(c, f) == 4
    yield c
    c.close()


def _run_minutes(con, start: T, hours: int, flow: float = 20.0) -> None:
    con.execute(
        "INSERT INTO flue_minute (mn, ts, packet_id, flow_m3_s) SELECT 'MN-C1', t, 0, ?"
        " FROM range(?::TIMESTAMP, ?::TIMESTAMP, INTERVAL 1 MINUTE) r(t)",
        [flow, start, start + dt.timedelta(hours=hours)])


def _violations(con) -> list[dict]:
    ib = ibis.duckdb.from_connection(con)
    flow = running_from_flow(ib.table("flue_minute"), ib.table("monitoring_point"),
                             ib.table("outlet"), ib.table("production_line_outlet"),
                             ib.table("production_line"))
    power = running_from_power(ib.table("power_reading"), ib.table("production_line"))
    expr = agreement_violations(ibis.union(flow, power), ib.table("production_agreement"))
    return expr.to_pyarrow().to_pylist()


def test_sunday_run_and_long_day_of_a_cupola(con) -> None:
    _run_minutes(con, T(2025, 3, 1, 6), 12)  # Sat 06:00-17:59: 12 h, allowed
    _run_minutes(con, T(2025, 3, 1, 18), 2, flow=0.5)  # below the stop threshold: idle
    _run_minutes(con, T(2025, 3, 2, 8), 3)  # Sunday 08:00-10:59: rest day broken
    _run_minutes(con, T(2025, 3, 3, 6), 14)  # Mon 06:00-19:59: 14 h > 12 h
    got = [(v["line"], v["rule"], v["period"], v["running_hours"], v["first_ts"], v["last_ts"],
            v["evidence"]) for v in _violations(con)]
    assert got == [
        ("1号冲天炉", "rest_weekday", "2025-03-02", 3, T(2025, 3, 2, 8), T(2025, 3, 2, 10), "flow"),
        ("1号冲天炉", "max_hours_per_day", "2025-03-03", 14, T(2025, 3, 3, 6), T(2025, 3, 3, 19),
         "flow"),
    ]


def test_halt_window_applies_to_every_line(con) -> None:
    _run_minutes(con, T(2025, 10, 31, 20), 5)  # 10-31 20:00 .. 11-01 00:59
    con.execute("INSERT INTO power_reading VALUES (700, '2号电炉', '2025-12-31 23:00:00', 900)")
    got = {(v["line"], v["period"], v["running_hours"]) for v in _violations(con)
           if v["rule"] == "halt_window"}
    assert got == {("1号冲天炉", "2025-11-01", 1), ("2号电炉", "2025-12-31", 1)}


def test_electric_furnace_two_rest_days_a_month(con) -> None:
    # power above idle (50 kW x 1 h) every hour of March except all of the 9th -> 1 rest day
    con.execute(
        "INSERT INTO power_reading SELECT 700, '2号电炉', t,"
        " CASE WHEN t::DATE = DATE '2025-03-09' THEN 10 ELSE 1500 END"
        " FROM range(TIMESTAMP '2025-03-01', TIMESTAMP '2025-04-01', INTERVAL 1 HOUR) r(t)")
    (v,) = [v for v in _violations(con) if v["rule"] == "rest_days_per_month"]
    assert (v["line"], v["period"], v["evidence"]) == ("2号电炉", "2025-03", "power")
    assert v["detail"] == "rest days 1 < 2" and v["running_hours"] == 30 * 24
    # April: the 5th and the 6th idle -> 2 rest days, compliant
    con.execute(
        "INSERT INTO power_reading SELECT 700, '2号电炉', t,"
        " CASE WHEN day(t) IN (5, 6) THEN 0 ELSE 1500 END"
        " FROM range(TIMESTAMP '2025-04-01', TIMESTAMP '2025-05-01', INTERVAL 1 HOUR) r(t)")
    assert [v["period"] for v in _violations(con) if v["rule"] == "rest_days_per_month"] == [
        "2025-03"]


def test_bad_agreement_row(tmp_path: Path, con) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(AGREEMENTS.splitlines()[0] + "\n辛铸造,,rest_weekday,8,,,2025-01-01,,x\n",
                 encoding="utf-8")
    with pytest.raises(InputFileError, match="row 2 column value"):
        load_agreements(con, f)
    f.write_text(AGREEMENTS.splitlines()[0] + "\n辛铸造,,halt_window,,11-31,12-31,2025-01-01,,x\n",
                 encoding="utf-8")
    with pytest.raises(InputFileError, match="row 2 column from_md"):
        load_agreements(con, f)
    assert con.execute("SELECT count(*) FROM production_agreement").fetchone() == (4,)
