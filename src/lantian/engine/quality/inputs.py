"""Side inputs of the detectors: limits per point from the catalogue, analyser ranges."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from lantian.catalog.limits import applicable_limits
from lantian.engine.quality.records import _pollutant_of
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["analyser_ranges", "point_limits"]

_LIMIT_SCHEMA = ibis.schema({"mn": "string", "pollutant": "string", "limit_mg_m3": "float64",
                             "o2_ref_pct": "float64"})


def point_limits(points: pd.DataFrame, on: dt.date) -> ir.Table:
    """Hourly limit and reference O2 of each (point, pollutant) in force on ``on``.

    ``points`` has mn, source_type and (optionally) jurisdiction; the catalogue's rules of
    precedence apply (:func:`lantian.catalog.limits.applicable_limits`).
    """
    rows = []
    for r in points.to_dict("records"):
        jur = r.get("jurisdiction")
        lims = applicable_limits(r.get("source_type"), on, jur if isinstance(jur, str) else None)
        for pol, row in lims.items():
            rows.append({"mn": r["mn"], "pollutant": pol, "limit_mg_m3": row.limit_mg_m3,
                         "o2_ref_pct": row.o2_ref_pct})
    frame = pd.DataFrame(rows, columns=list(_LIMIT_SCHEMA.names))
    frame["limit_mg_m3"] = frame["limit_mg_m3"].astype("float64")
    frame["o2_ref_pct"] = frame["o2_ref_pct"].astype("float64")
    return ibis.memtable(frame, schema=_LIMIT_SCHEMA)


def analyser_ranges(params: ir.Table | None, limits: ir.Table, th: Thresholds) -> ir.Table:
    """Range of each (point, pollutant) analyser [mg/m3].

    The largest ``i13001`` range the point reported (``params``: mn, code, num, text = PolId),
    else ``over_range.default_range_factor`` × the limit.
    """
    factor = th.get("over_range", "default_range_factor")
    default = limits.select("mn", "pollutant", dflt=limits.limit_mg_m3 * factor)
    if params is None:
        return default.select("mn", "pollutant", range_mg_m3=default.dflt)
    p = params.filter((params.code == "i13001") & params.num.notnull())
    rep = p.group_by(mn=p.mn, pollutant=_pollutant_of(p.text)).aggregate(rep=p.num.max())
    rep = rep.select(_rmn=rep.mn, _rpol=rep.pollutant, rep=rep.rep)
    j = default.outer_join(rep, [default.mn == rep._rmn, default.pollutant == rep._rpol])
    return j.select(mn=ibis.coalesce(j.mn, j._rmn), pollutant=ibis.coalesce(j.pollutant, j._rpol),
                    range_mg_m3=ibis.coalesce(j.rep, j.dflt))
