"""Composite index (环境空气质量综合指数) and rankings with joint ranks.

I_i = C_i / S_i for SO2, NO2, PM10, PM2.5 (period means), CO (95th percentile of daily
means) and O3 (90th percentile of daily maximum 8-h means); I_sum = Σ w_i × I_i (w_i = 1
under GB 3095-2012; ``gb3095_composite.csv`` holds S_i, w_i and the statistic).

Rounding (GB/T 8170, round half to even, in exact decimal arithmetic): by default each I_i is
rounded to 2 decimals and the rounded items are summed (``per-item``: reproduces published
values); ``at-end`` sums the unrounded items and rounds the sum. Binary floats and SQL
``round`` (half away from zero) get published values wrong, so this module works on
:class:`decimal.Decimal` and on the few per-place statistics rather than on time series.

References
----------
环办监测〔2018〕19号《城市环境空气质量排名技术规定》§5; GB/T 8170-2008 §3;
reference/regulations.md §5.1.

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from lantian.catalog import aq as cat
from lantian.errors import ConfigurationError

__all__ = [
    "ROUNDINGS",
    "CompositeResult",
    "change_rate",
    "composite_index",
    "gbt8170",
    "joint_ranks",
    "round_statistic",
]

ROUNDINGS: tuple[str, ...] = ("per-item", "at-end")
_HUNDREDTH = Decimal("0.01")


def gbt8170(value: Decimal, places: int) -> Decimal:
    """Round ``value`` to ``places`` decimals, half to even (GB/T 8170-2008 §3.3 进舍规则)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _dec(value: float | int | str | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return Decimal(repr(value))
    return Decimal(str(value))


def round_statistic(
    pollutant: str, value: float | Decimal | None, standard: str = "2012"
) -> Decimal | None:
    """Round a period statistic to its reporting precision (integers; CO 1 decimal), GB/T 8170."""
    dec = _dec(value)
    if dec is None:
        return None
    places = {i.pollutant: i.decimals for i in cat.composite_items(standard)}
    return gbt8170(dec, places[pollutant])


@dataclass(frozen=True)
class CompositeResult:
    """Composite index of one place."""

    index: Decimal | None
    items: dict[str, Decimal]
    primary: tuple[str, ...]
    missing: tuple[str, ...]


def composite_index(
    stats: Mapping[str, float | int | str | Decimal | None],
    *,
    standard: str = "2012",
    rounding: str = "per-item",
    round_inputs: bool = False,
) -> CompositeResult:
    """Composite index of one place from its period statistics.

    Parameters
    ----------
    stats
        ``so2 no2 pm10 pm2_5`` period means [µg/m³], ``co`` 95th percentile of daily means
        [mg/m³], ``o3`` 90th percentile of daily maximum 8-h means [µg/m³].
    standard
        ``"2012"`` (GB 3095-2012 S_i) or ``"2026"`` (transition S_i, unverified).
    rounding
        ``"per-item"`` (default) or ``"at-end"``.
    round_inputs
        Round the statistics to their reporting precision first (integers; CO 1 decimal),
        as the ranking rules do with raw statistics; leave False for published figures.

    Returns
    -------
    CompositeResult
        ``index`` (2 decimals; None when a statistic is missing), the items I_i as used
        (rounded when per-item), the primary pollutant(s) (largest I_i, all on a tie) and
        the missing pollutants.

    """
    if rounding not in ROUNDINGS:
        raise ConfigurationError(f"rounding must be one of {', '.join(ROUNDINGS)}")
    raw: dict[str, Decimal] = {}
    missing = []
    for item in cat.composite_items(standard):
        c = _dec(stats.get(item.pollutant))
        if c is None:
            missing.append(item.pollutant)
            continue
        if c < 0:
            raise ConfigurationError(f"negative {item.pollutant} statistic {c}")
        if round_inputs:
            c = gbt8170(c, item.decimals)
        raw[item.pollutant] = item.weight * c / item.s
    if rounding == "per-item":
        items = {k: gbt8170(v, 2) for k, v in raw.items()}
        total = sum(items.values(), Decimal(0))
    else:
        items = dict(raw)
        total = gbt8170(sum(raw.values(), Decimal(0)), 2)
    primary: tuple[str, ...] = ()
    if items:
        top = max(gbt8170(v, 2) for v in items.values())
        primary = tuple(k for k, v in items.items() if gbt8170(v, 2) == top)
    return CompositeResult(
        index=None if missing else gbt8170(total, 2),
        items=items,
        primary=primary,
        missing=tuple(missing),
    )


def joint_ranks(values: Sequence[Decimal | float | None]) -> list[int | None]:
    """Ascending ranks with ties ranked jointly (并列): 1, 2, 2, 4; None stays unranked."""
    present = sorted(v for v in values if v is not None)
    first: dict[Decimal | float, int] = {}
    for pos, v in enumerate(present, start=1):
        first.setdefault(v, pos)
    return [None if v is None else first[v] for v in values]


def change_rate(current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """Change rate (变化率) [%] = (current − previous) / previous × 100, 1 decimal (GB/T 8170).

    Used for the improvement ranking of the composite index and for year-on-year changes.
    None when either value is missing or the previous one is zero.
    """
    if current is None or previous is None or previous == 0:
        return None
    return gbt8170((current - previous) * 100 / previous, 1)
