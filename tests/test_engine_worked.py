"""Worked examples of the ULE engine on DuckDB, expected values computed by hand here.

One database holds every case (each case is its own monitoring point), month 2024-05
(31 days = 744 clock hours, CST), so the pipeline runs once for the monthly results and once
for the hourly detail.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine_support import make_db, minutes
from lantian.engine import backends
from lantian.engine.assess import assess_month, hour_record, monthly_record
from lantian.engine.oxygen import reference_concentration

MONTH = "2024-05"
H = 744  # 31 × 24 hours in May


def _hour(mn, hh, n=60, **kw):
    base = dict(o2=10.0, flow=50.0)
    base.update(kw)
    return minutes(mn, f"2024-05-01 {hh:02d}:00", n, **base)


def _flags(*parts):
    return np.concatenate([np.full(n, f, dtype=object) for f, n in parts])


def _build():
    frames = []
    # P45: the 45-minute boundary and the flags
    so2_h0 = np.r_[np.full(45, 20.0), np.full(15, 999.0)]
    frames.append(_hour("P45", 0, so2=so2_h0, so2_flag=_flags(("N", 45), ("C", 15))))
    frames.append(_hour("P45", 1, so2=20.0, so2_flag=_flags(("N", 44), ("M", 16))))
    frames.append(_hour("P45", 2, so2=20.0, so2_flag=_flags(("N", 44), ("S", 16))))
    so2_h3 = np.r_[np.full(25, 10.0), np.full(25, 30.0), np.full(10, 500.0)]
    frames.append(_hour("P45", 3, so2=so2_h3, so2_flag=_flags(("N", 50), ("F", 10))))
    frames.append(_hour("P45", 4, so2=20.0, so2_flag="F"))  # F, flow normal: plant ran
    frames.append(_hour("P45", 5, so2=20.0, so2_flag="F", flow=0.5, flow_flag="F"))  # stopped
    # PO2: reference-oxygen conversion and the comparison rule
    frames.append(_hour("PO2", 0, so2=30.0, nox=40.0, o2=12.0))
    frames.append(_hour("PO2", 1, so2=30.0, nox=40.0, o2=11.5))
    frames.append(_hour("PO2", 2, so2=35.0, nox=50.0, o2=10.0))
    frames.append(_hour("PO2", 3, so2=30.0, nox=40.0, o2=12.0, so2_zs=5.0))
    frames.append(_hour("PO2", 4, so2=20.0, nox=40.0, o2=10.0, o2_flag="D"))
    frames.append(_hour("PO2", 5, so2=20.0, nox=40.0, o2=21.0))
    # PMARK: enterprise marks and HJ 212 status codes
    for hh in range(4):
        frames.append(_hour("PMARK", hh, so2=20.0, o2=6.0))
    # PTHR: registered stop-flow threshold 10 (logger unit)
    frames.append(_hour("PTHR", 0, so2=20.0, so2_flag="F", flow=8.0, o2=6.0))
    frames.append(_hour("PTHR", 1, so2=20.0, so2_flag="F", flow=12.0, o2=6.0))
    frames.append(_hour("PTHR", 2, so2=20.0, flow=50.0, o2=6.0))
    # P95a / P95b: whole month, 40 resp. 37 exceedance hours
    for mn, n_exc in (("P95A", 40), ("P95B", 37)):
        so2 = np.full(H * 60, 20.0)
        so2[: n_exc * 60] = 40.0
        frames.append(minutes(mn, "2024-05-01 00:00", H * 60, so2=so2, o2=10.0, flow=50.0))
    df = pd.concat(frames, ignore_index=True)
    df["packet_id"] = np.arange(len(df))
    points = [
        {"mn": "P45", "source_type": "cement_kiln", "parameters": ["so2"]},
        {"mn": "PO2", "source_type": "cement_kiln", "parameters": ["so2", "nox"]},
        {"mn": "PMARK", "source_type": "coal_power_boiler", "parameters": ["so2"]},
        {
            "mn": "PTHR",
            "source_type": "coal_power_boiler",
            "parameters": ["so2"],
            "stop_flow_threshold": 10.0,
        },
        {"mn": "P95A", "source_type": "cement_kiln", "parameters": ["so2"]},
        {"mn": "P95B", "source_type": "cement_kiln", "parameters": ["so2"]},
    ]
    marks = [
        {
            "mn": "PMARK",
            "kind": "starting",
            "start": "2024-05-01 00:00",
            "end": "2024-05-01 01:00",
            "status": "accepted",
        },
        {
            "mn": "PMARK",
            "kind": "stopped",
            "start": "2024-05-01 01:00",
            "end": "2024-05-01 02:00",
            "status": "pending",
        },
        {
            "mn": "PMARK",
            "kind": "maintenance",
            "start": "2024-05-01 02:00",
            "end": "2024-05-01 03:00",
            "status": "accepted",
        },
    ]
    status = [{"mn": "PMARK", "ts": f"2024-05-01 03:{m:02d}", "num": 9} for m in range(0, 60, 10)]
    return df, points, marks, status


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    df, points, marks, status = _build()
    db = make_db(
        tmp_path_factory.mktemp("worked") / "w.duckdb", points, df, marks=marks, status=status
    )
    con = backends.connect(db=db)
    monthly = {
        r["mn"]: monthly_record(r) for r in assess_month(con, MONTH).execute().to_dict("records")
    }
    detail = assess_month(con, MONTH, detail=True).execute()
    hours = {
        (r["mn"], r["ts"].hour if r["ts"].day == 1 else None): hour_record(r)
        for r in detail.to_dict("records")
    }
    return monthly, hours, db


def test_45_minute_boundary_and_flags(results):
    _, hours, _ = results
    h0 = hours[("P45", 0)]
    assert h0["so2_valid_minutes"] == 45 and h0["so2_valid"] is True
    assert h0["so2_mg_m3"] == 20.0  # the C-flagged 999s are not averaged
    h1 = hours[("P45", 1)]
    assert h1["so2_valid_minutes"] == 44 and h1["so2_valid"] is False  # 44 < 45
    h2 = hours[("P45", 2)]
    assert h2["so2_valid_minutes"] == 44 and h2["so2_valid"] is False  # S is not monitoring data
    h3 = hours[("P45", 3)]
    assert h3["so2_mg_m3"] == (25 * 10.0 + 25 * 30.0) / 50 == 20.0 and h3["so2_valid"]
    assert h3["production"] is True  # 10 F minutes are a minority


def test_f_without_stop_evidence_is_a_production_hour(results):
    _, hours, _ = results
    h4 = hours[("P45", 4)]
    assert h4["production"] is True and h4["so2_valid"] is False and h4["compliant"] is False
    # all F and flow 0.5 < 5 % × median running flow 50 = 2.5 → stopped
    h5 = hours[("P45", 5)]
    assert h5["production"] is False and h5["stop_reason"] == "flow"


def test_month_counts_for_flag_cases(results):
    monthly, _, _ = results
    m = monthly["P45"]
    # 744 hours − 1 stop hour; valid: hours 0 and 3 (hours without data count as invalid)
    assert m["production_hours"] == H - 1
    assert m["valid_hours"] == 2 and m["compliant_hours"] == 2
    assert m["invalid_hours"] == {"so2": H - 1 - 2}
    assert m["exceedance_hours"] == {"so2": 0}
    assert m["compliance_ratio"] == 2 / (H - 1) and m["ule_pass"] is False


def test_reference_oxygen_conversion(results):
    _, hours, _ = results
    # cement kiln, O2ref 10 %: 30 × (21 − 10)/(21 − 12) = 36.667 > 35 → exceedance
    h0 = hours[("PO2", 0)]
    assert h0["so2_ref_mg_m3"] == pytest.approx(30 * 11 / 9)
    assert h0["nox_ref_mg_m3"] == pytest.approx(40 * 11 / 9)  # 48.9 ≤ 50
    assert h0["so2_exceed"] is True and h0["nox_exceed"] is False and h0["compliant"] is False
    # O2 11.5 %: 30 × 11/9.5 = 34.74 ≤ 35 → compliant
    h1 = hours[("PO2", 1)]
    assert h1["so2_ref_mg_m3"] == pytest.approx(30 * 11 / 9.5) and h1["compliant"] is True
    # exactly at the limit is within it (≤): 35 and 50 at O2 = O2ref
    h2 = hours[("PO2", 2)]
    assert h2["so2_ref_mg_m3"] == 35.0 and h2["nox_ref_mg_m3"] == 50.0
    assert h2["compliant"] is True


def test_logger_converted_value_is_not_trusted(results):
    _, hours, _ = results
    h3 = hours[("PO2", 3)]
    assert h3["so2_zs_mg_m3"] == 5.0  # kept for comparison
    assert h3["so2_ref_mg_m3"] == pytest.approx(36.6667, abs=1e-4)
    assert h3["so2_exceed"] is True and h3["compliant"] is False


def test_invalid_or_impossible_oxygen_invalidates_the_hour(results):
    _, hours, _ = results
    h4 = hours[("PO2", 4)]  # O2 flagged D: no conversion possible
    assert h4["so2_mg_m3"] == 20.0 and h4["so2_ref_mg_m3"] is None and h4["so2_valid"] is False
    h5 = hours[("PO2", 5)]  # O2 = 21 %: formula undefined
    assert h5["so2_ref_mg_m3"] is None and h5["compliant"] is False


def test_marks_and_status_codes(results):
    _, hours, _ = results
    assert hours[("PMARK", 0)]["production"] is False  # accepted start-up mark
    assert hours[("PMARK", 0)]["stop_reason"] == "mark"
    assert hours[("PMARK", 1)]["production"] is True  # pending mark is not honoured
    assert hours[("PMARK", 2)]["production"] is True  # maintenance is not a plant stop
    assert hours[("PMARK", 3)]["production"] is False  # i12001 = 9 standby
    assert hours[("PMARK", 3)]["stop_reason"] == "status"


def test_registered_stop_threshold(results):
    _, hours, _ = results
    assert hours[("PTHR", 0)]["production"] is False  # F and flow 8 < 10
    assert hours[("PTHR", 1)]["production"] is True  # F but flow 12 ≥ 10
    assert hours[("PTHR", 1)]["so2_valid"] is False


def test_95_percent_boundary(results):
    monthly, _, _ = results
    a, b = monthly["P95A"], monthly["P95B"]
    assert a["production_hours"] == H and a["compliant_hours"] == H - 40 == 704
    assert a["compliance_ratio"] == 704 / 744
    assert round(a["compliance_ratio"], 4) == 0.9462 and a["ule_pass"] is False
    assert a["exceedance_hours"] == {"so2": 40}
    assert b["compliant_hours"] == 707 and b["ule_pass"] is True  # 0.9503
    assert math.isclose(b["compliance_ratio"], 707 / 744)


def test_reference_concentration_floats():
    assert reference_concentration(30.0, 12.0, 10.0) == pytest.approx(36.6667, abs=1e-4)
    assert reference_concentration(5.0, 3.0, None) == 5.0
    assert math.isnan(reference_concentration(5.0, 21.0, 6.0))
