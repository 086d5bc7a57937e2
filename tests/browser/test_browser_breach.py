"""Chromium: a queued caller's countdown runs out, the breach actions appear, a click speaks to the caller,
and the row's take-out removes them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.live.ui import dom_id
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.waiting import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def console_overrides():
    return {"CONSOLE_SL_QUEUE_TARGETS": "Support=80/2"}


def test_breach_countdown_reveals_actions(page, live_console, simulator, artifacts_dir):
    world = simulator.world
    ahead = world.incoming_call("+15550002222", "+18005550100", caller_id_name="Grace Hopper")["call_control_id"]
    world.answer_call(ahead)
    world.enqueue(ahead, "Support")
    call = world.incoming_call("+15550003333", "+18005550100", caller_id_name="Alan Kay")
    leg = call["call_control_id"]
    world.answer_call(leg)
    world.enqueue(leg, "Support")
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: len(store.queue_calls("Support")) == 2, message="the callers never reached the console")
    page.goto(f"{live_console.url}/queues/Support")
    row = page.locator(f"#{dom_id('queued-call', 'Support', leg)}")
    countdown = row.locator(".breach")
    expect(countdown).to_have_attribute("data-breach-target", "2")
    expect(countdown).to_have_attribute("data-breached", "", timeout=5000)
    expect(countdown).to_contain_text("over target")
    actions = row.locator("[data-breach-actions]")
    expect(actions).to_be_visible()
    message = actions.get_by_role("textbox")
    message.fill("Alan, an agent is picking up now.")
    # The caller ahead leaves: the row is pushed again (now first in line); the half-sent message stays.
    world.leave_queue(ahead)
    expect(row.locator("td.col-num")).to_have_text("1", timeout=5000)
    expect(message).to_have_value("Alan, an agent is picking up now.")
    actions.get_by_role("button", name="Speak to caller").click()
    expect(actions.locator(".breach-notice")).to_have_text(
        "Speaking your message to the caller; they keep their place in Support.")
    wait_for(lambda: simulator.world.speech_heard_by(leg) == "Alan, an agent is picking up now.",
             message="the caller did not hear the typed message")
    page.screenshot(path=str(artifacts_dir / "queue-breach.png"), full_page=True)
    # Removing needs nothing extra at breach: the row's own take-out is one click.
    row.locator(f"#{dom_id('queued-call-exit', 'Support', leg)}").get_by_role("button", name="Take out").click()
    expect(row).to_have_count(0, timeout=5000)
