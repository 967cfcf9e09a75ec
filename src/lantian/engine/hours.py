"""Minute → valid hour (有效小时均值), HJ 75-2017.

Rules (reference notes §1.1, §1.4):

* a minute value is *valid* when its HJ 212 flag is ``N`` (instrument running normally);
  ``F`` (stopped), ``M`` (maintenance), ``D`` (fault), ``C`` (calibration), ``T`` (over range),
  ``B`` (communication failure) are invalid, and ``S`` (manually set value) is not monitoring
  data, so it never counts as valid. A value sent without a flag is taken as ``N``
  (HJ 212-2017 makes ``-Flag`` optional) [U];
* the hourly value is the arithmetic mean of the valid minutes of the clock hour
  ``[hh:00, hh+1:00)`` (CST; ``ts`` = period start) and is *valid* when there are at least
  ``min_valid_minutes`` of them (45, HJ 75-2017; read from ``assessment_rules.csv``);
* the same holds for O2, flow and temperature;
* for the production-hour rule (:mod:`lantian.engine.production`) the hour also keeps the
  mean of *all* flow readings, F-flagged ones included (``flow_raw``, in the unit the logger
  sends), the number of minutes and the number of minutes with an ``F`` flag.

Values are never rounded here; comparisons use the unrounded means.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import ibis
from ibis import _

from lantian.catalog.glossary import glossary
from lantian.catalog.rules import rule

__all__ = [
    "AUX_KEYS",
    "block_partials",
    "column_of",
    "complete_month",
    "hours_from_blocks",
    "valid_hours",
]

_GRID_IDS = itertools.count(1)

#: Flue-gas parameters every hour keeps besides the pollutants.
AUX_KEYS: tuple[str, ...] = ("o2", "flow", "temp")


def column_of(key: str) -> str:
    """Wide-table value column of a glossary key (``so2`` → ``so2_mg_m3``)."""
    for e in glossary():
        if e.key == key:
            return e.column
    raise KeyError(key)


def valid_hours(
    minute: ibis.Table,
    keys: Sequence[str],
    *,
    min_valid_minutes: int | None = None,
) -> ibis.Table:
    """Aggregate minute rows into hours per (mn, hour), with validity per parameter.

    Parameters
    ----------
    minute
        Minute table (``flue_minute`` layout): ``mn``, ``ts`` [CST, period start],
        ``<key>_mg_m3``/``o2_pct``/``flow_m3_s``/``temp_c`` and ``<key>_flag``.
    keys
        Pollutant keys to aggregate (``pm``, ``so2``, ``nox``, ``nh3``, ``nmhc``, ``co``).
    min_valid_minutes
        Valid minutes needed for a valid hour [min]; default from the catalogue (45).

    Returns
    -------
    ibis.Table
        One row per (``mn``, ``ts`` = hour start) with, per parameter key: the mean of the
        valid minutes in its wide column name (``so2_mg_m3`` [mg/m³], ``o2_pct`` [%],
        ``flow_m3_s`` [logger unit], ``temp_c`` [°C]), ``<key>_n`` (valid minutes),
        ``<key>_valid`` (bool), ``<key>_present`` (minutes with a value, any flag); per
        pollutant also ``<key>_zs_mg_m3`` (mean of the logger's converted values of the valid
        minutes, kept for comparison only); and ``minutes``, ``f_minutes``, ``flow_raw``
        (mean of all flow readings incl. F-flagged) [logger unit].

    References
    ----------
    HJ 75-2017 (valid hourly average, ≥45 valid minutes); HJ 212-2017 §6.6.4 data flags.

    """
    need = int(min_valid_minutes if min_valid_minutes is not None else rule("min_valid_minutes"))
    keys = list(dict.fromkeys(keys))
    t = minute.mutate(hour=_.ts.truncate("h"))
    aggs: dict[str, ibis.Value] = {}
    f_any: ibis.BooleanValue | None = None
    for key in [*keys, *AUX_KEYS]:
        col = column_of(key)
        value = t[col]
        invalid = t[f"{key}_flag"] != "N"  # null (no flag sent) compares null: valid
        # one pass of plain aggregates over the valid value (null otherwise): a single
        # comparison per minute and no FILTER clauses, the cheapest form on DuckDB
        valid = ibis.cases((invalid, ibis.null(value.type())), else_=value)
        aggs[col] = valid.mean()
        aggs[f"{key}_n"] = valid.count()
        aggs[f"{key}_present"] = value.count()
        if key in keys and f"{key}_zs" in minute.columns:
            zs = t[f"{key}_zs"]
            aggs[f"{key}_zs_mg_m3"] = ibis.cases(
                (invalid | value.isnull(), ibis.null(zs.type())), else_=zs
            ).mean()
        is_f = t[f"{key}_flag"] == "F"
        f_any = is_f if f_any is None else (f_any | is_f)
    aggs["minutes"] = t.count()
    if f_any is None:  # pragma: no cover - AUX_KEYS is never empty
        raise ValueError("no parameters to aggregate")
    aggs["f_minutes"] = f_any.fill_null(False).cast("int64").sum()
    aggs["flow_raw"] = t[column_of("flow")].mean()
    h = t.group_by(mn=t.mn, ts=t.hour).aggregate(**aggs)
    return h.mutate(**{f"{key}_valid": h[f"{key}_n"] >= need for key in [*keys, *AUX_KEYS]})


def block_partials(minute: ibis.Table, keys: Sequence[str]) -> dict[str, ibis.Value]:
    """Per-block partial aggregates of :func:`valid_hours` (sums and counts, additive).

    The valid hour (HJ 75-2017: mean of the valid minutes of the clock hour, valid with
    ≥ ``min_valid_minutes``) is made of sums and counts, so it can be aggregated from any
    blocks of minutes that lie inside one clock hour (e.g. 30-minute blocks): the caller
    groups ``minute`` by (mn, block) with these aggregates and hands the result to
    :func:`hours_from_blocks`. One scan of the minutes then serves the engine and other
    per-block frames (remote quality control, :mod:`lantian.engine.quality.blocks`).

    Returns the named aggregates (expressions on ``minute``): ``t0`` (first minute, CST),
    ``n`` (rows), ``fm`` (rows with an ``F`` flag on any of ``keys`` + :data:`AUX_KEYS`),
    ``fs``/``fn`` (sum and count of every flow reading [logger unit]); per key of ``keys``
    + :data:`AUX_KEYS`: ``s_<k>``/``n_<k>`` (sum and count of the valid values, as float64),
    ``p_<k>`` (values present, any flag); per pollutant with ``<k>_zs`` sent:
    ``zs_s_<k>``/``zs_n_<k>`` (sum and count of the logger's converted value of the valid
    minutes).
    """
    keys = list(dict.fromkeys(keys))
    aggs: dict[str, ibis.Value] = {"t0": minute.ts.min(), "n": minute.count()}
    f_any: ibis.BooleanValue | None = None
    for key in [*keys, *AUX_KEYS]:
        value = minute[column_of(key)]
        invalid = minute[f"{key}_flag"] != "N"  # null (no flag sent) compares null: valid
        valid = ibis.cases((invalid, ibis.null("float64")), else_=value.cast("float64"))
        aggs[f"s_{key}"] = valid.sum()
        aggs[f"n_{key}"] = valid.count()
        aggs[f"p_{key}"] = value.count()
        if key in keys and f"{key}_zs" in minute.columns:
            zs = ibis.cases(
                (invalid | value.isnull(), ibis.null("float64")),
                else_=minute[f"{key}_zs"].cast("float64"),
            )
            aggs[f"zs_s_{key}"] = zs.sum()
            aggs[f"zs_n_{key}"] = zs.count()
        is_f = minute[f"{key}_flag"] == "F"
        f_any = is_f if f_any is None else (f_any | is_f)
    if f_any is None:  # pragma: no cover - AUX_KEYS is never empty
        raise ValueError("no parameters to aggregate")
    aggs["fm"] = f_any.fill_null(False).cast("int64").sum()
    flow = minute[column_of("flow")].cast("float64")
    aggs["fs"] = flow.sum()
    aggs["fn"] = flow.count()
    return aggs


def hours_from_blocks(
    blocks: ibis.Table,
    keys: Sequence[str],
    *,
    min_valid_minutes: int | None = None,
) -> ibis.Table:
    """Return the table of :func:`valid_hours` from per-block partials (:func:`block_partials`).

    ``blocks`` has one row per (mn, block of minutes inside one clock hour) with the
    aggregates of :func:`block_partials` for the same ``keys``. Same columns and values as
    ``valid_hours(minute, keys)`` up to the order of floating-point additions (means are
    ``sum / count`` of the valid minutes, null without one); HJ 75-2017 validity
    (≥ ``min_valid_minutes`` valid minutes, default 45 from the catalogue).
    """
    need = int(min_valid_minutes if min_valid_minutes is not None else rule("min_valid_minutes"))
    keys = list(dict.fromkeys(keys))
    b = blocks
    sums: dict[str, ibis.Value] = {
        "_n": b.n.sum(),
        "_fm": b.fm.sum(),
        "_fs": b.fs.sum(),
        "_fn": b.fn.sum(),
    }
    for key in [*keys, *AUX_KEYS]:
        for part in ("s", "n", "p"):
            sums[f"_{part}_{key}"] = b[f"{part}_{key}"].sum()
        if key in keys and f"zs_s_{key}" in b.columns:
            sums[f"_zs_s_{key}"] = b[f"zs_s_{key}"].sum()
            sums[f"_zs_n_{key}"] = b[f"zs_n_{key}"].sum()
    h = b.group_by(mn=b.mn, ts=b.t0.truncate("h")).aggregate(**sums)

    def mean(s: ibis.Value, n: ibis.Value) -> ibis.Value:
        return ibis.ifelse(n > 0, s / n, ibis.null("float64"))

    cols: dict[str, ibis.Value] = {}
    for key in [*keys, *AUX_KEYS]:
        cols[column_of(key)] = mean(h[f"_s_{key}"], h[f"_n_{key}"])
        cols[f"{key}_n"] = h[f"_n_{key}"].cast("int64")
        cols[f"{key}_present"] = h[f"_p_{key}"].cast("int64")
        if f"_zs_s_{key}" in h.columns:
            cols[f"{key}_zs_mg_m3"] = mean(h[f"_zs_s_{key}"], h[f"_zs_n_{key}"])
    cols["minutes"] = h._n.cast("int64")
    cols["f_minutes"] = h._fm.cast("int64")
    cols["flow_raw"] = mean(h._fs, h._fn)
    out = h.select("mn", "ts", **cols)
    return out.mutate(**{f"{key}_valid": out[f"{key}_n"] >= need for key in [*keys, *AUX_KEYS]})


def complete_month(hours: ibis.Table, start: dt.datetime, n_hours: int) -> ibis.Table:
    """Give every point present in ``hours`` a row for each of the ``n_hours`` clock hours.

    Hours without any minute row get null means, zero counts and ``*_valid`` false, so a
    point whose logger sent nothing for an hour still has that hour (a production hour with
    invalid data unless there is evidence the source stopped).

    Parameters
    ----------
    hours
        Output of :func:`valid_hours`.
    start
        First hour of the month (CST ``datetime``).
    n_hours
        Clock hours in the month (e.g. 744 for 31 days).

    """
    points = hours.select("mn").distinct()
    # the hour grid is built by the backend itself (range + unnest), not shipped as data
    grid = points.select("mn", i=ibis.range(0, n_hours).unnest())
    grid = grid.select("mn", ts=ibis.literal(start) + grid.i.as_interval("h")).view()
    joined = grid.left_join(hours, ["mn", "ts"]).drop("mn_right", "ts_right")
    fills = {}
    for c in hours.columns:
        if c.endswith(("_n", "_present")) or c in ("minutes", "f_minutes"):
            fills[c] = joined[c].fill_null(0)
        elif c.endswith("_valid"):
            fills[c] = joined[c].fill_null(False)
    # an aliased relation is one common table expression: every later use (production
    # hours, median flow, verdicts) reads the same grid instead of joining it again. The
    # name is unique per call, so several completed months can meet in one expression.
    return joined.mutate(**fills).alias(f"lantian_month_hours_{next(_GRID_IDS)}")
