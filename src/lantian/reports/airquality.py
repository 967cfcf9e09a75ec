"""Air-quality figures for the pages and the bulletin.

Read from ``aq_hour`` / ``aq_station`` / ``aq_target`` through the air-quality engine
(:mod:`lantian.engine.aqi`, :mod:`lantian.engine.aq_stats`, :mod:`lantian.engine.composite`,
:mod:`lantian.engine.aq_targets`).

* :func:`calendar` — daily AQI (日报, HJ 633) of a station, city or district over a month;
* :func:`hourly` — real-time hourly AQI (实时报) with primary pollutant for one day;
* :func:`ranking` — composite index (环境空气质量综合指数) ranking of cities or districts for
  a month, with good-day ratio (优良天数比例) and heavy-pollution days (重污染天数);
* :func:`targets` — district/city targets (考核目标): year-to-date mean, gap and year-end
  projection.

Concentrations µg/m³ (CO mg/m³). Days and hours are China Standard Time; ``aq_hour.ts`` is
the hour start.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import ibis
import pandas as pd

from lantian.catalog import aq as cat
from lantian.engine.aq_stats import daily_stats, moving_means, period_stats, place_hourly
from lantian.engine.aq_targets import target_progress
from lantian.engine.aqi import daily_aqi, hourly_aqi
from lantian.engine.backends import month_bounds
from lantian.engine.composite import composite_index, joint_ranks
from lantian.reports.monthly import ibis_backend

__all__ = ["LEVELS", "calendar", "hourly", "places", "ranking", "targets"]

LEVELS = ("station", "city", "district")
POLS = ("so2", "no2", "pm10", "pm2_5", "co", "o3")


def places(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Station codes, cities and districts known in ``aq_station``."""
    out = {}
    for level in LEVELS:
        rows = con.execute(f"SELECT DISTINCT {level} FROM aq_station WHERE {level} IS NOT NULL "
                           f"ORDER BY 1").fetchall()
        out[level] = [r[0] for r in rows]
    return out


def _hours(ib: Any, level: str, start: dt.datetime, end: dt.datetime) -> ibis.Table:
    h = ib.table("aq_hour")
    h = h.filter((h.ts >= ibis.timestamp(start)) & (h.ts < ibis.timestamp(end)))
    h = h.select("station", "ts", *POLS)
    if level == "station":
        return h
    return place_hourly(h, ib.table("aq_station"), level)


def _level_of(aqi: Any) -> dict[str, Any]:
    if aqi is None or pd.isna(aqi):
        return {"aqi": None, "level": None, "category": "—", "colour": "#eeeeee"}
    lv = cat.level_for(int(aqi))
    return {"aqi": int(aqi), "level": lv.level, "category": lv.category_zh,
            "category_en": lv.category_en, "colour": lv.colour}


def _primary(v: Any) -> list[str]:
    return [p for p in str(v or "").split(",") if p]


def calendar(con: duckdb.DuckDBPyConnection, place: str, level: str,
             month: str) -> list[dict[str, Any]]:
    """Daily AQI of ``place`` for every day of ``month`` with data (HJ 663 validity)."""
    start, end = month_bounds(month)
    ib = ibis_backend(con)
    h = _hours(ib, level, start, end)
    d = daily_aqi(daily_stats(h.filter(h.station == place)))
    rows = d.order_by("day").execute().to_dict("records")
    return [{"day": pd.Timestamp(r["day"]).date(), "primary": _primary(r.get("primary")),
             **_level_of(r["aqi"])} for r in rows]


def hourly(con: duckdb.DuckDBPyConnection, place: str, level: str,
           day: dt.date) -> list[dict[str, Any]]:
    """Hourly AQI and primary pollutant of ``place`` on ``day`` (hour starts, CST).

    The 24 hours before the day are read too, for the PM 24-h and O3 8-h moving means.
    """
    start = dt.datetime.combine(day, dt.time()) - dt.timedelta(hours=24)
    end = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1)
    ib = ibis_backend(con)
    h = _hours(ib, level, start, end)
    a = hourly_aqi(moving_means(h.filter(h.station == place)))
    a = a.filter(a.ts >= ibis.timestamp(start + dt.timedelta(hours=24))).order_by("ts")
    rows = a.execute().to_dict("records")
    return [{"ts": pd.Timestamp(r["ts"]).to_pydatetime(), "primary": _primary(r["primary"]),
             **{p: None if pd.isna(r[p]) else float(r[p]) for p in POLS},
             **_level_of(r["aqi"])} for r in rows]


def ranking(con: duckdb.DuckDBPyConnection, month: str, level: str = "city",
            ) -> list[dict[str, Any]]:
    """Composite-index ranking of the ``level`` places for ``month`` (1 = cleanest).

    Per place: the month's means, ``composite_index`` (GB 3095-2012 S_i, items rounded per
    GB/T 8170), ``rank`` (joint ranks), ``primary``, ``aqi_days``, ``good_days``,
    ``good_ratio`` [%], ``heavy_days``.
    """
    start, end = month_bounds(month)
    ib = ibis_backend(con)
    stats = period_stats(daily_stats(_hours(ib, level, start, end)), period="month")
    rows = stats.execute().to_dict("records")
    out = []
    for r in rows:
        c = {"so2": r["so2"], "no2": r["no2"], "pm10": r["pm10"], "pm2_5": r["pm2_5"],
             "co": r["co_p95"], "o3": r["o3_8h_p90"]}
        if any(v is None or pd.isna(v) for v in c.values()):
            res_index, primary = None, []
        else:
            res = composite_index(c, round_inputs=True)
            res_index, primary = res.index, list(res.primary)
        out.append({"place": r["station"], "composite_index": res_index, "primary": primary,
                    **{p: None if pd.isna(r[p]) else float(r[p]) for p in
                       ("so2", "no2", "pm10", "pm2_5")},
                    "co_p95": None if pd.isna(r["co_p95"]) else float(r["co_p95"]),
                    "o3_8h_p90": None if pd.isna(r["o3_8h_p90"]) else float(r["o3_8h_p90"]),
                    "aqi_days": int(r["aqi_days"]), "good_days": int(r["good_days"]),
                    "good_ratio": None if pd.isna(r["good_ratio"]) else float(r["good_ratio"]),
                    "heavy_days": int(r["heavy_days"])})
    for row, rank in zip(out, joint_ranks([o["composite_index"] for o in out]), strict=True):
        row["rank"] = rank
    out.sort(key=lambda o: (o["rank"] is None, o["rank"] or 0, o["place"]))
    return out


def targets(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[dict[str, Any]]:
    """Progress of the targets of ``as_of.year``.

    Rows: ``place, level, pollutant, target, ytd, gap, projected, required_rest, on_track,
    days_left`` (concentrations µg/m³, CO mg/m³).
    """
    ib = ibis_backend(con)
    tg = ib.table("aq_target")
    start = dt.datetime(as_of.year - 1, 1, 1)
    end = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    out: list[dict[str, Any]] = []
    for level in ("district", "city"):
        t = tg.filter(tg.level == level)
        daily = daily_stats(_hours(ib, level, start, end))
        res = target_progress(daily, t, as_of=as_of).execute()
        for r in res.sort_values(["place", "pollutant"]).to_dict("records"):
            out.append({k: (None if not isinstance(v, str) and pd.isna(v) else v)
                        for k, v in r.items()})
    return out
