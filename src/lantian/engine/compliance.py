"""Limits per point, hourly verdict and monthly ULE verdict (超低排放月度判定).

Limits (:func:`point_limits` for one day, :func:`point_limits_daily` for each day of the
month), per point and pollutant, from the catalogue (:mod:`lantian.catalog.limits`) in force
on the day (CST) of the hour judged — a limit whose effective period starts or ends within
the month applies from the first hour of its first day to the last hour of its last day:

* rows of the point's source type (``monitoring_point.source_type``, else the outlet's);
* the provincial layer (``outlet.jurisdiction``, e.g. ``CN-43``) replaces national rows of
  the same pollutant; points without a jurisdiction get the national rows;
* basis ``ule`` before ``local_standard`` before ``national_standard``, then the strictest
  variant;
* a permit limit of the outlet (``permit_limit``, valid on the hour's day) overrides the
  catalogue limit of its pollutant or adds one; it is judged at the catalogue's reference O2
  of that pollutant where there is one, otherwise on the measured concentration;
* restricted to the parameters the point is registered to monitor, or — where none are
  registered — to those present in its minute data that month.

Hourly verdict (:func:`hourly_verdict`), each limited pollutant:

* the value judged is the hourly mean converted to the reference O2 with the hourly mean O2
  (:func:`lantian.engine.oxygen.reference_concentration`), or the measured hourly mean where
  the limit has no reference O2; it needs a valid pollutant hour and, for the conversion, a
  valid O2 hour with O2 < 21 %;
* comparison: unrounded value ``<=`` limit is within the limit, ``>`` limit exceeds
  (limits are maxima: "不超过");
* an hour is compliant when it is a production hour and every limited pollutant has a valid
  value within its limit.

Monthly verdict (:func:`monthly_verdict`):

* ``compliance_ratio = compliant production hours / production hours`` (unrounded double;
  round only for display);
* ``ule_pass`` when ``compliant × 100 ≥ 95 × production`` — exact integer comparison, so
  704/744 = 0.94624 fails and 707/744 = 0.95027 passes (95 from ``assessment_rules.csv``,
  环大气〔2019〕35号 / 〔2024〕5号);
* hours without valid data count against the ratio and are reported per pollutant
  (``invalid_<k>``), exceedances per pollutant (``exceed_<k>``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import pandas as pd

from lantian.catalog.limits import POLLUTANTS, load_limits
from lantian.catalog.rules import rule
from lantian.engine.oxygen import reference_concentration

__all__ = [
    "catalogue_table",
    "hourly_verdict",
    "monthly_verdict",
    "point_limits",
    "point_limits_daily",
]

_BASIS_RANK = {"permit": 0, "ule": 1, "local_standard": 2, "national_standard": 3}


def catalogue_table() -> ibis.Table:
    """Return the limit catalogue as an Ibis memtable (one row per limit)."""
    rows = [
        {
            "limit_id": r.id,
            "source_type": r.source_type,
            "pollutant": r.pollutant,
            "limit_mg_m3": r.limit_mg_m3,
            "o2_ref_pct": r.o2_ref_pct,
            "basis": r.basis,
            "basis_rank": _BASIS_RANK[r.basis],
            "jurisdiction": r.jurisdiction,
            "effective_from": r.effective_from,
            "effective_to": r.effective_to,
        }
        for r in load_limits()
        if r.averaging == "hour"
    ]
    df = pd.DataFrame(rows)
    schema = {
        "limit_id": "string",
        "source_type": "string",
        "pollutant": "string",
        "limit_mg_m3": "float64",
        "o2_ref_pct": "float64",
        "basis": "string",
        "basis_rank": "int64",
        "jurisdiction": "string",
        "effective_from": "date",
        "effective_to": "date",
    }
    return ibis.memtable(df, schema=schema)


def point_limits(
    monitoring_point: ibis.Table,
    outlet: ibis.Table,
    permit_limit: ibis.Table,
    on: dt.date,
    catalogue: ibis.Table | None = None,
) -> ibis.Table:
    """Return the limits per point in force on day ``on`` (long).

    Columns ``mn, pollutant, limit_mg_m3, o2_ref_pct, basis, limit_id, registered``.

    ``registered`` is true where the point has registered parameters (then only those are
    kept); where it has none every catalogue pollutant is returned with ``registered``
    false and :func:`hourly_verdict` keeps those present in the month's data.
    """
    daily = point_limits_daily(monitoring_point, outlet, permit_limit, on, 1, catalogue)
    return daily.drop("day")


def point_limits_daily(
    monitoring_point: ibis.Table,
    outlet: ibis.Table,
    permit_limit: ibis.Table,
    start: dt.date,
    n_days: int,
    catalogue: ibis.Table | None = None,
) -> ibis.Table:
    """Return the limits per point and day for the ``n_days`` days from ``start`` (long).

    Columns ``mn, day`` (date, CST) ``, pollutant, limit_mg_m3, o2_ref_pct, basis,
    limit_id, registered`` (see :func:`point_limits`). Each day takes the catalogue rows and
    permit limits whose effective period contains it (``effective_from ≤ day ≤
    effective_to``, open end when ``effective_to`` is empty), so a limit that changes on
    the 15th applies from 15th 00:00 CST. The day grid is built by the backend
    (range + unnest) and has ``points × n_days`` rows.
    """
    cat = catalogue if catalogue is not None else catalogue_table()
    o = outlet.select(
        o_id="id",
        o_ent="enterprise_id",
        o_name="name",
        o_type="source_type",
        jur="jurisdiction",
    )
    p = monitoring_point.left_join(o, monitoring_point.outlet_id == o.o_id)
    p = p.select(
        "mn",
        "parameters",
        "o_ent",
        "o_name",
        stype=ibis.coalesce(p.source_type, p.o_type),
        jur=p.jur.fill_null("CN"),
    ).view()  # a fresh relation: Ibis 12 cannot join again on a computed join projection
    first = ibis.literal(dt.datetime.combine(start, dt.time()))
    pd_ = p.select("mn", "stype", "jur", "o_ent", "o_name", i=ibis.range(0, n_days).unnest())
    pd_ = pd_.select(
        "mn", "stype", "jur", "o_ent", "o_name", day=(first + (pd_.i * 24).as_interval("h")).date()
    ).view()
    # the catalogue choice depends only on (source type, jurisdiction, day): rank the
    # candidates once per such combination (a few hundred rows), then give them to the points
    layers = pd_.select("stype", "jur", "day").distinct()
    j = layers.join(
        cat,
        [
            layers.stype == cat.source_type,
            (cat.jurisdiction == "CN") | (cat.jurisdiction == layers.jur),
            cat.effective_from <= layers.day,
            cat.effective_to.isnull() | (cat.effective_to >= layers.day),
        ],
    )
    j = j.mutate(
        layer=ibis.cases((j.jurisdiction == "CN", 1), else_=0),
    )
    w = ibis.window(
        group_by=[j.stype, j.jur, j.day, j.pollutant],
        order_by=[j.layer, j.basis_rank, j.limit_mg_m3, j.limit_id],
    )
    chosen = (
        j.mutate(rn=ibis.row_number().over(w))
        .filter(lambda t: t.rn == 0)
        .select(
            c_stype="stype",
            c_jur="jur",
            c_day="day",
            pollutant="pollutant",
            limit_mg_m3="limit_mg_m3",
            o2_ref_pct="o2_ref_pct",
            basis="basis",
            limit_id="limit_id",
        )
        .view()
    )
    best = pd_.join(
        chosen,
        [pd_.stype == chosen.c_stype, pd_.jur == chosen.c_jur, pd_.day == chosen.c_day],
    ).select("mn", "day", "pollutant", "limit_mg_m3", "o2_ref_pct", "basis", "limit_id")
    pl = permit_limit
    perm = (
        pd_.join(
            pl,
            [
                pd_.o_ent == pl.enterprise_id,
                pd_.o_name == pl.outlet,
                pl.valid_from <= pd_.day,
                pl.valid_to.isnull() | (pl.valid_to >= pd_.day),
            ],
        )
        .select("mn", "day", "pollutant", permit_mg_m3="limit_mg_m3")
        .view()
    )
    perm = perm.group_by("mn", "day", "pollutant").aggregate(permit_mg_m3=perm.permit_mg_m3.min())
    merged = best.outer_join(
        perm,
        [best.mn == perm.mn, best.day == perm.day, best.pollutant == perm.pollutant],
    )
    merged = merged.select(
        mn=ibis.coalesce(merged.mn, merged.mn_right),
        day=ibis.coalesce(merged.day, merged.day_right),
        pollutant=ibis.coalesce(merged.pollutant, merged.pollutant_right),
        limit_mg_m3=ibis.coalesce(merged.permit_mg_m3, merged.limit_mg_m3),
        o2_ref_pct=merged.o2_ref_pct,
        basis=ibis.cases((merged.permit_mg_m3.notnull(), "permit"), else_=merged.basis),
        limit_id=ibis.cases((merged.permit_mg_m3.notnull(), "permit"), else_=merged.limit_id),
    ).view()
    params = p.select(p_mn="mn", params="parameters")
    m = merged.join(params, merged.mn == params.p_mn)
    has_params = m.params.notnull() & (m.params.length() > 0)
    m = m.filter(~has_params | m.params.contains(m.pollutant))
    return m.select(
        "mn",
        "day",
        "pollutant",
        "limit_mg_m3",
        "o2_ref_pct",
        "basis",
        "limit_id",
        registered=has_params,
    )


def _wide_limits(limits: ibis.Table, keys: Sequence[str]) -> ibis.Table:
    """One row per point (and day, when ``limits`` has a ``day`` column)."""
    aggs = {}
    for k in keys:
        is_k = limits.pollutant == k
        aggs[f"{k}_limit"] = limits.limit_mg_m3.max(where=is_k)
        aggs[f"{k}_o2_ref"] = limits.o2_ref_pct.max(where=is_k)
    aggs["registered"] = limits.registered.cast("int64").max()
    by = {"lim_mn": limits.mn}
    if "day" in limits.columns:
        by["lim_day"] = limits.day
    return limits.group_by(**by).aggregate(**aggs)


def hourly_verdict(
    hours: ibis.Table, limits: ibis.Table, keys: Sequence[str] = POLLUTANTS
) -> ibis.Table:
    """Judge each hour (rules in the module docstring).

    Parameters
    ----------
    hours
        Hours with production (:func:`lantian.engine.production.production_hours`).
    limits
        Output of :func:`point_limits_daily` (joined on the hour's day, CST) or of
        :func:`point_limits` (one set of limits for every hour).
    keys
        Pollutant keys aggregated in ``hours``.

    Returns
    -------
    ibis.Table
        ``hours`` plus, per key: ``<k>_limit_mg_m3`` (null = not limited),
        ``<k>_ref_mg_m3`` (O2-converted hourly mean [mg/m³], null without a reference O2),
        ``<k>_hour_valid``, ``<k>_exceed``, ``<k>_invalid``; and ``limited`` (number of
        limited pollutants), ``all_valid``, ``compliant`` (null without limits).

    """
    keys = [k for k in keys if f"{k}_valid" in hours.columns]
    wide = _wide_limits(limits, keys)
    present = hours.group_by(p_mn=hours.mn).aggregate(
        **{f"{k}_month_present": hours[f"{k}_present"].sum() for k in keys}
    )
    on = [hours.mn == wide.lim_mn]
    if "lim_day" in wide.columns:
        on.append(hours.ts.date() == wide.lim_day)
    h = hours.left_join(wide, on).drop(*[c for c in ("lim_mn", "lim_day") if c in wide.columns])
    h = h.view()
    h = h.left_join(present, h.mn == present.p_mn).drop("p_mn").view()
    restrict = h.registered.fill_null(0) == 0
    cols: dict[str, ibis.Value] = {}
    o2_ok = h.o2_valid & (h.o2_pct < 21.0)
    for k in keys:
        lim = ibis.cases(
            (restrict & (h[f"{k}_month_present"].fill_null(0) == 0), ibis.null("float64")),
            else_=h[f"{k}_limit"],
        )
        mean = h[f"{k}_mg_m3"]
        ref_o2 = h[f"{k}_o2_ref"]
        ref = ibis.cases(
            (ref_o2.notnull() & o2_ok, reference_concentration(mean, h.o2_pct, ref_o2)),
            else_=ibis.null("float64"),
        )
        judged = ibis.cases((ref_o2.isnull(), mean), else_=ref)
        ok = h[f"{k}_valid"] & judged.notnull()
        cols[f"{k}_limit_mg_m3"] = lim
        cols[f"{k}_ref_mg_m3"] = ref
        cols[f"{k}_judged"] = judged
        cols[f"{k}_hour_valid"] = ok
    h = h.mutate(**cols)
    flags: dict[str, ibis.Value] = {}
    limited = ibis.literal(0)
    all_ok = ibis.literal(True)
    within_all = ibis.literal(True)
    for k in keys:
        lim = h[f"{k}_limit_mg_m3"]
        ok = h[f"{k}_hour_valid"]
        is_lim = lim.notnull()
        flags[f"{k}_exceed"] = is_lim & ok & (h[f"{k}_judged"] > lim)
        flags[f"{k}_invalid"] = is_lim & ~ok
        limited = limited + is_lim.cast("int64")
        all_ok = all_ok & (~is_lim | ok)
        within_all = within_all & (~is_lim | (ok & (h[f"{k}_judged"] <= lim)))
    h = h.mutate(**flags, limited=limited, all_valid=all_ok)
    h = h.mutate(
        compliant=ibis.cases(
            (h.limited == 0, ibis.null("boolean")), else_=h.production & within_all
        )
    )
    drop = [f"{k}_{s}" for k in keys for s in ("limit", "o2_ref", "month_present", "judged")]
    return h.drop("registered", *drop)


def monthly_verdict(verdicts: ibis.Table, keys: Sequence[str] = POLLUTANTS) -> ibis.Table:
    """Monthly ULE result per point (rules in the module docstring).

    Returns
    -------
    ibis.Table
        ``mn``, ``hours``, ``production_hours``, ``valid_hours``, ``compliant_hours``,
        ``compliance_ratio`` (unrounded, null without production hours or limits),
        ``ule_pass`` (null without limits or production hours), per key ``<k>_limited``,
        ``exceed_<k>``, ``invalid_<k>`` (production hours).

    """
    keys = [k for k in keys if f"{k}_exceed" in verdicts.columns]
    v = verdicts
    prod = v.production
    aggs: dict[str, ibis.Value] = {
        "hours": v.count(),
        "production_hours": prod.cast("int64").sum(),
        "valid_hours": (prod & v.all_valid & (v.limited > 0)).cast("int64").sum(),
        "compliant_hours": v.compliant.fill_null(False).cast("int64").sum(),
        "limited": v.limited.max(),
    }
    for k in keys:
        aggs[f"{k}_limited"] = v[f"{k}_limit_mg_m3"].notnull().cast("int64").max() > 0
        aggs[f"exceed_{k}"] = (prod & v[f"{k}_exceed"]).cast("int64").sum()
        aggs[f"invalid_{k}"] = (prod & v[f"{k}_invalid"]).cast("int64").sum()
    m = v.group_by("mn").aggregate(**aggs)
    share = rule("ule_min_share_pct")
    judged = (m.production_hours > 0) & (m.limited > 0)
    return m.mutate(
        compliance_ratio=ibis.cases(
            (judged, m.compliant_hours.cast("float64") / m.production_hours.cast("float64")),
            else_=ibis.null("float64"),
        ),
        ule_pass=ibis.cases(
            (judged, m.compliant_hours * 100 >= m.production_hours * share),
            else_=ibis.null("boolean"),
        ),
    )
