"""Shift safety in Chromium against a live demo console: the whisper list and its customer confirmation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from console.live.ui import dom_id
from tests.browser import test_browser_supervision as supervision_tests
from tests.browser.test_browser_phone import overflow
from tests.browser.test_browser_supervision import (  # noqa: F401  (fixtures: the console settings, the room)
    my_line,
    no_page_errors,
    open_conference,
    room,
)
from tests.live_servers import *

pytestmark = pytest.mark.browser


@pytest.fixture
def console_overrides():
    """The same demo console as the supervision tests: it can dial the supervisor's line."""
    return supervision_tests.console_overrides.__wrapped__()


def test_the_whisper_list_ticks_the_agent_and_a_customer_needs_the_worded_confirmation(
        page: Page, live_console, simulator, room, artifacts_dir):  # noqa: F811
    conference_id, customer, agent = room
    open_conference(page, live_console.url, conference_id)
    page.get_by_role("button", name="Connect my line").click()
    expect(page.locator("[data-supervision] .line-state")).to_contain_text("Your line is connected", timeout=5000)
    targets = page.locator(f"#{dom_id('whisper-targets', conference_id)}")
    agent_box = page.locator(f"#{dom_id('whisper-target', conference_id, agent)}")
    customer_box = page.locator(f"#{dom_id('whisper-target', conference_id, customer)}")
    expect(agent_box).to_be_checked()
    expect(customer_box).not_to_be_checked()
    first = targets.locator("input[name=whisper_call_control_ids]").first
    expect(first).to_have_attribute("value", agent)
    for width in (1440, 390):
        for scheme in ("light", "dark"):
            page.set_viewport_size({"width": width, "height": 1000})
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=str(artifacts_dir / f"shift-safety-supervisor-{width}-{scheme}.png"), full_page=True)
            assert overflow(page) == "", f"the supervisor's panel scrolls sideways at {width} px ({scheme})"
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1440, "height": 1000})

    agent_box.uncheck()
    customer_box.check()
    page.get_by_role("button", name="Whisper to ticked").click()
    notice = page.locator("[data-supervision-notice]")
    expect(notice).to_contain_text("the customer would hear your whisper")
    me = my_line(live_console)
    assert me not in simulator.world.audio_paths(conference_id)["hears"].get(customer, []), "refused, so nobody hears"
    page.locator(f"#{dom_id('whisper-customer-confirm', conference_id)}").check()
    page.get_by_role("button", name="Whisper to ticked").click()
    expect(notice).to_contain_text("Whispering: only Customer Carol can hear you", timeout=5000)
    page.screenshot(path=str(artifacts_dir / "shift-safety-whisper-customer.png"), full_page=True)
