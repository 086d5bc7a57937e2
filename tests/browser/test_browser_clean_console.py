"""Chromium: every page, as viewer, supervisor and admin, loads with no CSP refusal and no JavaScript error."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from console.access.users import add_user
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
    wait_for(lambda: len(store.participants(conference_id)) == 2 and store.queue_calls("Billing"),
             timeout=10, message="the console heard of the calls")
    try:
        yield console, {"conference": conference_id, "leg": legs[1]}
    finally:
        simulator.delivery.set_url(None)
        console.stop()


def pages_for(role: str, staged: dict) -> dict[str, str]:
    pages = {
        "dashboard": "/", "ended": "/ended", "conference": f"/conferences/{staged['conference']}",
        "queue": "/queues/Billing", "wallboard": "/wallboard", "history": "/history", "alerts": "/alerts",
        "timeline": f"/calls/{quote(staged['leg'], safe='')}/timeline", "agents": "/agents",
        "agent directory": "/agents/directory",
    }
    if role != "viewer":
        pages["audit"] = "/audit"
    if role == "admin":
        pages["users"] = "/users"
    return pages


def listen(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" or "Refused to" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return problems


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
    problems = listen(page)
    page.goto(f"{console.url}/login")
    page.get_by_label("Name").fill(ROLES[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    found: list[str] = []
    for name, path in pages_for(role, staged).items():
        problems.clear()
        response = page.goto(f"{console.url}{path}")
        assert response is not None and response.ok, f"{role} {name}: HTTP {response and response.status}"
        page.wait_for_load_state("networkidle")
        found += [f"{role} {name} ({path}): {p}" for p in problems]
    assert found == [], "\n".join(found)
