"""Chromium: a simulated caller's timeline on the history page shows its whole life, from queue to hangup."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"


def test_call_timeline_from_queue_to_hangup(page, live_console, simulator, artifacts_dir):
    world = simulator.world
    caller = world.incoming_call("+15550004242", SUPPORT_LINE, caller_id_name="Grace Hopper")
    leg = caller["call_control_id"]
    world.answer_call(leg)
    world.enqueue(leg, "Support")
    agent = world.incoming_call("+15550007777", SUPPORT_LINE, caller_id_name="Agent Lin")
    world.answer_call(agent["call_control_id"])
    conference = world.create_conference(leg, "Grace with Lin")
    world.conference_action(conference["id"], "join", {"call_control_id": agent["call_control_id"]})
    world.remote_hangup(leg)
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: any(e.event_type == "call.hangup" and e.payload.get("call_control_id") == leg
                         for e in store.logged_events_about(call_control_id=leg)), timeout=10)

    page.goto(f"{live_console.url}/history?q=Grace")
    page.get_by_role("link", name="Timeline of Grace Hopper").click()
    steps = page.locator("#call-timeline li")
    expect(steps.first).to_contain_text("Call from +15550004242")
    expect(steps.filter(has_text="Entered queue Support at position 1")).to_have_count(1)
    expect(steps.filter(has_text="Left queue Support (bridged, answered)")).to_have_count(1)
    expect(steps.filter(has_text=re.compile("Joined conference"))).to_have_count(1)
    expect(steps.filter(has_text="Agent Lin joined conference")).to_have_count(1)
    expect(steps.filter(has_text="Hung up (normal_clearing, by caller)")).to_have_count(1)
    texts = steps.all_inner_texts()
    # The hangup ends the call; leaving the conference is its consequence and may be logged just after.
    assert any("Hung up" in text for text in texts[-2:]), texts
    entered = next(i for i, text in enumerate(texts) if "Entered queue" in text)
    assert entered < next(i for i, text in enumerate(texts) if "Hung up" in text)
    page.screenshot(path=str(artifacts_dir / "call-timeline.png"), full_page=True)
