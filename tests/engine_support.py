"""Helpers for the engine tests: small minute fixtures and a plain pandas reference.

The reference implements the issue-3 rules directly in pandas (no Ibis, no engine code
except the catalogue lookup ``applicable_limits``), so the conformance tests compare the
Ibis pipeline on DuckDB and Spark against an independent implementation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from lantian.catalog.limits import applicable_limits
from lantian.store import db as store_db

KEYS = ("pm", "so2", "nox", "nh3", "nmhc", "co")
AUX = {"o2": "o2_pct", "flow": "flow_m3_s", "temp": "temp_c"}


def col(key: str) -> str:
    return AUX.get(key, f"{key}_mg_m3")


def minutes(mn: str, start: str, n: int, **values) -> pd.DataFrame:
    """``n`` minute rows from ``start`` (CST) for point ``mn``.

    ``values``: ``so2=20.0`` (scalar or array) sets ``so2_mg_m3`` with flag ``N``;
    ``so2_flag=[...]`` overrides flags; ``so2_zs=...`` sets the logger's converted value.
    """
    ts = pd.date_range(start, periods=n, freq="min")
    df = pd.DataFrame({"mn": mn, "ts": ts, "packet_id": np.arange(n, dtype="int64")})
    for k, v in values.items():
        if k.endswith(("_flag", "_zs")):
            continue
        df[col(k)] = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
        df[f"{k}_flag"] = values.get(f"{k}_flag", "N")
        if f"{k}_zs" in values:
            df[f"{k}_zs"] = values[f"{k}_zs"]
    return df


def make_db(
    path: Path,
    points: list[dict],
    minute_rows: pd.DataFrame,
    *,
    marks: list[dict] | None = None,
    status: list[dict] | None = None,
    permits: list[dict] | None = None,
) -> Path:
    """Create a migrated database with outlets/points, minute rows, marks and status items.

    ``points``: dicts with ``mn``, ``source_type``, optional ``jurisdiction``,
    ``parameters`` (list or None), ``stop_flow_threshold``.
    """
    con = store_db.connect(path)
    try:
        for i, p in enumerate(points, start=1):
            con.execute(
                "INSERT INTO outlet (id, enterprise_id, name, source_type, jurisdiction, "
                "stop_flow_threshold) VALUES (?, 1, ?, ?, ?, ?)",
                [
                    i,
                    f"outlet-{i}",
                    p["source_type"],
                    p.get("jurisdiction"),
                    p.get("stop_flow_threshold"),
                ],
            )
            con.execute(
                "INSERT INTO monitoring_point (mn, password, outlet_id, source_type, parameters)"
                " VALUES (?, 'pw', ?, ?, ?)",
                [p["mn"], i, p["source_type"], p.get("parameters")],
            )
        con.register("m_df", minute_rows)
        con.execute("INSERT INTO flue_minute BY NAME SELECT * FROM m_df")
        con.unregister("m_df")
        for m in marks or []:
            con.execute(
                "INSERT INTO enterprise_mark (mn, outlet_id, kind, start_ts, end_ts, status) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [m.get("mn"), m.get("outlet_id"), m["kind"], m["start"], m["end"], m["status"]],
            )
        for s in status or []:
            con.execute(
                "INSERT INTO value_long (packet_id, mn, cn, ts, code, field, num) "
                "VALUES (0, ?, '2051', ?, 'i12001', 'Info', ?)",
                [s["mn"], s["ts"], s["num"]],
            )
        for p in permits or []:
            con.execute(
                "INSERT INTO permit_limit (enterprise_id, outlet, pollutant, limit_mg_m3, "
                "valid_from, valid_to) VALUES (1, ?, ?, ?, ?, ?)",
                [p["outlet"], p["pollutant"], p["limit"], p["from"], p.get("to")],
            )
    finally:
        con.close()
    return path


# ---------------------------------------------------------------- pandas reference


def reference_hours(
    df: pd.DataFrame, month: str, points: list[dict], marks: list[dict] | None = None
) -> pd.DataFrame:
    """Hourly verdicts by the issue-3 rules, written plainly in pandas."""
    start = pd.Timestamp(f"{month}-01")
    end = start + pd.offsets.MonthBegin(1)
    df = df[(df.ts >= start) & (df.ts < end)].copy()
    df["hour"] = df.ts.dt.floor("h")
    keys = [k for k in KEYS if col(k) in df.columns]
    out = []
    for mn, g in df.groupby("mn"):
        p = next(x for x in points if x["mn"] == mn)
        reg = p.get("parameters")

        def keep(lims: dict, reg=reg, g=g) -> dict:
            if reg:
                return {k: v for k, v in lims.items() if k in reg}
            return {k: v for k, v in lims.items() if k in keys and g[col(k)].notna().any()}

        # limits in force on each day of the month (CST)
        by_day = {
            d.date(): keep(applicable_limits(p["source_type"], d.date(), p.get("jurisdiction")))
            for d in pd.date_range(start, end, freq="D", inclusive="left")
        }
        lims = {k: v for day in by_day.values() for k, v in day.items()}
        hours = pd.date_range(start, end, freq="h", inclusive="left")
        rows = []
        for h in hours:
            m = g[g.hour == h]
            r = {"mn": mn, "ts": h}
            for k in [*keys, "o2", "flow"]:
                if col(k) not in m.columns:
                    continue
                flag = m[f"{k}_flag"].fillna("N")
                ok = (flag == "N") & m[col(k)].notna()
                r[f"{k}_n"] = int(ok.sum())
                r[col(k)] = m.loc[ok, col(k)].mean() if ok.any() else np.nan
                r[f"{k}_valid"] = r[f"{k}_n"] >= 45
            flags = [c for c in m.columns if c.endswith("_flag")]
            f_min = int((m[flags] == "F").any(axis=1).sum()) if len(m) else 0
            r["f_hour"] = len(m) > 0 and f_min * 100 > len(m) * 50
            r["flow_raw"] = m["flow_m3_s"].mean() if len(m) else np.nan
            rows.append(r)
        hdf = pd.DataFrame(rows)
        running = hdf[~hdf.f_hour & hdf.flow_raw.notna()]
        thr = p.get("stop_flow_threshold")
        if thr is None:
            thr = running.flow_raw.median() * 0.05
        stop = hdf.f_hour & (hdf.flow_raw < thr)
        for mk in marks or []:
            if mk["status"] != "accepted" or mk["kind"] == "maintenance":
                continue
            if mk.get("mn") not in (None, mn):
                continue
            s, e = pd.Timestamp(mk["start"]), pd.Timestamp(mk["end"])
            stop |= (s < hdf.ts + pd.Timedelta(hours=1)) & (e > hdf.ts)
        hdf["production"] = ~stop
        within_all = pd.Series(True, index=hdf.index)
        day = hdf.ts.dt.date
        o2ok = hdf.o2_valid & (hdf.o2_pct < 21)
        for k in lims:
            on_day = day.map(lambda d, k=k, by_day=by_day: by_day[d].get(k))
            limit = on_day.map(lambda v: np.nan if v is None else v.limit_mg_m3).astype(float)
            ref = on_day.map(
                lambda v: np.nan if v is None or v.o2_ref_pct is None else v.o2_ref_pct
            ).astype(float)
            mean = hdf[col(k)]
            converted = (mean * (21 - ref) / (21 - hdf.o2_pct)).where(o2ok)
            judged = mean.where(ref.isna(), converted)
            if ref.notna().any():
                hdf[f"{k}_ref_mg_m3"] = converted.where(ref.notna())
            is_lim = limit.notna()
            hdf[f"{k}_limited_hour"] = is_lim
            ok = hdf[f"{k}_valid"] & judged.notna()
            hdf[f"{k}_hour_valid"] = ok
            hdf[f"{k}_exceed"] = is_lim & ok & (judged > limit)
            hdf[f"{k}_invalid"] = is_lim & ~ok
            within_all &= ~is_lim | (ok & (judged <= limit))
        # an hour without any limit in force that day is not judged (engine: null)
        any_lim = pd.Series(False, index=hdf.index)
        for k in lims:
            any_lim |= hdf[f"{k}_limited_hour"]
        hdf["compliant"] = (hdf.production & within_all & any_lim) if lims else None
        hdf.attrs["limits"] = lims
        out.append((mn, hdf, lims))
    return out


def reference_monthly(
    df: pd.DataFrame, month: str, points: list[dict], marks: list[dict] | None = None
) -> dict[str, dict]:
    """Monthly contract objects by the pandas reference, keyed by MN."""
    res = {}
    for mn, h, lims in reference_hours(df, month, points, marks):
        prod = h.production
        ph = int(prod.sum())
        ch = int((h.compliant.fillna(False).astype(bool)).sum()) if lims else 0
        allok = pd.Series(True, index=h.index)
        limited = pd.Series(False, index=h.index)
        for k in lims:
            allok &= h[f"{k}_hour_valid"] | ~h[f"{k}_limited_hour"]
            limited |= h[f"{k}_limited_hour"]
        allok &= limited
        p = next(x for x in points if x["mn"] == mn)
        judged = bool(lims) and ph > 0
        res[mn] = {
            "mn": mn,
            "source_type": p["source_type"],
            "month": month,
            "production_hours": ph,
            "valid_hours": int((prod & allok).sum()) if lims else 0,
            "compliant_hours": ch,
            "compliance_ratio": ch / ph if judged else None,
            "ule_pass": (ch * 100 >= 95 * ph) if judged else None,
            "exceedance_hours": {
                k: int((prod & h[f"{k}_exceed"]).sum()) for k in KEYS if k in lims
            },
            "invalid_hours": {k: int((prod & h[f"{k}_invalid"]).sum()) for k in KEYS if k in lims},
        }
    return res


def month_start(month: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{month}-01")
