"""Login, logout and "who am I" for API clients (bearer tokens)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from lantian.api.auth import SESSION_HOURS, authenticate, create_session, drop_session
from lantian.api.deps import Db, User, audit
from lantian.api.export import cell
from lantian.api.problems import Problem

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/login", summary="Log in; returns a bearer token (shown once)")
def login(body: Login, db: Db, request: Request) -> dict[str, Any]:
    """Check the password and open a session of ``SESSION_HOURS`` hours."""
    with db.cursor() as cur:
        principal = authenticate(cur, body.name, body.password)
        if principal is None:
            peer = request.client.host if request.client else None
            audit(db, body.name, "login.failed", "api", peer)
            raise Problem(401, "wrong user name or password")
        token, expires = create_session(cur, principal, "bearer")
    audit(db, principal.name, "login", "api", None)
    return {"token": token, "token_type": "bearer", "expires_at": cell(expires),
            "hours": SESSION_HOURS, "role": principal.role.value}


@router.post("/logout", summary="End the calling session")
def logout(request: Request, db: Db, user: User) -> dict[str, Any]:
    """Delete the session of the bearer token or cookie used."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or request.cookies.get("lantian_session")
    if token:
        with db.cursor() as cur:
            drop_session(cur, token)
        db.forget(token)
    audit(db, user.name, "logout", "api", None)
    return {"ok": True}


@router.get("/me", summary="The calling user, role and scope codes")
def me(user: User) -> dict[str, Any]:
    """Who is calling."""
    return {"name": user.name, "role": user.role.value, "scope": list(user.scope)}
