"""Chromium against a live console and simulator: a supervisor connects, monitors, whispers, barges and leaves,
and at every step the page says exactly what the simulator's audio truth is."""

from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import Page, expect

from console.live.ui import dom_id
from console.state import agents as agent_rows
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"
SUPERVISOR_PHONE = "+13125550142"


@pytest.fixture
def console_overrides():
    """Demo mode signs the browser in; the caller id and the phone let the console dial the supervisor."""
    return {"TELNYX_CALLER_ID": "+13125550100", "CONSOLE_SUPERVISOR_PHONE": SUPERVISOR_PHONE, "CONSOLE_DEMO": True,
            "CONSOLE_RECONCILE_INTERVAL": 3600.0}


@pytest.fixture(autouse=True)
def no_page_errors(page):
    """Fail on a script error or an htmx swap that found no target (a push that went nowhere)."""
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("console", lambda message: failures.append(message.text)
            if message.type == "error" and "htmx:" in message.text else None)
    yield
    assert not failures, failures


@pytest.fixture
def room(simulator, live_console):
    """A customer and an agent talking in a conference, built through the world's Python API."""
    world = simulator.world
    world.dial_answer_delay = 0.3
    # The directory says who the agent is: the whisper list puts them first, a customer needs a confirmation.
    agent_rows.save_agent(live_console.app.extensions["console.store"], "Alice", "", ["+15550000002"])
    customer = answered_call(world, "+15550000001", SUPPORT_LINE, "Customer Carol")
    conference_id = world.create_conference(customer, "support-7")["id"]
    agent = answered_call(world, "+15550000002", SUPPORT_LINE, "Agent Alice")
    world.conference_action(conference_id, "join", {"call_control_id": agent})
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: len(store.participants(conference_id)) == 2, message="the console never saw the conference")
    return conference_id, customer, agent


def open_conference(page: Page, base_url: str, conference_id: str) -> None:
    page.goto(f"{base_url}/conferences/{conference_id}")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
    page.evaluate("window.__sameDocument = true")


def simulator_truth(simulator, conference_id: str) -> dict:
    response = requests.get(f"{simulator.root_url}/_sim/conferences/{conference_id}/audio", timeout=5)
    response.raise_for_status()
    return response.json()


def page_hears(page: Page, conference_id: str) -> dict | None:
    raw = page.evaluate("id => document.getElementById(id)?.dataset.hears", dom_id("audio-map", conference_id))
    return json.loads(raw) if raw else None


def page_hearing(page: Page) -> tuple[set, set] | None:
    """(who hears me, whom I hear) from the sentence's data attributes; None when I am not in the call."""
    found = page.evaluate("""() => {
        const sentence = document.querySelector("[data-supervision] [data-hearing]");
        return sentence && [sentence.dataset.heardBy, sentence.dataset.hears];
    }""")
    return None if found is None else (set(json.loads(found[0])), set(json.loads(found[1])))


def page_matches_truth(page: Page, simulator, conference_id: str, me: str | None) -> bool:
    """The page's diagram and sentence say what the simulator's audio truth says."""
    truth = simulator_truth(simulator, conference_id)["hears"]
    if page_hears(page, conference_id) != truth:
        return False
    if me is None or me not in truth:
        return page_hearing(page) is None
    heard_by = {listener for listener, speakers in truth.items() if me in speakers}
    return page_hearing(page) == (heard_by, set(truth[me]))


def settle(page: Page, simulator, conference_id: str, me: str | None) -> None:
    wait_for(lambda: page_matches_truth(page, simulator, conference_id, me), timeout=6,
             message="the page never showed the simulator's audio truth")


def my_line(live_console) -> str:
    return (live_console.app.extensions["console.store"].supervisor("demo") or {}).get("line_call_control_id")


def sentence(page: Page):
    return page.locator("[data-supervision] [data-hearing-sentence]")


def test_supervisor_connects_monitors_whispers_barges_and_leaves(page: Page, browser, live_console, simulator, room,
                                                                   artifacts_dir):
    conference_id, customer, agent = room
    base_url = live_console.url
    open_conference(page, base_url, conference_id)
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_conference(other, base_url, conference_id)
    settle(page, simulator, conference_id, None)

    page.get_by_role("button", name="Connect my line").click()
    expect(page.locator("[data-supervision] .line-state")).to_contain_text("Your line is connected", timeout=5000)
    me = my_line(live_console)
    assert simulator.world.retrieve_call(me)["is_alive"]

    page.locator("h1").click()
    expect(page.locator("[data-supervision] kbd", has_text="M").first).to_be_visible()
    page.keyboard.press("m")
    expect(sentence(page)).to_have_text("You are listening only: nobody hears you", timeout=5000)
    settle(page, simulator, conference_id, me)

    page.locator(f"#{dom_id('whisper-target', conference_id, agent)}").check()
    page.keyboard.press("w")
    expect(sentence(page)).to_have_text("Agent Alice (agent) hears you; Customer Carol (customer) does not",
                                     timeout=5000)
    settle(page, simulator, conference_id, me)
    my_card_elsewhere = other.locator(f"#{dom_id('participant', conference_id, me)}")
    expect(my_card_elsewhere).to_contain_text("Supervisor · whisper", timeout=5000)
    expect(my_card_elsewhere).to_contain_text("Heard only by: Agent Alice")
    settle(other, simulator, conference_id, me)
    assert other.evaluate("window.__sameDocument === true"), "the second browser reloaded"
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.screenshot(path=str(artifacts_dir / "supervisor-whispering.png"), full_page=True)

    page.locator("h1").click()
    page.keyboard.press("b")
    confirm = page.get_by_role("button", name="Yes, barge in")
    expect(confirm).to_be_visible(timeout=5000)
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    assert simulator_truth(simulator, conference_id)["hears"][customer].count(me) == 0, "asking must not barge"
    confirm.click()
    expect(sentence(page)).to_have_text("Everyone hears you: Agent Alice (agent) and Customer Carol (customer)",
                                     timeout=5000)
    settle(page, simulator, conference_id, me)
    expect(other.locator(f"#{dom_id('participant', conference_id, me)}")).to_contain_text("Supervisor · barge",
                                                                                         timeout=5000)

    page.get_by_role("button", name="Monitor").click()
    expect(sentence(page)).to_have_text("You are listening only: nobody hears you", timeout=5000)
    settle(page, simulator, conference_id, me)

    page.locator("h1").click()
    page.keyboard.press("l")
    expect(page.locator(f"#{dom_id('participant', conference_id, me)}")).to_have_count(0, timeout=5000)
    settle(page, simulator, conference_id, me)
    expect(page.locator("[data-supervision] .line-state")).to_contain_text("Your line is connected")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    other.context.close()


def test_shortcuts_do_nothing_while_typing(page: Page, live_console, simulator, room):
    conference_id, _customer, _agent = room
    open_conference(page, live_console.url, conference_id)
    page.get_by_role("button", name="Connect my line").click()
    expect(page.get_by_role("button", name="Monitor this call")).to_be_visible(timeout=5000)
    field = page.locator("main input:not([type=hidden]):not([type=checkbox]):not([type=radio])").first
    field.press_sequentially("mwbl")
    expect(field).to_have_value(re.compile("mwbl$"))  # a shortcut would have swallowed the key
    expect(page.get_by_role("button", name="Monitor this call")).to_be_visible()
    page.locator("h1").click()
    page.keyboard.press("m")
    expect(sentence(page)).to_have_text("You are listening only: nobody hears you", timeout=5000)


# --- races between a box's own answer, htmx's wiring and live pushes --------------------------------


def connected(page: Page, live_console, conference_id: str) -> str:
    """Open the conference, connect the line and leave the focus outside every field; the line's id."""
    open_conference(page, live_console.url, conference_id)
    page.get_by_role("button", name="Connect my line").click()
    expect(page.get_by_role("button", name="Monitor this call")).to_be_visible(timeout=5000)
    page.locator("h1").click()
    return my_line(live_console)


def swapped_not_yet_wired(page: Page) -> None:
    """Fetch the box again and stop in the moment after htmx swapped it in and before it wired it (settled).

    htmx wires new content when it settles, 20 ms after the swap, or much later on a loaded machine;
    the test stretches that moment so a click or a key press surely lands in it.
    """
    page.evaluate("htmx.config.defaultSettleDelay = 3000")
    page.evaluate("htmx.trigger(document.querySelector('[data-supervision] .supervisor-panel-body'), "
                  "'supervision:refresh')")
    expect(page.locator("[data-supervision] .supervisor-panel-body.htmx-added")).to_have_count(1, timeout=5000)


def test_a_key_or_a_click_on_a_box_just_swapped_in_is_not_a_full_page_post(page: Page, live_console, simulator,
                                                                             room):
    conference_id, _customer, _agent = room
    connected(page, live_console, conference_id)

    swapped_not_yet_wired(page)
    page.keyboard.press("m")
    expect(sentence(page)).to_have_text("You are listening only: nobody hears you", timeout=10_000)
    assert page.evaluate("window.__sameDocument === true"), "the shortcut posted the form natively"

    swapped_not_yet_wired(page)
    page.get_by_role("button", name="Whisper to ticked").click()  # the call's agent is ticked already
    expect(sentence(page)).to_have_text("Agent Alice (agent) hears you; Customer Carol (customer) does not",
                                        timeout=10_000)
    assert page.evaluate("window.__sameDocument === true"), "the click posted the form natively"
    page.evaluate("htmx.config.defaultSettleDelay = 20")


def test_a_push_that_comes_while_the_box_waits_for_its_answer_is_fetched_after_it(page: Page, live_console,
                                                                                    simulator, room):
    """The answer to "Monitor" is drawn before Telnyx's webhook says the line joined; the push saying so can
    reach the page before that answer does. The box must fetch itself after the answer, not before it."""
    conference_id, _customer, _agent = room
    me = connected(page, live_console, conference_id)
    held = []

    def hold_answer(route):
        held.append((route, route.fetch()))  # the server acts and answers now; the page gets it later

    page.route("**/supervision/monitor", hold_answer)
    simulator.chaos.update(delay_ms=800)  # the join's webhook comes well after the answer is drawn
    page.keyboard.press("m")
    try:
        expect(page.locator(f"[data-audio-map] .node[data-call-control-id='{me}']")).to_have_count(1, timeout=10_000)
    finally:
        simulator.chaos.update(delay_ms=0)
    assert len(held) == 1
    route, answer = held[0]
    assert "data-hearing-sentence" not in answer.text(), "the answer already knew of the join: no race to test"
    route.fulfill(response=answer)
    expect(sentence(page)).to_have_text("You are listening only: nobody hears you", timeout=10_000)
    assert page.evaluate("window.__sameDocument === true")
