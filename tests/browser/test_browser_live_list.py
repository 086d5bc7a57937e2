"""Chromium on a dashboard whose live list is full: a push lets the newest in at the top and the oldest out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from console import create_app
from console.live.screens import DASHBOARD_CONFERENCE_LIMIT
from console.live.ui import dom_id
from console.web.server import BackgroundServer
from tests import event_factory as ev

pytestmark = pytest.mark.browser

LIMIT = DASHBOARD_CONFERENCE_LIMIT


@pytest.fixture
def console(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    server = BackgroundServer(app, "127.0.0.1", 0).start()
    try:
        yield app, server
    finally:
        server.stop()
        app.extensions["console.hub"].stop()


@pytest.fixture(autouse=True)
def no_failed_swaps(page):
    """Fail if the page logged an htmx swap that found no target (a delete or insert that went nowhere)."""
    failures = []
    page.on("console", lambda message: failures.append(message.text)
            if message.type == "error" and "htmx:" in message.text else None)
    yield
    assert not failures, failures


def created(number: int):
    return ev.conference_created(f"conf-{number:04d}", f"v3:leg-{number}", ev.at(number))


def ended(number: int):
    return ev.conference_ended(f"conf-{number:04d}", ev.at(10_000 + number))


def row_id(number: int) -> str:
    return dom_id("conference", f"conf-{number:04d}")


def listed(page: Page) -> list[str]:
    return page.eval_on_selector_all("#conference-rows > tr", "rows => rows.map(row => row.id)")


def test_a_full_live_list_takes_the_newest_at_the_top_and_drops_the_oldest(page, console):
    app, server = console
    app.extensions["console.store"].apply_many([created(number) for number in range(1, LIMIT + 2)])
    bus = app.extensions["console.bus"]
    page.goto(server.url)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
    rows = page.locator("#conference-rows > tr")
    note = page.locator("#conference-more")
    badge = page.locator('[data-count-of="conference-rows"]')
    expect(rows).to_have_count(LIMIT)
    expect(note).to_contain_text(f"Showing the newest {LIMIT} of {LIMIT + 1} live conferences")

    bus.publish(created(LIMIT + 2))
    expect(rows.first).to_have_attribute("id", row_id(LIMIT + 2), timeout=3000)
    expect(rows).to_have_count(LIMIT)
    expect(page.locator(f"#{row_id(2)}")).to_have_count(0)  # the oldest shown left
    expect(rows.last).to_have_attribute("id", row_id(3))
    expect(note).to_contain_text(f"Showing the newest {LIMIT} of {LIMIT + 2} live conferences")
    expect(badge).to_have_text(str(LIMIT))
    expect(page.locator(f"#{dom_id('kpi', 'conferences')} .kpi-value")).to_have_text(str(LIMIT + 2))

    bus.publish(ended(50))  # a shown one ends: the newest of those left out comes back at the bottom
    expect(rows.last).to_have_attribute("id", row_id(2), timeout=3000)
    expect(page.locator(f"#{row_id(50)}")).to_have_count(0)
    expect(note).to_contain_text(f"Showing the newest {LIMIT} of {LIMIT + 1} live conferences")
    expect(badge).to_have_text(str(LIMIT))

    pushed = listed(page)
    page.reload()
    expect(rows).to_have_count(LIMIT)
    assert listed(page) == pushed
