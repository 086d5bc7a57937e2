"""Chromium against a live console and simulator: the wallboard follows the queues and raises and clears alerts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.live.ui import dom_id
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"


@pytest.fixture
def console_overrides():
    # A short hold, so the alert clears within the test yet still goes through the hold.
    return {"CONSOLE_ALERT_THRESHOLDS": "*:depth=2/3,longest_wait=600/1200", "CONSOLE_ALERT_CLEAR_SECONDS": 1}


def queue_caller(world, queue: str, number: str, name: str) -> str:
    call = world.incoming_call(number, SUPPORT_LINE, caller_id_name=name)
    world.answer_call(call["call_control_id"])
    world.enqueue(call["call_control_id"], queue)
    return call["call_control_id"]


def test_wallboard_updates_live_and_alerts_fire_and_clear(page, live_console, simulator, artifacts_dir):
    world = simulator.world
    page.goto(f"{live_console.url}/wallboard?queues=Support")
    expect(page.locator("body")).to_have_attribute("data-live", "open", timeout=5000)
    page.evaluate("window.__sameDocument = true")
    tile = page.locator(f"#{dom_id('wallboard-tile', 'Support')}")

    legs = [queue_caller(world, "Support", f"+1555000100{index}", f"Caller {index}") for index in range(3)]
    expect(tile.locator(".wb-waiting dd")).to_have_text("3", timeout=5000)
    expect(tile).to_have_attribute("data-level", "critical")
    expect(page.locator("#announcer")).to_contain_text("Support: alert critical", timeout=5000)
    page.screenshot(path=str(artifacts_dir / "wallboard-critical.png"), full_page=True)
    store = live_console.app.extensions["console.store"]

    def depth_levels():
        return [event.payload["level"] for event in store.logged_events_of_types(
            ["console.alert.raised", "console.alert.cleared"])
            if event.payload["queue"] == "Support" and event.payload["metric"] == "depth"]

    wait_for(lambda: "critical" in depth_levels(), timeout=10, message="the alert was not recorded")

    for leg in legs:
        world.remote_hangup(leg)
    expect(tile.locator(".wb-waiting dd")).to_have_text("0", timeout=5000)
    # The alert is held for CONSOLE_ALERT_CLEAR_SECONDS, then the watcher's next round (every 2 s) clears it.
    expect(tile).to_have_attribute("data-level", "ok", timeout=10000)
    expect(page.locator("#announcer")).to_contain_text("Support: back to normal", timeout=5000)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded

    wait_for(lambda: depth_levels()[-1:] == ["ok"], timeout=10, message="the alert clearing was not recorded")
