"""Real headless Chromium (Debian's ``chromium``) driven by Playwright: generate a monthly
report from the enterprise page, watch the job finish, download the PDF; open the AQ pages.
Set-up shared with ``test_browser.py`` in ``browser_support.py``.
"""

from __future__ import annotations

import pytest

from browser_support import served_with_browser
from test_api_world import MONTH, PASSWORD, build_world
from test_aq_pages import add_air_quality

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("rbrowser") / "w.duckdb")
    add_air_quality(world.path)
    with served_with_browser(world.path) as (base, browser):
        ctx = browser.new_context(accept_downloads=True)
        page = ctx.new_page()
        page.goto(f"{base}/login")
        page.fill("#name", "reg_hunan")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url("**/overview*")
        yield world, base, page
        ctx.close()


def test_generate_and_download_monthly_report(server, tmp_path):
    world, base, page = server
    page.goto(f"{base}/enterprises/{world.ent['cs']}")
    page.click("#ent-report")
    page.wait_for_url(f"{base}/reports?enterprise={world.ent['cs']}")
    assert page.input_value("#report-enterprise") == str(world.ent["cs"])
    page.fill("#report-month", MONTH)
    page.click("#report-generate")
    page.wait_for_url(f"{base}/jobs/*")
    page.wait_for_selector('#job[data-state="done"]', timeout=180_000)
    assert page.evaluate("document.getElementById('job-progress').value") == 100
    link = page.locator("a.job-file", has_text=".pdf")
    with page.expect_download() as dl:
        link.click()
    target = tmp_path / "report.pdf"
    dl.value.save_as(target)
    assert target.read_bytes()[:5] == b"%PDF-"
    assert dl.value.suggested_filename == f"monthly_{MONTH}_{world.ent['cs']}.pdf"


def test_open_aq_pages(server):
    _, base, page = server
    page.click("#nav-aq")
    page.wait_for_url(f"{base}/aq")
    page.select_option("#aq-level", "city")
    page.goto(f"{base}/aq?level=city&place=长沙&month=2026-10")
    assert page.locator("#aq-calendar .aq-value").all_inner_texts() == ["119", "119", "119"]
    assert page.locator("#aq-hourly tbody tr").count() == 24
    page.click("#aq-nav-ranking")
    page.wait_for_url(f"{base}/aq/ranking")
    assert "株洲" in page.inner_text("#aq-ranking")
    page.click("#aq-nav-targets")
    page.wait_for_url(f"{base}/aq/targets")
    assert "芙蓉区" in page.inner_text("#aq-targets")
    assert "中国标准时间" in page.inner_text("footer")
