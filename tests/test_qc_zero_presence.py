"""``zero_presence`` gives every (point, channel) its own zero share (qcframes13, session 13).

The shares of all channels come from one aggregation of the joined blocks (one column pair
per channel, then one row per channel): each channel's share must be its own, not a
neighbour's. Two points, three channels, every share different, numbers by hand.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from lantian.engine.quality.values import zero_presence

T0 = pd.Timestamp("2026-03-02 08:00")


def _ts(x) -> pd.Series:
    return pd.Series(x).astype("datetime64[us]")


def _point(mn: str, cross: dict[str, list[bool]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two running hours (four blocks) of ``mn``; block i crosses zero for ``cross[k][i]``."""
    hours = pd.DataFrame({"mn": mn, "ts": _ts(pd.date_range(T0, periods=2, freq="h")),
                          "running": True, "flow_raw": 50.0, "o2_pct": 6.0, "o2_valid": True})
    blocks = pd.DataFrame({"mn": mn, "t0": _ts(pd.date_range(T0, periods=4, freq="30min"))})
    for k, c in cross.items():
        hours[f"{k}_mg_m3"], hours[f"{k}_valid"] = 5.0, True
        blocks[f"n_{k}"] = 30
        blocks[f"lo_{k}"] = [-1.0 if x else 1.0 for x in c]
        blocks[f"hi_{k}"] = 2.0
    return hours, blocks


def test_each_point_and_channel_keeps_its_own_share():
    h1, b1 = _point("P1", {"so2": [True, False, False, False], "nox": [True] * 3 + [False],
                           "o2": [False] * 4})
    h2, b2 = _point("P2", {"so2": [True, True, False, False], "nox": [False] * 4,
                           "o2": [True] * 4})
    hours, blocks = pd.concat([h1, h2]), pd.concat([b1, b2])
    got = ibis.duckdb.connect().execute(
        zero_presence(ibis.memtable(hours), ibis.memtable(blocks), ["so2", "nox"]))
    share = got.set_index(["mn", "pollutant"])["zero_share"]
    assert len(share) == 6
    want = {("P1", "so2"): 1 / 4, ("P1", "nox"): 3 / 4, ("P1", "o2"): 0.0,
            ("P2", "so2"): 2 / 4, ("P2", "nox"): 0.0, ("P2", "o2"): 1.0}
    for key, v in want.items():
        assert share[key] == pytest.approx(v), key
