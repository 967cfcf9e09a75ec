"""Production & alerts page and API: names not ids, codes named in Chinese/English, grade at
alert start, month filter (issue 9).

On the shared API world (:mod:`test_api_world`): 长沙示范水泥有限公司 (credit code
91430100TEST0001, district 430102) is graded B from 2026-09-01 and C from 2026-10-15
(registry history). Its line 1号窑 runs (power 900 kWh > idle 50 kW × 1 h) 4 hours in each of
two orange alerts of city 4301 (CST): alert 1 on 10-10 (grade at start B → reduce, running
allowed) and alert 2 on 10-20 (C → stop: a violation of 4 h with power evidence).
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from lantian.api.app import create_app
from lantian.ledger.alerts import enter_alert
from lantian.ledger.history import record_version
from lantian.store.db import connect
from test_api_world import ENTERPRISES, PASSWORD, build_world

T = dt.datetime
NAME, CREDIT = ENTERPRISES["cs"][0], ENTERPRISES["cs"][3]


def add_alert_data(world) -> None:
    """Write the grade history, line, alerts and power readings of the module docstring."""
    con = connect(world.path)
    eid = world.ent["cs"]
    attrs = {"name": NAME, "credit_code": CREDIT, "sector": "cement", "district_code": "430102"}
    record_version(con, "enterprise", CREDIT, {**attrs, "grade": "B"}, dt.date(2026, 9, 1), "t")
    record_version(con, "enterprise", CREDIT, {**attrs, "grade": "C"}, dt.date(2026, 10, 15),
                   "t")
    con.execute("UPDATE enterprise SET grade = 'C' WHERE id = ?", [eid])
    con.execute("INSERT INTO production_line (enterprise_id, name, kind, idle_kw)"
                " VALUES (?, '1号窑', 'cement_kiln', 50)", [eid])
    for i, start in enumerate((T(2026, 10, 10, 8), T(2026, 10, 20, 8)), start=1):
        enter_alert(con, district_code="4301", level="orange", start=start,
                    end=start + dt.timedelta(hours=24), who="t", source=f"长重污办〔2026〕{i}号")
        con.execute("INSERT INTO power_reading SELECT ?, '1号窑', ? + to_hours(h), 900"
                    " FROM range(1, 5) r(h)", [eid, start])
    con.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("alert_pages") / "w.duckdb")
    add_alert_data(world)
    with TestClient(create_app(world.path)) as client:
        tok = client.post("/api/auth/login", json={"name": "admin", "password": PASSWORD}
                          ).json()["token"]
        yield world, client, {"Cookie": f"lantian_session={tok}"}


def _get(client, headers, path, **params):
    r = client.get(path, headers=headers, params=params, follow_redirects=False)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r


def _table(html: str, tid: str) -> str:
    return html.split(f'id="{tid}"', 1)[1].split("</table>", 1)[0]


def test_api_keeps_ids_and_adds_names(env) -> None:
    world, client, headers = env
    items = _get(client, headers, "/api/alerts/actions", month="2026-10").json()["items"]
    mine = sorted((r["alert_id"], r["enterprise_id"], r["enterprise"], r["grade"], r["action"],
                   r["running_hours"], r["complied"]) for r in items if r["line"] == "1号窑")
    eid = world.ent["cs"]
    # the world has no hourly loads in the alerts: a reduce measure cannot be judged (null)
    assert mine == [(1, eid, NAME, "B", "reduce", 4, None), (2, eid, NAME, "C", "stop", 4, False)]
    (v,) = _get(client, headers, "/api/alerts/violations").json()["items"]
    assert (v["alert_id"], v["enterprise_id"], v["enterprise"], v["running_hours"],
            v["evidence"]) == (2, eid, NAME, 4, "power")
    assert _get(client, headers, "/api/alerts/actions", month="2026-09").json()["items"] == []


def test_page_in_chinese_names_and_codes(env) -> None:
    _world, client, headers = env
    html = _get(client, headers, "/ledgers/production", month="2026-10").text
    actions = _table(html, "action-table")
    assert NAME in actions and "预警开始时绩效分级" in actions
    assert "橙色预警" in actions and "限产" in actions and "停产" in actions
    assert "登记变更记录" in actions  # grade taken from the registry history
    assert "未落实" in actions and "不作判定" in actions
    av = _table(html, "alert-violation-table")
    assert NAME in av and "用电量" in av and ">4<" in av
    assert "2026-10-20 08:00" in actions and "T08:00" not in actions  # CST wall-clock
    assert "环大气〔2024〕6号" in html.split('id="reduction-note"', 1)[1]
    assert "中国标准时间" in html
    assert "/api/alerts/actions?month=2026-10&amp;format=csv" in html


def test_page_in_english(env) -> None:
    _world, client, headers = env
    html = _get(client, headers, "/ledgers/production", month="2026-10", lang="en").text
    actions = _table(html, "action-table")
    assert "Grade at alert start" in actions and "orange" in actions
    assert "reduce output" in actions and ">stop<" in actions and "橙色预警" not in actions
    assert ">breached<" in actions and ">not judged<" in actions
    assert "power use" in _table(html, "alert-violation-table")
    assert "China Standard Time" in html


def test_month_filter_and_all_periods(env) -> None:
    _world, client, headers = env
    sept = _get(client, headers, "/ledgers/production", month="2026-09").text
    assert "暂无数据" in _table(sept, "action-table")
    every = _get(client, headers, "/ledgers/production").text
    assert "全部时段" in every and _table(every, "action-table").count(NAME) >= 2
