"""WCAG 2.1 A/AA, as axe-core checks it, on every page a supervisor opens, in the light and the dark theme.

The pages are real: a console and the simulator with a conference, a queue with a caller, a parked
call and an ended call, so tables, cards, controls, notices and timelines are all on screen. Collapsed
control panels are opened before the audit so the controls inside them are checked too. A serious
or critical finding fails the test with the rule, what axe says to do, and where.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.axe import THEMES, audit, blocking, prepare
from tests.browser.test_browser_auth import (
    PASSWORD,
    accounts,
    answered,
    sign_in,
    stage_calls,
)
from tests.live_servers import *  # the simulator fixtures
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

__all__ = ["accounts"]  # a fixture used here, imported from the sign-in tests


@pytest.fixture
def scene(live_console, simulator) -> dict:
    """A conference of two, a queue with a caller, a parked call and a call that has ended."""
    world = simulator.world
    staged = stage_calls(live_console.app, world)
    parked = answered(world, "+15553000004", "Parked Pat")
    ended = answered(world, "+15553000005", "Gone Gail")
    world.remote_hangup(ended)
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: (store.call(ended) or {}).get("state") == "hangup" and store.call(parked),
             timeout=10, message="the console heard of the parked and the ended call")
    return {**staged, "parked": parked, "ended": ended}


def pages(scene: dict) -> dict[str, str]:
    return {
        "dashboard": "/",
        "conference": f"/conferences/{scene['conference']}",
        "queue": f"/queues/{scene['queue']}",
        "wallboard": "/wallboard",
        "alerts": "/alerts",
        "recently ended": "/ended",
        "history": "/history",
        "call timeline": f"/calls/{scene['ended']}/timeline",
        "agents": "/agents",
        "agent directory": "/agents/directory",
        "your line": "/supervisor",
        "audit": "/audit",
        "users": "/users",
    }


def check(page: Page, name: str, theme: str, artifacts_dir) -> list[str]:
    """Audit the page on screen; screenshot it; return its blocking findings, labelled."""
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    found = blocking(audit(page))
    page.screenshot(path=str(artifacts_dir / f"a11y-{theme}-{name.replace(' ', '-')}.png"), full_page=True)
    return [f"{theme} {name}: {finding}" for finding in found]


@pytest.mark.parametrize("theme", THEMES)
def test_every_page_passes_axe(page, live_console, scene, theme, artifacts_dir):
    prepare(page, theme)
    problems = []
    for name, path in pages(scene).items():
        page.goto(live_console.url + path)
        expect(page.locator("main, #main").first).to_be_visible()
        problems += check(page, name, theme, artifacts_dir)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("theme", THEMES)
def test_notices_refusals_and_the_sign_in_page_pass_axe(page, accounts, simulator, theme, artifacts_dir):
    """What only shows after something happens: a refused sign-in, a control's success and refusal."""
    staged = stage_calls(accounts.app, simulator.world)
    prepare(page, theme)
    page.goto(f"{accounts.url}/login")
    page.get_by_label("Name").fill("sam")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    problems = check(page, "sign-in refused", theme, artifacts_dir)
    sign_in(page, accounts.url, "ada", PASSWORD, landing=f"/queues/{staged['queue']}")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    size = page.locator("form[id^='queue-size-control']")
    size.get_by_label("Most calls waiting").fill("0")
    size.get_by_role("button", name="Save size").click()
    expect(size.locator("[aria-invalid='true']")).to_have_count(1)
    size.get_by_label("Most calls waiting").fill("7")
    size.get_by_role("button", name="Save size").click()
    expect(size.locator(".notice-success")).to_be_visible()
    problems += check(page, "control answered", theme, artifacts_dir)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, accounts.url, "vera", PASSWORD)
    expect(page.locator("#read-only-banner")).to_be_visible()
    problems += check(page, "read-only viewer", theme, artifacts_dir)
    assert problems == [], "\n".join(problems)
