"""Hourly and minute data, outlet charts, overview, monthly verdicts, quality, live status.

All times are China Standard Time wall-clock, ISO ``YYYY-MM-DDTHH:MM:SS``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from lantian.api import queries as q
from lantian.api.charts import outlet_chart
from lantian.api.deps import Db, User, require_principal
from lantian.api.export import TableFormat, cell, respond
from lantian.api.params import District, Fmt, Month, Sector, cst_now, this_month
from lantian.api.problems import Problem

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["data"], dependencies=[Depends(require_principal)])

MAX_SPAN = {"hour": dt.timedelta(days=366), "minute": dt.timedelta(days=31)}
Mn = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[\w-]+$",
                         description="HJ 212 MN of the monitoring point")]
Start = Annotated[dt.datetime, Query(description="first time included (CST)")]
End = Annotated[dt.datetime, Query(description="first time excluded (CST)")]
Limit = Annotated[int, Query(ge=1, le=10000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Id = Annotated[int, Path(ge=1, le=2**62)]


def _window(kind: str, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    if end <= start:
        raise Problem(422, "end must be after start")
    if end - start > MAX_SPAN[kind]:
        raise Problem(422, f"{kind} data: ask for at most {MAX_SPAN[kind].days} days at a time")
    return start, end


def _series(kind: str, mn: str, start: dt.datetime, end: dt.datetime, limit: int, offset: int,
            fmt: TableFormat, db: Any, user: Any) -> Response:
    start, end = _window(kind, start, end)
    if not q.point_visible(db, user, mn):
        raise Problem(404, "monitoring point not found (or outside your scope)")
    rows = q.series(db, user, kind, [mn], start, end, limit, offset)
    return respond(rows, fmt, f"{kind}_{mn}", db, user,
                   {"limit": limit, "offset": offset, "time_zone": "Asia/Shanghai"})


@router.get("/points/{mn}/hour", summary="Hourly data of a point, paged and time-bounded")
def hour_data(mn: Mn, start: Start, end: End, db: Db, user: User, limit: Limit = 1000,
              offset: Offset = 0, fmt: Fmt = TableFormat.json) -> Response:
    """Rows of ``flue_hour`` with ``start <= ts < end`` (at most 366 days)."""
    return _series("hour", mn, start, end, limit, offset, fmt, db, user)


@router.get("/points/{mn}/minute", summary="Minute data of a point, paged and time-bounded")
def minute_data(mn: Mn, start: Start, end: End, db: Db, user: User, limit: Limit = 1000,
                offset: Offset = 0, fmt: Fmt = TableFormat.json) -> Response:
    """Rows of ``flue_minute`` with ``start <= ts < end`` (at most 31 days)."""
    return _series("minute", mn, start, end, limit, offset, fmt, db, user)


@router.get("/outlets/{outlet_id}/chart", summary="Chart data of an outlet (limit lines, flags)")
def chart(outlet_id: Id, db: Db, user: User,
          kind: Annotated[Literal["hour", "minute"], Query()] = "hour",
          start: Annotated[dt.datetime | None, Query()] = None,
          end: Annotated[dt.datetime | None, Query()] = None) -> dict[str, Any]:
    """Return chart data of the outlet's points.

    Measured and corrected values per pollutant with the limit in force, invalid periods,
    exceedances and quality events; O2 and flow. Default window: the last 7 days (hour) or
    the last day (minute) up to now (CST).
    """
    outlet = q.outlet_detail(db, user, outlet_id)
    if outlet is None:
        raise Problem(404, f"outlet {outlet_id} not found")
    end = end or cst_now()
    start = start or end - (dt.timedelta(days=7) if kind == "hour" else dt.timedelta(days=1))
    start, end = _window(kind, start, end)
    max_rows = int(MAX_SPAN[kind].total_seconds() // (3600 if kind == "hour" else 60))
    return outlet_chart(db, user, outlet_id, kind, start, end, max_rows, outlet)


@router.get("/overview", summary="Enterprises with this month's ULE verdict, trust, alerts")
def overview(db: Db, user: User, month: Month = None, district: District = None,
             sector: Sector = None, fmt: Fmt = TableFormat.json) -> Response:
    """Overview of the month (default: this month, CST) for the caller's jurisdiction."""
    m = this_month(month)
    rows = q.overview(db, user, m, district, sector)
    judged = [r for r in rows.rows if r["verdict"] is not None]
    passed = sum(1 for r in judged if r["verdict"] == "pass")
    summary = {"month": m, "enterprises": len(rows.rows), "assessed": len(judged),
               "passed": passed, "pass_ratio": round(passed / len(judged), 4) if judged else None}
    return respond(rows, fmt, f"overview_{m}", db, user, {"summary": summary})


@router.get("/verdicts", summary="Monthly ULE verdicts (engine table month_ule_verdict)")
def verdicts(db: Db, user: User, month: Month = None,
             enterprise_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
             fmt: Fmt = TableFormat.json) -> Response:
    """Verdicts in scope; all months when ``month`` is omitted."""
    return respond(q.verdicts(db, user, month, enterprise_id), fmt, "verdicts", db, user)


@router.get("/quality/events", summary="Quality events with evidence")
def quality_events(db: Db, user: User, month: Month = None,
                   detector: Annotated[str | None, Query(max_length=40, pattern=r"^\w+$")] = None,
                   fmt: Fmt = TableFormat.json) -> Response:
    """Events of the month (default: this month, CST) in scope."""
    m = this_month(month)
    return respond(q.quality_events(db, user, m, detector), fmt, f"quality_events_{m}", db, user)


@router.get("/quality/trust", summary="Monthly trust score per point, lowest first")
def trust(db: Db, user: User, month: Month = None, fmt: Fmt = TableFormat.json) -> Response:
    """Trust ranking of the month in scope."""
    m = this_month(month)
    return respond(q.trust_scores(db, user, m), fmt, f"trust_{m}", db, user)


@router.get("/quality", summary="Quality summary: events by detector, lowest trust scores")
def quality_summary(db: Db, user: User, month: Month = None,
                    limit: Annotated[int, Query(ge=1, le=10000)] = 50) -> dict[str, Any]:
    """Count events per detector and list the ``limit`` lowest trust scores of the month."""
    m = this_month(month)
    by_det = q.event_counts(db, user, m)
    ranking = [cell(r) for r in q.trust_scores(db, user, m, limit).rows]
    return {"month": m, "events": sum(by_det.values()), "by_detector": by_det,
            "trust": ranking}


@router.get("/quality/contractors", summary="O&M contractor view: points, mean trust, events")
def contractors(db: Db, user: User, month: Month = None,
                fmt: Fmt = TableFormat.json) -> Response:
    """Per maintainer account: points in the caller's scope, mean trust, events of the month."""
    m = this_month(month)
    return respond(q.contractor_view(db, user, m), fmt, f"contractors_{m}", db, user)


@router.get("/live/points", summary="Loggers online/offline with their last packet")
def live_points(request: Request, db: Db, user: User, fmt: Fmt = TableFormat.json) -> Response:
    """Online = an accepted packet within the server's ``online_minutes`` (CST)."""
    minutes = request.app.state.online_minutes
    return respond(q.live_points(db, user, cst_now(), minutes), fmt, "live", db, user,
                   {"online_minutes": minutes})


@router.get("/live/rejected", summary="Latest rejected packets (traffic the gateway refused)")
def rejected(db: Db, user: User, fmt: Fmt = TableFormat.json) -> Response:
    """Rejected traffic; packets from unknown MNs only for admins."""
    return respond(q.rejected_traffic(db, user), fmt, "rejected", db, user)


@router.get("/live/gateway", summary="Gateway counters (admin): connections, frames, rejects")
def gateway_status(request: Request, user: User) -> dict[str, Any]:
    """Status of the HJ 212 gateway running in this process (``lantian serve``)."""
    if not user.is_admin:
        raise Problem(403, "only an admin may do this")
    gw = getattr(request.app.state, "gateway", None)
    status = getattr(gw, "status", None)
    if status is None or not hasattr(status, "as_dict"):
        return {"running": False}
    return {"running": True, **status.as_dict()}
