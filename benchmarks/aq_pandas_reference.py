"""A straightforward pandas implementation of the yearly air-quality table (HJ 663).

It is the baseline of ``bench_aq.py`` and the independent reference the tests compare the
Ibis pipeline with (``tests/test_aq_stats.py``). Deliberately plain: groupby, a pivot of O3
by hour of day, ``np.percentile(method="linear")`` (the HJ 663 formula), ``np.interp`` for
IAQI. Rules of HJ 633-2012 / GB 3095-2012 only (the Beijing data end in 2017); thresholds
are read from the catalogue like the engine does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lantian.catalog import aq as cat
from lantian.engine.aq_stats import PERCENTILES

POLS = ("so2", "no2", "pm10", "pm2_5", "co")


def daily(hourly: pd.DataFrame) -> pd.DataFrame:
    """Daily means (≥ 20 h), O3 max 1-h and max 8-h (17 windows, ≥ 6 h, ≥ 14 windows)."""
    v = cat.validity()
    h = hourly.assign(day=hourly["ts"].dt.normalize(), hod=hourly["ts"].dt.hour)
    g = h.groupby(["station", "day"])
    means = g[list(POLS)].mean()
    counts = g[list(POLS)].count()
    out = means.where(counts >= v["daily_mean"])
    out["o3_1h"] = g["o3"].max()
    piv = h.pivot_table(index=["station", "day"], columns="hod", values="o3", aggfunc="first")
    piv = piv.reindex(columns=range(24)).reindex(out.index)
    arr = piv.to_numpy(dtype="float64")
    win_means = []
    win_ok = []
    for w in range(17):
        block = arr[:, w : w + 8]
        n = np.sum(~np.isnan(block), axis=1)
        with np.errstate(invalid="ignore"):
            m = np.nansum(block, axis=1) / np.where(n > 0, n, np.nan)
        ok = n >= v["o3_8h_window"]
        win_means.append(np.where(ok, m, np.nan))
        win_ok.append(ok)
    wm = np.vstack(win_means).T
    n_ok = np.vstack(win_ok).T.sum(axis=1)
    best = np.where(n_ok > 0, np.nanmax(np.where(np.isnan(wm), -1.0, wm), axis=1), np.nan)
    best = np.where(best < 0, np.nan, best)
    limit = float(cat.gb3095_limit("o3", "max8h", pd.Timestamp("2015-01-01").date()))
    out["o3_8h"] = np.where((n_ok >= v["o3_day_windows"]) | (best > limit), best, np.nan)
    return out.reset_index()


def _iaqi(c: pd.Series, item: str) -> np.ndarray:
    bp = cat.breakpoints("2012", item)
    xs = np.array([float(x) for x in bp.concentration])
    ys = np.array(bp.iaqi, dtype="float64")
    raw = np.interp(c.to_numpy(dtype="float64"), xs, ys)
    out = np.ceil(np.round(raw, 6))
    out[np.isnan(c.to_numpy(dtype="float64"))] = np.nan
    return out


def daily_aqi(d: pd.DataFrame) -> np.ndarray:
    """Daily AQI (HJ 633-2012) of :func:`daily` output."""
    cols = [_iaqi(d[p], f"{p}_24h") for p in POLS]
    eight = _iaqi(d["o3_8h"], "o3_8h")
    rule = cat.overflow("2012", "o3_8h")
    if rule is not None:
        eight[d["o3_8h"].to_numpy() > float(rule.above)] = np.nan
    cols += [eight]
    any_valid = d[[*POLS, "o3_8h"]].notna().any(axis=1).to_numpy()
    one = _iaqi(d["o3_1h"], "o3_1h")
    one[~any_valid] = np.nan
    cols += [one]
    stack = np.vstack(cols).T
    with np.errstate(all="ignore"):
        return np.where(
            np.isnan(stack).all(axis=1), np.nan, np.nanmax(np.nan_to_num(stack, nan=-1), axis=1)
        )


def yearly(d: pd.DataFrame) -> pd.DataFrame:
    """Yearly table per station: means, day counts, percentiles, good and heavy days."""
    d = d.assign(period=d["day"].dt.year.astype(str), aqi=daily_aqi(d))
    g = d.groupby(["station", "period"])
    cols = [*POLS, "o3_8h"]
    out = g[cols].mean()
    for p in cols:
        out[f"days_{p}"] = g[p].count()
    for col, p, name in PERCENTILES:  # which percentiles (HJ 663 §5), not how
        out[name] = g[col].agg(
            lambda s, p=p: (
                np.percentile(s.dropna(), p, method="linear") if s.notna().any() else np.nan
            )
        )
    good_top = max(lv.aqi_high or 0 for lv in cat.levels() if lv.good_day)
    heavy_from = min(lv.aqi_low for lv in cat.levels() if lv.heavy_pollution)
    out["aqi_days"] = g["aqi"].count()
    out["good_days"] = g["aqi"].agg(lambda s: int((s <= good_top).sum()))
    out["heavy_days"] = g["aqi"].agg(lambda s: int((s >= heavy_from).sum()))
    return out.reset_index()
