"""Air quality index (AQI, 空气质量指数) and individual indices (IAQI, 空气质量分指数).

Two forms of the same rules (HJ 633-2012 before 2026-03-01, HJ 633-2026 from then on,
breakpoints from :mod:`lantian.catalog.aq`):

* scalar functions in exact decimal arithmetic (:func:`iaqi`, :func:`combine`) for single
  values, worked examples and the composite index;
* Ibis expressions over time series (:func:`hourly_aqi`, :func:`daily_aqi`) that never
  execute themselves.

Formula ([HJ633-2012] §5.1, Eq. 1)::

    IAQI_P = (IAQI_Hi − IAQI_Lo) / (BP_Hi − BP_Lo) × (C_P − BP_Lo) + IAQI_Lo

rounded **up** to an integer (向上进位). Binary floating point can put an exact integer a hair
above itself (50 × 1.1 / 5 = 11.000000000000002 → 12); the scalar form therefore works in
:class:`decimal.Decimal` and the Ibis form rounds to 6 decimals before the ceiling. That guard
is safe because concentrations carry at most 3 decimals and the breakpoint spans are at most
1,140, so a true IAQI that is not an integer lies at least 1/1,140,000 ≈ 8.8e-7 … in practice
≥ 3e-5 away from the next integer, far above the 5e-7 the rounding can move it.

AQI = max IAQI over the pollutants present. Primary pollutants (首要污染物) only when
AQI > 50 (the top of level 1): every pollutant whose rounded IAQI equals the AQI.
Concentrations above the top of a complete column (IAQI 500) get IAQI 500.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import ibis
import ibis.expr.types as ir

from lantian.catalog import aq as cat

__all__ = [
    "PRIMARY_ORDER",
    "AqiResult",
    "combine",
    "daily_aqi",
    "exceeding",
    "hourly_aqi",
    "iaqi",
    "iaqi_expr",
    "version_expr",
]

#: Order of the pollutant keys in ``primary`` lists (the CLI contract's order).
PRIMARY_ORDER: tuple[str, ...] = ("so2", "no2", "pm10", "pm2_5", "co", "o3")


def _to_decimal(c: float | int | str | Decimal) -> Decimal:
    if isinstance(c, Decimal):
        return c
    if isinstance(c, float):
        # repr() of a float is the shortest text that reads back the same: 6.1 → "6.1".
        return Decimal(repr(c))
    return Decimal(c)


def _linear_iaqi(c: Decimal, bp: cat.Breakpoints) -> int:
    conc, idx = bp.concentration, bp.iaqi
    if c <= conc[0]:
        return idx[0]
    for k in range(1, len(conc)):
        if c <= conc[k]:
            raw = Decimal(idx[k] - idx[k - 1]) * (c - conc[k - 1]) / (conc[k] - conc[k - 1])
            raw += idx[k - 1]
            return int(raw.to_integral_value(rounding=ROUND_CEILING))
    return idx[-1]


def iaqi(item: str, c: float | int | str | Decimal | None, version: str = "2012") -> int | None:
    """Individual AQI of one concentration, in exact decimal arithmetic.

    Parameters
    ----------
    item
        Breakpoint column: ``so2_24h so2_1h no2_24h no2_1h pm10_24h pm2_5_24h co_24h
        co_1h o3_1h o3_8h``.
    c
        Concentration [µg/m³; CO mg/m³]. None or NaN gives None.
    version
        HJ 633 version, ``"2012"`` or ``"2026"``.

    Returns
    -------
    int or None
        IAQI rounded up; None when the concentration is missing or negative, or lies above
        a column whose note sends it to another column (HJ 633-2012: SO2 1-h > 800 → 24-h;
        O3 8-h > 800 → 1-h). Under HJ 633-2026 those cases are capped (200 and 300).

    References
    ----------
    [HJ633-2012] Table 1 and Eq. 1; [HJ633-2026] Table 1 (see ``aqi_breakpoints.csv``).

    """
    if c is None or (isinstance(c, float) and math.isnan(c)):
        return None
    value = _to_decimal(c)
    if value < 0:
        return None
    bp = cat.breakpoints(version, item)
    rule = cat.overflow(version, item)
    if rule is not None and value > rule.above:
        return rule.cap_iaqi if rule.action == "cap" else None
    return _linear_iaqi(value, bp)


@dataclass(frozen=True)
class AqiResult:
    """AQI with its primary pollutants and level."""

    aqi: int | None
    primary: tuple[str, ...]
    level: int | None


def combine(iaqis: Mapping[str, int | None]) -> AqiResult:
    """AQI = max IAQI; primary pollutants on ties; level (HJ 633-2012 §5.2, §6, Table 2).

    ``iaqis`` maps pollutant keys (``so2 no2 pm10 pm2_5 co o3``) to rounded IAQI (None when
    missing). Several IAQI of one pollutant (O3 1-h and 8-h in a daily report) should be
    merged by the caller with ``max`` first.
    """
    present = {k: v for k, v in iaqis.items() if v is not None}
    if not present:
        return AqiResult(None, (), None)
    value = max(present.values())
    threshold = cat.levels()[0].aqi_high
    primary: tuple[str, ...] = ()
    if threshold is not None and value > threshold:
        primary = tuple(k for k in PRIMARY_ORDER if present.get(k) == value)
    return AqiResult(value, primary, cat.level_for(value).level)


def exceeding(iaqis: Mapping[str, int | None], version: str) -> tuple[str, ...]:
    """Exceeding pollutants (超标污染物) of HJ 633-2012 §6, in contract order.

    Pollutants whose IAQI is above the top of level 2 (100), where the version reports them
    (HJ 633-2012 does; HJ 633-2026 reportedly not: ``aqi_versions.csv``).
    """
    if not cat.reports_exceeding(version):
        return ()
    top = max(lv.aqi_high or 0 for lv in cat.levels() if lv.good_day)
    return tuple(k for k in PRIMARY_ORDER if (iaqis.get(k) or 0) > top)


# --------------------------------------------------------------------------- Ibis forms


def iaqi_expr(c: ir.NumericValue, version: str, item: str) -> ir.IntegerValue:
    """Ibis expression of the IAQI of column ``c`` on column ``item`` of ``version``.

    Same rules as :func:`iaqi` (overflow fall-back gives NULL, cap gives the cap); the ceiling
    is taken after rounding to 6 decimals (see the module docstring).
    """
    bp = cat.breakpoints(version, item)
    rule = cat.overflow(version, item)
    conc = [float(x) for x in bp.concentration]
    idx = bp.iaqi
    branches: list[tuple[ir.BooleanValue, ir.Value]] = [(c.isnull() | (c < 0), ibis.null("int64"))]
    if rule is not None:
        over = ibis.null("int64") if rule.action == "fallback" else ibis.literal(rule.cap_iaqi)
        branches.append((c > float(rule.above), over))
    branches.append((c <= conc[0], ibis.literal(idx[0], "int64")))
    for k in range(1, len(conc)):
        raw = (idx[k] - idx[k - 1]) * (c - conc[k - 1]) / (conc[k] - conc[k - 1]) + idx[k - 1]
        branches.append((c <= conc[k], raw.round(6).ceil().cast("int64")))
    return ibis.cases(*branches, else_=ibis.literal(idx[-1], "int64"))


def version_expr(ts: ir.TimestampValue | ir.DateValue) -> ir.StringValue:
    """HJ 633 version in force at ``ts`` (China Standard Time), from ``aqi_versions.csv``."""
    versions = cat.aqi_versions()
    out: ir.StringValue = ibis.literal(versions[0][0])
    for version, start, _ in versions[1:]:
        start_ts = dt.datetime.combine(start, dt.time())
        cond = ts >= (start_ts if isinstance(ts, ir.TimestampValue) else start)
        out = ibis.ifelse(cond, version, out)
    return out


def _by_version(
    ts: ir.Value, version: str, build: Callable[[str], ir.IntegerValue]
) -> ir.IntegerValue:
    if version != "auto":
        return build(version)
    versions = cat.aqi_versions()
    out = build(versions[0][0])
    for v, start, _ in versions[1:]:
        later = build(v)
        if later.equals(out):  # same breakpoints and rules in both versions: one expression
            continue
        bound = dt.datetime.combine(start, dt.time()) if ts.type().is_timestamp() else start
        out = ibis.ifelse(ts >= bound, later, out)
    return out


def _column_iaqi(c: ir.NumericValue, item: str) -> Callable[[str], ir.IntegerValue]:
    def build(version: str) -> ir.IntegerValue:
        return iaqi_expr(c, version, item)

    return build


def _max_of(exprs: list[ir.IntegerValue]) -> ir.IntegerValue:
    # greatest() ignores NULL on DuckDB and Spark but not everywhere: coalesce explicitly.
    filled = [e.coalesce(-1) for e in exprs]
    top = filled[0] if len(filled) == 1 else ibis.greatest(*filled)
    return ibis.ifelse(top < 0, ibis.null("int64"), top)


def _finish(
    t: ir.Table, parts: dict[str, ir.IntegerValue], *, with_primary: bool = True
) -> ir.Table:
    t = t.mutate(**{f"iaqi_{k}": v for k, v in parts.items()})
    t = t.mutate(aqi=_max_of([t[f"iaqi_{k}"] for k in parts]))
    level_branches = [
        (t.aqi <= lv.aqi_high, lv.level) for lv in cat.levels() if lv.aqi_high is not None
    ]
    level = ibis.ifelse(
        t.aqi.isnull(),
        ibis.null("int64"),
        ibis.cases(*level_branches, else_=cat.levels()[-1].level),
    )
    if not with_primary:
        return t.mutate(level=level)
    threshold = cat.levels()[0].aqi_high
    tags = [
        ibis.ifelse((t.aqi > threshold) & (t[f"iaqi_{k}"] == t.aqi), f"{k},", "")
        for k in PRIMARY_ORDER
        if k in parts
    ]
    joined = tags[0]
    for tag in tags[1:]:
        joined = joined.concat(tag)
    return t.mutate(primary=joined.re_replace(",$", ""), level=level)


def hourly_aqi(t: ir.Table, *, version: str = "auto", time_col: str = "ts") -> ir.Table:
    """Real-time (hourly) station AQI as CNEMC publishes it.

    Input columns: ``station``, ``time_col`` and the 1-h concentrations ``so2 no2 pm10
    pm2_5 co o3`` [µg/m³; CO mg/m³]; optional moving means ``so2_24h pm10_24h pm2_5_24h
    o3_8h``. PM10 and PM2.5 are read on the 24-h columns, SO2, NO2, CO, O3 on the 1-h ones;
    SO2 1-h above the column follows the version's overflow rule (2012: IAQI of ``so2_24h``;
    2026: capped). AQI is the max over the pollutants present.

    Output adds ``iaqi_<p>`` for the six pollutants, ``aqi`` (int), ``primary`` (comma
    separated keys, empty when none) and ``level`` (1–6); and, where the moving means are
    present, ``iaqi_o3_8h``, ``iaqi_pm10_24h``, ``iaqi_pm2_5_24h`` reported beside them
    (not part of ``aqi``).

    ``version``: ``"auto"`` (by date: HJ 633-2012 before 2026-03-01, HJ 633-2026 from then),
    ``"2012"`` or ``"2026"``.

    References
    ----------
    [HJ633-2012] Table 1 and its notes; reference/regulations.md §3.2 (CNEMC practice).

    """
    ts = t[time_col]
    cols = set(t.columns)

    def so2(v: str) -> ir.IntegerValue:
        one = iaqi_expr(t.so2, v, "so2_1h")
        rule = cat.overflow(v, "so2_1h")
        if rule is not None and rule.action == "fallback" and "so2_24h" in cols:
            fb = rule.fallback_item or "so2_24h"
            return ibis.ifelse(t.so2 > float(rule.above), iaqi_expr(t.so2_24h, v, fb), one)
        return one

    parts: dict[str, ir.IntegerValue] = {
        "so2": _by_version(ts, version, so2),
        "no2": _by_version(ts, version, lambda v: iaqi_expr(t.no2, v, "no2_1h")),
        "pm10": _by_version(ts, version, lambda v: iaqi_expr(t.pm10, v, "pm10_24h")),
        "pm2_5": _by_version(ts, version, lambda v: iaqi_expr(t.pm2_5, v, "pm2_5_24h")),
        "co": _by_version(ts, version, lambda v: iaqi_expr(t.co, v, "co_1h")),
        "o3": _by_version(ts, version, lambda v: iaqi_expr(t.o3, v, "o3_1h")),
    }
    beside: dict[str, ir.IntegerValue] = {}
    for col in ("o3_8h", "pm10_24h", "pm2_5_24h"):  # the column name is the IAQI item
        if col in cols:
            beside[f"iaqi_{col}"] = _by_version(ts, version, _column_iaqi(t[col], col))
    return _finish(t, parts).mutate(**beside)


def daily_aqi(
    t: ir.Table, *, version: str = "auto", date_col: str = "day", with_primary: bool = True
) -> ir.Table:
    """Daily AQI (日报) from daily statistics.

    Input columns: ``station``, ``date_col``, 24-h means ``so2 no2 pm10 pm2_5 co`` and the
    O3 daily maxima ``o3_8h`` (max 8-h mean) and ``o3_1h`` (max 1-h) [µg/m³; CO mg/m³],
    NULL where invalid. The O3 IAQI is the larger of the 1-h and 8-h IAQI; an 8-h value
    above its column follows the overflow rule (2012: the 1-h IAQI; 2026: capped at 300).
    ``with_primary=False`` leaves out the ``primary`` column (a smaller query).

    References
    ----------
    [HJ633-2012] §5, Table 1; reference/regulations.md §3.2 (daily report).

    """
    day = t[date_col]

    def o3(v: str) -> ir.IntegerValue:
        eight = iaqi_expr(t.o3_8h, v, "o3_8h")
        one = iaqi_expr(t.o3_1h, v, "o3_1h")
        return _max_of([eight, one])

    parts: dict[str, ir.IntegerValue] = {
        "so2": _by_version(day, version, lambda v: iaqi_expr(t.so2, v, "so2_24h")),
        "no2": _by_version(day, version, lambda v: iaqi_expr(t.no2, v, "no2_24h")),
        "pm10": _by_version(day, version, lambda v: iaqi_expr(t.pm10, v, "pm10_24h")),
        "pm2_5": _by_version(day, version, lambda v: iaqi_expr(t.pm2_5, v, "pm2_5_24h")),
        "co": _by_version(day, version, lambda v: iaqi_expr(t.co, v, "co_24h")),
        "o3": _by_version(day, version, o3),
    }
    return _finish(t, parts, with_primary=with_primary)
