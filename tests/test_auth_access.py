"""The role × route access test: every route of the app, walked with every role and
anonymously, proves nobody reads or changes what lies outside their scope.

Scope markers of an enterprise are its name, credit code and monitoring point MN; a response
to a caller who may not see that enterprise must not contain any of them. A route the test
does not know how to classify fails the test, so new routes must be added here.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from lantian.api.app import create_app, iter_routes
from lantian.api.params import cst_now
from test_api_world import ENTERPRISES, MONTH, PASSWORD, T0, build_world

ROLES = ["admin", "reg_hunan", "reg_changsha", "ent_cs", "ent_zz", "maint_yq"]
QUERY = {"month": MONTH, "start": T0.isoformat(),
         "end": (T0 + dt.timedelta(hours=48)).isoformat()}
PUBLIC = {"/api/public/ule-enterprises", "/api/public/air-quality"}
OPEN_PAGES = {"/login", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
ADMIN_ONLY = {"/api/users", "/api/audit", "/api/live/gateway"}
SESSION = {"/api/auth/me", "/api/auth/logout", "/logout"}
LOGIN = {"/api/auth/login", "/login"}
PARAM = re.compile(r"{(\w+)}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("access") / "w.duckdb")
    app = create_app(world.path)
    with TestClient(app) as client:
        tokens = {}
        for role in ROLES:
            r = client.post("/api/auth/login", json={"name": role, "password": PASSWORD})
            tokens[role] = r.json()["token"]
        yield world, client, tokens


def markers(key: str, world) -> list[str]:
    name, _, _, credit, *_ = ENTERPRISES[key]
    return [name, credit, world.mn[key]]


ENTITY_PARAMS = {"enterprise_id", "outlet_id", "mn"}
OTHER_PARAMS = {"name": "limits", "table": "retrofit_plan", "mark_id": 1}  # not scoped data
MISSING_PARAMS = {"job_id": 999_999}  # objects of one user (jobs): a missing one must be 404


def fill(path: str, key: str | None, world) -> str:
    values: dict[str, object] = dict(OTHER_PARAMS) | dict(MISSING_PARAMS)
    if key is not None:
        values |= {"enterprise_id": world.ent[key], "outlet_id": world.outlet[key],
                   "mn": world.mn[key]}

    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise AssertionError(f"route {path}: no filler for path parameter {m.group(1)}")
        return str(values[m.group(1)])

    return PARAM.sub(sub, path)


def headers(role: str | None, tokens, page: bool) -> dict[str, str]:
    if role is None:
        return {}
    if page:
        return {"Cookie": f"lantian_session={tokens[role]}"}
    return {"Authorization": f"Bearer {tokens[role]}"}


def assert_no_leak(text: str, role: str, world, where: str) -> None:
    for key in ENTERPRISES:
        if key in world.visible[role]:
            continue
        for m in markers(key, world):
            assert m not in text, f"{role} sees {m} ({key}) on {where}"


def get_routes(client):
    return sorted((p, m) for p, m in iter_routes(client.app) if "GET" in m)


def test_every_route_is_classified(env):
    world, client, _ = env
    known = PUBLIC | OPEN_PAGES | ADMIN_ONLY | SESSION | LOGIN
    for path, _ in iter_routes(client.app):
        if path in known:
            continue
        if "{" in path:
            fill(path, next(iter(ENTERPRISES)), world)  # every parameter has a filler
            continue
        # any other route: an API list route or a page, walked by the tests below


@pytest.mark.parametrize("role", [None, *ROLES])
def test_get_routes_respect_scope(env, role):
    world, client, tokens = env
    who = role or "anonymous"
    checked = 0
    for path, _ in get_routes(client):
        page = not path.startswith("/api/")
        if path in OPEN_PAGES or path in LOGIN:
            continue
        h = headers(role, tokens, page)
        if path in PUBLIC:
            r = client.get(path, params=QUERY, headers=h)
            assert r.status_code == 200, path
            for key in ENTERPRISES:
                assert world.mn[key] not in r.text, f"public route {path} leaks an MN"
            checked += 1
            continue
        scoped_path = bool(ENTITY_PARAMS & set(PARAM.findall(path)))
        targets = list(ENTERPRISES) if scoped_path else [None]
        for key in targets:
            url = fill(path, key, world)
            r = client.get(url, params=QUERY, headers=h, follow_redirects=False)
            where = f"GET {url}"
            checked += 1
            if role is None:
                if page:
                    assert r.status_code == 303, where
                    assert r.headers["location"].startswith("/login"), where
                else:
                    assert r.status_code == 401, where
                    assert r.headers["content-type"].startswith("application/problem+json")
                continue
            if path in ADMIN_ONLY and role != "admin":
                assert r.status_code == 403, where
                continue
            if path == "/":
                assert r.status_code == 303 and r.headers["location"] == "/overview"
                continue
            if set(PARAM.findall(path)) & MISSING_PARAMS.keys():
                assert r.status_code == 404, f"{who} {where}: {r.status_code}"
            elif key is not None and key not in world.visible[role]:
                assert r.status_code == 404, f"{who} reaches {where}: {r.status_code}"
            else:
                assert r.status_code == 200, f"{who} {where}: {r.status_code} {r.text[:200]}"
            assert_no_leak(r.text, who, world, where)
            if key is not None and key in world.visible[role] and not page:
                assert world.mn[key] in r.text or ENTERPRISES[key][0] in r.text, where
            if not page and key is None and path not in ADMIN_ONLY | SESSION:
                d = client.get(url, params={**QUERY, "format": "csv"}, headers=h)
                if d.status_code == 200 and d.headers["content-type"].startswith("text/csv"):
                    assert_no_leak(d.content.decode("utf-8-sig"), who, world, where + " csv")
    assert checked > 40


@pytest.mark.parametrize("role", ROLES)
def test_list_routes_show_what_is_in_scope(env, role):
    world, client, tokens = env
    h = headers(role, tokens, False)
    ents = client.get("/api/enterprises", headers=h).json()["items"]
    assert {e["name"] for e in ents} == {ENTERPRISES[k][0] for k in world.visible[role]}
    pts = client.get("/api/points", headers=h).json()["items"]
    assert {p["mn"] for p in pts} == {world.mn[k] for k in world.visible[role]}
    assert all("password" not in p and "sm4_key" not in p for p in pts)
    ev = client.get(f"/api/quality/events?month={MONTH}", headers=h).json()["items"]
    assert {e["mn"] for e in ev} == {world.mn[k] for k in world.visible[role]}


@pytest.mark.parametrize("role", ROLES)
def test_corrections_only_inside_scope(env, role):
    world, client, tokens = env
    h = headers(role, tokens, False)
    db = client.app.state.db
    for i, key in enumerate(ENTERPRISES):
        ts = T0 + dt.timedelta(hours=40 + i)
        with db.cursor() as cur:
            before = cur.execute("SELECT count(*) FROM correction WHERE mn = ? AND ts = ? "
                                 "AND who = ?", [world.mn[key], ts, role]).fetchone()[0]
        r = client.post("/api/corrections", headers=h, json={
            "mn": world.mn[key], "table": "hour", "ts": ts.isoformat(),
            "column": "so2_mg_m3", "new_value": "1.0", "why": f"test by {role}"})
        with db.cursor() as cur:
            after = cur.execute("SELECT count(*) FROM correction WHERE mn = ? AND ts = ? "
                                "AND who = ?", [world.mn[key], ts, role]).fetchone()[0]
        if key in world.visible[role]:
            assert r.status_code == 201 and after == before + 1, (role, key)
        else:
            assert r.status_code == 404 and after == before, (role, key)
            assert_no_leak(r.text, role, world, "POST /api/corrections")


@pytest.mark.parametrize("role", [None, *ROLES])
def test_user_creation_admin_only(env, role):
    _, client, tokens = env
    h = headers(role, tokens, False)
    r = client.post("/api/users", headers=h, json={
        "name": f"new_{role or 'anon'}", "role": "admin", "password": "long-enough-pw"})
    expected = {None: 401, "admin": 201}.get(role, 403)
    assert r.status_code == expected


def test_anonymous_writes_are_401(env):
    _, client, _ = env
    r = client.post("/api/corrections", json={"mn": "x", "table": "hour",
                                               "ts": T0.isoformat(), "column": "so2_mg_m3",
                                               "why": "x"})
    assert r.status_code == 401


def _needs_marks(client) -> None:
    if "/api/marks" not in {p for p, _ in iter_routes(client.app)}:
        pytest.skip("the marks API router (ledgers) is not mounted in this build")


@pytest.mark.parametrize("role", ROLES)
def test_marks_submitted_and_reviewed_only_inside_scope(env, role):
    world, client, tokens = env
    _needs_marks(client)
    h = headers(role, tokens, False)
    db = client.app.state.db
    now = cst_now()
    may_submit = role in {"admin", "ent_cs", "ent_zz", "maint_yq"}
    for i, key in enumerate(ENTERPRISES):
        start = now - dt.timedelta(hours=40 - 3 * i - 3 * ROLES.index(role) * len(ENTERPRISES))
        with db.cursor() as cur:
            before = cur.execute("SELECT count(*) FROM enterprise_mark").fetchone()[0]
        r = client.post("/api/marks", headers=h, json={
            "mn": world.mn[key], "kind": "maintenance", "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(), "reason": f"by {role}"})
        with db.cursor() as cur:
            after = cur.execute("SELECT count(*) FROM enterprise_mark").fetchone()[0]
        if not may_submit:
            assert r.status_code == 403 and after == before, (role, key)
        elif key in world.visible[role]:
            assert r.status_code == 201 and after == before + 1, (role, key, r.text)
        else:
            assert r.status_code == 404 and after == before, (role, key)


@pytest.mark.parametrize("role", ROLES)
def test_mark_review_only_inside_scope(env, role):
    world, client, tokens = env
    _needs_marks(client)
    db = client.app.state.db
    admin = headers("admin", tokens, False)
    ids = {}
    for key in ENTERPRISES:
        # one 10-minute slot per role, 47 h ago: inside the marking deadline, no overlaps
        start = cst_now() - dt.timedelta(hours=47) + dt.timedelta(minutes=15 * ROLES.index(role))
        r = client.post("/api/marks", headers=admin, json={
            "outlet_id": world.outlet[key], "kind": "stopped", "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=10)).isoformat(), "reason": "review test"})
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    h = headers(role, tokens, False)
    for key, mark_id in ids.items():
        r = client.post(f"/api/marks/{mark_id}/review", headers=h,
                        json={"decision": "accepted"})
        with db.cursor() as cur:
            status = cur.execute("SELECT status FROM enterprise_mark WHERE id = ?",
                                 [mark_id]).fetchone()[0]
        if role not in {"admin", "reg_hunan", "reg_changsha"}:
            assert r.status_code == 403 and status == "pending", (role, key)
        elif key in world.visible[role]:
            assert r.status_code == 200 and status == "accepted", (role, key, r.text)
        else:
            assert r.status_code == 404 and status == "pending", (role, key)
