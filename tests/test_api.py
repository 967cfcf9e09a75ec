"""HTTP API: OpenAPI, login, overview, data paging, charts with limits, downloads, errors,
corrections, public disclosure, TLS cookies, page language."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from lantian.api.app import create_app, iter_routes
from lantian.catalog.limits import applicable_limits
from test_api_world import ENTERPRISES, HOURS, MONTH, PASSWORD, T0, build_world, hour_value


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("api") / "w.duckdb")


@pytest.fixture(scope="module")
def client(world):
    app = create_app(world.path)
    with TestClient(app) as c:
        yield c


def login(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
def admin(client):
    return login(client, "admin")


def audit_rows(client: TestClient, action: str) -> list[tuple]:
    db = client.app.state.db
    with db.cursor() as cur:
        return cur.execute("SELECT who, target, detail FROM audit_log WHERE action = ?",
                           [action]).fetchall()


def test_openapi_lists_every_api_route_by_full_path(client):
    paths = client.get("/openapi.json").json()["paths"]
    api_routes = {p for p, _ in iter_routes(client.app) if p.startswith("/api/")}
    assert api_routes and api_routes <= set(paths)
    assert "/api/overview" in paths and "/api/points/{mn}/hour" in paths


def test_anonymous_root_redirects_to_login(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and 'type="password"' in page.text and "登录" in page.text


def test_anonymous_api_gets_problem_401(client):
    r = client.get("/api/enterprises")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401 and "log in" in r.json()["detail"]


def test_wrong_password_is_401_and_audited(client):
    r = client.post("/api/auth/login", json={"name": "admin", "password": "nope-nope"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong user name or password"
    assert ("admin", "api") in [(w, t) for w, t, _ in audit_rows(client, "login.failed")]


def test_login_audited_and_me(client):
    h = login(client, "reg_hunan")
    me = client.get("/api/auth/me", headers=h).json()
    assert me == {"name": "reg_hunan", "role": "regulator", "scope": ["43"]}
    assert any(w == "reg_hunan" for w, _, _ in audit_rows(client, "login"))


def test_logout_ends_the_session(client):
    h = login(client, "ent_cs")
    assert client.post("/api/auth/logout", headers=h).status_code == 200
    assert client.get("/api/auth/me", headers=h).status_code == 401


def test_overview_verdicts_ratio_trust_alerts(client, admin, world):
    body = client.get(f"/api/overview?month={MONTH}", headers=admin).json()
    by_name = {r["name"]: r for r in body["items"]}
    cs = by_name[ENTERPRISES["cs"][0]]
    zz = by_name[ENTERPRISES["zz"][0]]
    assert cs["verdict"] == "pass" and zz["verdict"] == "fail"
    assert cs["compliance_ratio"] == round(690 / 700, 4)
    assert zz["compliance_ratio"] == round(600 / 700, 4)
    assert cs["trust"] == 92.0 and zz["trust"] == 61.0
    assert cs["alerts"] == 1
    assert body["summary"] == {"month": MONTH, "enterprises": 3, "assessed": 3, "passed": 2,
                               "pass_ratio": round(2 / 3, 4)}


def test_overview_filters_district_and_sector(client, admin):
    d = client.get(f"/api/overview?month={MONTH}&district=4302", headers=admin).json()
    assert [r["name"] for r in d["items"]] == [ENTERPRISES["zz"][0]]
    s = client.get(f"/api/overview?month={MONTH}&sector=cement", headers=admin).json()
    assert [r["name"] for r in s["items"]] == [ENTERPRISES["cs"][0]]
    none = client.get("/api/overview?month=2026-09", headers=admin).json()
    assert all(r["verdict"] is None for r in none["items"])


def test_hour_data_is_paged_and_time_bounded(client, admin, world):
    mn = world.mn["cs"]
    start, end = T0.isoformat(), (T0 + dt.timedelta(hours=24)).isoformat()
    r = client.get(f"/api/points/{mn}/hour", headers=admin,
                   params={"start": start, "end": end, "limit": 10, "offset": 5})
    body = r.json()
    assert body["total"] == 24 and len(body["items"]) == 10
    first = body["items"][0]
    assert first["ts"] == (T0 + dt.timedelta(hours=5)).isoformat()
    assert first["so2_mg_m3"] == hour_value(5, "so2")


@pytest.mark.parametrize(("params", "needle"), [
    ({"start": "2026-10-02T00:00:00", "end": "2026-10-01T00:00:00"}, "end must be after start"),
    ({"start": "2025-01-01T00:00:00", "end": "2026-10-01T00:00:00"}, "at most 366 days"),
    ({"start": "yesterday", "end": "2026-10-01T00:00:00"}, "start"),
    ({"start": "2026-10-01T00:00:00", "end": "2026-10-02T00:00:00", "limit": 0}, "limit"),
])
def test_bad_window_is_problem_422(client, admin, world, params, needle):
    r = client.get(f"/api/points/{world.mn['cs']}/hour", headers=admin, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert needle in r.json()["detail"]
    assert "Traceback" not in r.text


def test_unknown_point_is_404(client, admin):
    r = client.get("/api/points/NOPE/hour", headers=admin,
                   params={"start": "2026-10-01T00:00:00", "end": "2026-10-02T00:00:00"})
    assert r.status_code == 404 and "not found" in r.json()["detail"]


def test_bad_month_is_problem_422(client, admin):
    r = client.get("/api/overview?month=2026-13", headers=admin)
    assert r.status_code == 422 and "month" in r.json()["detail"]


def test_chart_has_catalogue_limit_exceedance_and_flagged_span(client, admin, world):
    oid = world.outlet["cs"]
    r = client.get(f"/api/outlets/{oid}/chart", headers=admin, params={
        "start": T0.isoformat(), "end": (T0 + dt.timedelta(hours=HOURS)).isoformat()})
    body = r.json()
    expected = applicable_limits("cement_kiln", T0.date(), "CN-43")["so2"].limit_mg_m3
    pt = body["points"][world.mn["cs"]]
    so2 = pt["pollutants"]["so2"]
    assert so2["limit"] == expected
    assert so2["measured"][3] == hour_value(3, "so2")
    assert so2["corrected"][3] == pytest.approx(hour_value(3, "so2") * 1.1)
    # corrected = 1.1 * (20 + i % 7) <= 28.6 except hour 10 (55.0)
    hand = [i for i in range(HOURS) if hour_value(i, "so2") * 1.1 > expected]
    assert hand == [10]
    assert [x["ts"] for x in pt["exceedances"] if x["pollutant"] == "so2"] == [
        (T0 + dt.timedelta(hours=10)).isoformat()]
    assert {"start": (T0 + dt.timedelta(hours=20)).isoformat(),
            "end": (T0 + dt.timedelta(hours=22)).isoformat(),
            "flag": "M", "pollutant": "so2"} in pt["invalid"]
    assert pt["o2_pct"][0] == 11.0 and pt["flow_m3_s"][0] == 52.0
    assert [e["detector"] for e in body["quality_events"]] == ["constant"]


def test_permit_limit_overrides_catalogue(tmp_path):
    w = build_world(tmp_path / "p.duckdb")
    con = duckdb.connect(str(w.path))
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'permit_limit'").fetchall()}
    if not have:
        pytest.skip("permit_limit table (ledgers migration) not present")
    con.execute("INSERT INTO permit_limit (enterprise_id, outlet, pollutant, limit_mg_m3, basis, "
                "valid_from) VALUES (?, ?, 'so2', 25, 'permit', DATE '2026-01-01')",
                [w.ent["cs"], ENTERPRISES["cs"][4]])
    con.close()
    with TestClient(create_app(w.path)) as c:
        h = login(c, "admin")
        body = c.get(f"/api/outlets/{w.outlet['cs']}/chart", headers=h, params={
            "start": T0.isoformat(), "end": (T0 + dt.timedelta(hours=HOURS)).isoformat()}).json()
    pt = body["points"][w.mn["cs"]]
    assert pt["pollutants"]["so2"]["limit"] == 25.0
    hand = [i for i in range(HOURS) if hour_value(i, "so2") * 1.1 > 25]
    got = sorted(dt.datetime.fromisoformat(x["ts"]) for x in pt["exceedances"]
                 if x["pollutant"] == "so2")
    assert got == [T0 + dt.timedelta(hours=i) for i in hand]


def test_csv_and_excel_downloads_are_audited(client, admin):
    r = client.get(f"/api/overview?month={MONTH}&format=csv", headers=admin)
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0]["verdict"] in {"pass", "fail"}
    x = client.get(f"/api/overview?month={MONTH}&format=xlsx", headers=admin)
    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert "compliance_ratio" in header and ws.max_row == 4
    exports = [t for _, t, _ in audit_rows(client, "export")]
    assert f"overview_{MONTH}" in exports


def test_correction_is_an_overlay(client, world):
    h = login(client, "reg_hunan")
    mn = world.mn["cs"]
    ts = (T0 + dt.timedelta(hours=10)).isoformat()
    r = client.post("/api/corrections", headers=h, json={
        "mn": mn, "table": "hour", "ts": ts, "column": "so2_mg_m3", "new_value": "22.0",
        "why": "analyser fault confirmed"})
    assert r.status_code == 201, r.text
    assert r.json()["old_value"] == str(hour_value(10, "so2"))
    db = client.app.state.db
    with db.cursor() as cur:
        raw = cur.execute("SELECT so2_mg_m3 FROM flue_hour WHERE mn = ? AND ts = ?",
                          [mn, T0 + dt.timedelta(hours=10)]).fetchone()[0]
    assert raw == hour_value(10, "so2")  # raw data unchanged
    listed = client.get("/api/corrections", headers=h).json()["items"]
    assert [(c["mn"], c["new_value"]) for c in listed] == [(mn, "22.0")]
    assert any(w == "reg_hunan" for w, _, _ in audit_rows(client, "correction"))


def test_correction_rejects_unknown_column(client, admin, world):
    r = client.post("/api/corrections", headers=admin, json={
        "mn": world.mn["cs"], "table": "hour", "ts": T0.isoformat(), "column": "packet_id",
        "new_value": "1", "why": "x"})
    assert r.status_code == 422 and "not a column" in r.json()["detail"]


def test_public_ule_list_needs_no_login_and_shows_only_public_fields(client):
    r = client.get(f"/api/public/ule-enterprises?month={MONTH}")
    assert r.status_code == 200
    items = r.json()["items"]
    assert sorted(i["name"] for i in items) == sorted(
        [ENTERPRISES["cs"][0], ENTERPRISES["yq"][0]])
    assert set(items[0]) == {"name", "credit_code", "sector", "district_code"}
    assert "MN" not in r.text
    assert client.get("/api/public/air-quality").status_code == 200


def test_catalog_rows_served(client, admin):
    names = client.get("/api/catalog", headers=admin).json()["items"]
    assert "limits" in names
    rows = client.get("/api/catalog/limits", headers=admin).json()["items"]
    assert rows and {"source_document", "clause", "confidence"} <= set(rows[0])
    assert client.get("/api/catalog/nope", headers=admin).status_code == 404


def test_users_created_by_admin_only(client, admin):
    r = client.post("/api/users", headers=admin, json={"name": "reg_new", "role": "regulator",
                                                       "scope": ["4301"]})
    assert r.status_code == 201 and len(r.json()["password"]) >= 16
    again = client.post("/api/users", headers=admin, json={"name": "reg_new", "role": "admin"})
    assert again.status_code == 409
    bad = client.post("/api/users", headers=admin, json={"name": "r2", "role": "regulator",
                                                         "scope": ["Hunan"]})
    assert bad.status_code == 422 and "district" in bad.json()["detail"]
    h = login(client, "reg_hunan")
    r = client.post("/api/users", headers=h, json={"name": "x", "role": "admin"})
    assert r.status_code == 403


def test_secure_cookie_with_tls(world):
    with TestClient(create_app(world.path, secure_cookies=True)) as c:
        r = c.post("/login", data={"name": "admin", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_cookie_without_tls_is_httponly_not_secure(client):
    r = client.post("/login", data={"name": "admin", "password": PASSWORD}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" not in cookie


def test_pages_chinese_by_default_english_switch(world):
    with TestClient(create_app(world.path)) as c:
        c.post("/login", data={"name": "admin", "password": PASSWORD})
        zh = c.get(f"/overview?month={MONTH}")
        assert "超低排放月度评估" in zh.text and "中国标准时间" in zh.text
        en = c.get(f"/overview?month={MONTH}&lang=en")
        assert "Monthly ULE verdict" in en.text and "China Standard Time" in en.text
        again = c.get(f"/overview?month={MONTH}")  # remembered in the cookie
        assert "Monthly ULE verdict" in again.text


def test_no_stack_trace_on_internal_error(world, monkeypatch):
    from lantian.api import queries

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "enterprises", boom)
    with TestClient(create_app(world.path), raise_server_exceptions=False) as c:
        h = login(c, "admin")
        r = c.get("/api/enterprises", headers=h)
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "secret internals" not in r.text and "Traceback" not in r.text


def test_shared_connection_is_used(world, tmp_path):
    con = duckdb.connect(str(world.path))
    try:
        app = create_app(Path("/nonexistent/ignored.duckdb"), con=con)
        with TestClient(app) as c:
            h = login(c, "admin")
            assert len(c.get("/api/enterprises", headers=h).json()["items"]) == 3
        con.execute("SELECT 1")  # still open: the app does not close a shared connection
    finally:
        con.close()


def test_gateway_status_when_serve_attaches_it(world):
    class Status:
        def as_dict(self):
            return {"accepting": True, "connections": 7}

    class Gw:
        status = Status()

    app = create_app(world.path)
    with TestClient(app) as c:
        h = login(c, "admin")
        assert c.get("/api/live/gateway", headers=h).json() == {"running": False}
        app.state.gateway = Gw()
        assert c.get("/api/live/gateway", headers=h).json() == {
            "running": True, "accepting": True, "connections": 7}


def test_quality_summary_counts_and_lowest_trust(client, admin, world):
    body = client.get(f"/api/quality?month={MONTH}&limit=2", headers=admin).json()
    assert body["by_detector"] == {"constant": 3} and body["events"] == 3
    assert [(r["mn"], r["trust"]) for r in body["trust"]] == [
        (world.mn["zz"], 61.0), (world.mn["yq"], 80.0)]


def test_https_request_gets_secure_cookie_and_hsts(world):
    with TestClient(create_app(world.path), base_url="https://testserver") as c:
        r = c.post("/login", data={"name": "admin", "password": PASSWORD},
                   follow_redirects=False)
    assert "secure" in r.headers["set-cookie"].lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_ledger_rows_in_scope(world):
    with TestClient(create_app(world.path)) as c:
        if not c.app.state.db.columns("retrofit_plan"):
            pytest.skip("retrofit_plan ledger (ledgers migration) not present")
        h = login(c, "reg_changsha")
        assert "retrofit_plan" in c.get("/api/ledgers", headers=h).json()["items"]
        rows = c.get("/api/ledgers/retrofit_plan", headers=h).json()["items"]
        assert [r["enterprise_id"] for r in rows] == [world.ent["cs"]]
        assert c.get("/api/ledgers/app_user", headers=h).status_code == 404
        x = c.get("/api/ledgers/retrofit_plan?format=xlsx", headers=h)
        assert x.headers["content-type"].startswith("application/vnd.openxmlformats")


def test_contractor_view_download(client, admin):
    r = client.get(f"/api/quality/contractors?month={MONTH}&format=csv", headers=admin)
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows == [{"maintainer": "maint_yq", "points": "1", "mean_trust": "80.0",
                     "events": "1"}]
