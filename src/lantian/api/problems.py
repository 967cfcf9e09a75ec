"""Errors as ``application/problem+json`` (RFC 9457), never a stack trace to clients."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lantian.errors import ConfigurationError, LantianError, LedgerRuleError, NotFoundError

__all__ = ["PROBLEM_JSON", "Problem", "install_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Content",
    500: "Internal Server Error", 503: "Service Unavailable",
}
_log = logging.getLogger("lantian.api")


class Problem(Exception):
    """An error to send as problem+json with ``status`` and a one-line ``detail``."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def problem_response(status: int, detail: str, **extra: Any) -> JSONResponse:
    """Build the problem+json response."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
            "detail": detail, **extra}
    headers = {"WWW-Authenticate": 'Bearer realm="lantian"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body",))
        errors.append({"field": loc, "message": str(err.get("msg", "invalid"))})
    first = errors[0] if errors else {"field": "", "message": "invalid input"}
    return f"invalid input: {first['field']}: {first['message']}", errors


def install_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem_response(422, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail))

    @app.exception_handler(NotFoundError)
    async def _missing(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem_response(404, str(exc))

    @app.exception_handler(ConfigurationError)
    async def _bad(request: Request, exc: ConfigurationError) -> JSONResponse:
        return problem_response(400, str(exc))

    @app.exception_handler(LedgerRuleError)
    async def _rule(request: Request, exc: LedgerRuleError) -> JSONResponse:
        return problem_response(409, str(exc))

    @app.exception_handler(LantianError)
    async def _lantian(request: Request, exc: LantianError) -> JSONResponse:
        _log.warning("request %s failed: %s", request.url.path, exc)
        return problem_response(503, f"the data could not be read: {exc}")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error on %s", request.url.path)
        return problem_response(500, "internal error; the server log has the details")
