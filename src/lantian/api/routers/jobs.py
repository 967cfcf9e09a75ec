"""Jobs API (后台任务): start long work, poll its progress, download its files.

``POST /api/jobs`` ``{"kind": "monthly_report", "month": "YYYY-MM", "enterprise_id": N}``
→ 202 ``{"id": …}``; ``GET /api/jobs/{id}`` → state, ``done``/``total``, message, result;
``GET /api/jobs/{id}/files/{name}`` → a file the job wrote. ``monthly_report`` needs the
enterprise in the caller's scope; ``ledgers`` and ``assess`` span every enterprise and are
for administrators. A job is visible to whoever started it and to administrators. Times are
China Standard Time.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from lantian.api import queries as q
from lantian.api.auth import Principal
from lantian.api.deps import Database, Db, OptionalUser
from lantian.api.export import cell
from lantian.api.jobs import JobQueueFullError, JobRunner, get_job, job_dir
from lantian.errors import NotFoundError

__all__ = ["JobRequest", "router", "runner", "start_import", "start_job", "visible_job"]

router = APIRouter(tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**62)]


class JobRequest(BaseModel):
    """A job to start."""

    kind: str = Field(pattern="^(monthly_report|ledgers|assess)$")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    enterprise_id: int | None = Field(default=None, ge=1, le=2**62)
    bureau: str | None = Field(default=None, max_length=60)


def runner(request: Request) -> JobRunner:
    """Return the app's job runner (created on first use)."""
    app = request.app
    if getattr(app.state, "jobs", None) is None:
        db: Database = app.state.db
        app.state.jobs = JobRunner(db.cursor, db.path)
    jr: JobRunner = app.state.jobs
    return jr


def _need_user(user: Principal | None) -> Principal:
    if user is None:
        raise HTTPException(401, "login required")
    return user


def start_job(request: Request, db: Database, user: Principal, req: JobRequest) -> int:
    """Check the caller may run ``req`` and queue it; return the job id."""
    params: dict[str, Any] = {"month": req.month}
    if req.kind == "monthly_report":
        if req.enterprise_id is None or q.enterprise_detail(db, user, req.enterprise_id) is None:
            raise HTTPException(404, "enterprise not found or outside your scope")
        params["enterprise_id"] = req.enterprise_id
        if req.bureau:
            params["bureau"] = req.bureau
    elif not user.is_admin:
        raise HTTPException(403, f"{req.kind} jobs span every enterprise: administrators only")
    return _submit(request, req.kind, params, user.name)


def _submit(request: Request, kind: str, params: dict[str, Any], who: str,
            files: dict[str, bytes] | None = None) -> int:
    try:
        return runner(request).submit(kind, params, who, files)
    except JobQueueFullError as exc:
        raise HTTPException(429, str(exc)) from None


def visible_job(db: Database, user: Principal, job_id: int) -> dict[str, Any]:
    """Return the job if the caller started it or is an administrator, else 404."""
    try:
        with db.cursor() as cur:
            job = get_job(cur, job_id)
    except NotFoundError:
        raise HTTPException(404, "job not found") from None
    if not user.is_admin and job["created_by"] != user.name:
        raise HTTPException(404, "job not found")
    return job


@router.post("/api/jobs", status_code=202)
def create_job(request: Request, db: Db, user: OptionalUser, req: JobRequest) -> dict[str, Any]:
    """Start a job; poll ``GET /api/jobs/{id}``."""
    job_id = start_job(request, db, _need_user(user), req)
    return {"id": job_id, "url": f"/api/jobs/{job_id}"}


MAX_UPLOAD = 200 * 1024 * 1024
"""Largest packet file accepted by upload [bytes]."""


@router.post("/api/jobs/import-packets", status_code=202)
async def create_import_job(request: Request, db: Db, user: OptionalUser,
                            file: UploadFile) -> dict[str, Any]:
    """Upload a file of HJ 212 packets (one per line) and import it as a job (admins)."""
    job_id = await start_import(request, _need_user(user), file)
    return {"id": job_id, "url": f"/api/jobs/{job_id}"}


async def start_import(request: Request, who: Principal, file: UploadFile) -> int:
    """Check the caller is an administrator, store the upload and queue the import job."""
    if not who.is_admin:
        raise HTTPException(403, "imports are for administrators")
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"file larger than {MAX_UPLOAD} bytes")
    name = "packets.txt"
    return _submit(request, "import_packets", {"file": name, "upload": file.filename or name},
                   who.name, files={name: data})


@router.get("/api/jobs/{job_id}")
def read_job(db: Db, user: OptionalUser, job_id: JobId) -> dict[str, Any]:
    """State, progress (``done`` of ``total`` steps, ``percent``), message and result."""
    job = visible_job(db, _need_user(user), job_id)
    pct = 100.0 if job["state"] == "done" else (
        round(100 * job["done"] / job["total"], 1) if job["total"] else 0.0)
    files = (job["result"] or {}).get("files", [])
    return {**cell(job), "percent": pct,
            "downloads": [f"/api/jobs/{job_id}/files/{f}" for f in files]}


@router.get("/api/jobs/{job_id}/files/{name}")
def job_file(db: Db, user: OptionalUser, job_id: JobId, name: str) -> FileResponse:
    """Download a file the job wrote (only names listed in its result)."""
    job = visible_job(db, _need_user(user), job_id)
    if name not in (job["result"] or {}).get("files", []):
        raise HTTPException(404, "no such file")
    path = job_dir(db.path, job_id) / name
    if not path.is_file():
        raise HTTPException(404, "file no longer on disk")
    media = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    return FileResponse(path, media_type=media.get(name.rsplit(".", 1)[-1],
                                                   "application/octet-stream"), filename=name)
