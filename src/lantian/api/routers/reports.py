"""Report pages (报告).

Pick an enterprise and month, generate the monthly report as a job, watch its progress
and download the PDF/HTML (Excel ledgers for administrators).

This router also carries the jobs API (:mod:`lantian.api.routers.jobs`) and the air-quality
pages (:mod:`lantian.api.routers.aq_pages`), so the app includes one router for all three.
Times are China Standard Time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from lantian.api import queries as q
from lantian.api.deps import Db, OptionalUser
from lantian.api.params import Month, this_month
from lantian.api.routers import aq_pages, jobs
from lantian.api.routers.jobs import JobId, JobRequest, start_import, start_job, visible_job
from lantian.api.routers.pages import _render, _to_login

__all__ = ["router"]

router = APIRouter()  # pages below are left out of the OpenAPI schema one by one
router.include_router(jobs.router)
router.include_router(aq_pages.router)


@router.get("/reports", include_in_schema=False)
def reports_page(request: Request, db: Db, user: OptionalUser, month: Month = None,
                 enterprise: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
    """Form: monthly report of one enterprise (and, for admins, the month's Excel ledgers)."""
    if user is None:
        return _to_login(request)
    ents = q.enterprises(db, user).rows
    with db.cursor() as cur:
        sql = ("SELECT id, kind, params, state, created_at FROM job WHERE created_by = ? "
               "ORDER BY id DESC LIMIT 20")
        recent = cur.execute(sql, [user.name]).fetchall()
    return _render(request, "reports.html", user, ents=ents, month=this_month(month),
                   selected=enterprise, recent=recent)


@router.post("/reports/jobs", include_in_schema=False)
def start_report_job(request: Request, db: Db, user: OptionalUser,
                     kind: Annotated[str, Form(max_length=20)],
                     month: Annotated[str, Form(max_length=7)],
                     enterprise_id: Annotated[int | None, Form(ge=1, le=2**62)] = None,
                     bureau: Annotated[str | None, Form(max_length=60)] = None) -> Response:
    """Queue the job and go to its progress page."""
    if user is None:
        return _to_login(request)
    try:
        req = JobRequest(kind=kind, month=month, enterprise_id=enterprise_id,
                         bureau=bureau or None)
    except ValueError as exc:
        raise HTTPException(422, "bad month or kind") from exc
    job_id = start_job(request, db, user, req)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/reports/import", include_in_schema=False)
async def start_import_job(request: Request, db: Db, user: OptionalUser,
                           file: UploadFile) -> Response:
    """Upload an HJ 212 packet file (admins); go to the import job's progress page."""
    if user is None:
        return _to_login(request)
    job_id = await start_import(request, user, file)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}", include_in_schema=False)
def job_page(request: Request, db: Db, user: OptionalUser, job_id: JobId) -> Response:
    """Progress bar polled from ``/api/jobs/{id}``; download links when done."""
    if user is None:
        return _to_login(request)
    return _render(request, "jobs.html", user, job=visible_job(db, user, job_id))
