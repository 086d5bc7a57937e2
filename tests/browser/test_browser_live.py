"""Chromium against a live console and simulator: pages follow the simulated world without reloading."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from console.live.ui import dom_id
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for


class RewindableClock:
    """Wall-clock time minus an offset, so a test can build a world that began a while ago."""

    def __init__(self):
        self.behind = 0.0

    def __call__(self) -> float:
        return time.time() - self.behind


@pytest.fixture
def simulator_clock():
    return RewindableClock()

pytestmark = pytest.mark.browser

SUPPORT_LINE = "+18005550100"


@pytest.fixture(autouse=True)
def no_failed_swaps(page):
    """Fail a test whose page logged an htmx swap that found no target (a push that went nowhere)."""
    failures = []
    page.on("console", lambda message: failures.append(message.text)
            if message.type == "error" and "htmx:" in message.text else None)
    yield
    assert not failures, failures


def start_conference(world, name: str, *people: tuple[str, str]) -> tuple[str, list[str]]:
    """A conference created around the first person, with the others joined; returns (id, legs)."""
    legs = [answered_call(world, number, SUPPORT_LINE, caller) for number, caller in people]
    conference = world.create_conference(legs[0], name)
    for leg in legs[1:]:
        world.conference_action(conference["id"], "join", {"call_control_id": leg})
    return conference["id"], legs


def queue_caller(world, queue: str, number: str, name: str) -> str:
    """A caller waits in a queue; returns the call_control_id."""
    leg = answered_call(world, number, SUPPORT_LINE, name)
    world.enqueue(leg, queue)
    return leg


def row(page: Page, *id_parts):
    return page.locator(f"#{dom_id(*id_parts)}")


def open_live(page: Page, url: str) -> None:
    """Open a page and wait until its live connection is up; mark the document to detect reloads."""
    page.goto(url)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=5000)
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def ingested(simulator, live_console, check) -> None:
    """Wait until every webhook has been delivered and the console's store satisfies `check(store)`."""
    assert simulator.delivery.wait_idle(5), "the simulator's webhooks are still queued"
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: check(store), timeout=5, message="the console never received the simulator's webhooks")


def test_dashboard_shows_the_simulators_conferences_and_queues(page, simulator, live_console):
    world = simulator.world
    conference_id, _ = start_conference(world, "Escalations", ("+15550000001", "Ada"), ("+15550000002", "Bob"))
    queue_caller(world, "Sales", "+15550000003", "Cleo")
    ingested(simulator, live_console, lambda store: store.queue("Sales") and store.conference(conference_id))
    open_live(page, live_console.url)
    expect(row(page, "conference", conference_id)).to_contain_text("Escalations", timeout=3000)
    expect(row(page, "conference", conference_id).locator(".col-num")).to_have_text("2")
    expect(row(page, "queue", "Sales").locator(".size-now")).to_have_text("1")
    expect(row(page, "queue", "Sales")).to_contain_text("Cleo")
    expect(page.locator(f"#{dom_id('kpi', 'waiting')} .kpi-value")).to_have_text("1")


def test_dashboard_follows_the_world_within_a_second(page, simulator, live_console):
    world = simulator.world
    open_live(page, live_console.url)

    conference_id, (_, bob) = start_conference(world, "Billing", ("+15550000011", "Ada"), ("+15550000012", "Bob"))
    conference_row = row(page, "conference", conference_id)
    expect(conference_row.locator(".col-num")).to_have_text("2", timeout=1000)
    expect(conference_row).to_contain_text("Billing", timeout=2000)  # the name comes over REST, a moment later

    queue_caller(world, "Support", "+15550000013", "Cleo")
    expect(row(page, "queue", "Support").locator(".size-now")).to_have_text("1", timeout=1000)

    carl = answered_call(world, "+15550000014", SUPPORT_LINE, "Carl")
    world.conference_action(conference_id, "join", {"call_control_id": carl})
    expect(conference_row.locator(".col-num")).to_have_text("3", timeout=1000)

    world.talk(bob)
    expect(conference_row.locator(".col-talking")).to_have_text("Bob", timeout=1000)
    world.talk(carl)
    expect(conference_row.locator(".col-talking")).to_have_text("Carl", timeout=1000)

    world.conference_action(conference_id, "leave", {"call_control_id": carl})
    expect(conference_row.locator(".col-num")).to_have_text("2", timeout=1000)

    world.conference_action(conference_id, "end", {})
    expect(conference_row).to_have_count(0, timeout=1000)
    expect(page.locator("#announcer")).to_contain_text("Billing ended", timeout=1000)
    assert_not_reloaded(page)


def test_conference_page_follows_participants_and_the_floor(page, simulator, live_console):
    world = simulator.world
    conference_id, (ada, bob) = start_conference(world, "Escalations", ("+15550000021", "Ada"), ("+15550000022", "Bob"))
    ingested(simulator, live_console, lambda store: len(store.participants(conference_id)) == 2)
    open_live(page, f"{live_console.url}/conferences/{conference_id}")
    expect(page.locator("#participant-cards .card")).to_have_count(2)

    carl = answered_call(world, "+15550000023", SUPPORT_LINE, "Carl")
    world.conference_action(conference_id, "join", {"call_control_id": carl})
    carl_card = row(page, "participant", conference_id, carl)
    expect(carl_card.locator(".card-title")).to_have_text("Carl", timeout=1000)

    world.talk(carl)
    expect(carl_card.locator(".badge-talking")).to_have_text("Talking", timeout=1000)
    world.talk(ada)
    expect(row(page, "participant", conference_id, ada).locator(".badge-talking")).to_have_text("Talking", timeout=1000)
    expect(carl_card.locator(".badge-talking")).to_have_count(0, timeout=1000)

    # Ada keeps the floor on hold or muted, but nobody hears her: neither the header nor her card says talking.
    talking_now = row(page, "conference-header", conference_id).locator("div", has_text="Talking now").locator("dd")
    ada_card = row(page, "participant", conference_id, ada)
    expect(talking_now).to_have_text("Ada")
    for press, now_talking in (("Hold", "No one"), ("Unhold", "Ada"), ("Mute", "No one"), ("Unmute", "Ada")):
        ada_card.get_by_role("button", name=f"{press} Ada").click()  # Telnyx sends no webhook for these
        expect(talking_now).to_have_text(now_talking, timeout=5000)
        if press == "Hold":
            expect(ada_card.locator(".badge-hold")).to_have_text("On hold")
            expect(ada_card.locator(".badge-talking")).to_have_count(0)

    world.conference_action(conference_id, "leave", {"call_control_id": bob})
    expect(row(page, "participant", conference_id, bob)).to_have_count(0, timeout=1000)
    expect(page.locator("[data-count-of='participant-cards']")).to_have_text("2", timeout=1000)

    world.conference_action(conference_id, "end", {})
    header = row(page, "conference-header", conference_id)
    expect(header.locator(".badge").first).to_have_text("Ended", timeout=1000)
    expect(page.locator("#participant-cards .card")).to_have_count(0, timeout=1000)
    expect(page.locator("#announcer")).to_have_text("Escalations ended", timeout=1000)
    assert_not_reloaded(page)


def test_queue_page_follows_callers(page, simulator, live_console):
    world = simulator.world
    first = queue_caller(world, "Sales", "+15550000031", "Dora")
    ingested(simulator, live_console, lambda store: store.queue("Sales"))
    open_live(page, f"{live_console.url}/queues/Sales")

    second = queue_caller(world, "Sales", "+15550000032", "Eve")
    second_row = row(page, "queued-call", "Sales", second)
    expect(second_row.locator(".col-num")).to_have_text("2", timeout=1000)

    world.remote_hangup(first)
    expect(row(page, "queued-call", "Sales", first)).to_have_count(0, timeout=1000)
    expect(second_row.locator(".col-num")).to_have_text("1", timeout=1000)
    assert_not_reloaded(page)


@pytest.mark.parametrize("console_overrides", [{"CONSOLE_WAIT_WARN_SECONDS": 1, "CONSOLE_WAIT_CRITICAL_SECONDS": 2}])
def test_long_waits_turn_amber_then_red_in_the_browser(page, simulator, live_console, console_overrides):
    open_live(page, live_console.url)
    queue_caller(simulator.world, "Sales", "+15550000041", "Finn")
    longest = row(page, "queue", "Sales").locator(".col-time .timer-wait").first
    expect(longest).to_have_attribute("data-level", "warn", timeout=2500)
    expect(longest).to_have_attribute("data-level", "critical", timeout=2500)
    expect(page.locator("#announcer")).to_contain_text("waited a long time", timeout=2500)


def test_restarting_the_console_reconnects_and_resyncs(page, simulator, live_console):
    world = simulator.world
    old_id, _ = start_conference(world, "Old news", ("+15550000051", "Gus"))
    ingested(simulator, live_console, lambda store: store.conference(old_id))
    open_live(page, live_console.url)
    expect(row(page, "conference", old_id)).to_have_count(1)
    state = page.locator("#live-state")

    def while_down():
        expect(state).to_have_attribute("data-state", "reconnecting", timeout=5000)
        expect(state).to_contain_text("Reconnecting")
        world.conference_action(old_id, "end", {})
        new_id, _ = start_conference(world, "Fresh", ("+15550000052", "Hana"))
        changes["new"] = new_id

    changes: dict[str, str] = {}
    live_console.restart(while_down)
    expect(state).to_have_attribute("data-state", "live", timeout=10000)
    expect(row(page, "conference", changes["new"])).to_have_count(1, timeout=10000)
    expect(row(page, "conference", old_id)).to_have_count(0, timeout=10000)
    expect(page.locator("#conference-rows tr")).to_have_count(1)
    assert_not_reloaded(page)


def test_filter_narrows_a_long_conference_list_and_keeps_up_with_new_rows(page, simulator, live_console):
    world = simulator.world
    for index in range(30):
        start_conference(world, f"{'Billing' if index % 3 == 0 else 'Support'} room {index}", (f"+1555030{index:04d}", None))
    ingested(simulator, live_console, lambda store: len(store.live_conferences()) == 30)
    open_live(page, live_console.url)
    page.keyboard.press("/")
    expect(page.locator("#conference-filter")).to_be_focused()
    page.keyboard.type("billing")
    expect(page.locator("#conference-rows tr:visible")).to_have_count(10)
    expect(page.locator("#conference-filter-status")).to_have_text("10 of 30 shown")
    start_conference(world, "Billing overflow", ("+15550399999", None))
    start_conference(world, "Support overflow", ("+15550399998", None))
    expect(page.locator("#conference-rows tr")).to_have_count(32, timeout=1000)
    expect(page.locator("#conference-rows tr:visible")).to_have_count(11, timeout=3000)


def test_theme_toggle_is_remembered(page, live_console):
    page.emulate_media(color_scheme="light")
    page.goto(live_console.url)
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")


def populate(world, clock: RewindableClock) -> dict:
    """A believable mid-shift world built over the last quarter hour: conferences, busy queues, talkers."""
    names = iter(["Ada Byron", "Ben Ortiz", "Chen Wei", "Dana Kim", "Eli Novak", "Farah Aziz", "Gita Rao",
                  "Hugo Lind", "Ines Roth", "Jon Park", "Kira Sato", "Liam Ford", "Maya Cruz", "Noor Haddad",
                  "Omar Diaz", "Pia Berg", "Quinn Hale", "Rosa Lima", "Sami Nel", "Tom Reyes", "Uma Shah",
                  "Vic Moss", "Wren Ames", "Xia Lin", "Yara Fox", "Zed Kane", "Abe Cole", "Bea Nunez"])
    numbers = iter(f"+1555010{index:04d}" for index in range(1000))
    made: dict = {"conferences": [], "queues": {}}
    plan = []  # (seconds ago, what happens)
    for topic, size, started in [("Billing dispute", 3, 840), ("Escalations", 4, 610), ("Onboarding", 2, 420),
                                 ("Sales callback", 2, 300), ("Tier 2 support", 3, 130), ("Retention", 2, 45)]:
        people = [(next(numbers), next(names)) for _ in range(size)]
        plan.append((started, lambda topic=topic, people=people: made["conferences"].append(
            start_conference(world, topic, *people))))
    escalations = lambda: made["conferences"][1][0]
    plan.append((500, lambda: world.conference_action(escalations(), "record_start", {"format": "wav"})))
    plan.append((380, lambda: world.conference_action(escalations(), "record_stop", {})))
    for index in (0, 1, 3, 4, 5):  # one quiet room
        plan.append((20 - index, lambda index=index: world.talk(
            made["conferences"][index][1][index % len(made["conferences"][index][1])])))
    for queue, waits in [("Billing", [250, 95, 40, 12]), ("Sales", [70, 8]), ("Support", [130, 110, 64, 50, 21, 3])]:
        for wait in waits:
            caller = (next(numbers), next(names))
            plan.append((wait, lambda queue=queue, caller=caller: made["queues"].setdefault(queue, []).append(
                queue_caller(world, queue, *caller))))
    for behind, happen in sorted(plan, key=lambda step: -step[0]):
        clock.behind = behind
        happen()
    clock.behind = 0.0
    return made


@pytest.mark.parametrize("width,height", [(1280, 800), (1920, 1080)])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(page, simulator, simulator_clock, live_console, artifacts_dir, width, height, theme):
    world_state = populate(simulator.world, simulator_clock)
    conference_id, _ = world_state["conferences"][1]
    ingested(simulator, live_console, lambda store: len(store.live_conferences()) == 6
             and (store.queue("Support") or {}).get("current_size") == 6 and store.recordings(conference_id))
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=theme)
    shots = [("dashboard", "/"), ("conference", f"/conferences/{conference_id}"), ("queue", "/queues/Support")]
    for name, path in shots:
        open_live(page, live_console.url + path)
        expect(page.locator("body")).to_have_attribute("data-synced", "")  # the snapshot has been applied
        page.screenshot(path=str(artifacts_dir / f"{name}-{width}x{height}-{theme}.png"))
    expect(page.locator("#queued-call-rows tr")).to_have_count(6)


@pytest.mark.parametrize("width", [1280, 1400, 1536, 1920])
def test_the_dashboard_tables_fit_their_panels_at_common_screen_widths(page, simulator, simulator_clock, live_console,
                                                                       width):
    """No column of the queues or conferences table is cut off behind a horizontal scroll bar."""
    populate(simulator.world, simulator_clock)
    ingested(simulator, live_console, lambda store: len(store.live_conferences()) == 6
             and (store.queue("Support") or {}).get("current_size") == 6)
    page.set_viewport_size({"width": width, "height": 900})
    open_live(page, live_console.url + "/")
    expect(page.locator("body")).to_have_attribute("data-synced", "")
    overflowing = page.evaluate("""() => Array.from(document.querySelectorAll('.board .table-wrap'))
        .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1)
        .map((wrap) => wrap.closest('section, .panel').className + ': ' + wrap.scrollWidth + ' > ' + wrap.clientWidth)""")
    assert overflowing == [], f"at {width} px wide"


CELL_LABELS = """() => Array.from(document.querySelectorAll('#queue-rows tr, #conference-rows tr')).map((row) =>
    Array.from(row.querySelectorAll('td')).map((cell) => [cell.getAttribute('data-label'),
                                                           getComputedStyle(cell, '::before').content]))"""


def test_on_a_phone_each_dashboard_cell_says_what_it_is_pushed_rows_too(page, simulator, simulator_clock,
                                                                         live_console):
    """The stacked cards hide the column headings, so each cell shows its own (at phone width only)."""
    populate(simulator.world, simulator_clock)
    ingested(simulator, live_console, lambda store: len(store.live_conferences()) == 6)
    page.set_viewport_size({"width": 390, "height": 844})
    open_live(page, live_console.url + "/")
    expect(page.locator("body")).to_have_attribute("data-synced", "")
    queue_cells = dict(page.evaluate(CELL_LABELS)[0])
    assert {"Waiting", "Longest", "Service level", "Abandoned", "Alert"} <= set(queue_cells), queue_cells
    assert queue_cells["Waiting"] not in ("none", "normal"), queue_cells  # the heading is drawn before the value
    world = simulator.world
    caller = world.incoming_call("+15550109999", "+15557770000")
    world.answer_call(caller["call_control_id"])
    conference_id = world.create_conference(caller["call_control_id"], "Pushed later")["id"]
    pushed = page.locator(f"#{dom_id('conference', conference_id)} td.col-num")
    expect(pushed).to_have_attribute("data-label", "People")  # a row that arrived live is labelled too
    page.set_viewport_size({"width": 1280, "height": 900})
    assert all(content in ("none", "normal") for row in page.evaluate(CELL_LABELS) for _, content in row), \
        "the labels show only on a phone; wider tables keep their headings"
