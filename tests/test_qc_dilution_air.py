"""``dilution``: air let in is told by its mass balance, inside the source type's band too.

Air let into the duct raises O2 *and* the flue-gas flow while the firing flow
``Q × (21 − O2)`` (the fuel burnt) stays as usual (``process.firing_flow``). Hours with O2
``dilution.self_delta_pct`` above the point's own month median, flow at or above its month
median and firing flow at least ``dilution.firing_ratio_min`` of its month median join the
above-band hours (session 10): a coke-oven chimney diluted from 8 % to 13 % O2 stays under
the band edge (14 %) but is air let in all the same, and an air inlet opened for two hours
across three clock hours reaches above the band in one hour only.
"""

from __future__ import annotations

import json

import ibis
import pandas as pd

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.process import dilution

TH = load_thresholds()
T0 = pd.Timestamp("2026-01-05 00:00")


def _events(o2: list[float], flow: list[float], source_type: str) -> pd.DataFrame:
    ts = pd.date_range(T0, periods=len(o2), freq="h").astype("datetime64[us]")
    hours = pd.DataFrame({"mn": "P1", "ts": ts, "running": True, "o2_pct": o2,
                          "o2_valid": True, "flow_raw": flow})
    points = ibis.memtable(pd.DataFrame({"mn": ["P1"], "source_type": [source_type]}))
    ev = ibis.duckdb.connect().execute(dilution(ibis.memtable(hours), points, TH))
    ev = ev.sort_values("start").reset_index(drop=True)
    return ev


def _diluted(q: float, o2: float, to_o2: float) -> float:
    """Flow after air is let in until the O2 reads ``to_o2`` (firing flow unchanged)."""
    return q * (21.0 - o2) / (21.0 - to_o2)


def test_air_let_in_below_the_band_edge_is_medium():
    band = TH.get("dilution", "o2_max_pct", "coke_oven_stack")
    to = band - 1.0  # 13 %: inside the band, 5 points above the usual 8 %
    n = 72
    o2, flow = [8.0] * n, [100.0] * n
    for h in range(30, 40):
        o2[h], flow[h] = to, _diluted(100.0, 8.0, to)
    ev = _events(o2, flow, "coke_oven_stack")
    got = [(s, json.loads(e)["hours"], json.loads(e)["above_band_hours"])
           for s, e in zip(ev["severity"], ev["evidence"], strict=True)]
    assert got == [("medium", 10.0, 0)]
    assert ev["start"][0] == T0 + pd.Timedelta(hours=30)


def test_o2_up_without_the_flow_air_would_bring_is_no_dilution():
    band = TH.get("dilution", "o2_max_pct", "coke_oven_stack")
    to = band - 1.0
    n = 72
    o2, flow = [8.0] * n, [100.0] * n
    for h in range(10, 14):  # turndown: less fuel, more excess air, less flue gas
        o2[h], flow[h] = to, 70.0
    for h in range(30, 34):  # flow as usual, O2 up: firing flow 100·8/1300 = 0.62 < 0.7
        o2[h], flow[h] = to, 100.0
    for h in range(50, 54):  # O2 up by less than self_delta_pct, with more flow
        o2[h], flow[h] = 8.0 + 0.9 * TH.get("dilution", "self_delta_pct"), 120.0
    assert _events(o2, flow, "coke_oven_stack").empty


def test_a_two_hour_air_inlet_across_three_clock_hours_is_one_event():
    # 26 + 60 + 34 minutes of air at 14.5 % in three clock hours: means 11.7, 14.5, 10.9 %
    n = 72
    o2, flow = [8.0] * n, [100.0] * n
    for h, share in ((40, 26 / 60), (41, 1.0), (42, 34 / 60)):
        q_air = _diluted(100.0, 8.0, 14.5)
        q = share * q_air + (1 - share) * 100.0
        o2[h] = (share * q_air * 14.5 + (1 - share) * 100.0 * 8.0) / q
        flow[h] = q
    ev = _events(o2, flow, "coke_oven_stack")
    got = [(s, json.loads(e)["hours"], json.loads(e)["above_band_hours"])
           for s, e in zip(ev["severity"], ev["evidence"], strict=True)]
    assert got == [("medium", 3.0, 1)]
