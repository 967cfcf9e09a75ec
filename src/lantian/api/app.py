"""The Lantian web application: HTTP API under ``/api/``, pages, static files.

``lantian serve`` mounts it next to the HJ 212 gateway, sharing its DuckDB connection::

    app = create_app(db_path, con=con)           # con: the gateway's writer connection
    uvicorn.Server(uvicorn.Config(app, host=..., port=..., ssl_certfile=..., ssl_keyfile=...))

Each request takes its own cursor (``con.cursor()``). With TLS give
``secure_cookies=True`` (cookies are also marked Secure on any https request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from lantian.api.deps import Database
from lantian.api.problems import install_handlers
from lantian.api.routers import (
    admin,
    auth,
    catalog,
    data,
    ledger_pages,
    ledgers,
    marks,
    pages,
    public,
    registry,
)
from lantian.api.routers import reports as reports_router

__all__ = ["create_app", "iter_routes"]

_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'")


def iter_routes(app: FastAPI) -> list[tuple[str, frozenset[str]]]:
    """Every HTTP route of ``app`` as (full path, methods), included routers flattened."""
    out: list[tuple[str, frozenset[str]]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                ctx = getattr(r, "include_context", None)
                walk(list(inner.routes), prefix + (getattr(ctx, "prefix", "") or ""))
            elif getattr(r, "methods", None):
                out.append((prefix + r.path, frozenset(r.methods)))

    walk(list(app.routes), "")
    return out


def create_app(db_path: Path | str, *, con: duckdb.DuckDBPyConnection | None = None,
               secure_cookies: bool = False, online_minutes: int = 10) -> FastAPI:
    """Build the app over the DuckDB file ``db_path``.

    Parameters
    ----------
    db_path
        The Lantian database (created and migrated if missing when ``con`` is not given).
    con
        An open connection to share (``lantian serve`` owns the single writer); requests use
        ``con.cursor()``. When omitted the app opens ``db_path`` itself and closes it on
        shutdown.
    secure_cookies
        Mark the session cookie Secure (set when serving TLS).
    online_minutes
        A logger counts as online on the live page when its last accepted packet is at most
        this many minutes old [min].

    """
    db = Database(db_path, con)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs = getattr(app.state, "jobs", None)
        if jobs is not None:  # a running report must not hold the connection being closed
            jobs.stop()
        db.close()

    app = FastAPI(title="Lantian 蓝天 API", version="0.1.0", lifespan=lifespan,
                  description="Supervision of industrial air emissions. All times are China "
                  "Standard Time (中国标准时间, UTC+8) wall-clock, ISO YYYY-MM-DDTHH:MM:SS.")
    app.state.db = db
    app.state.secure_cookies = secure_cookies
    app.state.online_minutes = online_minutes
    install_handlers(app)
    for r in (auth, public, registry, data, catalog, ledgers, marks, admin, pages):
        app.include_router(r.router)
    app.include_router(reports_router.router)  # reports, jobs, air-quality pages
    app.include_router(ledger_pages.router)  # ledger API routes and pages
    static = resources.files("lantian.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.middleware("http")
    async def _headers(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", _CSP)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.url.path.startswith("/api/") and "cache-control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
