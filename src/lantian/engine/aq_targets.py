"""District and city air-quality targets: year-to-date value, gap and year projection.

A target row (``place, level, year, pollutant, target``; e.g. Yangquan's 2021 plan: annual
NO2 and SO2 ceilings per district) is compared with the place's daily means
(:func:`lantian.engine.aq_stats.daily_stats` keyed by place, from
:func:`~lantian.engine.aq_stats.place_hourly`).

For a target year Y and a date ``as_of`` in Y (China Standard Time):

* ``ytd`` = mean of the valid daily means from Y-01-01 to ``as_of``; ``ytd_days`` their count;
* ``gap`` = ytd − target [µg/m³; CO mg/m³] (positive: above the ceiling);
* ``projected`` = (Σ ytd + m_rest × days_left) / (ytd_days + days_left), where m_rest is the
  mean of the same place and pollutant over the rest of the calendar year one year earlier
  (seasonality), or the ytd mean when last year has no data there;
* ``required_rest`` = (target × (ytd_days + days_left) − Σ ytd) / days_left: the mean the
  remaining days must hold to end the year on target (NULL when no day is left);
* ``on_track`` = projected ≤ target.

Functions take and return Ibis tables and never execute them.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from lantian.engine.aq_stats import MEAN_POLLUTANTS

__all__ = ["daily_long", "target_progress"]


def daily_long(daily: ir.Table, pollutants: tuple[str, ...] = MEAN_POLLUTANTS) -> ir.Table:
    """Daily means in long form: ``place, day, pollutant, value`` (valid values only)."""
    parts = [
        daily.select(place=daily.station, day=daily.day, pollutant=ibis.literal(p), value=daily[p])
        for p in pollutants
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out.filter(out.value.notnull())


def target_progress(daily: ir.Table, targets: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Progress of every target of year ``as_of.year`` (see the module docstring).

    ``daily``: daily statistics keyed by ``station`` (the place name) and ``day``;
    ``targets``: ``place, level, year, pollutant, target`` (other columns are carried).
    """
    year = as_of.year
    start = dt.date(year, 1, 1)
    end = dt.date(year, 12, 31)
    days_left = (end - as_of).days
    last_from = _shift_year(as_of) + dt.timedelta(days=1)
    last_to = dt.date(year - 1, 12, 31)
    long = daily_long(daily)
    ytd = (
        long.filter(long.day.between(start, as_of))
        .group_by(["place", "pollutant"])
        .aggregate(ytd=long.value.mean(), ytd_sum=long.value.sum(), ytd_days=long.value.count())
    )
    rest = (
        long.filter(long.day.between(last_from, last_to))
        .group_by(["place", "pollutant"])
        .aggregate(last_rest=long.value.mean())
    )
    t = targets.filter(targets.year == year)
    j = t.left_join(ytd, ["place", "pollutant"]).drop("place_right", "pollutant_right")
    j = j.left_join(rest, ["place", "pollutant"]).drop("place_right", "pollutant_right")
    m_rest = j.last_rest.coalesce(j.ytd)
    total_days = j.ytd_days + days_left
    projected = (j.ytd_sum + m_rest * days_left) / total_days
    required = (
        (j.target * total_days - j.ytd_sum) / days_left if days_left > 0 else ibis.null("float64")
    )
    return j.mutate(
        as_of=ibis.literal(as_of),
        days_left=ibis.literal(days_left),
        gap=j.ytd - j.target,
        projected=projected,
        required_rest=required,
        on_track=projected <= j.target,
    ).drop("ytd_sum", "last_rest")


def _shift_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
