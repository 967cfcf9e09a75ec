"""Substituted loads beside measured ones on the ledger API, page and CLI (issues 3, 9).

Built on the shared API test world (October 2026, CST). Added here:

* Changsha's point has stored engine months (``month_load``, as ``lantian assess --loads``
  writes them): 2026-10 SO2 1200 kg measured over 40 h + 300 kg substituted for 5 invalid
  production hours (2 more left open); NOx 800 kg measured, nothing substituted
  (0 kg, 0 h; 3 h left open). 2026-09 SO2 1000 kg measured + 100 kg substituted for 4 h.
* Zhuzhou's point has only the logger's -Cou amounts: 2 kg SO2 in each of its 48 hours
  → 0.096 t, no substitution known (``substituted_t`` null).

Worked by hand [t]: Changsha 2026-10 SO2 load = (1200 + 300) / 1000 = 1.5, measured 1.2,
substituted 0.3, substituted hours 5, flagged 5 + 2 = 7; the year 2026 SO2 = 1.5 + 1.1 = 2.6,
measured 2.2, substituted 0.4, substituted hours 9.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lantian.api.app import create_app
from lantian.cli import app as cli_app
from lantian.store.db import connect
from test_api_world import ENTERPRISES, PASSWORD, build_world

runner = CliRunner()
MN_CS, MN_ZZ = ENTERPRISES["cs"][7], ENTERPRISES["zz"][7]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("emissions_pages") / "w.duckdb")
    con = connect(world.path)
    con.execute("INSERT INTO month_load (mn, month, pollutant, load_kg, load_hours, "
                "substituted_load_kg, substituted_hours, unsubstituted_hours, capture_rate) "
                "VALUES (?, '2026-10', 'so2', 1200, 40, 300, 5, 2, 0.95),"
                " (?, '2026-10', 'nox', 800, 40, 0, 0, 3, 0.6),"
                " (?, '2026-09', 'so2', 1000, 30, 100, 4, 0, 0.97)", [MN_CS] * 3)
    con.execute("UPDATE flue_hour SET so2_cou = 2.0 WHERE mn = ?", [MN_ZZ])
    con.close()
    with TestClient(create_app(world.path)) as client:
        tokens = {r: client.post("/api/auth/login", json={"name": r, "password": PASSWORD}
                                 ).json()["token"] for r in ("admin", "ent_zz")}
        yield world, client, tokens


def _api(client, tokens, role, **params):
    r = client.get("/api/emissions/loads", params=params,
                   headers={"Authorization": f"Bearer {tokens[role]}"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_api_loads_show_substituted_beside_measured(env):
    world, client, tokens = env
    rows = {(r["enterprise_id"], r["period"], r["pollutant"]): r
            for r in _api(client, tokens, "admin")}
    so2 = rows[(world.ent["cs"], "2026-10", "so2")]
    assert so2["load_t"] == pytest.approx(1.5)
    assert so2["measured_t"] == pytest.approx(1.2)
    assert so2["substituted_t"] == pytest.approx(0.3)
    assert (so2["substituted_hours"], so2["flagged_hours"], so2["hours"]) == (5, 7, 40)
    nox = rows[(world.ent["cs"], "2026-10", "nox")]
    assert (nox["load_t"], nox["measured_t"], nox["substituted_t"]) == pytest.approx(
        (0.8, 0.8, 0.0))
    assert (nox["substituted_hours"], nox["flagged_hours"]) == (0, 3)
    zz = rows[(world.ent["zz"], "2026-10", "so2")]
    assert zz["load_t"] == pytest.approx(0.096) and zz["measured_t"] == pytest.approx(0.096)
    assert zz["substituted_t"] is None and zz["substituted_hours"] is None


def test_api_loads_by_year_and_district(env):
    world, client, tokens = env
    year = {(r["enterprise_id"], r["pollutant"]): r
            for r in _api(client, tokens, "admin", period="year")}
    cs = year[(world.ent["cs"], "so2")]
    assert (cs["load_t"], cs["measured_t"], cs["substituted_t"]) == pytest.approx(
        (2.6, 2.2, 0.4))
    assert cs["substituted_hours"] == 9
    dist = {(r["district_code"], r["period"], r["pollutant"]): r
            for r in _api(client, tokens, "admin", by="district_code")}
    assert dist[("430102", "2026-10", "so2")]["substituted_t"] == pytest.approx(0.3)
    assert dist[("430102", "2026-10", "so2")]["substituted_hours"] == 5
    assert dist[("430202", "2026-10", "so2")]["substituted_t"] is None  # -Cou only
    # scope: Zhuzhou's account sees its own loads only
    assert {r["enterprise_id"] for r in _api(client, tokens, "ent_zz")} == {world.ent["zz"]}


def test_emissions_page_shows_substituted_and_the_note(env):
    world, client, tokens = env
    cookie = {"Cookie": f"lantian_session={tokens['admin']}"}
    page = client.get("/ledgers/emissions", headers=cookie).text
    table = page.split('id="load-table"', 1)[1].split("</table>", 1)[0]
    assert "替代排放量 [t]" in table and "实测排放量 [t]" in table and "替代小时数 [h]" in table
    assert (f"<td>{world.ent['cs']}</td><td>2026-10</td><td>so2</td><td>1.5</td><td>1.2</td>"
            "<td>0.3</td><td>5</td><td>7</td>") in table
    assert "只用于负荷/排放量" in page and "从不替代浓度" in page
    en = client.get("/ledgers/emissions", headers=cookie, params={"lang": "en"}).text
    assert "Substituted [t]" in en and "never to concentrations" in en
    assert "从不替代浓度" not in en


def test_cli_ledger_loads(env):
    world, _client, _tokens = env
    res = runner.invoke(cli_app, ["ledger", "loads", "--db", str(world.path), "--by", "mn",
                                  "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {(r["mn"], r["period"], r["pollutant"]): r
            for r in map(json.loads, res.stdout.splitlines())}
    so2 = rows[(MN_CS, "2026-10", "so2")]
    assert (so2["load_t"], so2["measured_t"], so2["substituted_t"]) == pytest.approx(
        (1.5, 1.2, 0.3))
    assert so2["substituted_hours"] == 5
    assert rows[(MN_ZZ, "2026-10", "so2")]["substituted_t"] is None
    assert "never to concentrations" in res.stderr
