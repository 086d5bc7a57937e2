"""Chromium against a live console: the wallboard fills 1920x1080, 1440x900 and 1280x720 without
scrolling, spilling or overlapping figures, with 3 and 6 queues, healthy and in alert, light and dark;
its colours follow the thresholds (never on a zero), always with a word."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from console.ingest.bus import get_bus
from console.live.ui import dom_id
from tests.event_factory import dequeued, enqueued
from tests.live_servers import *  # the simulator, live_console and friends fixtures

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"
SIZES = [(1920, 1080), (1440, 900), (1280, 720)]
QUEUES = ["Sales", "Support", "Billing", "Returns", "Claims", "Renewals", "Accounts", "Bookings", "Complaints",
          "Delivery", "Enterprise", "Fraud"]

# Every element on screen inside the viewport and no page scroll; every shown figure inside its tile,
# its text inside its box, and no two figures overlapping.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const se = document.scrollingElement;
  const W = innerWidth, H = innerHeight, slack = 0.5;
  if (se.scrollHeight > H) problems.push(`page scrolls down: ${se.scrollHeight} > ${H}`);
  if (se.scrollWidth > W) problems.push(`page scrolls across: ${se.scrollWidth} > ${W}`);
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  document.querySelectorAll("body *").forEach(el => {
    if (!shown(el) || el.closest(".visually-hidden")) return;
    const r = el.getBoundingClientRect();
    if (r.left < -slack || r.top < -slack || r.right > W + slack || r.bottom > H + slack)
      problems.push(`${el.tagName}.${el.className} outside the viewport`);
  });
  const figures = [...document.querySelectorAll(".wb-figure")].filter(shown);
  figures.forEach(f => {
    const r = f.getBoundingClientRect(), t = f.closest(".wb-tile").getBoundingClientRect();
    const name = `${f.closest(".wb-tile").dataset.queue} ${f.className}`;
    if (r.left < t.left - slack || r.top < t.top - slack || r.right > t.right + slack || r.bottom > t.bottom + slack)
      problems.push(`${name} spills out of its tile`);
    f.querySelectorAll("dt, dd").forEach(part => {
      if (part.scrollWidth > part.clientWidth + 1) problems.push(`${name} ${part.tagName} text cut: ${part.textContent.trim()}`);
    });
  });
  for (let i = 0; i < figures.length; i++) for (let j = i + 1; j < figures.length; j++) {
    const a = figures[i].getBoundingClientRect(), b = figures[j].getBoundingClientRect();
    if (a.left < b.right - slack && b.left < a.right - slack && a.top < b.bottom - slack && b.top < a.bottom - slack)
      problems.push(`${figures[i].className} overlaps ${figures[j].className}`);
  }
  return problems;
}"""

# WCAG AA: every shown piece of text at least 4.5:1 against the background it sits on.
CONTRAST_PROBLEMS = """() => {
  const rgb = text => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                               if (c.length === 3 || c[3] > 0) return c; } return [255, 255, 255]; };
  const problems = [];
  document.querySelectorAll(".wb-bar h1, .wb-period, .wb-tile h2, .wb-level, .wb-attention, .wb-figure dt, .wb-figure dd, .wb-flag, .wb-lost")
    .forEach(el => {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) return;
      const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (!(ratio >= 4.5)) problems.push(`${el.className || el.tagName} "${el.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}:1`);
    });
  return problems;
}"""


@pytest.fixture
def console_overrides() -> dict:
    """A sliding hour, not "since midnight": the staged history (answered 20 to 30 minutes ago) must be in
    the period whatever the time of day. Run in the first half hour after midnight UTC, a midnight
    period left it out, and the alert expectations (33 % answered in time) failed."""
    return {"CONSOLE_KPI_WINDOW_SECONDS": 3600}


def queue_caller(world, queue: str, index: int) -> str:
    call = world.incoming_call(f"+1555010{index:04d}", SUPPORT_LINE, caller_id_name=f"Caller {index}")
    world.answer_call(call["call_control_id"])
    world.enqueue(call["call_control_id"], queue)
    return call["call_control_id"]


def answered_history(app, queue: str, waits: list[int]) -> None:
    """Calls answered earlier this period after these waits (seconds), as the event log would have them."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    with app.app_context():
        for index, wait in enumerate(waits):
            leg = f"{queue}-past-{index}"
            get_bus().publish(enqueued(queue, leg, start + timedelta(seconds=index * 60)))
            get_bus().publish(dequeued(queue, leg, start + timedelta(seconds=index * 60 + wait), wait=wait))


def stage(live_console, world, count: int, alert: bool) -> list[str]:
    """`count` queues with answered calls and one caller waiting each; in alert, Sales has six
    waiting (depth warning), Support answered 1 of 3 within 20 s (33 %), Billing nobody waiting."""
    names = QUEUES[:count]
    caller = 0
    for name in names:
        waits = [5, 40, 45] if alert and name == "Support" else [5, 8, 12, 3, 9, 15, 4, 6, 10, 11]
        answered_history(live_console.app, name, waits)
        waiting = 6 if alert and name == "Sales" else 0 if alert and name == "Billing" else 1
        for _ in range(waiting):
            caller += 1
            queue_caller(world, name, caller)
    return names


@pytest.mark.parametrize("count", [3, 6, 12])
@pytest.mark.parametrize("alert", [False, True], ids=["healthy", "alert"])
def test_wallboard_fits_the_screen_at_each_size_and_theme(page, live_console, simulator, artifacts_dir, count, alert):
    names = stage(live_console, simulator.world, count, alert)
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    page.goto(f"{live_console.url}/wallboard")
    expect(page.locator("body")).to_have_attribute("data-live", "open", timeout=5000)
    expect(page.locator(".wb-grid > .wb-tile[data-queue]")).to_have_count(count + 1, timeout=5000)
    expect(page.locator(".wb-how")).to_have_count(0)  # how each figure is counted stays off the wall
    sales = page.locator(f"#{dom_id('wallboard-tile', 'Sales')}")
    expect(sales.locator(".wb-waiting dd")).to_have_text("6" if alert else "1", timeout=5000)
    state = "alert" if alert else "healthy"
    for theme in ("dark", "light"):
        page.evaluate("theme => document.documentElement.setAttribute('data-theme', theme)", theme)
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            problems = page.evaluate(LAYOUT_PROBLEMS)
            page.screenshot(path=str(artifacts_dir / f"wallboard-{count}q-{state}-{theme}-{width}x{height}.png"))
            assert problems == [], f"{count} queues, {state}, {theme}, {width}x{height}: {problems}"
        contrast = page.evaluate(CONTRAST_PROBLEMS)
        assert contrast == [], f"{count} queues, {state}, {theme}: {contrast}"
    overall = page.locator(f"#{dom_id('wallboard-tile', '*')}")
    if not alert:
        for name in ["*", *names]:
            tile = page.locator(f"#{dom_id('wallboard-tile', name)}")
            expect(tile).to_have_attribute("data-level", "ok")
            expect(tile.locator(".wb-level")).to_have_text("OK")
        return
    support = page.locator(f"#{dom_id('wallboard-tile', 'Support')}")
    billing = page.locator(f"#{dom_id('wallboard-tile', 'Billing')}")
    # 33 % against 80/20 is below the 60 % critical line though only 3 calls count (the alert waits for 10).
    expect(support.locator(".wb-sl dd")).to_have_text("33%")
    expect(support.locator(".wb-sl")).to_have_attribute("data-level", "critical")
    expect(support).to_have_attribute("data-level", "critical")
    expect(support.locator(".wb-level")).to_have_text("Critical")
    expect(support.locator(".wb-sl dt")).to_contain_text("Critical")  # a word beside the colour
    expect(support).to_have_attribute("data-alert-level", "ok")
    expect(sales).to_have_attribute("data-level", "warning")
    expect(sales.locator(".wb-waiting dt")).to_contain_text("Warning")
    # Nobody waiting in Billing: a zero is normal, never amber.
    expect(billing.locator(".wb-waiting dd")).to_have_text("0")
    expect(billing.locator(".wb-waiting")).not_to_have_attribute("data-level", "warning")
    expect(billing.locator(".wb-longest")).not_to_have_attribute("data-level", "warning")
    expect(billing).to_have_attribute("data-level", "ok")
    # The all-queues tile takes the worst queue's colour and names those that need attention.
    expect(overall).to_have_attribute("data-level", "critical")
    expect(overall.locator(".wb-attention")).to_have_text("Needs attention: Sales, Support")


def test_wallboard_shows_a_lost_connection_and_recovers_by_itself(page, live_console, simulator, artifacts_dir):
    page.clock.install()  # the page's clock runs on, and can be run forward on demand
    queue_caller(simulator.world, "Support", 1)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{live_console.url}/wallboard")
    body, banner = page.locator("body"), page.locator("#wallboard-lost")
    expect(body).to_have_attribute("data-live", "open", timeout=5000)
    timer = page.locator(f"#{dom_id('wallboard-tile', 'Support')} .wb-longest .timer")
    expect(timer).to_be_visible(timeout=5000)
    expect(banner).to_be_hidden()
    page.evaluate("window.__sameDocument = true")

    live_console.stop()
    expect(banner).to_be_visible(timeout=10000)
    expect(banner).to_contain_text("Connection lost \u2014 figures paused since ")
    expect(banner).to_have_text(re.compile(r"paused since \d\d:\d\d:\d\d UTC"))
    expect(body).to_have_attribute("data-live", "closed")
    assert "grayscale(1)" in page.eval_on_selector(".wb-grid", "grid => getComputedStyle(grid).filter")
    paused = timer.text_content()
    page.clock.run_for(5000)  # five ticks of the page's timers, no waiting
    assert timer.text_content() == paused, "the wait timer kept counting with the connection lost"
    page.screenshot(path=str(artifacts_dir / "wallboard-lost-1280x720.png"))

    live_console.start()  # the same port, as a restarted server
    expect(banner).to_be_hidden(timeout=20000)
    expect(body).to_have_attribute("data-live", "open")
    assert page.eval_on_selector(".wb-grid", "grid => getComputedStyle(grid).filter") == "none"
    queue_caller(simulator.world, "Support", 2)  # figures are live again
    expect(page.locator(f"#{dom_id('wallboard-tile', 'Support')} .wb-waiting dd")).to_have_text("2", timeout=10000)
    before = page.locator(f"#{dom_id('wallboard-tile', 'Support')} .wb-longest .timer").text_content()
    page.clock.run_for(5000)
    expect(page.locator(f"#{dom_id('wallboard-tile', 'Support')} .wb-longest .timer")).not_to_have_text(before)
    assert page.evaluate("window.__sameDocument") is True  # recovered in place, never reloaded
