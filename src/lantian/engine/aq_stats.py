"""HJ 663 statistics of ambient air quality as Ibis expressions.

Hourly → daily (24-h means, O3 daily maximum 1-h and 8-h) → period (month, year or the
whole input): means, HJ 663 percentiles, good-day ratio and heavy-pollution days. Every
function takes and returns Ibis tables and never executes them. Validity thresholds come
from ``gb3095_validity.csv`` and limits from ``gb3095_limits.csv``.

Hour labels are taken as the start of the hour (DESIGN.md: ``ts`` = period start, CST); the
day is the calendar day of ``ts``.

References
----------
[HJ663-2013] §5 (statistics and validity), Appendix A (percentile);
[GB3095-2012] Table 4 (minimum data).

"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from lantian.catalog import aq as cat
from lantian.engine.aqi import daily_aqi

__all__ = [
    "MEAN_POLLUTANTS",
    "PERCENTILES",
    "daily_stats",
    "flag_dust",
    "hj663_percentile",
    "hj663_percentiles",
    "limit_expr",
    "moving_means",
    "period_stats",
    "place_hourly",
    "year_on_year",
]

#: Pollutants with a 24-h mean (CO included; O3 has its own daily maxima).
MEAN_POLLUTANTS: tuple[str, ...] = ("so2", "no2", "pm10", "pm2_5", "co")

#: Percentiles HJ 663 §5 evaluates: (daily column, p, output column).
PERCENTILES: tuple[tuple[str, int, str], ...] = (
    ("so2", 98, "so2_p98"),
    ("no2", 98, "no2_p98"),
    ("pm10", 95, "pm10_p95"),
    ("pm2_5", 95, "pm2_5_p95"),
    ("co", 95, "co_p95"),
    ("o3_8h", 90, "o3_8h_p90"),
)

_WINDOWS = 17  # 8-h windows ending 08:00 … 24:00 (HJ 663 §5: O3 daily maximum 8-h)


def limit_expr(day: ir.DateValue, pollutant: str, period: str, grade: int = 2) -> ir.NumericValue:
    """GB 3095 limit in force on ``day`` as an expression (from ``gb3095_limits.csv``)."""
    starts = cat.gb3095_periods(pollutant, period, grade)
    if not starts:
        raise ValueError(f"no GB 3095 limit for {pollutant} {period}")
    branches = [
        (day >= start, float(cat.gb3095_limit(pollutant, period, start, grade)))
        for start in reversed(starts)
    ]
    # Before the first effective date the first standard applies (historic archives).
    return ibis.cases(*branches, else_=branches[-1][1])


def place_hourly(hourly: ir.Table, stations: ir.Table, level: str = "city") -> ir.Table:
    """Hourly concentrations of a city or district: mean of its stations' values.

    ``stations`` has ``station`` and the column ``level`` (``city`` or ``district``); the
    output has ``station`` = the place name (so the same daily/period functions apply),
    ``ts`` and the six pollutants. Each pollutant is averaged over the stations that have it
    that hour ([HJ663-2013] §5.1: city concentration = mean of its evaluation stations).
    """
    reg = stations.select(_s=stations.station, _place=stations[level]).filter(
        lambda r: r._place.notnull()
    )
    joined = hourly.join(reg, hourly.station == reg._s)
    pols = ("so2", "no2", "pm10", "pm2_5", "co", "o3")
    return (
        joined.group_by([joined._place.name("station"), joined.ts])
        .aggregate(**{p: joined[p].mean() for p in pols})
        .select("station", "ts", *pols)
    )


#: Real-time moving means: (source column, output column, hours, validity key).
MOVING: tuple[tuple[str, str, int, str], ...] = (
    ("o3", "o3_8h", 8, "o3_8h_window"),
    ("pm10", "pm10_24h", 24, "daily_mean"),
    ("pm2_5", "pm2_5_24h", 24, "daily_mean"),
)


def moving_means(
    hourly: ir.Table, *, keys: Sequence[str] = ("station",), style: str = "cnemc"
) -> ir.Table:
    """Add the real-time moving means the table lacks: ``o3_8h``, ``pm10_24h``, ``pm2_5_24h``.

    Each is the mean of the hours ending with the current one (``ts`` = start of the hour),
    found by time, not by row, so gaps are honoured:

    * PM10, PM2.5: 24 hours across midnight, NULL with fewer than 20 values;
    * O3 8-h, ``style="cnemc"`` (default): the last 8 hours **within the same day**, from the
      first hour of the day on — what CNEMC publishes (reproduced on the national files);
      ``style="hj663"``: 8 hours across midnight, NULL with fewer than 6 values
      (``gb3095_validity.csv``).

    References
    ----------
    [HJ633-2012] §5.2 (real-time report items); [GB3095-2012] Table 4.

    """
    if style not in ("cnemc", "hj663"):
        raise ValueError(f"style must be cnemc or hj663, not {style!r}")
    v = cat.validity()
    todo = [m for m in MOVING if m[1] not in hourly.columns and m[0] in hourly.columns]
    if not todo:
        return hourly
    t = hourly.mutate(_sec=hourly.ts.epoch_seconds(), _day=hourly.ts.date())
    added = {}
    for src, out, hours, key in todo:
        within_day = style == "cnemc" and out == "o3_8h"
        group = [*keys, "_day"] if within_day else list(keys)
        w = ibis.window(group_by=group, order_by=t._sec, range=(-(hours - 1) * 3600, 0))
        mean, n = t[src].mean().over(w), t[src].count().over(w)
        need = 1 if within_day else v[key]
        added[out] = ibis.ifelse(n >= need, mean, ibis.null("float64"))
    return t.mutate(**added).drop("_sec", "_day")


def daily_stats(hourly: ir.Table, *, keys: Sequence[str] = ("station",)) -> ir.Table:
    """Daily values per station (or place) and calendar day.

    Output columns: ``keys``, ``day``; ``so2 no2 pm10 pm2_5 co`` 24-h means (NULL unless
    ≥ 20 valid hours), ``n_<p>`` hours used; ``o3_1h`` daily maximum 1-h; ``o3_8h`` daily
    maximum 8-h mean; ``o3_windows`` number of valid 8-h windows.

    O3 8-h: 17 windows ending 08:00 … 24:00 (hours 00–07 … 16–23 of the day), each valid
    with ≥ 6 hours; the day's maximum counts with ≥ 14 valid windows, or with fewer when it
    already exceeds the 8-h limit.
    """
    v = cat.validity()
    min_hours, min_window, min_windows = (
        v["daily_mean"],
        v["o3_8h_window"],
        v["o3_day_windows"],
    )
    h = hourly.mutate(day=hourly.ts.date(), _hod=hourly.ts.hour())
    aggs: dict[str, ir.Value] = {}
    for p in MEAN_POLLUTANTS:
        aggs[f"_sum_{p}"] = h[p].mean()
        aggs[f"n_{p}"] = h[p].count()
    aggs["o3_1h"] = h.o3.max()
    aggs["n_o3"] = h.o3.count()
    for w in range(_WINDOWS):
        inside = h._hod.between(w, w + 7)
        sel = ibis.ifelse(inside, h.o3, ibis.null("float64"))
        aggs[f"_w{w}"] = sel.mean()
        aggs[f"_c{w}"] = sel.count()
    d = h.group_by([*keys, "day"]).aggregate(**aggs)
    window_means = [
        ibis.ifelse(d[f"_c{w}"] >= min_window, d[f"_w{w}"], ibis.null("float64"))
        for w in range(_WINDOWS)
    ]
    n_valid = sum(
        (ibis.ifelse(d[f"_c{w}"] >= min_window, 1, 0) for w in range(_WINDOWS)),
        start=ibis.literal(0),
    )
    best = ibis.greatest(*[m.coalesce(-1.0) for m in window_means])
    best = ibis.ifelse(best < 0, ibis.null("float64"), best)
    limit8 = limit_expr(d.day, "o3", "max8h")
    o3_8h = ibis.ifelse((n_valid >= min_windows) | (best > limit8), best, ibis.null("float64"))
    means = {
        p: ibis.ifelse(d[f"n_{p}"] >= min_hours, d[f"_sum_{p}"], ibis.null("float64"))
        for p in MEAN_POLLUTANTS
    }
    return d.select(
        *keys,
        "day",
        **means,
        o3_1h=d.o3_1h,
        o3_8h=o3_8h,
        o3_windows=n_valid,
        **{f"n_{p}": d[f"n_{p}"] for p in (*MEAN_POLLUTANTS, "o3")},
    )


def hj663_percentile(
    t: ir.Table, column: str, p: int, keys: Sequence[str], name: str | None = None
) -> ir.Table:
    """HJ 663 percentile of ``column`` per group of ``keys``.

    Sort the non-missing values ascending X(1..n); k = 1 + (n − 1) × p / 100; s = ⌊k⌋;
    P = X(s) + (X(s+1) − X(s)) × (k − s). ``(n − 1) × p`` is an integer product, so k is
    exact whenever it is a whole number.

    References
    ----------
    [HJ663-2013] Appendix A, Eq. (A.1).

    """
    return hj663_percentiles(t, [(column, p, name or f"{column}_p{p}")], keys)


def hj663_percentiles(
    t: ir.Table, specs: Sequence[tuple[str, int, str]], keys: Sequence[str]
) -> ir.Table:
    """Several HJ 663 percentiles ``(column, p, output name)`` per group, in one pass.

    The columns are stacked into one long table so a single window sorts them all; the
    result has one row per group of ``keys`` and one column per spec.
    """
    keys = list(keys)
    parts = [
        t.filter(t[col].notnull()).select(
            *keys, _which=ibis.literal(name), _p=ibis.literal(p, "int64"), _x=t[col].cast("float64")
        )
        for col, p, name in specs
    ]
    x = parts[0]
    for part in parts[1:]:
        x = x.union(part, distinct=False)
    part_keys = [*keys, "_which"]
    win = ibis.window(group_by=part_keys, order_by=x._x)
    grp = ibis.window(group_by=part_keys)
    r = x.mutate(_rn=ibis.row_number().over(win) + 1, _n=x._x.count().over(grp))
    k = ((r._n - 1) * r._p) / 100.0 + 1
    r = r.mutate(_s=k.floor().cast("int64"), _f=k - k.floor())
    agg = r.group_by(part_keys).aggregate(
        _xs=ibis.ifelse(r._rn == r._s, r._x, ibis.null("float64")).max(),
        _xs1=ibis.ifelse(r._rn == r._s + 1, r._x, ibis.null("float64")).max(),
        _f=r._f.max(),
    )
    agg = agg.mutate(_v=agg._xs + (agg._xs1.coalesce(agg._xs) - agg._xs) * agg._f)
    return agg.group_by(keys).aggregate(
        **{
            name: ibis.ifelse(agg._which == name, agg._v, ibis.null("float64")).max()
            for _, _, name in specs
        }
    )


def _period_column(day: ir.DateValue, period: str) -> ir.StringValue:
    if period == "year":
        return day.year().cast("string")
    if period == "month":
        return day.strftime("%Y-%m")
    if period == "all":
        return ibis.literal("all")
    raise ValueError(f"unknown period {period!r} (year, month or all)")


def period_stats(
    daily: ir.Table,
    *,
    keys: Sequence[str] = ("station",),
    period: str = "year",
    version: str = "auto",
) -> ir.Table:
    """Period statistics from :func:`daily_stats` output.

    Output per ``keys`` and ``period`` (``"2015"``, ``"2015-03"`` or ``"all"``):

    * ``so2 no2 pm10 pm2_5 co`` means of the valid daily means and ``o3_8h`` mean of the
      valid daily maxima; ``days_<p>`` valid days used;
    * ``so2_p98 no2_p98 pm10_p95 pm2_5_p95 co_p95 o3_8h_p90`` (HJ 663 percentiles);
    * ``<p>_complete`` whether the mean has enough days (year ≥ 324; month ≥ 27, February
      ≥ 25; NULL for ``all``);
    * ``aqi_days`` days with a daily AQI, ``good_days`` (AQI level 优/良), ``heavy_days``
      (重度及以上, AQI > 200), ``good_ratio`` [%] = good_days / aqi_days × 100.

    Where ``daily`` has a boolean ``dust`` column, PM10 and PM2.5 of those days are left out
    of the means and percentiles (sand-dust deduction, 环办监测〔2016〕120号) but kept in
    the day classes.
    """
    keys = list(keys)
    # A day counts for the day classes when at least one 24-h or 8-h item is valid; the
    # O3 1-h maximum of a few scattered hours alone does not make a monitoring day.
    any_valid = ibis.or_(*[daily[p].notnull() for p in (*MEAN_POLLUTANTS, "o3_8h")])
    a = daily_aqi(
        daily.mutate(o3_1h=ibis.ifelse(any_valid, daily.o3_1h, ibis.null("float64"))),
        version=version,
        with_primary=False,
    )
    if "dust" in a.columns:  # after the daily AQI: dust days keep their day class
        is_dust = a.dust.fill_null(False)
        a = a.mutate(
            pm10=ibis.ifelse(is_dust, ibis.null("float64"), a.pm10),
            pm2_5=ibis.ifelse(is_dust, ibis.null("float64"), a.pm2_5),
        )
    a = a.mutate(period=_period_column(a.day, period), _month=a.day.month())
    gkeys = [*keys, "period"]
    good_levels = [lv.level for lv in cat.levels() if lv.good_day]
    heavy_levels = [lv.level for lv in cat.levels() if lv.heavy_pollution]
    cols = (*MEAN_POLLUTANTS, "o3_8h")
    # One aggregation: means, day counts, percentiles and day classes. quantile() is linear
    # interpolation at k = 1 + (n − 1) × p / 100, the HJ 663 formula (DuckDB quantile_cont,
    # Spark percentile); hj663_percentiles() spells it out and the tests check both agree.
    out = a.group_by(gkeys).aggregate(
        **{p: a[p].mean() for p in cols},
        **{f"days_{p}": a[p].count() for p in cols},
        **{name: a[col].quantile(pct / 100) for col, pct, name in PERCENTILES},
        aqi_days=a.aqi.count(),
        good_days=a.level.isin(good_levels).cast("int64").sum().fill_null(0),
        heavy_days=a.level.isin(heavy_levels).cast("int64").sum().fill_null(0),
        _feb=(a._month == 2).cast("int64").max(),
    )
    v = cat.validity()
    complete = {}
    for p in cols:
        n = out[f"days_{p}"]
        if period == "year":
            complete[f"{p}_complete"] = n >= v["annual_mean"]
        elif period == "month":
            complete[f"{p}_complete"] = n >= ibis.ifelse(
                out._feb == 1, v["monthly_mean_february"], v["monthly_mean"]
            )
        else:
            complete[f"{p}_complete"] = ibis.null("boolean")
    good_ratio = ibis.ifelse(
        out.aqi_days > 0, out.good_days * 100.0 / out.aqi_days, ibis.null("float64")
    )
    return out.mutate(**complete, good_ratio=good_ratio).drop("_feb")


def flag_dust(daily: ir.Table, dust: ir.Table) -> ir.Table:
    """Add the boolean ``dust`` column to daily values from a table of sand-dust days.

    ``dust`` has ``place`` (a station or place name, or ``*`` for every one) and ``day``;
    :func:`period_stats` then leaves PM10 and PM2.5 of those days out of the means and
    percentiles (环办监测〔2016〕120号 as CNEMC applies it; reference/regulations.md §5.1).
    """
    marks = dust.select(_place=dust.place, _day=dust.day.cast("date")).distinct()
    exact = marks.filter(marks._place != "*")
    wild = marks.filter(marks._place == "*").select(_wday=marks._day).distinct()
    j = daily.left_join(exact, [exact._place == daily.station, exact._day == daily.day])
    j = j.left_join(wild, j.day == wild._wday)
    return j.mutate(dust=j._day.notnull() | j._wday.notnull()).drop("_place", "_day", "_wday")


def year_on_year(
    stats: ir.Table, columns: Sequence[str], keys: Sequence[str] = ("station",)
) -> ir.Table:
    """Year-on-year change [%] of ``columns`` of yearly :func:`period_stats` output.

    Adds ``<c>_yoy_pct`` = (this year − last year) / last year × 100 (NULL without last year).
    """
    keys = list(keys)
    prev = stats.select(
        *keys,
        _prev_period=(stats.period.cast("int64") + 1).cast("string"),
        **{f"_prev_{c}": stats[c] for c in columns},
    )
    j = stats.left_join(
        prev,
        [*(stats[k] == prev[k] for k in keys), stats.period == prev._prev_period],
    )
    j = j.drop(*[c for c in j.columns if c.endswith("_right")], "_prev_period")
    return j.mutate(
        **{f"{c}_yoy_pct": (j[c] - j[f"_prev_{c}"]) * 100.0 / j[f"_prev_{c}"] for c in columns}
    ).drop(*[f"_prev_{c}" for c in columns])
