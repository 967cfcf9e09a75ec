"""Emission loads: worked example computed by hand."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from engine_support import minutes
from lantian.engine.hours import valid_hours
from lantian.engine.loads import daily_loads, hourly_loads


def test_hourly_and_daily_loads_by_hand():
    # point A sends flow in m3/s, point B in m3/h
    a = pd.concat(
        [
            minutes("A", "2024-05-01 00:00", 60, so2=30.0, o2=10.0, flow=50.0, temp=100.0),
            minutes(
                "A", "2024-05-01 01:00", 60, so2=30.0, o2=10.0, flow=50.0, temp=100.0, so2_flag="C"
            ),
        ]
    )
    b = minutes("B", "2024-05-01 00:00", 60, so2=20.0, o2=10.0, flow=180000.0, temp=100.0)
    df = pd.concat([a, b], ignore_index=True)
    df["packet_id"] = np.arange(len(df))
    pts = ibis.memtable(pd.DataFrame({"mn": ["A", "B"], "flow_unit": ["m3/s", "m3/h"]}))
    h = hourly_loads(valid_hours(ibis.memtable(df), ["so2"]), pts, ["so2"])
    r = h.execute().set_index(["mn", "ts"]).sort_index()
    # A: 30 mg/m3 × 50 m3/s × 3600 s/h × 1e-6 = 5.4 kg/h
    assert r.loc[("A", pd.Timestamp("2024-05-01 00:00")), "so2_load_kg_h"] == pytest.approx(5.4)
    # the calibration hour has no measured load (HJ 75 substitutes it, never the concentration)
    assert pd.isna(r.loc[("A", pd.Timestamp("2024-05-01 01:00")), "so2_load_kg_h"])
    # B: 20 × 180000 m3/h × 1e-6 = 3.6 kg/h
    assert r.loc[("B", pd.Timestamp("2024-05-01 00:00")), "so2_load_kg_h"] == pytest.approx(3.6)
    d = daily_loads(h, ["so2"]).execute().set_index("mn")
    assert d.loc["A", "so2_load_kg"] == pytest.approx(5.4)
    assert d.loc["A", "so2_load_hours"] == 1
