"""Script in a caller's name is shown as text: it never runs and never adds elements."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.live.ui import dom_id
from tests.browser.test_browser_live import open_live, queue_caller, start_conference
from tests.live_servers import *
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def assert_inert(page) -> None:
    assert page.evaluate("window.__pwned") is None, "injected script ran"
    assert page.locator("img[src='x']").count() == 0, "injected markup became an element"
    assert page.locator("main script, #dashboard script").count() == 0


@pytest.mark.parametrize("when", ["before the page loads", "pushed live"])
def test_script_in_a_caller_name_neither_runs_nor_adds_elements(page, simulator, live_console, when):
    world = simulator.world
    if when == "before the page loads":
        leg = queue_caller(world, "Support", "+13125550177", HOSTILE)
        assert simulator.delivery.wait_idle(5)
        page.goto(f"{live_console.url}/queues/Support")
    else:
        world.create_queue("Support")
        # No webhook announces an empty queue: the console learns of it on its next reconcile.
        store = live_console.app.extensions["console.store"]
        wait_for(lambda: store.queue("Support"), timeout=10, message="the console never learned of the queue")
        open_live(page, f"{live_console.url}/queues/Support")
        leg = queue_caller(world, "Support", "+13125550177", HOSTILE)
    caller = page.locator(f"#{dom_id('queued-call', 'Support', leg)}")
    expect(caller).to_contain_text("window.__pwned=2", timeout=5000)
    assert_inert(page)


def test_script_in_a_conference_participant_is_inert_on_every_page(page, simulator, live_console):
    open_live(page, live_console.url)
    conference_id, legs = start_conference(simulator.world, HOSTILE, ("+13125550101", HOSTILE), ("+13125550102", "Agent"))
    expect(page.locator(f"#{dom_id('conference', conference_id)}")).to_be_visible(timeout=5000)
    assert_inert(page)
    page.goto(f"{live_console.url}/conferences/{conference_id}")
    expect(page.locator(f"#{dom_id('participant', conference_id, legs[0])}")).to_contain_text(
        "window.__pwned=2", timeout=5000)
    assert_inert(page)
