"""Server-rendered pages: enterprise verdicts, quality (by detector, trust ranking,
contractor view), live (online/offline, last packet, rejected traffic), downloads."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from lantian.api.app import create_app
from lantian.api.params import cst_now
from test_api_world import ENTERPRISES, MONTH, PASSWORD, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("web") / "w.duckdb")
    import duckdb

    con = duckdb.connect(str(w.path))
    now = cst_now()
    # cs: a packet two minutes ago (online); zz: last packet two hours ago (offline)
    for i, (key, age) in enumerate((("cs", dt.timedelta(minutes=2)),
                                    ("zz", dt.timedelta(hours=2)))):
        con.execute("INSERT INTO packet_journal (id, received_at, source, mn, cn, verdict, raw) "
                    "VALUES (?, ?, 'test', ?, '2051', 'accepted', 'x')",
                    [900 + i, now - age, w.mn[key]])
    con.close()
    return w


def page_client(world, name: str) -> TestClient:
    c = TestClient(create_app(world.path))
    r = c.post("/login", data={"name": name, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    return c


def test_login_form_failure_shows_message(world):
    c = TestClient(create_app(world.path))
    r = c.post("/login", data={"name": "admin", "password": "wrong-wrong"})
    assert r.status_code == 401 and "用户名或密码错误" in r.text


def test_login_redirects_back_to_requested_page(world):
    c = TestClient(create_app(world.path))
    r = c.get(f"/enterprises/{world.ent['cs']}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r2 = c.post("/login", data={"name": "admin", "password": PASSWORD,
                                "next": f"/enterprises/{world.ent['cs']}"},
                follow_redirects=False)
    assert r2.headers["location"] == f"/enterprises/{world.ent['cs']}"
    evil = c.post("/login", data={"name": "admin", "password": PASSWORD,
                                  "next": "//evil.example/"}, follow_redirects=False)
    assert evil.headers["location"] == "/overview"


def test_enterprise_page_outlets_and_verdicts(world):
    with page_client(world, "admin") as c:
        r = c.get(f"/enterprises/{world.ent['zz']}?month=2026-12")
    assert ENTERPRISES["zz"][0] in r.text and ENTERPRISES["zz"][4] in r.text
    assert "2026-01 – 2026-12" in r.text
    assert MONTH in r.text and world.mn["zz"] in r.text  # the verdict row of October
    assert f"/api/verdicts?enterprise_id={world.ent['zz']}&format=xlsx" in r.text


def test_quality_page_detectors_trust_contractors(world):
    with page_client(world, "admin") as c:
        r = c.get(f"/quality?month={MONTH}")
    assert 'class="detector">constant (3)' in r.text
    assert "&#34;minutes&#34;: 240" in r.text or '"minutes": 240' in r.text  # evidence shown
    trust = r.text.split('id="trust-table"')[1].split("</table>")[0]
    order = [trust.index(world.mn[k]) for k in ("zz", "yq", "cs")]
    assert order == sorted(order)  # lowest trust first: 61 < 80 < 92
    contractors = r.text.split('id="contractor-table"')[1].split("</table>")[0]
    assert "<td>maint_yq</td><td>1</td><td>80.0</td><td>1</td>" in contractors


def test_maintainer_sees_only_own_points_on_quality_page(world):
    with page_client(world, "maint_yq") as c:
        r = c.get(f"/quality?month={MONTH}")
    assert world.mn["yq"] in r.text
    assert world.mn["cs"] not in r.text and world.mn["zz"] not in r.text


def test_live_page_online_offline_and_rejected(world):
    with page_client(world, "admin") as c:
        r = c.get("/live")
    live = r.text.split('id="live-table"')[1].split("</table>")[0]
    rows = {k: live.split(world.mn[k])[1].split("</tr>")[0] for k in ("cs", "zz", "yq")}
    assert "在线" in rows["cs"] and "离线" not in rows["cs"]
    assert "离线" in rows["zz"] and "离线" in rows["yq"]
    rejected = r.text.split('id="rejected-table"')[1]
    assert "UNKNOWN_MN_1" in rejected and "wrong_password" in rejected
    with page_client(world, "reg_changsha") as c:
        r2 = c.get("/live")
    rej2 = r2.text.split('id="rejected-table"')[1]
    assert "UNKNOWN_MN_1" not in rej2 and world.mn["cs"] in rej2
    assert world.mn["zz"] not in r2.text


def test_outlet_page_embeds_chart_data_and_downloads(world):
    with page_client(world, "ent_cs") as c:
        r = c.get(f"/outlets/{world.outlet['cs']}")
        assert r.status_code == 200
        assert '<script src="/static/vendor/echarts.min.js">' in r.text
        assert 'id="chart-data" type="application/json"' in r.text
        assert f"/api/points/{world.mn['cs']}/hour?start=" in r.text
        js = c.get("/static/vendor/echarts.min.js")
        assert js.status_code == 200 and len(js.content) > 500_000
        assert c.get(f"/outlets/{world.outlet['zz']}").status_code == 404


def test_security_headers(world):
    with page_client(world, "admin") as c:
        r = c.get("/overview")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_overview_page_failing_first_and_paged(world, monkeypatch):
    from lantian.api.routers import pages

    monkeypatch.setattr(pages, "PAGE_ROWS", 2)
    with page_client(world, "admin") as c:
        p1 = c.get(f"/overview?month={MONTH}")
        p2 = c.get(f"/overview?month={MONTH}&page=2")
    t1 = p1.text.split('id="overview-table"')[1]
    # zz failed (600/700): first; then the passing ones by compliance ratio (690/700 each)
    assert t1.index(ENTERPRISES["zz"][0]) < t1.index(ENTERPRISES["cs"][0])
    assert ENTERPRISES["yq"][0] not in t1 and "1 / 2 (3)" in p1.text
    assert ENTERPRISES["yq"][0] in p2.text.split('id="overview-table"')[1]
