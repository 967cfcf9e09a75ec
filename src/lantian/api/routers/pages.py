"""Server-rendered pages (Jinja2): login, overview, enterprise, outlet, quality, live.

Chinese by default; ``?lang=en`` switches to English and is remembered in a cookie. Every
page reads through :mod:`lantian.api.queries`, so the same scope applies as in the API.
Anonymous visitors are redirected to ``/login``.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lantian.api import queries as q
from lantian.api.auth import SESSION_HOURS, Principal, authenticate, create_session, drop_session
from lantian.api.charts import outlet_chart
from lantian.api.deps import COOKIE, Db, OptionalUser, audit, scoped
from lantian.api.export import cell
from lantian.api.params import District, Month, Sector, cst_now, this_month
from lantian.web.i18n import LANGS, translator

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_env = Environment(
    loader=FileSystemLoader(str(resources.files("lantian.web").joinpath("templates"))),
    autoescape=select_autoescape(["html"]),
)
Id = Annotated[int, Path(ge=1, le=2**62)]
PAGE_ROWS = 200
"""Enterprises per overview page."""


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return lang if lang in LANGS else "zh"


def _render(request: Request, name: str, user: Principal | None, *, http_status: int = 200,
            **ctx: Any) -> HTMLResponse:
    lang = _lang(request)
    html = _env.get_template(name).render(t=translator(lang), lang=lang, user=user,
                                          path=request.url.path, now=cst_now(), **ctx)
    resp = HTMLResponse(html, status_code=http_status)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return resp


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _not_found(request: Request, user: Principal) -> HTMLResponse:
    return _render(request, "error.html", user, http_status=404)


@router.get("/")
def home(request: Request, user: OptionalUser) -> Response:
    """Overview when logged in, else the login page."""
    return RedirectResponse("/overview" if user else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str = "/overview") -> Response:
    """Show the login form."""
    return _render(request, "login.html", None, next=next if next.startswith("/") else "/")


@router.post("/login")
def login_form(request: Request, db: Db, name: Annotated[str, Form(max_length=64)],
               password: Annotated[str, Form(max_length=256)],
               next: Annotated[str, Form(max_length=500)] = "/overview") -> Response:
    """Check the password, set the session cookie (HttpOnly; Secure under TLS)."""
    with db.cursor() as cur:
        principal = authenticate(cur, name, password)
        if principal is None:
            audit(db, name, "login.failed", "page", None)
            return _render(request, "login.html", None, http_status=401, error=True,
                           next=next if next.startswith("/") else "/overview")
        token, _ = create_session(cur, principal, "cookie")
    audit(db, principal.name, "login", "page", None)
    target = next if next.startswith("/") and not next.startswith("//") else "/overview"
    resp = RedirectResponse(target, status_code=303)
    secure = request.app.state.secure_cookies or request.url.scheme == "https"
    resp.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True,
                    secure=secure, samesite="strict", path="/")
    return resp


@router.post("/logout")
def logout_form(request: Request, db: Db) -> Response:
    """End the session and go back to the login page."""
    token = request.cookies.get(COOKIE)
    if token:
        with db.cursor() as cur:
            drop_session(cur, token)
        db.forget(token)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/overview")
def overview_page(request: Request, db: Db, user: OptionalUser, month: Month = None,
                  district: District = None, sector: Sector = None,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """Enterprises with this month's ULE verdict, compliance ratio, trust and alerts.

    Failing enterprises first, then not assessed, then passing; ``PAGE_ROWS`` rows a page.
    """
    if user is None:
        return _to_login(request)
    m = this_month(month)
    rows = q.overview(db, user, m, district, sector).rows
    judged = [r for r in rows if r["verdict"] is not None]
    order = {"fail": 0, None: 1, "pass": 2}
    rows.sort(key=lambda r: (order[r["verdict"]], r["compliance_ratio"] or 0, r["id"]))
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_ROWS: page * PAGE_ROWS]
    sectors = q.sectors(db, user)
    query = "&".join(f"{k}={v}" for k, v in
                     (("month", m), ("district", district), ("sector", sector)) if v)
    return _render(request, "overview.html", user, rows=shown, page=page, pages=pages,
                   total=len(rows), month=m, district=district or "",
                   sector=sector or "", sectors=sectors, assessed=len(judged),
                   passed=sum(r["verdict"] == "pass" for r in judged), query=query)


def _last_months(n: int, until: str | None = None) -> list[str]:
    d = dt.datetime.strptime(until, "%Y-%m") if until else cst_now().replace(day=1)
    out = []
    for _ in range(n):
        out.append(d.strftime("%Y-%m"))
        d = (d - dt.timedelta(days=1)).replace(day=1)
    return out[::-1]


@router.get("/enterprises/{enterprise_id}")
def enterprise_page(request: Request, db: Db, user: OptionalUser, enterprise_id: Id,
                    month: Month = None) -> Response:
    """Outlets and monthly verdicts over the 12 months up to ``month`` (default: this one)."""
    if user is None:
        return _to_login(request)
    ent = q.enterprise_detail(db, user, enterprise_id)
    if ent is None:
        return _not_found(request, user)
    months = _last_months(12, month)
    vrows = [cell(v) for v in q.verdicts(db, user, None, enterprise_id).rows]
    vrows = [v for v in vrows if str(v.get("month", v.get("period", "")))[:7] in months]
    vcols = list(vrows[0].keys()) if vrows else []
    return _render(request, "enterprise.html", user, ent=ent,
                   outlets=q.outlets(db, user, enterprise_id).rows, verdicts=vrows,
                   vcols=vcols, months=months)


@router.get("/outlets/{outlet_id}")
def outlet_page(request: Request, db: Db, user: OptionalUser, outlet_id: Id,
                kind: Annotated[Literal["hour", "minute"], Query()] = "hour",
                start: Annotated[dt.datetime | None, Query()] = None,
                end: Annotated[dt.datetime | None, Query()] = None) -> Response:
    """Charts of each pollutant with its limit line; O2 and flow beside."""
    if user is None:
        return _to_login(request)
    out = q.outlet_detail(db, user, outlet_id)
    if out is None:
        return _not_found(request, user)
    end = (end or _latest(db, user, outlet_id, kind) or cst_now()).replace(tzinfo=None)
    span = dt.timedelta(days=7) if kind == "hour" else dt.timedelta(hours=6)
    start = (start or end - span).replace(tzinfo=None)
    if end <= start or end - start > dt.timedelta(days=31 if kind == "hour" else 2):
        start = end - span
    data = outlet_chart(db, user, outlet_id, kind, start, end, 31 * 24 * 60, out)
    lang = _lang(request)
    return _render(request, "outlet.html", user, out=out, kind=kind, data=data,
                   chart_json=json.dumps({**data, "lang": lang}, ensure_ascii=False)
                   .replace("</", "<\\/"),
                   points=q.points(db, user, outlet_id).rows)


def _latest(db: Any, user: Principal, outlet_id: int, kind: str) -> dt.datetime | None:
    """End of the newest period stored for the outlet, so the chart opens on data."""
    table = q.SERIES_TABLES[kind]
    sql, args = scoped(user, f"SELECT max(ts) FROM {table} WHERE mn IN (SELECT mn FROM vis_pt "
                         "WHERE mn IN (SELECT mn FROM monitoring_point WHERE outlet_id = ?))",
                         [outlet_id])
    with db.cursor() as cur:
        row = cur.execute(sql, args).fetchone()
    if not row or row[0] is None:
        return None
    return row[0] + (dt.timedelta(hours=1) if kind == "hour" else dt.timedelta(minutes=1))


@router.get("/quality")
def quality_page(request: Request, db: Db, user: OptionalUser, month: Month = None) -> Response:
    """Events by detector with evidence, trust ranking, contractor view."""
    if user is None:
        return _to_login(request)
    m = this_month(month)
    events = [cell(e) for e in q.quality_events(db, user, m).rows]
    by_det: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_det.setdefault(str(ev.get("detector")), []).append(ev)
    return _render(request, "quality.html", user, month=m, by_det=by_det,
                   trust=[cell(t) for t in q.trust_scores(db, user, m).rows],
                   contractors=q.contractor_view(db, user, m).rows)


@router.get("/live")
def live_page(request: Request, db: Db, user: OptionalUser) -> Response:
    """Loggers online/offline, last packet, rejected traffic."""
    if user is None:
        return _to_login(request)
    minutes = request.app.state.online_minutes
    return _render(request, "live.html", user, minutes=minutes,
                   points=q.live_points(db, user, cst_now(), minutes).rows,
                   rejected=q.rejected_traffic(db, user, 100).rows)
