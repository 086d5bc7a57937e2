"""Chromium against a live console: signing in, what a viewer sees, the CSP, and life under a URL prefix."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from console import create_app
from console.access.users import add_user
from console.live.ui import dom_id
from console.web.server import BackgroundServer
from tests.live_servers import *  # the simulator fixtures
from tests.live_servers import LiveConsole, console_config
from tests.prefix_proxy import PrefixingProxy
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SUPPORT_LINE = "+18005550100"


def answered(world, number: str, name: str | None = None) -> str:
    call = world.incoming_call(number, SUPPORT_LINE, caller_id_name=name)
    world.answer_call(call["call_control_id"])
    return call["call_control_id"]


def stage_calls(app, world) -> dict:
    """A conference of two and a queue with one caller, once the console has heard of them."""
    legs = [answered(world, "+15553000001", "Agent Ann"), answered(world, "+15553000002", "Caller Carl")]
    conference_id = world.create_conference(legs[0], "Escalations")["id"]
    world.conference_action(conference_id, "join", {"call_control_id": legs[1]})
    world.create_queue("Billing", max_size=5)
    world.enqueue(answered(world, "+15553000003", "Waiting Wendy"), "Billing")
    store = app.extensions["console.store"]
    wait_for(lambda: len(store.participants(conference_id)) == 2 and store.queue_calls("Billing"),
             timeout=10, message="the console heard of the calls")
    return {"conference": conference_id, "legs": legs, "queue": "Billing"}


@pytest.fixture
def accounts(tmp_path, simulator):
    """A console that is not in demo mode, with a viewer, a supervisor and an admin."""
    console = LiveConsole({**console_config(tmp_path / "console.db", simulator), "CONSOLE_DEMO": False},
                          simulator, reconcile=False).start()
    store = console.app.extensions["console.store"]
    for name, role in (("vera", "viewer"), ("sam", "supervisor"), ("ada", "admin")):
        add_user(store, name, role, PASSWORD)
    try:
        yield console
    finally:
        simulator.delivery.set_url(None)
        console.stop()


def sign_in(page: Page, base: str, name: str, password: str = PASSWORD, landing: str = "/") -> None:
    page.goto(f"{base}{landing}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def visible_buttons(page: Page) -> list[str]:
    buttons = page.get_by_role("button")
    return sorted(buttons.nth(i).inner_text().strip() for i in range(buttons.count()) if buttons.nth(i).is_visible())


def test_the_login_page_signs_you_in_and_out(accounts, page, artifacts_dir):
    page.goto(f"{accounts.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Name").fill("sam")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That name and password do not match an enabled user.")
    page.screenshot(path=str(artifacts_dir / "auth-login-refused.png"), full_page=True)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#queues-heading")).to_be_visible()
    expect(page.locator(".user-menu")).to_contain_text("sam")
    expect(page.locator(".user-menu .role-badge")).to_have_text("supervisor")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{accounts.url}/ended")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)ended$"))


def test_a_viewer_sees_no_controls_and_is_told_the_page_is_read_only(accounts, simulator, page, artifacts_dir):
    scene = stage_calls(accounts.app, simulator.world)
    pages = {"dashboard": "/", "conference": f"/conferences/{scene['conference']}", "queue": f"/queues/{scene['queue']}"}
    sign_in(page, accounts.url, "vera")
    for name, path in pages.items():
        page.goto(f"{accounts.url}{path}")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        expect(page.locator("#read-only-banner")).to_contain_text("Read-only")
        assert visible_buttons(page) == ["Dark theme", "Sign out"], name
        assert page.locator("form[data-control]:visible").count() == 0
        page.screenshot(path=str(artifacts_dir / f"auth-viewer-{name}.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, accounts.url, "sam", landing=pages["conference"])
    expect(page.locator("#read-only-banner")).to_have_count(0)
    audience = page.locator(f"#{dom_id('audience-control', scene['conference'])}")
    expect(audience.get_by_role("button", name="Mute", exact=True)).to_be_visible()


def collect_csp_violations(page: Page) -> list[str]:
    """Console reports and securitypolicyviolation events, gathered while the test runs."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text or "evalDisallowed" in message.text else None)
    page.add_init_script("window.__cspViolations = [];"
                         "document.addEventListener('securitypolicyviolation', function (e) {"
                         " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI); });")
    return seen


def violations(page: Page, seen: list[str]) -> list[str]:
    return seen + page.evaluate("window.__cspViolations")


def test_no_csp_violations_on_the_dashboard_a_conference_and_a_queue(live_console, simulator, page):
    scene = stage_calls(live_console.app, simulator.world)
    seen = collect_csp_violations(page)
    for path in ("/", f"/conferences/{scene['conference']}", f"/queues/{scene['queue']}"):
        page.goto(f"{live_console.url}{path}")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        assert violations(page, seen) == [], path
    audience = page.locator(f"#{dom_id('audience-control', scene['conference'])}")
    page.goto(f"{live_console.url}/conferences/{scene['conference']}")
    audience.locator("input[name=target][value=all]").check()
    audience.get_by_role("button", name="Mute", exact=True).click()
    expect(audience.locator(".notice-success")).to_contain_text("Muted everyone")
    panel = page.locator(f"#{dom_id('control-panel', 'play', scene['conference'])}")
    panel.locator("summary").click()
    expect(panel).to_have_attribute("open", "")
    assert violations(page, seen) == []
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    wait_for(lambda: violations(page, seen), message="the detector must notice a violation we cause")


def test_everything_works_under_a_url_prefix_behind_a_proxy(tmp_path, simulator, page, artifacts_dir):
    app = create_app({**console_config(tmp_path / "console.db", simulator), "CONSOLE_TRUSTED_PROXIES": "127.0.0.1"})
    proxy = PrefixingProxy(app)
    server = BackgroundServer(proxy).start()
    simulator.delivery.set_url(f"{server.url}/console/webhooks/telnyx")
    requested, sockets = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    try:
        scene = stage_calls(app, simulator.world)
        page.goto(f"{server.url}/console/")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        addresses = page.eval_on_selector_all(
            "[href], [src], [action], [hx-get], [hx-post], [ws-connect], [formaction]",
            "els => els.flatMap(e => ['href', 'src', 'action', 'hx-get', 'hx-post', 'ws-connect', 'formaction']"
            ".map(a => e.getAttribute(a)).filter(v => v !== null))")
        assert addresses and all(a.startswith(("/console/", "#")) for a in addresses), addresses
        page.locator(f"#{dom_id('conference', scene['conference'])} a").click()
        expect(page).to_have_url(f"{server.url}/console/conferences/{scene['conference']}")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        audience = page.locator(f"#{dom_id('audience-control', scene['conference'])}")
        audience.locator("input[name=target][value=all]").check()
        audience.get_by_role("button", name="Mute", exact=True).click()
        expect(audience.locator(".notice-success")).to_contain_text("Muted everyone")
        assert all(p["muted"] for p in simulator.world.snapshot()["participants"][scene["conference"]].values())
        page.get_by_role("link", name="Audit").click()
        expect(page.locator("#audit-rows")).to_contain_text("actions.audience:mute")
        page.screenshot(path=str(artifacts_dir / "auth-audit-under-prefix.png"), full_page=True)
    finally:
        simulator.delivery.set_url(None)
        server.stop()
        app.extensions["console.hub"].stop()
        app.extensions["console.store"].close()
    assert proxy.outside == [], "a request left the console's prefix"
    assert all(url.startswith(f"{server.url}/console/") for url in requested), requested
    assert sockets and all(re.match(rf"ws://127\.0\.0\.1:{server.port}/console/live\?watch=", url) for url in sockets)
