"""Chromium against a live console and simulator: the agent board follows an agent from ringing to a call to
wrap-up and idle, its filters work, and "Whisper to" on a card puts the supervisor in that agent's ear."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from console.access.users import add_user
from console.agents import directory
from console.live.ui import dom_id
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.live_servers import LiveConsole, console_config
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

QUEUE_LINE = "+18885550110"
ALICE = "sip:alice@agents.callcenter.example"
BOB = "sip:bob@agents.callcenter.example"
WRAP_UP = 4


@pytest.fixture
def console_overrides():
    """Demo mode signs the browser in; the caller id and phone let the console dial the supervisor's line."""
    return {"CONSOLE_DEMO": True, "CONSOLE_RECONCILE_INTERVAL": 3600.0, "TELNYX_CALLER_ID": "+13125550100",
            "CONSOLE_SUPERVISOR_PHONE": "+13125550142", "CONSOLE_WRAP_UP_SECONDS": WRAP_UP}


@pytest.fixture(autouse=True)
def no_page_errors(page):
    """Fail on a script error or an htmx swap that found no target (a push that went nowhere)."""
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("console", lambda message: failures.append(message.text)
            if message.type == "error" and "htmx:" in message.text else None)
    yield
    assert not failures, failures


def card(page: Page, name: str):
    return page.locator(f"#{dom_id('agent-card', name)}")


def open_board(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/agents")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)


def shoot(page: Page, artifacts_dir, name: str) -> None:
    for width, height in ((1920, 1080), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=str(artifacts_dir / f"agent-board-{name}-{width}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_agent_goes_ringing_on_a_call_wrap_up_and_idle(simulator, live_console, page, artifacts_dir):
    world = simulator.world
    store = live_console.app.extensions["console.store"]
    directory.add_agent(store, "Alice", "Support", [ALICE])
    directory.add_agent(store, "Bob", "Sales", [BOB])
    open_board(page, live_console.url)
    alice, bob = card(page, "Alice"), card(page, "Bob")
    expect(alice).to_have_attribute("data-state", "away")
    expect(alice.locator(".agent-state-badge")).to_have_text("Not seen today")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents")).to_have_attribute(
        "aria-current", "page")

    customer = answered_call(world, "+15550000001", QUEUE_LINE, "Carol Jones")
    conference_id = world.create_conference(customer, "support-7")["id"]
    agent = world.dial(world.connection_id, ALICE, QUEUE_LINE, from_display_name="Support: Carol Jones")["call_control_id"]
    expect(alice).to_have_attribute("data-state", "ringing", timeout=5000)
    expect(alice.locator(".agent-state-badge")).to_have_text("Ringing")

    world.answer_call(agent)
    world.conference_action(conference_id, "join", {"call_control_id": agent, "label": "Alice"})
    expect(alice).to_have_attribute("data-state", "on_call", timeout=5000)
    expect(alice.locator(".agent-detail")).to_have_text("talking")
    expect(alice.locator(".agent-call")).to_contain_text("Carol Jones")
    expect(alice.get_by_role("link", name="Open call of Alice")).to_have_attribute(
        "href", f"/conferences/{conference_id}")
    expect(bob).to_have_attribute("data-state", "away")
    shoot(page, artifacts_dir, "on-call")

    # The filters: by team, by state, and sorted by time in state.
    page.select_option("#agent-team-filter", "Sales")
    expect(alice).to_be_hidden()
    expect(bob).to_be_visible()
    expect(page.locator("#agent-filter-status")).to_have_text("1 of 2 shown")
    page.select_option("#agent-team-filter", "")
    page.select_option("#agent-state-filter", "on_call")
    expect(alice).to_be_visible()
    expect(bob).to_be_hidden()
    page.select_option("#agent-state-filter", "")
    page.select_option("#agent-sort", "longest")
    expect(page.locator(".agent-card").first).to_have_attribute("data-name", "Alice")
    expect(bob).to_be_visible()

    # Whisper to Alice from her card, once the supervisor's line is up: the conference page opens with it done.
    page.goto(f"{live_console.url}/supervisor")
    page.get_by_role("button", name="Connect my line").click()
    expect(page.locator(".line-state")).to_contain_text("Your line is connected", timeout=5000)
    open_board(page, live_console.url)
    page.locator(f"#{dom_id('agent-action', 'Alice', 'whisper')}").click()
    expect(page).to_have_url(f"{live_console.url}/conferences/{conference_id}", timeout=5000)
    expect(page.locator("[data-supervision] [data-hearing-sentence]")).to_have_text(
        "Alice (agent) hears you; Carol Jones (customer) does not", timeout=5000)
    expect(page.locator(f"#{dom_id('whisper-target', conference_id, agent)}")).to_be_checked()

    # Her call ends: wrap-up, then idle once CONSOLE_WRAP_UP_SECONDS have passed (no event marks that).
    open_board(page, live_console.url)
    expect(alice).to_have_attribute("data-state", "on_call")
    world.hangup(agent)
    expect(alice).to_have_attribute("data-state", "wrap_up", timeout=5000)
    expect(alice.locator(".agent-handled")).to_have_text("1")
    expect(alice.locator(".agent-aht")).not_to_have_text("—")
    shoot(page, artifacts_dir, "wrap-up")
    expect(alice).to_have_attribute("data-state", "idle", timeout=(WRAP_UP + 5) * 1000)
    expect(alice.locator(".agent-state-badge")).to_have_text("Idle")
    wait_for(lambda: store.call(agent)["state"] == "hangup", message="the console never saw the hang-up")


def test_the_wallboard_counts_agents(simulator, live_console, page):
    world = simulator.world
    store = live_console.app.extensions["console.store"]
    directory.add_agent(store, "Alice", "Support", [ALICE])
    directory.add_agent(store, "Bob", "Sales", [BOB])
    customer = answered_call(world, "+15550000001", QUEUE_LINE, "Carol Jones")
    conference_id = world.create_conference(customer, "support-7")["id"]
    agent = world.dial(world.connection_id, ALICE, QUEUE_LINE)["call_control_id"]
    world.answer_call(agent)
    world.conference_action(conference_id, "join", {"call_control_id": agent, "label": "Alice"})
    wait_for(lambda: len(store.participants(conference_id)) == 2, message="the console never saw Alice join")
    page.goto(f"{live_console.url}/wallboard")
    expect(page.locator("#wallboard-agents-on-call")).to_have_text("1", timeout=5000)
    expect(page.locator("#wallboard-agents-idle")).to_have_text("0")
    world.hangup(agent)
    expect(page.locator("#wallboard-agents-wrap-up")).to_have_text("1", timeout=10000)
    expect(page.locator("#wallboard-agents-on-call")).to_have_text("0")


def test_a_viewer_sees_the_board_without_the_supervise_buttons(tmp_path, simulator, page):
    console = LiveConsole({**console_config(tmp_path / "viewer.db", simulator), "CONSOLE_DEMO": False},
                          simulator, reconcile=False).start()
    try:
        store = console.app.extensions["console.store"]
        add_user(store, "vera", "viewer", "correct horse battery")
        directory.add_agent(store, "Alice", "Support", [ALICE])
        world = simulator.world
        customer = answered_call(world, "+15550000001", QUEUE_LINE, "Carol Jones")
        conference_id = world.create_conference(customer, "support-7")["id"]
        agent = world.dial(world.connection_id, ALICE, QUEUE_LINE)["call_control_id"]
        world.answer_call(agent)
        world.conference_action(conference_id, "join", {"call_control_id": agent, "label": "Alice"})
        wait_for(lambda: len(store.participants(conference_id)) == 2, message="the console never saw Alice join")
        page.goto(f"{console.url}/agents")
        page.get_by_label("Name").fill("vera")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{console.url}/agents")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
        alice = card(page, "Alice")
        expect(alice).to_have_attribute("data-state", "on_call")
        expect(alice.get_by_role("link", name="Open call of Alice")).to_be_visible()
        for mode in ("monitor", "whisper", "barge"):
            expect(page.locator(f"#{dom_id('agent-action', 'Alice', mode)}")).to_be_hidden()
    finally:
        simulator.delivery.set_url(None)
        console.stop()
