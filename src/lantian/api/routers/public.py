"""Public disclosure (信息公开): the only data served without login.

Enterprises that passed the monthly ULE assessment and public air-quality figures. Nothing
else (no MN, no measured values of stacks, no quality events) leaves through here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lantian.api import queries as q
from lantian.api.auth import Principal, Role
from lantian.api.deps import Db
from lantian.api.export import cell
from lantian.api.params import Month, this_month

__all__ = ["router"]

router = APIRouter(prefix="/api/public", tags=["public"])
_PUBLIC = Principal(0, "public", Role.admin)
_PUBLIC_COLUMNS = ("name", "credit_code", "sector", "district_code")


@router.get("/ule-enterprises", summary="Enterprises that passed the month's ULE assessment")
def ule_enterprises(db: Db, month: Month = None) -> dict[str, Any]:
    """List enterprises whose every assessed point passed in ``month``.

    Names, credit codes, sectors and districts only; default month: this month (CST).
    """
    m = this_month(month)
    rows = q.overview(db, _PUBLIC, m).rows
    items = [{k: cell(r[k]) for k in _PUBLIC_COLUMNS} for r in rows if r["verdict"] == "pass"]
    return {"month": m, "items": items}


@router.get("/air-quality", summary="Latest public air-quality figures (table aq_hour)")
def air_quality(db: Db) -> dict[str, Any]:
    """Rows of the latest hour in ``aq_hour`` (times CST); empty until air quality lands."""
    cols = db.columns("aq_hour")
    if "ts" not in cols:
        return {"ts": None, "items": []}
    with db.cursor() as cur:
        res = cur.execute("SELECT * FROM aq_hour WHERE ts = (SELECT max(ts) FROM aq_hour) "
                          "LIMIT 2000")
        names = [d[0] for d in res.description]
        rows = [dict(zip(names, r, strict=True)) for r in res.fetchall()]
    ts = rows[0]["ts"] if rows else None
    return {"ts": cell(ts), "time_zone": "Asia/Shanghai", "items": [cell(r) for r in rows]}
