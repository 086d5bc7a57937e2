"""Chromium: a browser over its limit of live pages is told why on the page, and gets in once one closes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.access.users import add_user
from tests.browser.test_browser_auth import PASSWORD, sign_in
from tests.live_servers import *  # the simulator fixtures
from tests.live_servers import LiveConsole, console_config

pytestmark = pytest.mark.browser


@pytest.fixture
def two_pages_a_browser(tmp_path, simulator):
    """A console (not in demo mode) that lets one signed-in browser hold two live pages."""
    config = {**console_config(tmp_path / "console.db", simulator), "CONSOLE_DEMO": False,
              "CONSOLE_MAX_SOCKETS_PER_SESSION": 2}
    console = LiveConsole(config, simulator, reconcile=False).start()
    add_user(console.app.extensions["console.store"], "sam", "supervisor", PASSWORD)
    try:
        yield console
    finally:
        simulator.delivery.set_url(None)
        console.stop()


def test_a_page_over_the_limit_says_why_and_goes_live_when_another_closes(two_pages_a_browser, page, context,
                                                                          artifacts_dir):
    sign_in(page, two_pages_a_browser.url, "sam")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    second = context.new_page()
    second.goto(f"{two_pages_a_browser.url}/ended")
    expect(second.locator("#live-state")).to_have_attribute("data-state", "live")

    third = context.new_page()
    third.goto(f"{two_pages_a_browser.url}/")
    banner = third.locator("#too-many-pages-banner")
    expect(banner).to_contain_text("This browser already has 2 live pages open")
    expect(banner).to_contain_text("Live updates are paused on this page.")
    expect(third.locator("#live-state .live-label")).to_have_text("Too many pages open")
    third.screenshot(path=str(artifacts_dir / "page-limit.png"), full_page=True)

    second.close()
    expect(third.locator("#live-state")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(banner).to_have_count(0)
