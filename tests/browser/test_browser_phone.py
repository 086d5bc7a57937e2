"""Chromium at 390x844 against a live demo console with calls running: no page scrolls sideways, wide
tables are stacked cards, and the screenshots are kept in light and dark."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"
# Long names and numbers are the worst case for a narrow screen.
NAMES = ("Maximiliana Rosenkranz-Oyelaran", "Bartholomew Featherstonehaugh", "Waiting Wilhelmina Vandersloot")


@pytest.fixture
def console_overrides():
    return {"CONSOLE_DEMO": True, "CONSOLE_RECONCILE_INTERVAL": 3600.0}


def answered(world, number: str, name: str) -> str:
    call = world.incoming_call(number, SUPPORT_LINE, caller_id_name=name)
    world.answer_call(call["call_control_id"])
    return call["call_control_id"]


@pytest.fixture
def staged(live_console, simulator):
    world = simulator.world
    legs = [answered(world, "+15553000001", NAMES[0]), answered(world, "+15553000002", NAMES[1])]
    conference_id = world.create_conference(legs[0], "Escalations for the enterprise accounts team")["id"]
    world.conference_action(conference_id, "join", {"call_control_id": legs[1]})
    world.create_queue("Billing and account enquiries", max_size=5)
    world.enqueue(answered(world, "+15553000003", NAMES[2]), "Billing and account enquiries")
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: len(store.participants(conference_id)) == 2
             and store.queue_calls("Billing and account enquiries"), timeout=10, message="the console heard of the calls")
    return {
        "dashboard": "/", "conference": f"/conferences/{conference_id}",
        "queue": f"/queues/{quote('Billing and account enquiries')}", "agents": "/agents",
        "ended": "/ended", "history": "/history", "alerts": "/alerts", "audit": "/audit", "users": "/users",
        "agent directory": "/agents/directory", "timeline": f"/calls/{quote(legs[1], safe='')}/timeline",
    }


def overflow(page: Page) -> str:
    """'' when the page fits its width, else the scroll width and the elements that stick out."""
    return page.evaluate("""() => {
        const width = document.scrollingElement.scrollWidth;
        if (width <= innerWidth) return '';
        const out = [...document.querySelectorAll('body *')]
            .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
            .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}`);
        return `scrollWidth ${width} > ${innerWidth}: ${out.join(', ')}`;
    }""")


def test_every_page_fits_a_phone(live_console, staged, page: Page, artifacts_dir):
    page.set_viewport_size({"width": 390, "height": 844})
    found = []
    for name, path in staged.items():
        page.goto(f"{live_console.url}{path}")
        page.wait_for_load_state("networkidle")
        if page.locator("#live-state").count():
            expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            problem = overflow(page)
            if problem:
                found.append(f"{name} ({path}, {scheme}): {problem}")
            page.screenshot(path=str(artifacts_dir / f"phone-{name.replace(' ', '-')}-390-{scheme}.png"),
                            full_page=True)
        page.emulate_media(color_scheme="light")
    assert found == [], "\n".join(found)


def test_wide_tables_become_cards_with_the_name_first(live_console, staged, page: Page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_console.url}/")
    row = page.locator(".conferences-table tbody tr").first
    expect(row).to_contain_text("Escalations for the enterprise accounts team")
    # A live push may redraw the row at any moment: the assertion retries on the row as it is now.
    expect(row).to_have_css("display", "flex")
    # Both cells measured in one step on the row as it is then: measured one call each, a push landing
    # between them left a detached cell, whose box is None (seen once in a loaded run).
    boxes = row.evaluate("""(r) => Object.fromEntries(['.col-name', '.col-status'].map((cell) => {
        const box = r.querySelector(cell).getBoundingClientRect();
        return [cell, {y: box.y, width: box.width}]; }))""")
    assert boxes[".col-name"]["y"] < boxes[".col-status"]["y"], "the conference's name leads its card"
    assert boxes[".col-name"]["width"] > 300, "the name has the card's whole width"
    page.set_viewport_size({"width": 1440, "height": 900})
    assert row.evaluate("r => getComputedStyle(r).display") == "table-row"
