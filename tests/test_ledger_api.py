"""Ledger API routes (issues 8, 9 via issue 6): JSON content against the ledger functions,
scope (a regulator of another district sees nothing), marks review rules, downloads.

Built on the shared API test world (three enterprises: Changsha 430102 cement, Zhuzhou
430202 coking, Yangquan 140302 foundry) with ledger rows inserted here. Times are CST.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pytest
from fastapi.testclient import TestClient

from lantian.api.app import create_app
from lantian.api.params import cst_now
from lantian.ledger.carbon import intensity_check, offset_balance
from lantian.ledger.retrofit import plan_status
from lantian.ledger.transport import clean_transport_month
from lantian.ledger.workdays import CalendarFallbackWarning
from lantian.store.db import connect
from test_api_world import ENTERPRISES, MONTH, PASSWORD, build_world

ROLES = ["admin", "reg_hunan", "reg_changsha", "ent_cs", "ent_zz", "maint_yq"]
TODAY = "2026-11-15"

# gate records of October 2026 (CST): (enterprise key, mode, tonnes, emission stage)
GATE = [
    ("cs", "rail", "80.000", None), ("cs", "road", "20.000", "China V"),   # 0.8: pass, 1 bad trip
    ("zz", "rail", "50.000", None), ("zz", "road", "50.000", "China VI"),  # 0.5, all China VI: pass
    ("yq", "road", "10.000", "China IV"),                                 # 0.0, bad trip: fail
]


def _seed(path) -> None:
    con = connect(path)
    ent = dict(con.execute("SELECT credit_code, id FROM enterprise").fetchall())
    eid = {k: ent[v[3]] for k, v in ENTERPRISES.items()}
    for i, (key, mode, tonnes, stage) in enumerate(GATE):
        con.execute("INSERT INTO gate_record (enterprise_id, ts, plate, direction, mode, "
                    "material, tonnes, emission_stage) VALUES (?, ?, ?, 'in', ?, 'coal', ?, ?)",
                    [eid[key], dt.datetime(2026, 10, 3, 8 + i), f"湘A{i:05d}" if
                     mode == "road" else None, mode, tonnes, stage])
    # calcium carbide of Changsha, October: 2.11 t CO2/t (just over 2.1), 800 kgce/t (under 823)
    con.execute("INSERT INTO production_record VALUES (?, '2026-10', 'calcium_carbide', 1000, "
                "800000, 3000000, 2110)", [eid["cs"]])
    con.execute("INSERT INTO offset_project (name, enterprise_id, district_code, pollutant, "
                "new_load_t, approved_on) VALUES ('株洲新建项目', ?, '430202', 'nox', 12.5, "
                "DATE '2026-01-10') ", [eid["zz"]])
    con.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("ledger_api") / "w.duckdb")
    _seed(world.path)
    app = create_app(world.path)
    with TestClient(app) as client:
        tokens = {r: client.post("/api/auth/login", json={"name": r, "password": PASSWORD}
                                 ).json()["token"] for r in ROLES}
        yield world, client, tokens


def h(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


def name(key):
    return ENTERPRISES[key][0]


def test_clean_transport_by_hand_and_in_scope(env):
    world, client, tokens = env
    r = client.get("/api/transport", params={"month": MONTH}, headers=h(tokens, "admin"))
    assert r.status_code == 200
    got = {row["enterprise"]: row for row in r.json()["items"]}
    assert set(got) == {name("cs"), name("zz"), name("yq")}
    cs, zz, yq = got[name("cs")], got[name("zz")], got[name("yq")]
    # worked by hand: 80 / (80 + 20) = 0.8 passes at the 0.8 boundary
    assert cs["clean_ratio"] == pytest.approx(0.8) and cs["pass"] is True
    assert cs["road_tonnes"] == 20.0 and cs["clean_tonnes"] == 80.0
    assert cs["non_compliant_road_trips"] == 1 and cs["enterprise_id"] == world.ent["cs"]
    # 50 / 100 = 0.5 fails the share but every road trip was China VI: passes
    assert zz["clean_ratio"] == pytest.approx(0.5) and zz["pass"] is True
    assert zz["non_compliant_road_trips"] == 0
    assert yq["clean_ratio"] == 0.0 and yq["pass"] is False
    # the same numbers as the ledger function on the whole database
    with client.app.state.db.cursor() as con:
        ib = ibis.duckdb.from_connection(con)
        ref = clean_transport_month(ib.table("gate_record"), ib.table("enterprise"), MONTH)
        ref_rows = {x["enterprise"]: x for x in ref.to_pyarrow().to_pylist()}
    for n, row in got.items():
        assert {k: row[k] for k in ref_rows[n]} == ref_rows[n]
    for role in ROLES[1:]:
        seen = {x["enterprise"] for x in client.get(
            "/api/transport", params={"month": MONTH}, headers=h(tokens, role)).json()["items"]}
        assert seen == {name(k) for k in world.visible[role]}, role


def test_gate_records_paged_and_non_compliant(env):
    _world, client, tokens = env
    r = client.get("/api/transport/gate-records", params={"month": MONTH, "limit": 2},
                   headers=h(tokens, "admin")).json()
    assert r["total"] == 5 and len(r["items"]) == 2
    r2 = client.get("/api/transport/gate-records", params={"month": MONTH, "limit": 2,
                                                           "offset": 4},
                    headers=h(tokens, "admin")).json()
    assert len(r2["items"]) == 1
    bad = client.get("/api/transport/gate-records", params={"month": MONTH,
                                                            "non_compliant": "true"},
                     headers=h(tokens, "admin")).json()["items"]
    assert sorted(x["emission_stage"] for x in bad) == ["China IV", "China V"]
    zz = client.get("/api/transport/gate-records", params={"month": MONTH},
                    headers=h(tokens, "ent_zz")).json()
    assert zz["total"] == 2 and {x["enterprise"] for x in zz["items"]} == {name("zz")}
    other = client.get("/api/transport/gate-records", params={"month": "2026-09"},
                       headers=h(tokens, "admin")).json()
    assert other["total"] == 0


def test_retrofit_plans_match_plan_status_in_scope(env):
    world, client, tokens = env
    # the chain runs into 2027, a year without holiday data: weekdays are counted, with a
    # warning that the API passes on beside the rows
    with client.app.state.db.cursor() as con, pytest.warns(CalendarFallbackWarning):
        ref = plan_status(con, dt.date.fromisoformat(TODAY))
    assert ref, "the world has retrofit plans"
    first = client.get("/api/retrofits/plans", params={"today": TODAY},
                       headers=h(tokens, "admin")).json()
    assert any("2027" in w for w in first["warnings"]) and first["today"] == TODAY
    for role in ROLES:
        body = client.get("/api/retrofits/plans", params={"today": TODAY},
                          headers=h(tokens, role)).json()
        want = [x for x in ref if x["enterprise_id"] in {world.ent[k]
                                                         for k in world.visible[role]}]
        assert len(body["items"]) == len(want), role
        assert [(x["plan_id"], x["milestone"], x["state"], x["due"]) for x in body["items"]] == [
            (x["plan_id"], x["milestone"], x["state"], x["due"].isoformat()) for x in want]
    # a regulator of another province (Shanxi) sees none of Hunan's plans
    yq_only = client.get("/api/retrofits/plans", params={"today": TODAY},
                         headers=h(tokens, "maint_yq")).json()["items"]
    assert {x["enterprise_id"] for x in yq_only} <= {world.ent["yq"]}


def test_retrofit_progress_roles_and_districts(env):
    _world, client, tokens = env
    admin = client.get("/api/retrofits/progress", params={"today": TODAY},
                       headers=h(tokens, "admin")).json()["items"]
    assert {x["programme"] for x in admin} >= {"cement_ule"}
    assert client.get("/api/retrofits/progress", headers=h(tokens, "ent_cs")
                      ).json()["items"] == []
    d = client.get("/api/retrofits/districts", params={"today": TODAY},
                   headers=h(tokens, "reg_changsha")).json()["items"]
    assert {x["district_code"] for x in d} == {"430102"}
    assert sum(x["plans"] for x in d) == 1
    d_all = client.get("/api/retrofits/districts", params={"today": TODAY},
                       headers=h(tokens, "admin")).json()["items"]
    assert {x["district_code"] for x in d_all} == {"430102", "430202", "140302"}
    own = client.get("/api/retrofits/districts", params={"today": TODAY},
                     headers=h(tokens, "ent_zz")).json()["items"]
    assert [(x["district_code"], x["plans"]) for x in own] == [("430202", 1)]


def _mark(client, tokens, role, key, world, hours_ago, **extra):
    start = cst_now() - dt.timedelta(hours=hours_ago)
    body = {"outlet_id": world.outlet[key], "kind": "faulty", "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(), "reason": "除尘器故障"} | extra
    return client.post("/api/marks", headers=h(tokens, role), json=body)


def test_enterprise_cannot_review_its_own_mark(env):
    world, client, tokens = env
    r = _mark(client, tokens, "ent_cs", "cs", world, 30)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    own = client.post(f"/api/marks/{mid}/review", headers=h(tokens, "ent_cs"),
                      json={"decision": "accepted"})
    assert own.status_code == 403
    far = client.post(f"/api/marks/{mid}/review", headers=h(tokens, "maint_yq"),
                      json={"decision": "accepted"})
    assert far.status_code == 403
    listed = client.get("/api/marks", headers=h(tokens, "ent_cs")).json()["items"]
    assert [x["status"] for x in listed if x["id"] == mid] == ["pending"]
    # rejection needs a note; then the regulator in scope decides and it is audited
    nonote = client.post(f"/api/marks/{mid}/review", headers=h(tokens, "reg_changsha"),
                         json={"decision": "rejected"})
    assert nonote.status_code == 422
    ok = client.post(f"/api/marks/{mid}/review", headers=h(tokens, "reg_changsha"),
                     json={"decision": "rejected", "note": "无故障记录"})
    assert ok.status_code == 200 and ok.json()["status"] == "rejected"
    again = client.post(f"/api/marks/{mid}/review", headers=h(tokens, "reg_changsha"),
                        json={"decision": "accepted"})
    assert again.status_code == 409
    with client.app.state.db.cursor() as cur:
        who = cur.execute("SELECT who FROM audit_log WHERE action = 'mark_rejected' AND target = ?",
                          [f"enterprise_mark:{mid}"]).fetchall()
    assert who == [("reg_changsha",)]


def test_marks_of_other_enterprises_out_of_reach(env):
    world, client, tokens = env
    assert _mark(client, tokens, "ent_cs", "zz", world, 20).status_code == 404
    r = _mark(client, tokens, "ent_zz", "zz", world, 20)
    assert r.status_code == 201
    mid = r.json()["id"]
    # Changsha's regulator cannot see or decide a Zhuzhou mark; Hunan's can
    assert mid not in {x["id"] for x in client.get("/api/marks", headers=h(
        tokens, "reg_changsha")).json()["items"]}
    assert client.post(f"/api/marks/{mid}/review", headers=h(tokens, "reg_changsha"),
                       json={"decision": "accepted"}).status_code == 404
    assert client.post(f"/api/marks/{mid}/review", headers=h(tokens, "reg_hunan"),
                       json={"decision": "accepted"}).status_code == 200
    # past the entry deadline (48 h after the period ended): refused with the reason
    late = _mark(client, tokens, "ent_zz", "zz", world, 24 * 10)
    assert late.status_code == 422 and "deadline" in late.json()["detail"]
    # a regulator never enters marks
    assert _mark(client, tokens, "reg_hunan", "zz", world, 5).status_code == 403


def test_intensity_just_over_norm_and_scope(env):
    world, client, tokens = env
    rows = client.get("/api/carbon/intensity", headers=h(tokens, "admin")).json()["items"]
    by = {x["metric"]: x for x in rows if x["enterprise_id"] == world.ent["cs"]}
    # 2110 t / 1000 t = 2.11 t CO2/t > 2.1; 800000 kgce / 1000 t = 800 kgce/t <= 823
    assert by["co2_t_per_t"]["value"] == pytest.approx(2.11) and by["co2_t_per_t"]["over"]
    assert by["energy_kgce_per_t"]["value"] == pytest.approx(800.0)
    assert not by["energy_kgce_per_t"]["over"]
    with client.app.state.db.cursor() as con:
        ref = intensity_check(ibis.duckdb.from_connection(con).table("production_record"))
        assert len(rows) == len(ref.to_pyarrow().to_pylist())
    assert client.get("/api/carbon/intensity", headers=h(tokens, "ent_zz")
                      ).json()["items"] == []


def test_offsets_double_and_scope(env):
    _world, client, tokens = env
    rows = client.get("/api/offsets", headers=h(tokens, "reg_hunan")).json()["items"]
    assert len(rows) == 1
    # non-attaining area: 12.5 t/a new NOx load needs 2 × 12.5 = 25 t/a of verified offsets
    assert rows[0]["required_t"] == 25.0 and rows[0]["gap_t"] == 25.0
    assert rows[0]["covered"] is False
    with client.app.state.db.cursor() as con:
        assert rows[0]["required_t"] == offset_balance(con)[0]["required_t"]
    for role in ("reg_changsha", "ent_cs", "maint_yq"):
        assert client.get("/api/offsets", headers=h(tokens, role)).json()["items"] == [], role


def test_ledger_downloads_are_audited(env):
    _world, client, tokens = env
    r = client.get("/api/transport", params={"month": MONTH, "format": "csv"},
                   headers=h(tokens, "reg_changsha"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert name("cs") in text and name("zz") not in text
    x = client.get("/api/retrofits/plans", params={"format": "xlsx"},
                   headers=h(tokens, "admin"))
    assert x.status_code == 200 and x.content[:2] == b"PK"
    with client.app.state.db.cursor() as cur:
        got = cur.execute("SELECT who, target FROM audit_log WHERE action = 'export' AND "
                          "target LIKE 'clean_transport_%'").fetchall()
    assert ("reg_changsha", f"clean_transport_{MONTH}") in got


@pytest.mark.parametrize("path", ["/api/production/violations", "/api/alerts/actions",
                                  "/api/alerts/violations", "/api/alerts/reduction",
                                  "/api/grades", "/api/emissions/loads", "/api/emissions/yoy",
                                  "/api/emissions/retrofit-credit",
                                  "/api/transport/fleet", "/api/retrofits/dynamic-list"])
def test_other_ledger_routes_answer_in_scope(env, path):
    world, client, tokens = env
    assert client.get(path).status_code == 401
    for role in ROLES:
        r = client.get(path, params={"month": MONTH}, headers=h(tokens, role))
        assert r.status_code == 200, (role, r.text[:200])
        ids = {x.get("enterprise_id") for x in r.json()["items"]} - {None}
        assert ids <= {world.ent[k] for k in world.visible[role]}, role


def test_yoy_for_a_year_without_targets_is_empty_not_an_error(env):
    _world, client, tokens = env
    for by in ("enterprise_id", "district_code"):
        r = client.get("/api/emissions/yoy", params={"year": 2001, "by": by},
                       headers=h(tokens, "admin"))
        assert r.status_code == 200 and r.json() == {"items": [], "year": 2001}
