"""Chromium: every page, as viewer, supervisor and admin, loads with no CSP refusal, no JavaScript error and no
refused request; a viewer's pages do not even ask for the controls a viewer may not use."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from console.access.users import add_user
from console.ingest.bus import get_bus
from console.telnyx.events import console_event
from tests.live_servers import *  # the simulator fixtures
from tests.live_servers import LiveConsole, console_config
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SUPPORT_LINE = "+18005550100"
ROLES = {"viewer": "vera", "supervisor": "sam", "admin": "ada"}


def answered(world, number: str, name: str) -> str:
    call = world.incoming_call(number, SUPPORT_LINE, caller_id_name=name)
    world.answer_call(call["call_control_id"])
    return call["call_control_id"]


@pytest.fixture
def staffed(tmp_path, simulator):
    """A non-demo console with one user per role, a conference of two and a queue with a caller."""
    console = LiveConsole({**console_config(tmp_path / "console.db", simulator), "CONSOLE_DEMO": False},
                          simulator, reconcile=False).start()
    store = console.app.extensions["console.store"]
    for role, name in ROLES.items():
        add_user(store, name, role, PASSWORD)
    world = simulator.world
    legs = [answered(world, "+15553000001", "Agent Ann"), answered(world, "+15553000002", "Caller Carl")]
    conference_id = world.create_conference(legs[0], "Escalations")["id"]
    world.conference_action(conference_id, "join", {"call_control_id": legs[1]})
    world.create_queue("Billing", max_size=5)
    world.enqueue(answered(world, "+15553000003", "Waiting Wendy"), "Billing")
    closed = world.create_conference(answered(world, "+15553000004", "Early Eve"), "Closed")["id"]
    world.conference_action(closed, "end", {})
    wait_for(lambda: len(store.participants(conference_id)) == 2 and store.queue_calls("Billing")
             and (store.conference(closed) or {}).get("status") == "completed",
             timeout=10, message="the console heard of the calls")
    try:
        yield console, {"conference": conference_id, "leg": legs[1], "ended": closed}
    finally:
        simulator.delivery.set_url(None)
        console.stop()


def pages_for(role: str, staged: dict) -> dict[str, str]:
    pages = {
        "dashboard": "/", "ended": "/ended", "conference": f"/conferences/{staged['conference']}",
        "queue": "/queues/Billing", "wallboard": "/wallboard", "history": "/history", "alerts": "/alerts",
        "timeline": f"/calls/{quote(staged['leg'], safe='')}/timeline", "agents": "/agents",
        "agent directory": "/agents/directory", "ended conference": f"/conferences/{staged['ended']}",
    }
    if role != "viewer":
        pages["audit"] = "/audit"
        pages["your line"] = "/supervisor"
    if role == "admin":
        pages["users"] = "/users"
    return pages


# What only someone who may act asks for: the forms and boxes behind controls (GET) and the actions (POST).
ACTION_FRAGMENTS = re.compile(r"/(join-control|more|supervision|breach-actions)$|/supervisor(/|$)|/calls/parked")


def listen(page: Page, role: str = "") -> list[str]:
    """Everything wrong a page does while it is watched: CSP refusals, script errors, refused or failed requests
    and, for a viewer, any request for an action or a control's form."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" or "Refused to" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status} for {r.request.method} {r.url}")
            if r.status >= 400 else None)
    # Leaving a page aborts what it still had on the way (its favicon, say): that is the navigation, not a fault.
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.method} {r.url} ({r.failure})")
            if r.failure != "net::ERR_ABORTED" else None)

    def asked(request) -> None:
        path = urlsplit(request.url).path
        if request.method != "GET" or ACTION_FRAGMENTS.search(path):
            problems.append(f"a viewer's page asked for an action: {request.method} {path}")

    if role == "viewer":
        page.on("request", asked)
    return problems


def settled(page: Page) -> None:
    """The page has loaded, and a live page has its first snapshot in place (swapped without complaint)."""
    page.wait_for_load_state("networkidle")
    if page.locator("#live-state").count():
        expect(page.locator("body")).to_have_attribute("data-synced", "", timeout=10_000)


def test_the_login_page_is_clean(staffed, page):
    console, _ = staffed
    problems = listen(page)
    page.goto(f"{console.url}/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert problems == [], f"login: {problems}"


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_is_clean_for_each_role(staffed, page, role):
    console, staged = staffed
    page.goto(f"{console.url}/login")
    page.get_by_label("Name").fill(ROLES[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    problems = listen(page, role)
    found: list[str] = []
    for name, path in pages_for(role, staged).items():
        problems.clear()
        response = page.goto(f"{console.url}{path}")
        assert response is not None and response.ok, f"{role} {name}: HTTP {response and response.status}"
        settled(page)
        found += [f"{role} {name} ({path}): {p}" for p in problems]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("role", list(ROLES))
def test_live_changes_on_an_open_conference_page_stay_clean_for_each_role(staffed, simulator, page, role):
    """Pushes a page takes while open (a newcomer, a supervisor's line changing) make it fetch only what its
    user may see: a viewer's hidden supervision box and line bar never ask for anything."""
    console, staged = staffed
    page.goto(f"{console.url}/login")
    page.get_by_label("Name").fill(ROLES[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    page.goto(f"{console.url}/conferences/{staged['conference']}")
    settled(page)
    problems = listen(page, role)
    world = simulator.world
    world.conference_action(staged["conference"], "join",
                            {"call_control_id": answered(world, "+15553000005", "Late Larry")})
    expect(page.locator("#participant-cards .card")).to_have_count(3, timeout=10_000)
    with console.app.app_context():
        get_bus().publish(console_event("console.supervisor.updated",
                                        {"username": "sam", "display_name": "sam", "phone": "+13125550177"}))
    expect(page.locator("#line-bar-signal")).not_to_have_attribute("data-version", "0", timeout=10_000)
    page.wait_for_load_state("networkidle")
    assert problems == [], "\n".join(problems)
