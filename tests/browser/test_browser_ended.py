"""Chromium against a live console and simulator: an ended conference says so at the top of its page (when,
and why) and leaves nothing to press, whether the page is opened after the end or was open when it came."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from console.live.ui import dom_id
from console.state import agents as agent_rows
from tests.browser.test_browser_phone import overflow
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"
CONTROLS = "button, input, select, textarea"
BANNER_WORDS = re.compile(r"This conference ended at \d{2}:\d{2}:\d{2}\s+\((everyone left|ended by a supervisor)\)\.\s+"
                          r"Nothing here can be changed any more\.")


@pytest.fixture
def console_overrides():
    """Demo mode signs the browser in; the caller id and the phone let the console dial the supervisor."""
    return {"TELNYX_CALLER_ID": "+13125550100", "CONSOLE_SUPERVISOR_PHONE": "+13125550142", "CONSOLE_DEMO": True,
            "CONSOLE_RECONCILE_INTERVAL": 3600.0}


@pytest.fixture(autouse=True)
def no_page_errors(page):
    """Fail on a script error, an htmx swap that found no target, or a request the server refused."""
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("console", lambda message: failures.append(message.text)
            if message.type == "error" and "htmx:" in message.text else None)
    page.on("response", lambda response: failures.append(f"HTTP {response.status} {response.url}")
            if response.status >= 400 else None)
    yield
    assert not failures, failures


@pytest.fixture
def room(simulator, live_console):
    """A customer and an agent talking in a conference."""
    world = simulator.world
    world.dial_answer_delay = 0.3
    store = live_console.app.extensions["console.store"]
    agent_rows.save_agent(store, "Alice", "", ["+15550000002"])
    customer = answered_call(world, "+15550000001", SUPPORT_LINE, "Customer Carol")
    conference_id = world.create_conference(customer, "support-9")["id"]
    agent = answered_call(world, "+15550000002", SUPPORT_LINE, "Agent Alice")
    world.conference_action(conference_id, "join", {"call_control_id": agent})
    wait_for(lambda: len(store.participants(conference_id)) == 2, message="the console never saw the conference")
    return conference_id, customer, agent


def end(simulator, live_console, conference_id: str) -> None:
    simulator.world.conference_action(conference_id, "end", {})
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: (store.conference(conference_id) or {}).get("status") == "completed",
             message="the console never heard the conference end")


def page_of(page: Page):
    return page.locator("#conference-page")


def assert_ended_and_frozen(page: Page, conference_id: str) -> None:
    """The banner tops the page with when and why, and nothing on it can be pressed, ticked or typed in."""
    banner = page.locator("[data-ended-banner]")
    expect(banner).to_have_text(BANNER_WORDS, timeout=10_000)
    header = page.locator(f"#{dom_id('conference-header', conference_id)}")
    expect(header).to_have_attribute("data-status", "completed")
    expect(header.locator(".badge").first).to_have_text("Ended")
    # Every position read in one step, so a push redrawing a section cannot land between two readings.
    later = ["h1", "[data-supervision]", f"#{dom_id('conference-controls', conference_id)}"]
    tops = page.evaluate("""(selectors) => selectors.map((s) => document.querySelector(s).getBoundingClientRect().y)""",
                         ["[data-ended-banner]", *later])
    for selector, top in zip(later, tops[1:]):
        assert tops[0] < top, f"the banner is not above {selector}"
    expect(page_of(page).locator(CONTROLS).and_(page.locator(":enabled"))).to_have_count(0, timeout=10_000)
    expect(page.locator(f"#{dom_id('conference-controls', conference_id)}")).to_contain_text(
        "nothing left to control", timeout=10_000)
    expect(page.locator("[data-supervision]").first).to_contain_text("This conference has ended", timeout=10_000)
    expect(page.locator(f"#{dom_id('audio-map', conference_id)}")).to_be_hidden()  # nobody left to map


def test_an_ended_conference_opened_later_says_so_and_offers_nothing_to_press(page: Page, simulator, live_console,
                                                                               room):
    conference_id, _customer, _agent = room
    end(simulator, live_console, conference_id)
    page.goto(f"{live_console.url}/conferences/{conference_id}")
    assert_ended_and_frozen(page, conference_id)
    assert page_of(page).locator(CONTROLS).count() == 0, "an ended conference's page draws no controls at all"
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("[data-ended-banner]")).to_be_in_viewport()
    assert overflow(page) == "", "the ended page scrolls sideways on a phone"


def open_live(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
    page.evaluate("window.__sameDocument = true")


def test_a_conference_that_ends_while_its_page_is_open_says_so_and_freezes_without_a_reload(
        page: Page, browser, simulator, live_console, room):
    conference_id, _customer, agent = room
    url = f"{live_console.url}/conferences/{conference_id}"
    open_live(page, url)
    page.get_by_role("button", name="Connect my line").click()
    expect(page.get_by_role("button", name="Monitor this call")).to_be_visible(timeout=5000)
    page.get_by_role("button", name="Whisper to ticked").click()  # the agent is ticked for us
    sentence = page.locator("[data-supervision] [data-hearing-sentence]")
    expect(sentence).to_contain_text("Agent Alice (agent) hears you", timeout=5000)
    expect(page.locator("[data-supervision] [data-supervision-notice]")).to_contain_text("Whispering")
    # Mid-way through things a live page keeps while under way: a half-typed message, and (on a second
    # page of the same supervisor) the barge question.
    page.locator(f"#{dom_id('control-panel', 'speak', conference_id)} summary").click()
    page.get_by_label("What to say").fill("Half a sente")
    expect(page.locator(f"#{dom_id('participant', conference_id, agent)} button").first).to_be_enabled()
    asking = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_live(asking, url)
    asking.locator("h1").click()
    asking.keyboard.press("b")
    expect(asking.get_by_role("button", name="Yes, barge in")).to_be_visible(timeout=5000)

    end(simulator, live_console, conference_id)
    for shown in (page, asking):
        assert_ended_and_frozen(shown, conference_id)
        expect(shown.locator(f"#{dom_id('participant', conference_id, agent)}")).to_have_count(0)
        expect(shown.locator("[data-supervision] [data-supervision-notice]")).to_have_text("")  # no "Whispering"
        expect(shown.locator("#line-bar")).to_be_hidden()  # ending the conference hung up the line too
        expect(shown.locator("#announcer")).to_contain_text("support-9 ended")
        assert shown.evaluate("window.__sameDocument === true"), "the page reloaded"
    asking.context.close()

    page.reload()
    assert_ended_and_frozen(page, conference_id)
