"""Air-quality pages (环境空气质量).

AQI calendar and hourly AQI of a station, city or district; composite-index ranking with
good-day ratio and heavy-pollution days; district and city targets with gap and year-end
projection. Times are China Standard Time.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lantian.api.deps import Db, OptionalUser
from lantian.api.params import Month, cst_now, this_month
from lantian.api.routers.pages import _render, _to_login
from lantian.reports import airquality as aq

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Level = Annotated[Literal["station", "city", "district"], Query()]
Place = Annotated[str | None, Query(min_length=1, max_length=60)]


def _last_data_month(db: Db) -> str | None:
    with db.cursor() as cur:
        rows = cur.execute("SELECT max(ts) FROM aq_hour").fetchall()
    return None if not rows or rows[0][0] is None else rows[0][0].strftime("%Y-%m")


@router.get("/aq")
def aq_page(request: Request, db: Db, user: OptionalUser, month: Month = None,
            level: Level = "city", place: Place = None,
            day: Annotated[dt.date | None, Query()] = None) -> Response:
    """AQI calendar of one place for a month and the hourly AQI of one of its days."""
    if user is None:
        return _to_login(request)
    m = this_month(month or _last_data_month(db))
    with db.cursor() as cur:
        known = aq.places(cur)
        options = known[level]
        place = place if place in options else (options[0] if options else None)
        cal = aq.calendar(cur, place, level, m) if place else []
        with_data = [c for c in cal if c["aqi"] is not None]
        if day is None and with_data:
            day = with_data[-1]["day"]
        hours = aq.hourly(cur, place, level, day) if place and day else []
    good = sum(1 for c in with_data if c["level"] is not None and c["level"] <= 2)
    heavy = sum(1 for c in with_data if c["aqi"] > 200)
    first = dt.date.fromisoformat(f"{m}-01")
    return _render(request, "aq_calendar.html", user, month=m, level=level, place=place,
                   options=options, cal=cal, day=day, hours=hours, first=first,
                   aqi_days=len(with_data), good=good, heavy=heavy)


@router.get("/aq/ranking")
def aq_ranking_page(request: Request, db: Db, user: OptionalUser, month: Month = None,
                    level: Annotated[Literal["city", "district", "station"], Query()] = "city",
                    ) -> Response:
    """Composite-index ranking (1 = cleanest) with good-day ratio and heavy days."""
    if user is None:
        return _to_login(request)
    m = this_month(month or _last_data_month(db))
    with db.cursor() as cur:
        rows = aq.ranking(cur, m, level)
    return _render(request, "aq_ranking.html", user, month=m, level=level, rows=rows)


@router.get("/aq/targets")
def aq_targets_page(request: Request, db: Db, user: OptionalUser,
                    as_of: Annotated[dt.date | None, Query()] = None) -> Response:
    """District and city targets: year-to-date mean, gap, year-end projection."""
    if user is None:
        return _to_login(request)
    if as_of is None:
        with db.cursor() as cur:
            last = cur.execute("SELECT max(ts) FROM aq_hour").fetchall()[0][0]
        as_of = last.date() if last is not None else cst_now().date()
    with db.cursor() as cur:
        rows = aq.targets(cur, as_of)
    return _render(request, "aq_targets.html", user, as_of=as_of, rows=rows)
