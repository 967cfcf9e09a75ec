"""Monthly clean-transport ratio (清洁运输比例) per enterprise, as an Ibis expression.

Rule (环大气〔2019〕35号 steel; 环大气〔2024〕5号 cement and coking; reference §7):

    clean_ratio = clean_tonnes / (clean_tonnes + road_tonnes)

with ``clean_tonnes`` the tonnes moved by rail, water, pipe or belt and ``road_tonnes`` the
tonnes moved by road, inbound and outbound together, over the calendar month (CST). The
month passes when ``clean_ratio ≥ clean_share_min`` (0.8, ``clean_transport_rules.csv``), or
else when every road trip used a vehicle allowed by ``clean_road_haulage`` in
``vehicle_stages.csv`` (new-energy or China VI from 2022). Road trips by other vehicles are
counted as non-compliant whether or not the month passes. The comparison is made on exact
decimal tonnes (``clean ≥ 0.8 × total``), so a month at exactly 0.8 passes.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cache

import ibis
import ibis.expr.types as ir

from lantian.errors import CatalogError, ConfigurationError
from lantian.ledger._data import parse_date, read_rule_csv
from lantian.ledger.vehicles import allowed_stages

__all__ = ["CLEAN_MODES", "clean_share_min", "clean_transport_month", "month_bounds"]

CLEAN_MODES = ("rail", "water", "pipe", "belt")


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-MM`` → (first instant, first instant of the next month), CST wall-clock.

    Raises
    ------
    ConfigurationError
        When ``month`` is not ``YYYY-MM``.

    """
    try:
        if not re.fullmatch(r"\d{4}-\d{2}", month):
            raise ValueError(month)
        start = dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise ConfigurationError(f"month {month!r} is not YYYY-MM") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return start, end


@cache
def _share_rows() -> tuple[tuple[Decimal, dt.date, dt.date | None], ...]:
    rows = read_rule_csv("clean_transport_rules.csv", {"rule", "value", "effective_from",
                                                        "effective_to", "source"})
    out = []
    for i, r in enumerate(rows, start=2):
        if r["rule"] != "clean_share_min":
            continue
        where = f"clean_transport_rules.csv row {i}"
        start = parse_date(r["effective_from"], where)
        if start is None:
            raise CatalogError(f"{where}: effective_from is required")
        out.append((Decimal(r["value"]), start, parse_date(r["effective_to"], where)))
    return tuple(out)


def clean_share_min(day: dt.date) -> Decimal:
    """Least clean-transport share in force on ``day`` (a fraction, e.g. 0.8).

    Raises
    ------
    ConfigurationError
        When no catalogue row covers the day.

    """
    for value, start, end in _share_rows():
        if start <= day and (end is None or day <= end):
            return value
    raise ConfigurationError(f"no clean-transport share in force on {day.isoformat()}")


def clean_transport_month(
    gate: ir.Table,
    enterprise: ir.Table,
    month: str,
    *,
    threshold: Decimal | None = None,
    allowed: list[str] | None = None,
) -> ir.Table:
    """Clean-transport verdict per enterprise for one month.

    Parameters
    ----------
    gate : Ibis table
        ``gate_record`` rows: ``enterprise_id``, ``ts`` (CST), ``mode``, ``tonnes`` [t],
        ``emission_stage`` (canonical, see :mod:`lantian.ledger.vehicles`).
    enterprise : Ibis table
        ``enterprise`` rows (``id``, ``name``).
    month : str
        ``YYYY-MM``; rows outside it are not counted.
    threshold : Decimal, optional
        Least clean share [fraction]; default the catalogue value in force on the 1st.
    allowed : list of str, optional
        Emission stages allowed for road haulage; default ``clean_road_haulage`` on the 1st.

    Returns
    -------
    Ibis table
        ``enterprise``, ``month``, ``clean_ratio`` [0–1, null when nothing moved],
        ``road_tonnes`` [t], ``clean_tonnes`` [t], ``non_compliant_road_trips``, ``pass``;
        one row per enterprise with at least one gate record in the month.

    """
    start, end = month_bounds(month)
    if threshold is None:
        threshold = clean_share_min(start.date())
    if allowed is None:
        allowed = allowed_stages("clean_road_haulage", start.date())
    g = gate.filter((gate.ts >= ibis.timestamp(start)) & (gate.ts < ibis.timestamp(end)))
    # exact arithmetic: tonnes are DECIMAL(18,3), so whole kilograms are integers
    kg = (g.tonnes * 1000).round(0).cast("int64")
    is_road = g["mode"] == "road"
    agg = g.group_by("enterprise_id").aggregate(
        road_kg=kg.sum(where=is_road),
        clean_kg=kg.sum(where=g["mode"].isin(list(CLEAN_MODES))),
        non_compliant_road_trips=g.tonnes.count(
            where=is_road & ~g.emission_stage.fill_null("").isin(allowed)
        ),
    )
    road = agg.road_kg.fill_null(0)
    clean = agg.clean_kg.fill_null(0)
    total = road + clean
    num, den = threshold.as_integer_ratio()  # threshold = num / den exactly
    ratio = ibis.ifelse(total > 0, clean.cast("float64") / total.cast("float64"), ibis.null())
    passed = ((total > 0) & (clean * den >= total * num)) | (agg.non_compliant_road_trips == 0)
    out = agg.join(enterprise, agg.enterprise_id == enterprise.id).select(
        enterprise=enterprise["name"],
        month=ibis.literal(f"{start:%Y-%m}"),
        clean_ratio=ratio.cast("float64"),
        road_tonnes=road.cast("float64") / 1000,
        clean_tonnes=clean.cast("float64") / 1000,
        non_compliant_road_trips=agg.non_compliant_road_trips.cast("int64"),
        **{"pass": passed},
    )
    return out.order_by("enterprise")
