"""Side inputs of the detectors: limits per point from the catalogue, analyser ranges."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from lantian.catalog.limits import applicable_limits
from lantian.engine.quality.records import _pollutant_of
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["analyser_ranges", "history_minutes", "limit_memory", "point_limits",
           "read_inputs", "spill_cap"]

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


def read_inputs(con: Any, month: str, th: Thresholds) -> dict[str, Any]:
    """Everything :func:`~lantian.engine.quality.run.quality_events` needs from a backend.

    ``con`` is an engine backend (:func:`lantian.engine.backends.connect`). Reads the small
    registry tables (points, outlets) eagerly; the minute data stay lazy. Returns keyword
    arguments for ``quality_events`` (``marks``: enterprise marks of the month, or ``None``).
    """
    from lantian.catalog.limits import POLLUTANTS
    from lantian.engine.backends import minute_table, month_bounds, registry_table, table_names

    start, end = month_bounds(month)
    mp = registry_table(con, "monitoring_point")
    ol = registry_table(con, "outlet")
    j = mp.left_join(ol, mp.outlet_id == ol.id)
    pts = j.select(mn=mp.mn, source_type=ibis.coalesce(mp.source_type, ol.source_type),
                   jurisdiction=ol.jurisdiction, parameters=mp.parameters).execute()
    keys = sorted({k for ps in pts["parameters"] if ps is not None for k in ps} & set(POLLUTANTS))
    if not keys:
        keys = ["pm", "so2", "nox"]
    minute = minute_table(con, month)
    keys = [k for k in keys if f"{k}_mg_m3" in minute.columns]
    limits = point_limits(pts[["mn", "source_type", "jurisdiction"]], start.date())
    tables = table_names(con)
    params = None
    if "value_long" in tables:
        vl = con.table("value_long")
        params = vl.filter(vl.field == "Info").select("mn", "ts", "code", "num", "text")
    maintenance = None
    if "maintenance_record" in tables:
        maintenance = con.table("maintenance_record").select("mn", "start_ts", "end_ts")
    # enterprise condition marks overlapping the month (every status), for false_stop; none
    # when there are none, so false_stop does not read every minute a second time for nothing
    em = registry_table(con, "enterprise_mark")
    em = em.filter(em.mn.notnull() & (em.start_ts < end) & (em.end_ts >= start))
    marks = em.select("mn", "kind", "start_ts", "end_ts")
    if int(con.execute(marks.count())) == 0:
        marks = None
    pframe = pts[["mn", "source_type"]].astype({"mn": "string", "source_type": "string"})
    points = ibis.memtable(pframe, schema=ibis.schema({"mn": "string", "source_type": "string"}))
    return {"minute": minute, "month": month, "points": points, "limits": limits,
            "ranges": analyser_ranges(params, limits, th), "params": params,
            "maintenance": maintenance, "marks": marks, "keys": keys, "thresholds": th}


def history_minutes(con: Any, month: str, limits: ir.Table, keys: list[str],
                    th: Thresholds) -> ir.Table | None:
    """Minute rows of the months before ``month`` for ``pinned_under_limit``'s history test.

    Reads up to ``pinned_under_limit.history_months`` calendar months before ``month`` (CST),
    whichever of them hold minute data, only of the points and pollutants that have a limit
    (``limits``: mn, pollutant, ...) and only the columns the hours of ``keys`` need. Returns
    the minutes, or ``None`` when no earlier month has data (a first month
    is judged alone).
    """
    from lantian.engine.backends import minute_table
    from lantian.engine.hours import column_of

    lim = con.execute(limits.select("mn", "pollutant"))
    if not set(keys) & set(lim["pollutant"]):
        return None
    first = pd.Period(month, "M")
    n = int(th.get("pinned_under_limit", "history_months"))
    parts = []
    for i in range(1, n + 1):
        t = minute_table(con, str(first - i))
        if int(con.execute(t.limit(1).count())):
            parts.append(t)
    if not parts:
        return None
    t = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    cols = {"mn", "ts"}
    for k in (*keys, "o2", "flow", "temp"):
        cols |= {column_of(k), f"{k}_flag"}
    t = t.select(*[c for c in t.columns if c in cols or c.endswith("_flag")])
    pts = lim[["mn"]].drop_duplicates().astype({"mn": "string"})
    mns = ibis.memtable(pts, schema=ibis.schema({"mn": "string"})).rename(_hmn="mn")
    return t.semi_join(mns, t.mn == mns._hmn)


def limit_memory(con: Any, memory_limit: str = "5GB", temp_dir: str | None = None,
                 max_temp: str | None = None) -> str | None:
    """Bound a DuckDB backend's memory and its spill to disk; no-op on other engines.

    ``qc`` keeps the running minutes and hours as temporary tables; with ``memory_limit``
    (DuckDB syntax, default 5 GB so the process stays under the 8 GiB of DESIGN.md §6) and a
    ``temp_directory`` (a new temporary directory unless ``temp_dir`` is given) DuckDB moves
    what does not fit to disk instead of growing. ``max_temp`` (DuckDB syntax) caps what it
    may write there; by default :func:`spill_cap`, half of the disk space free at the start
    (DuckDB's own default is 90 %: session 17, a 5,000-point job spilled 35 GB on a shared
    disk with 38 GB free). A query that needs more fails with DuckDB's out-of-space error
    instead of filling the disk. Returns the directory used, or ``None``.
    """
    import tempfile

    if getattr(con, "name", "") != "duckdb":
        return None
    path = temp_dir or tempfile.mkdtemp(prefix="lantian-qc-")
    con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    con.raw_sql(f"SET temp_directory = '{path}'")
    con.raw_sql(f"SET max_temp_directory_size = '{max_temp or spill_cap(path)}'")
    return path


def spill_cap(path: str, share: float = 0.5) -> str:
    """Return the most a spill to ``path`` may take: ``share`` of the space free there [MB].

    In DuckDB's size syntax (``"17000MB"``), at least 1 MB. Half by default: the rest of
    the disk stays for the other users of a shared machine and for the job's own output.
    """
    import shutil

    free = shutil.disk_usage(path).free
    return f"{max(1, int(free * share / 1e6))}MB"
