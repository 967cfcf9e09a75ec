"""Ledger pages render with the demo ledgers (``demo_ledgers``), in scope and in both
languages; the marks forms enter and review marks under the same rules as the API.

The demo ledgers are written over the shared API test world (three enterprises in Changsha,
Zhuzhou and Yangquan). Times are China Standard Time.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lantian.api.app import create_app
from lantian.api.params import cst_now
from lantian.ledger.demo import demo_ledgers
from lantian.ledger.retrofit import plan_status
from lantian.ledger.workdays import CalendarFallbackWarning
from lantian.store.db import connect
from test_api_world import ENTERPRISES, PASSWORD, build_world

PAGES = ["/ledgers/retrofits", "/ledgers/marks", "/ledgers/transport", "/ledgers/production",
         "/ledgers/emissions"]
TODAY = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("ledger_pages") / "w.duckdb")
    con = connect(world.path)
    written = demo_ledgers(con, np.random.default_rng(7), today=TODAY, months=3)
    # the world's Yangquan line (not a cupola, so the demo gave it no agreement) must rest on
    # Sundays and runs 14 h on Sunday 2026-10-04 (CST) by its power readings
    con.execute("UPDATE production_line SET idle_kw = 50 WHERE enterprise_id = ?",
                [world.ent["yq"]])
    con.execute("INSERT INTO power_reading SELECT enterprise_id, name, "
                "TIMESTAMP '2026-10-04 06:00:00' + to_hours(i), 900 FROM production_line, "
                "range(14) t(i) WHERE enterprise_id = ?", [world.ent["yq"]])
    con.execute("INSERT INTO production_agreement (enterprise_id, line, rule, value, valid_from,"
                " source) SELECT enterprise_id, name, 'rest_weekday', 7, DATE '2026-01-01', "
                "'test' FROM production_line WHERE enterprise_id = ?", [world.ent["yq"]])
    con.close()
    app = create_app(world.path)
    with TestClient(app) as client:
        cookies = {}
        for role in ("admin", "reg_changsha", "ent_cs", "maint_yq"):
            tok = client.post("/api/auth/login", json={"name": role, "password": PASSWORD}
                              ).json()["token"]
            cookies[role] = {"Cookie": f"lantian_session={tok}"}
        yield world, client, cookies, written


def page(client, cookies, role, path, **params):
    r = client.get(path, headers=cookies[role], params=params, follow_redirects=False)
    assert r.status_code == 200, (role, path, r.status_code, r.text[:300])
    return r.text


def test_demo_wrote_ledgers(env):
    *_, written = env
    assert written["retrofit_plans"] > 0 and written["gate_records"] > 0


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_for_each_role_without_leaks(env, path):
    world, client, cookies, _ = env
    for role in cookies:
        html = page(client, cookies, role, path, month="2026-10", today=TODAY.isoformat(),
                    year="2026")
        assert 'id="ledger-nav"' in html and "中国标准时间" in html
        for key, row in ENTERPRISES.items():
            if key not in world.visible[role]:
                assert row[0] not in html, (role, path, key)
    anon = client.get(path, follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"].startswith("/login")


def test_retrofits_page_shows_every_plan_and_its_states(env):
    _world, client, cookies, _ = env
    html = page(client, cookies, "admin", "/ledgers/retrofits", today=TODAY.isoformat())
    with client.app.state.db.cursor() as con, warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        ref = plan_status(con, TODAY)
    plan_ids = {r["plan_id"] for r in ref}
    assert len(re.findall(r'<tr class="plan state-', html)) == len(plan_ids)
    assert html.count('<li class="ms state-') == len(ref)
    for state in {r["state"] for r in ref}:
        assert f'<li class="ms state-{state}">' in html
    assert 'id="district-chart"' in html and "/static/js/ledger_charts.js" in html
    assert "/api/retrofits/plans?today=2026-10-31&format=csv" in html
    en = page(client, cookies, "admin", "/ledgers/retrofits", today=TODAY.isoformat(),
              lang="en")
    assert "Progress by district" in en and "China Standard Time" in en


def test_transport_page_matches_api(env):
    _world, client, cookies, _ = env
    month = "2026-10"
    api = client.get("/api/transport", params={"month": month},
                     headers={"Authorization": cookies["admin"]["Cookie"].replace(
                         "lantian_session=", "Bearer ")}).json()["items"]
    assert api, "the demo has gate records in October 2026"
    html = page(client, cookies, "admin", "/ledgers/transport", month=month)
    assert html.count('<tr class="pass">') == sum(r["pass"] for r in api)
    assert html.count('<tr class="fail">') == sum(not r["pass"] for r in api)
    for r in api:
        if r["clean_ratio"] is not None:
            assert f"{r['clean_ratio']:.3f}" in html
    trips = client.get("/api/transport/gate-records", headers=_bearer(cookies, "admin"),
                       params={"month": month, "non_compliant": "true", "limit": 10000}).json()
    assert trips["total"] == sum(r["non_compliant_road_trips"] for r in api)
    assert _table_rows(html, "trip-table") == min(trips["total"], 200)


def test_marks_forms_enter_and_review(env):
    world, client, cookies, _ = env
    start = (cst_now() - dt.timedelta(hours=6)).replace(second=0, microsecond=0)
    form = {"outlet_id": str(world.outlet["cs"]), "kind": "maintenance",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "页面填报测试"}
    html = page(client, cookies, "ent_cs", "/ledgers/marks")
    assert 'id="mark-add"' in html and "review-form" not in html
    r = client.post("/ledgers/marks", data=form, headers=cookies["ent_cs"],
                    follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    with client.app.state.db.cursor() as cur:
        mid, status = cur.execute("SELECT id, status FROM enterprise_mark WHERE reason = ?",
                                  ["页面填报测试"]).fetchone()
    assert status == "pending"
    # the same period again overlaps: the page shows the ledger's reason
    again = client.post("/ledgers/marks", data=form, headers=cookies["ent_cs"],
                        follow_redirects=False)
    assert "error=" in again.headers["location"]
    shown = client.get(again.headers["location"], headers=cookies["ent_cs"])
    assert shown.status_code == 200 and 'id="mark-error"' in shown.text and "重叠" in shown.text
    # the enterprise's own review attempt is refused; the Changsha regulator accepts
    mine = client.post("/ledgers/marks/review", data={"id": str(mid), "decision": "accepted"},
                       headers=cookies["ent_cs"], follow_redirects=False)
    assert "error=" in mine.headers["location"]
    reg = page(client, cookies, "reg_changsha", "/ledgers/marks")
    assert "review-form" in reg and 'id="mark-add"' not in reg
    ok = client.post("/ledgers/marks/review", data={"id": str(mid), "decision": "accepted"},
                     headers=cookies["reg_changsha"], follow_redirects=False)
    assert ok.status_code == 303 and "error" not in ok.headers["location"]
    with client.app.state.db.cursor() as cur:
        assert cur.execute("SELECT status, reviewed_by FROM enterprise_mark WHERE id = ?",
                           [mid]).fetchone() == ("accepted", "reg_changsha")


def test_enterprise_page_links_to_ledgers(env):
    world, client, cookies, _ = env
    html = page(client, cookies, "ent_cs", f"/enterprises/{world.ent['cs']}")
    assert 'href="/ledgers/retrofits"' in html and 'href="/ledgers/transport"' in html


def _bearer(cookies, role):
    return {"Authorization": cookies[role]["Cookie"].replace("lantian_session=", "Bearer ")}


def _table_rows(html, tid):
    body = html.split(f'id="{tid}"', 1)[1].split("</table>", 1)[0]
    return 0 if "暂无数据" in body or "No rows" in body else body.count("<tr class=")


# the world holds 48 hours of flue-gas data, too little for before/after retrofit credits:
# that table is only checked against the API (both empty)
@pytest.mark.parametrize(("path", "tid", "api"), [
    ("/ledgers/production", "action-table", "/api/alerts/actions"),
    ("/ledgers/production", "violation-table", "/api/production/violations"),
    ("/ledgers/production", "grade-table", "/api/grades"),
    ("/ledgers/emissions", "offset-table", "/api/offsets"),
    ("/ledgers/emissions", "credit-table", "/api/emissions/retrofit-credit"),
])
def test_page_tables_match_api(env, path, tid, api):
    _world, client, cookies, _ = env
    for role in ("admin", "reg_changsha"):
        items = client.get(api, params={"month": "2026-10"},
                           headers=_bearer(cookies, role)).json()["items"]
        html = page(client, cookies, role, path, month="2026-10")
        assert _table_rows(html, tid) == len(items), (role, path, tid)
        if role == "admin" and tid != "credit-table":
            assert items, f"the demo ledgers give {api} something to show"
        assert f"{api}?" in html  # CSV/Excel links of the table shown
