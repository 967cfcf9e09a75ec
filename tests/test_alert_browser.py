"""The production & alerts page in headless Chromium (Playwright): a regulator's view of the
alert measures by name, and the month form (data of :mod:`test_alert_pages`, CST).
"""

from __future__ import annotations

import pytest

from browser_support import served_with_browser
from test_alert_pages import NAME, add_alert_data
from test_api_world import PASSWORD, build_world

pytestmark = pytest.mark.browser


def test_alerts_page_names_and_month_form(tmp_path):
    world = build_world(tmp_path / "w.duckdb")
    add_alert_data(world)
    with served_with_browser(world.path) as (base, browser):
        ctx = browser.new_context()
        page = ctx.new_page()
        try:
            page.goto(f"{base}/login")
            page.fill("#name", "reg_changsha")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(f"{base}/overview*")
            page.goto(f"{base}/ledgers/production?month=2026-10")
            rows = page.locator("#action-table tbody tr").all_inner_texts()
            assert len(rows) == 2 and all(NAME in r for r in rows)
            assert "限产" in rows[0] and "停产" in rows[1]
            assert "用电量" in page.inner_text("#alert-violation-table")
            page.fill("input[name=month]", "2026-09")
            page.click("form.filters button")
            page.wait_for_url(f"{base}/ledgers/production?month=2026-09")
            assert "暂无数据" in page.inner_text("#action-table")
        finally:
            ctx.close()
