"""Chromium against a live console and simulator: one place to start the shift.

The navigation names the wallboard and alerts; the dashboard's queue rows show service level,
abandons and the active alert; an alert raised by real queue traffic appears live on the alerts
page, is acknowledged with who and when, and a repeat folds into it; the supervisor's line shows
in the header of another page with a working Hang up.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from console.live.ui import dom_id
from console.queues.alerts import get_watcher
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"
SUPERVISOR_PHONE = "+13125550142"


@pytest.fixture
def console_overrides():
    return {"CONSOLE_ALERT_THRESHOLDS": "*:depth=1/2,longest_wait=600/1200", "CONSOLE_ALERT_CLEAR_SECONDS": 1,
            "CONSOLE_SHORT_ABANDON_SECONDS": 0,
            "TELNYX_CALLER_ID": "+13125550100", "CONSOLE_SUPERVISOR_PHONE": SUPERVISOR_PHONE, "CONSOLE_DEMO": True,
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


def queue_caller(world, queue: str, number: str, name: str) -> str:
    call = world.incoming_call(number, SUPPORT_LINE, caller_id_name=name)
    world.answer_call(call["call_control_id"])
    world.enqueue(call["call_control_id"], queue)
    return call["call_control_id"]


def go_live(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
    page.evaluate("window.__sameDocument = true")


def shoot(page: Page, artifacts_dir, name: str) -> None:
    """The page at 1440 and 390 pixels wide, light and dark."""
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=str(artifacts_dir / f"shift-{name}-{width}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.fixture
def watcher(live_console):
    """The alert watcher, as serve and demo run it beside the console."""
    watcher = get_watcher(live_console.app).start()
    yield watcher
    watcher.stop()


def test_alerts_from_queue_traffic_are_live_acknowledged_and_folded(page: Page, live_console, simulator, watcher,
                                                                     artifacts_dir):
    world = simulator.world
    base = live_console.url
    go_live(page, f"{base}/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Wallboard")).to_have_attribute("href", "/wallboard")
    expect(nav.get_by_role("link", name="Alerts")).to_have_attribute("href", "/alerts")

    first = queue_caller(world, "Support", "+15550001001", "Caller One")
    row = page.locator(f"#{dom_id('queue', 'Support')}")
    expect(row.locator(".col-alert")).to_contain_text("warning callers waiting", timeout=8000)
    expect(row.locator(".col-abandons")).to_have_text("0")
    expect(row.locator(".col-sl")).to_contain_text("Too few calls")
    world.remote_hangup(first)  # an abandon: counted in the row, and the alert clears after its hold
    expect(row.locator(".col-abandons")).to_have_text("1", timeout=8000)
    expect(row.locator(".col-alert")).to_have_text("None", timeout=10000)
    assert page.evaluate("window.__sameDocument") is True

    go_live(page, f"{base}/alerts")
    entries = page.locator("#alert-rows tr.alert-entry")
    expect(entries).to_have_count(1)
    expect(entries.first).to_have_attribute("data-state", "cleared")
    legs = [queue_caller(world, "Support", f"+1555000200{index}", f"Caller {index}") for index in range(2)]
    # Raised again (warning, then critical): the same condition, not yet acknowledged, folds into one line.
    entry = entries.first
    expect(entry).to_have_attribute("data-state", "active", timeout=8000)
    expect(entry.locator(".alert-level")).to_have_text("critical", timeout=8000)
    expect(entry.locator(".alert-count")).to_contain_text("times")  # at least the first raise and this one
    expect(entries).to_have_count(1)
    shoot(page, artifacts_dir, "alerts-active")

    button = entry.get_by_role("button", name="Acknowledge the callers waiting alert on Support")
    button.click()
    expect(entry.locator(".alert-ack")).to_contain_text("demo", timeout=5000)
    expect(entry.locator(".alert-ack time")).to_have_count(1)
    store = live_console.app.extensions["console.store"]
    acks = store.logged_events_of_types(["console.alert.acknowledged"])
    assert [(ack.payload["by"], ack.payload["queue"]) for ack in acks] == [("demo", "Support")]
    wait_for(lambda: any(row["action"] == "shift.acknowledge_alert" for row in store.audit_entries()),
             message="the acknowledgement was not audited")

    # The queue empties and fills again within the fold window: the acknowledged line counts the repeat.
    for leg in legs:
        world.remote_hangup(leg)
    expect(entry).to_have_attribute("data-state", "cleared", timeout=10000)
    before = raises(entry)
    queue_caller(world, "Support", "+15550003001", "Caller Again")
    expect(entry).to_have_attribute("data-state", "active", timeout=8000)
    expect(entry.locator(".alert-count")).not_to_have_text(f"raised {before} times")
    assert raises(entry) > before
    expect(entries).to_have_count(1)
    expect(entry.locator(".alert-ack")).to_contain_text("demo")
    assert page.evaluate("window.__sameDocument") is True

    go_live(page, f"{base}/")
    expect(row.locator(".col-alert")).to_contain_text("warning callers waiting")
    expect(row.locator(".col-alert")).to_contain_text("seen by demo")
    shoot(page, artifacts_dir, "dashboard")


def test_the_supervisors_line_shows_on_every_page_with_a_working_hang_up(page: Page, live_console, simulator,
                                                                        artifacts_dir):
    world = simulator.world
    world.dial_answer_delay = 0.3
    customer = answered_call(world, "+15550000001", SUPPORT_LINE, "Customer Carol")
    conference_id = world.create_conference(customer, "Sales call")["id"]
    agent = answered_call(world, "+15550000002", SUPPORT_LINE, "Alice")
    world.conference_action(conference_id, "join", {"call_control_id": agent})
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: len(store.participants(conference_id)) == 2, message="the console never saw the conference")

    go_live(page, f"{live_console.url}/alerts")
    bar = page.locator("#line-bar")
    expect(bar).to_be_hidden()
    go_live(page, f"{live_console.url}/conferences/{conference_id}")
    page.get_by_role("button", name="Connect my line").click()
    expect(page.locator("#line-bar")).to_contain_text("Your line is connected: +1 312 555 0142", timeout=8000)
    page.get_by_role("button", name="Monitor").first.click()
    expect(page.locator("#line-bar")).to_contain_text("(monitoring)", timeout=8000)

    go_live(page, f"{live_console.url}/alerts")
    bar = page.locator("#line-bar")
    expect(bar).to_contain_text("Your line is connected: +1 312 555 0142 — in Sales call with")
    expect(bar).to_contain_text("Alice")
    expect(bar).to_contain_text("(monitoring)")
    page.screenshot(path=str(artifacts_dir / "shift-line-bar-1440.png"))
    page.set_viewport_size({"width": 390, "height": 800})
    page.screenshot(path=str(artifacts_dir / "shift-line-bar-390.png"))
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(artifacts_dir / "shift-line-bar-390-dark.png"))
    line = (store.supervisor("demo") or {}).get("line_call_control_id")
    bar.get_by_role("button", name="Hang up").click()
    expect(bar).to_be_hidden(timeout=8000)
    wait_for(lambda: not world.retrieve_call(line)["is_alive"], message="the line was not hung up")
    assert page.evaluate("window.__sameDocument") is True


def raises(entry) -> int:
    """How many raises an alert line counts ("raised 3 times")."""
    return int(entry.locator(".alert-count").inner_text().split()[1])

