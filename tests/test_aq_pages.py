"""Air-quality pages: calendar, hourly AQI, composite ranking and targets on a worked example.

Two cities, one station each, 1–3 October 2026 (CST), every hour constant:
SO2 10, NO2 20, PM10 40, O3 50 µg/m³, CO 0.5 mg/m³; PM2.5 80 µg/m³ in 长沙 (station A1,
district 芙蓉区) and 30 µg/m³ in 株洲 (station B1, district 荷塘区).

By hand (HJ 633-2026 breakpoints, in force from 2026-03-01; IAQI rounded up):
* 长沙 daily AQI = IAQI(PM2.5 80) = 100 + (150 − 100) / (115 − 60) × (80 − 60) = 118.18 → 119,
  primary PM2.5, level 3 (轻度污染); 株洲 = max(IAQI(PM2.5 30) = 42.86, IAQI(PM10 40) = 40)
  → 43, level 1, no primary pollutant (AQI ≤ 50).
* composite index (GB 3095-2012 grade-2 annual S_i; CO and O3 on their percentiles):
  株洲 10/60 + 20/40 + 40/70 + 30/35 + 0.5/4 + 50/160 = 2.53; 长沙 replaces 30/35 by 80/35:
  3.96 → 株洲 rank 1, 长沙 rank 2.
* target PM2.5 35 for 芙蓉区 in 2026, as of 3 October: year-to-date 80, gap +45, projection 80
  (no other data), not on track.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest
from fastapi.testclient import TestClient

from lantian.api.app import create_app
from test_api_world import PASSWORD, build_world

STATIONS = (("A1", "长沙A站", "长沙", "芙蓉区", 80.0), ("B1", "株洲B站", "株洲", "荷塘区", 30.0))
T0 = dt.datetime(2026, 10, 1)


def add_air_quality(path) -> None:
    con = duckdb.connect(str(path))
    for code, name, city, district, pm25 in STATIONS:
        con.execute("INSERT INTO aq_station (station, name, city, district) VALUES (?, ?, ?, ?)",
                    [code, name, city, district])
        for h in range(72):
            con.execute("INSERT INTO aq_hour (station, ts, so2, no2, pm10, pm2_5, co, o3, source) "
                        "VALUES (?, ?, 10, 20, 40, ?, 0.5, 50, 'test')",
                        [code, T0 + dt.timedelta(hours=h), pm25])
    con.execute("INSERT INTO aq_target (place, level, year, pollutant, target, unit, source) "
                "VALUES ('芙蓉区', 'district', 2026, 'pm2_5', 35, 'ug/m3', 'test')")
    con.close()


@pytest.fixture(scope="module")
def c(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("aq") / "w.duckdb")
    add_air_quality(w.path)
    client = TestClient(create_app(w.path))
    r = client.post("/login", data={"name": "admin", "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    cells = [[re.sub(r"<[^>]+>", "", x).strip()
              for x in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)] for r in rows]
    return [c for c in cells if c]  # header rows have <th> only


def test_calendar_city(c):
    r = c.get("/aq", params={"level": "city", "place": "长沙", "month": "2026-10"})
    assert r.status_code == 200
    values = re.findall(r'<span class="aq-value">([^<]+)</span>', r.text)
    assert values == ["119", "119", "119"]
    assert 'id="aq-good">0<' in r.text and 'id="aq-heavy">0<' in r.text
    r2 = c.get("/aq", params={"level": "city", "place": "株洲", "month": "2026-10"})
    assert re.findall(r'<span class="aq-value">([^<]+)</span>', r2.text) == ["43", "43", "43"]
    assert 'id="aq-good-ratio">100.0%' in r2.text


def test_hourly_primary_pollutant(c):
    r = c.get("/aq", params={"level": "station", "place": "A1", "month": "2026-10",
                             "day": "2026-10-03"})
    rows = _cells(r.text, "aq-hourly")
    assert len(rows) == 24
    assert rows[0][0] == "2026-10-03T00:00:00" and rows[-1][0] == "2026-10-03T23:00:00"
    assert {(x[1], x[3]) for x in rows} == {("119", "pm2_5")}


def test_ranking_composite(c):
    r = c.get("/aq/ranking", params={"month": "2026-10", "level": "city"})
    rows = _cells(r.text, "aq-ranking")
    assert [(x[0], x[1]) for x in rows] == [("1", "株洲"), ("2", "长沙")]
    zz = 10 / 60 + 20 / 40 + 40 / 70 + 30 / 35 + 0.5 / 4 + 50 / 160
    cs = zz - 30 / 35 + 80 / 35
    assert float(rows[0][2]) == pytest.approx(zz, abs=0.02)
    assert float(rows[1][2]) == pytest.approx(cs, abs=0.02)
    assert rows[0][10] == "100.0" and rows[1][10] == "0.0"  # good-day ratio [%]
    assert rows[1][11] == "0"  # heavy-pollution days


def test_targets_gap_and_projection(c):
    r = c.get("/aq/targets", params={"as_of": "2026-10-03"})
    rows = _cells(r.text, "aq-targets")
    assert rows == [["芙蓉区", "district", "pm2_5", "35.0", "80.0", "+45.0", "80.0",
                     rows[0][7], "不可达"]]
    # the rest of the year (89 days) would need (35 × 92 − 80 × 3) / 89 µg/m³
    assert float(rows[0][7]) == pytest.approx((35 * 92 - 80 * 3) / 89, abs=0.05)


def test_pages_need_login(tmp_path):
    w = build_world(tmp_path / "w.duckdb")
    anon = TestClient(create_app(w.path))
    for url in ("/aq", "/aq/ranking", "/aq/targets"):
        assert anon.get(url, follow_redirects=False).status_code == 303
