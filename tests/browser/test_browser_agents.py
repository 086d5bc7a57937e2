"""Chromium against a live console and simulator: on a conference page the agent and the customer are labelled as such."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.agents import directory
from console.live.ui import dom_id
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

QUEUE_LINE = "+18885550110"
ALICE = "sip:alice@agents.callcenter.example"


@pytest.fixture
def console_overrides():
    """Demo mode signs the browser in as the demo admin."""
    return {"CONSOLE_DEMO": True, "CONSOLE_RECONCILE_INTERVAL": 3600.0}


@pytest.fixture(autouse=True)
def no_page_errors(page):
    """Fail on a script error or an htmx swap that found no target (a push that went nowhere)."""
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("console", lambda message: failures.append(message.text)
            if message.type == "error" and "htmx:" in message.text else None)
    yield
    assert not failures, failures


def test_the_agent_and_the_customer_are_labelled_on_the_conference_page(simulator, live_console, page):
    world = simulator.world
    store = live_console.app.extensions["console.store"]
    directory.add_agent(store, "Alice", "Support", [ALICE])
    customer = answered_call(world, "+15550000001", QUEUE_LINE, "Carol Jones")
    conference_id = world.create_conference(customer, "support-7")["id"]
    wait_for(lambda: len(store.participants(conference_id)) == 1, message="the console never saw the conference")

    page.goto(f"{live_console.url}/conferences/{conference_id}")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
    customer_card = page.locator(f"#{dom_id('participant', conference_id, customer)}")
    expect(customer_card.locator(".card-head .badge-leg")).to_have_text("Customer")

    # The agent is dialled as the simulated call center dials its agents, and joins while the page is open:
    # the card the live push brings already says who she is.
    agent = world.dial(world.connection_id, ALICE, QUEUE_LINE, from_display_name="Support: Carol Jones")["call_control_id"]
    world.answer_call(agent)
    world.conference_action(conference_id, "join", {"call_control_id": agent, "label": "Alice"})
    agent_card = page.locator(f"#{dom_id('participant', conference_id, agent)}")
    expect(agent_card.locator(".card-title")).to_have_text("Alice", timeout=5000)
    expect(agent_card.locator(".card-head .badge-leg")).to_have_text("Agent")  # not "Agent · Alice" under "Alice"
    expect(agent_card.locator(".card-head .badge-leg")).to_have_attribute("title", "Agent Alice, team Support")
    expect(customer_card.locator(".card-head .badge-leg")).to_have_text("Customer")
    # Whisper safety: a customer's card offers no one-click whisper (the panel asks for a confirmation).
    expect(customer_card.locator(".button-whisper")).to_have_count(0)
    words = page.locator(f"#{dom_id('audio-map-words', conference_id)}")
    expect(words).to_contain_text("Carol Jones Customer hears Alice (Agent)", timeout=5000)
    expect(page.locator(f"#{dom_id('audio-map', conference_id)} .node-note[data-leg-role='agent']")).to_have_text(
        "Agent")  # under the node's name, Alice
