"""Enterprises, outlets and monitoring points in the caller's scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from lantian.api import queries as q
from lantian.api.deps import Db, User, require_principal
from lantian.api.export import TableFormat, cell, respond
from lantian.api.params import District, Fmt, Sector, cst_now
from lantian.api.problems import Problem

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["registry"], dependencies=[Depends(require_principal)])
EntId = Annotated[int, Path(ge=1, le=2**62)]
OptId = Annotated[int | None, Query(ge=1, le=2**62)]


@router.get("/enterprises", summary="Enterprises (filters: district code prefix, sector)")
def list_enterprises(db: Db, user: User, district: District = None, sector: Sector = None,
                     fmt: Fmt = TableFormat.json) -> Response:
    """Enterprises the caller may see."""
    return respond(q.enterprises(db, user, district, sector), fmt, "enterprises", db, user)


@router.get("/enterprises/{enterprise_id}", summary="One enterprise with its outlets")
def get_enterprise(enterprise_id: EntId, db: Db, user: User) -> dict[str, Any]:
    """404 when it does not exist or lies outside the caller's scope."""
    ent = q.enterprise_detail(db, user, enterprise_id)
    if ent is None:
        raise Problem(404, f"enterprise {enterprise_id} not found")
    outs = q.outlets(db, user, enterprise_id).rows
    return {**{k: cell(v) for k, v in ent.items()}, "outlets": [cell(o) for o in outs]}


@router.get("/outlets", summary="Outlets (optionally of one enterprise)")
def list_outlets(db: Db, user: User, enterprise_id: OptId = None,
                 fmt: Fmt = TableFormat.json) -> Response:
    """Outlets the caller may see."""
    return respond(q.outlets(db, user, enterprise_id), fmt, "outlets", db, user)


@router.get("/outlets/{outlet_id}", summary="One outlet with its points and limits in force")
def get_outlet(outlet_id: EntId, db: Db, user: User) -> dict[str, Any]:
    """404 when it does not exist or lies outside the caller's scope."""
    out = q.outlet_detail(db, user, outlet_id)
    if out is None:
        raise Problem(404, f"outlet {outlet_id} not found")
    pts = q.points(db, user, outlet_id).rows
    limits = q.limits_for_outlet(db, user, outlet_id, cst_now())
    return {**cell(out), "points": [cell(p) for p in pts], "limits_mg_m3": limits}


@router.get("/points", summary="Monitoring points (never their password)")
def list_points(db: Db, user: User, outlet_id: OptId = None,
                fmt: Fmt = TableFormat.json) -> Response:
    """List the monitoring points the caller may see."""
    return respond(q.points(db, user, outlet_id), fmt, "points", db, user)
