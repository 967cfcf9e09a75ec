"""Real headless Chromium (Debian's ``chromium``) driven by Playwright: log in, open
overview → enterprise → outlet, and read the limit line from the ECharts option, as each role.
"""

from __future__ import annotations

import datetime as dt

import pytest

from browser_support import served_with_browser
from lantian.catalog.limits import applicable_limits
from test_api_world import ENTERPRISES, MONTH, PASSWORD, build_world

pytestmark = pytest.mark.browser

# role -> the enterprise it walks to, and what its overview must list
ROLES = {
    "admin": ("zz", {"cs", "zz", "yq"}),
    "reg_hunan": ("cs", {"cs", "zz"}),
    "ent_cs": ("cs", {"cs"}),
    "maint_yq": ("yq", {"yq"}),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("browser") / "w.duckdb")
    with served_with_browser(world.path) as (base, browser):
        yield world, base, browser


@pytest.mark.parametrize("role", list(ROLES))
def test_login_overview_enterprise_outlet_chart(server, role):
    world, base, browser = server
    target, visible = ROLES[role]
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/login")
        page.fill("#name", role)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/overview*")
        page.goto(f"{base}/overview?month={MONTH}")
        names = set(page.locator("#overview-table a.ent-link").all_inner_texts())
        assert names == {ENTERPRISES[k][0] for k in visible}
        assert "中国标准时间" in page.inner_text("footer")
        page.click(f"text={ENTERPRISES[target][0]}")
        page.wait_for_url(f"{base}/enterprises/{world.ent[target]}")
        assert page.inner_text("#ent-name") == ENTERPRISES[target][0]
        page.click("#outlet-table a.outlet-link")
        page.wait_for_url(f"{base}/outlets/{world.outlet[target]}*")
        chart_id = f"chart-{world.mn[target]}-so2"
        page.wait_for_selector(f"#{chart_id} canvas")
        option = page.evaluate(
            "id => { const o = echarts.getInstanceByDom(document.getElementById(id)).getOption();"
            " return {limit: o.series[0].markLine.data[0].yAxis,"
            " n: o.series[0].data.length, shaded: o.series[0].markArea.data.length,"
            " exceed: o.series[2].data.length}; }", chart_id)
        _, _, _, _, _, stype, jur, _ = ENTERPRISES[target]
        expected = applicable_limits(stype, dt.date(2026, 10, 1), jur)["so2"].limit_mg_m3
        assert option["limit"] == expected
        assert option["n"] == 48  # the 48 stored hours
        assert option["shaded"] == 1  # hours 20-21 flagged M: one span
        assert option["exceed"] == 1  # hour 10: corrected 55 > limit
        assert page.locator(f"#chart-{world.mn[target]}-o2flow canvas").count() >= 1
        # a page out of scope is a 404 for everybody but admin
        others = [k for k in ENTERPRISES if k not in visible]
        for k in others:
            resp = page.goto(f"{base}/outlets/{world.outlet[k]}")
            assert resp is not None and resp.status == 404
    finally:
        ctx.close()


def test_english_switch(server):
    _, base, browser = server
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{base}/login?lang=en")
        assert page.inner_text("h1") == "Log in"
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/overview*")
        assert "China Standard Time" in page.inner_text("footer")
        assert "Monthly ULE verdict" in page.inner_text("#overview-table")
    finally:
        ctx.close()
