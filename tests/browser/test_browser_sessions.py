"""Chromium: a page whose session ends elsewhere (an admin disables its user, or another tab signs out)
stops its live connection within a second, says why, and offers to sign in again instead of reconnecting."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from console.access.users import add_user
from tests.browser.test_browser_auth import PASSWORD, sign_in
from tests.live_servers import *  # the simulator fixtures
from tests.live_servers import LiveConsole, console_config

pytestmark = pytest.mark.browser


@pytest.fixture
def accounts(tmp_path, simulator):
    """A console that is not in demo mode, with a supervisor and an admin."""
    console = LiveConsole({**console_config(tmp_path / "console.db", simulator), "CONSOLE_DEMO": False},
                          simulator, reconcile=False).start()
    store = console.app.extensions["console.store"]
    for name, role in (("sam", "supervisor"), ("ada", "admin")):
        add_user(store, name, role, PASSWORD)
    try:
        yield console
    finally:
        simulator.delivery.set_url(None)
        console.stop()


def test_a_user_disabled_on_another_client_sees_their_session_end_within_a_second(accounts, page, browser,
                                                                                   artifacts_dir):
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    sign_in(page, accounts.url, "sam")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    admin_context = browser.new_context()
    try:
        admin = admin_context.new_page()
        sign_in(admin, accounts.url, "ada", landing="/users")
        admin.get_by_role("button", name="Disable sam").click()
        expect(admin.get_by_role("status").filter(has_text="sam can no longer sign in")).to_be_visible()
        disabled_at = time.monotonic()
        banner = page.locator("#session-ended-banner")
        expect(banner).to_be_visible(timeout=2000)
        assert time.monotonic() - disabled_at < 1.5  # under a second on the server, plus the browser's turn
        expect(banner).to_have_attribute("role", "alert")
        expect(banner).to_contain_text("Your session has ended: your account was disabled.")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "ended")
        expect(page.locator("#live-state .live-label")).to_have_text("Signed out")
        page.screenshot(path=str(artifacts_dir / "sessions-disabled.png"), full_page=True)
        assert len(sockets) == 1 and sockets[0].is_closed()
        page.get_by_role("link", name="Sign in again").click()
        expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))
        page.get_by_label("Name").fill("sam")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("That name and password do not match an enabled user.")
        assert len(sockets) == 1  # the ended page never tried to reconnect
    finally:
        admin_context.close()


def test_signing_out_in_one_tab_ends_the_live_page_in_another(accounts, page, context):
    sign_in(page, accounts.url, "sam")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    other_tab = context.new_page()
    other_tab.goto(f"{accounts.url}/ended")
    expect(other_tab.locator("#live-state")).to_have_attribute("data-state", "live")
    other_tab.get_by_role("button", name="Sign out").click()
    expect(other_tab.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#session-ended-banner")).to_contain_text("Your session has ended: you signed out.",
                                                                  timeout=2000)
    expect(page.get_by_role("link", name="Sign in again")).to_have_attribute("href", re.compile(r"/login\?next="))
