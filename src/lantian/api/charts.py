"""Chart data of an outlet.

Each pollutant's measured and corrected (折算) values, its limit line, flags and invalid
periods, exceedances and quality events; O2 and flow beside.

Times are China Standard Time wall-clock. Measured = the main wide column (``so2_mg_m3``);
corrected = the logger's converted value at reference O2 (``so2_zs``, HJ 212-2017 ZsAvg);
a period is shaded invalid when its flag is not ``N`` (HJ 212-2017 Table B.5 data flags:
N normal; F stopped, M maintenance, S manual, D fault, C calibration, T over range,
B communication fault). An exceedance is an hour (or minute) whose corrected value, or the
measured value when no corrected value was sent, is above the limit in force.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lantian.api import queries as q
from lantian.api.auth import Principal
from lantian.api.deps import Database
from lantian.api.export import cell
from lantian.catalog.glossary import glossary

__all__ = ["outlet_chart"]


def _concentrations() -> list[Any]:
    return [e for e in glossary() if e.kind == "concentration"]


def _columns(db: Database, table: str) -> list[str]:
    have = db.columns(table)
    cols = []
    for e in _concentrations():
        cols += [c for c in (e.column, f"{e.key}_zs", f"{e.key}_flag") if c in have]
    return cols + [c for c in ("o2_pct", "o2_flag", "flow_m3_s", "flow_flag") if c in have]


def _num(values: list[Any]) -> list[float | None]:
    """Floats as JSON numbers (NaN and inf become ``None``)."""
    return [v if v is not None and v == v and v not in (_INF, -_INF) else None for v in values]


_INF = float("inf")


def _invalid_spans(ts: list[Any], flags: list[Any], step: dt.timedelta) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for t, f in zip(ts, flags, strict=True):
        if f is None or f == "N":
            continue
        if spans and spans[-1]["flag"] == f and spans[-1]["_end"] == t:
            spans[-1]["_end"] = t + step
            continue
        spans.append({"start": t, "_end": t + step, "flag": f})
    return [{"start": cell(s["start"]), "end": cell(s["_end"]), "flag": s["flag"]} for s in spans]


def _point_series(rows: list[dict[str, Any]], limits: dict[str, float],
                  step: dt.timedelta) -> dict[str, Any]:
    ts = [r["ts"] for r in rows]
    pollutants: dict[str, Any] = {}
    exceed: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for e in _concentrations():
        measured = [r.get(e.column) for r in rows]
        corrected = [r.get(f"{e.key}_zs") for r in rows]
        if all(v is None for v in measured) and all(v is None for v in corrected):
            continue
        flags = [r.get(f"{e.key}_flag") for r in rows]
        limit = limits.get(e.key)
        pollutants[e.key] = {"name_zh": e.name_zh, "name_en": e.name_en, "unit": e.unit,
                             "measured": _num(measured),
                             "corrected": _num(corrected),
                             "flag": flags, "limit": limit}
        if limit is not None:
            for t, m, c in zip(ts, measured, corrected, strict=True):
                v = c if c is not None else m
                if v is not None and v > limit:
                    exceed.append({"ts": cell(t), "pollutant": e.key, "value": v, "limit": limit})
        invalid += [{**s, "pollutant": e.key} for s in _invalid_spans(ts, flags, step)]
    return {"ts": [t.isoformat() for t in ts], "pollutants": pollutants,
            "o2_pct": _num([r.get("o2_pct") for r in rows]),
            "flow_m3_s": _num([r.get("flow_m3_s") for r in rows]),
            "invalid": invalid, "exceedances": exceed}


def outlet_chart(db: Database, p: Principal, outlet_id: int, kind: str, start: dt.datetime,
                 end: dt.datetime, max_rows: int,
                 outlet: dict[str, Any] | None = None) -> dict[str, Any]:
    """Chart data of every monitoring point of ``outlet_id`` in scope, ``start <= ts < end``.

    ``outlet`` is the outlet row when the caller has already read it in scope.
    """
    mns = [r["mn"] for r in q.points(db, p, outlet_id).rows]
    limits = q.limits_for_outlet(db, p, outlet_id, start, outlet)
    step = dt.timedelta(hours=1) if kind == "hour" else dt.timedelta(minutes=1)
    table = q.SERIES_TABLES[kind]
    rows = q.series(db, p, kind, mns, start, end, max_rows * max(len(mns), 1), 0,
                    _columns(db, table), with_total=False).rows if mns else []
    per_point: dict[str, list[dict[str, Any]]] = {mn: [] for mn in mns}
    for r in rows:
        per_point[r["mn"]].append(r)
    events = [cell(ev) for mn in mns
              for ev in q.quality_events(db, p, None, None, mn, (start, end)).rows]
    return {"outlet_id": outlet_id, "kind": kind, "start": cell(start), "end": cell(end),
            "time_zone": "China Standard Time (UTC+8)", "limits_mg_m3": limits,
            "points": {mn: _point_series(rs, limits, step) for mn, rs in per_point.items()},
            "quality_events": events, "truncated": len(rows) >= max_rows * max(len(mns), 1)}
