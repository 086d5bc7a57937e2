"""The wallboard page and its board fragment, rendered from events published into a fresh console."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.ingest.bus import get_bus
from console.queues.alerts import get_watcher
from tests.event_factory import conference_created, dequeued, enqueued, joined


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True,
                      "CONSOLE_KPI_WINDOW_SECONDS": 3600,
                      "CONSOLE_ALERT_THRESHOLDS": "*:depth=2/3;Sales:longest_wait=600/1200"})
    try:
        yield app
    finally:
        get_watcher(app).stop()
        app.extensions["console.hub"].stop()


def publish(app, *events):
    with app.app_context():
        for event in events:
            get_bus().publish(event)


def test_wallboard_shows_tiles_with_formulas_and_levels(app):
    now = datetime.now(UTC)
    publish(app, enqueued("Sales", "a", now - timedelta(seconds=50)), dequeued("Sales", "a", now - timedelta(seconds=40)),
            enqueued("Support", "b", now - timedelta(seconds=30)), enqueued("Support", "c", now - timedelta(seconds=20)))
    html = app.test_client().get("/wallboard").get_data(as_text=True)
    assert 'id="wallboard-board"' in html and "ws-connect" in html and "watch=wallboard" in html
    assert "<script>" not in html and "style=" not in html
    assert 'data-queue="Support" data-level="warning"' in html  # two waiting against depth 2/3
    assert 'data-queue="Sales" data-level="ok"' in html
    assert "Service level 80/20" in html
    assert "wb-how" not in html and "<details" not in html  # how each figure is counted stays off the wall
    assert 'title="Average speed of answer' in html  # (a tooltip for a mouse, nothing on the screen)
    assert "<title>Callers waiting in Sales, last hour</title>" in html


def tile_html(html: str, queue: str) -> str:
    start = html.index(f'data-queue="{queue}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_tile_colours_follow_the_thresholds_with_a_word_and_never_on_a_zero(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True,
                      "CONSOLE_ALERT_THRESHOLDS": "*:depth=0/4,longest_wait=0/600,service_level=80/60",
                      "CONSOLE_ALERT_MIN_CALLS": 10})
    try:
        now = datetime.now(UTC) - timedelta(minutes=10)
        waits = [5, 40, 45]  # one of three answered within 20 s: 33 %
        publish(app, *(event for index, wait in enumerate(waits) for event in (
            enqueued("Support", f"s{index}", now + timedelta(seconds=index * 60)),
            dequeued("Support", f"s{index}", now + timedelta(seconds=index * 60 + wait), wait=wait))),
            enqueued("Sales", "a", now), dequeued("Sales", "a", now + timedelta(seconds=3), wait=3))
        html = app.test_client().get("/wallboard/board").get_data(as_text=True)
    finally:
        get_watcher(app).stop()
        app.extensions["console.hub"].stop()
    support, sales, overall = tile_html(html, "Support"), tile_html(html, "Sales"), tile_html(html, "*")
    # Three calls are too few for the alert (min calls 10), not for the tile's colour: 33 % < 60 % is critical.
    assert 'data-level="critical" data-alert-level="ok"' in support
    assert '<div class="wb-figure wb-sl" data-level="critical"' in support
    assert '<span class="wb-flag">Critical</span>' in support and ">Critical</span>" in support
    # Nobody waiting and no wait, against thresholds that start at zero: normal, not amber.
    assert 'data-level="ok"' in sales and '<div class="wb-figure wb-waiting" title=' in sales
    assert '<div class="wb-figure wb-longest" title=' in sales and ">OK</span>" in sales
    # The all-queues tile is coloured by its worst queue and says which.
    assert 'data-level="critical"' in overall and "Needs attention: Support" in overall


def test_queue_filter_and_fragment(app):
    publish(app, enqueued("Sales", "a", datetime.now(UTC)), enqueued("Billing", "b", datetime.now(UTC)))
    html = app.test_client().get("/wallboard/board?queues=Billing").get_data(as_text=True)
    assert 'data-queue="Billing"' in html and 'data-queue="Sales"' not in html
    overall = html[html.index('data-queue="*"'):html.index('data-queue="Billing"')]
    assert '<dt>Waiting</dt>\n  <dd>1</dd>' in overall  # only Billing's caller, not Sales's
    assert "<html" not in html
    assert "queues=Billing" in html  # the board keeps its filter when it reloads itself


def test_watcher_records_alert_crossings_as_console_events_and_holds_them_before_clearing(app):
    publish(app, *(enqueued("Support", name, datetime.now(UTC)) for name in "abc"))
    watcher = get_watcher(app)
    clock = [1000.0]
    watcher.clock = lambda: clock[0]
    with app.app_context():
        raised = watcher.check()
        assert [(e.event_type, e.payload["queue"], e.payload["metric"], e.payload["level"]) for e in raised] == [
            ("console.alert.raised", "Support", "depth", "critical")]
        assert watcher.check() == []  # no change, nothing new recorded
    publish(app, *(dequeued("Support", name, datetime.now(UTC)) for name in "abc"))
    board = app.test_client()
    with app.app_context():
        assert watcher.check() == [], "cleared before the figure stayed down for CONSOLE_ALERT_CLEAR_SECONDS"
        clock[0] += 29
        assert watcher.check() == []
    held = board.get("/wallboard/board?queues=Support").get_data(as_text=True)
    assert 'data-queue="Support" data-level="critical"' in held, "the tile dropped an alert the watcher still holds"
    assert "<dd>0</dd>" in held
    # The badge keeps the held alert; the figure itself is back to normal and shows plain, not red.
    assert '<div class="wb-figure wb-waiting" title=' in held
    assert ">Critical · recovering</span>" in held and "stay there for 30 s" in held
    with app.app_context():
        clock[0] += 1
        cleared = watcher.check()
        assert [(e.event_type, e.payload["level"]) for e in cleared] == [("console.alert.cleared", "ok")]
    cleared_board = board.get("/wallboard/board?queues=Support").get_data(as_text=True)
    assert 'data-queue="Support" data-level="ok"' in cleared_board and "recovering" not in cleared_board
    with app.app_context():
        store = app.extensions["console.store"]
        assert len(store.logged_events_of_types(["console.alert.raised", "console.alert.cleared"])) == 2


def test_the_queue_page_says_how_the_wallboard_figures_are_counted(app):
    publish(app, enqueued("Sales", "a", datetime.now(UTC)))
    html = app.test_client().get("/queues/Sales").get_data(as_text=True)
    notes = html[html.index("How the wallboard's figures for Sales are counted"):]
    assert "<dt>Service level 80/20</dt><dd>Answered within the target seconds" in notes
    assert "longest wait warning 600, critical 1200" in notes and "depth warning 2, critical 3" in notes
    assert "Nobody waiting is always OK." in notes


def test_the_all_queues_tile_counts_in_conference_as_the_queue_tiles_add_up(app):
    """A caller answered from Sales talks to an agent: one caller in conference, on both tiles (not two legs)."""
    now = datetime.now(UTC)
    publish(app, enqueued("Sales", "caller", now - timedelta(seconds=50)),
            dequeued("Sales", "caller", now - timedelta(seconds=40)),
            conference_created("conf-1", "caller", now - timedelta(seconds=40)),
            joined("conf-1", "caller", now - timedelta(seconds=39)),
            joined("conf-1", "agent", now - timedelta(seconds=39)))
    html = app.test_client().get("/wallboard/board").get_data(as_text=True)
    in_conference = re.compile(r'wb-in-conference".*?<dd>\s*(\d+)\s*</dd>', re.DOTALL)
    assert in_conference.search(tile_html(html, "Sales")).group(1) == "1"
    assert in_conference.search(tile_html(html, "*")).group(1) == "1"
