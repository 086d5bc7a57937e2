"""The "Data paused" banner as a supervisor sees it: pushed to an open page when Redis goes away, legible
in both themes (axe-core finds nothing serious), and gone by itself when Redis is back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.telnyx import signing
from tests.axe import THEMES, audit, blocking, prepare
from tests.cluster.instances import ADMIN, Instance
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("theme", THEMES)
def test_the_data_paused_banner_reaches_an_open_page_passes_axe_and_leaves_by_itself(
        browser, tmp_path, durable_redis, theme, artifacts_dir):
    instance = Instance(tmp_path, "a", durable_redis.url, signing.generate_signing_key()).start()
    context = browser.new_context(extra_http_headers=ADMIN, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        prepare(page, theme)
        page.goto(instance.url + "/")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        expect(page.locator("#data-paused-banner")).to_have_count(0)
        durable_redis.stop()
        banner = page.locator("#data-paused-banner")
        expect(banner).to_be_visible(timeout=15_000)
        expect(banner).to_contain_text("Data paused.")
        expect(banner).to_have_attribute("role", "alert")
        # The socket is still up, but the pill must not go on saying "Live" over frozen data.
        expect(page.locator("#live-state")).to_have_attribute("data-state", "paused")
        expect(page.locator("#live-state .live-label")).to_have_text("Data paused")
        page.screenshot(path=str(artifacts_dir / f"cluster-data-paused-{theme}.png"), full_page=True)
        problems = blocking(audit(page))
        assert problems == [], "\n".join(problems)
        durable_redis.restart()
        expect(banner).to_have_count(0, timeout=15_000)
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        wait_for(lambda: instance.ready_status() == 200, timeout=15, message="/readyz never recovered")
    finally:
        context.close()
        instance.stop()
