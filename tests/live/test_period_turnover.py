"""A new KPI day (or a sliding window moving on) redraws every queue's figures with no event to say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console import create_app
from console.live.shift import SLIDING_REDRAW_SECONDS, ShiftCatalogue
from console.live.ui import CLOCK, dom_id
from tests import event_factory as ev
from tests.waiting import wait_for

EVENING = datetime(2026, 3, 2, 23, 59, 50, tzinfo=UTC)


def _app(tmp_path, **settings):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "turnover",
                      "CONSOLE_TIMEZONE": "UTC", "CONSOLE_ALERT_MIN_CALLS": 1, **settings})
    store = app.extensions["console.store"]
    for queue, caller in (("Support", "v3:caller-1"), ("Sales", "v3:caller-2")):
        store.apply(ev.enqueued(queue, caller, EVENING - timedelta(minutes=5)))
        store.apply(ev.dequeued(queue, caller, EVENING - timedelta(minutes=5, seconds=-5)))  # answered in 5 s
    return app


def _row(frame: str, queue: str) -> str:
    """The queue's dashboard row in a frame or snapshot."""
    start = frame.index(f'id="{dom_id("queue", queue)}"')
    return frame[start:frame.index("</tr>", start)]


def test_the_catalogue_names_every_queue_once_the_day_turns(tmp_path):
    app = _app(tmp_path)
    catalogue = ShiftCatalogue()
    with app.app_context():
        assert catalogue.due_keys(EVENING) == set()  # the first look only notes the day
        assert catalogue.due_keys(EVENING + timedelta(seconds=5)) == set()  # same day: nothing to redraw
        assert catalogue.due_keys(EVENING + timedelta(seconds=15)) == {"queue:Support", "queue:Sales"}
        assert catalogue.due_keys(EVENING + timedelta(seconds=20)) == set()  # once per day


def test_with_a_sliding_window_the_figures_are_redrawn_as_it_moves(tmp_path):
    app = _app(tmp_path, CONSOLE_KPI_WINDOW_SECONDS=3600)
    catalogue = ShiftCatalogue()
    start = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    with app.app_context():
        assert catalogue.due_keys(start) == set()
        assert catalogue.due_keys(start + timedelta(seconds=SLIDING_REDRAW_SECONDS - 1)) == set()
        assert catalogue.due_keys(start + timedelta(seconds=SLIDING_REDRAW_SECONDS)) == {"queue:Support", "queue:Sales"}


def test_an_open_dashboard_gets_its_queue_rows_again_after_midnight_with_no_event(tmp_path):
    app = _app(tmp_path)
    moment = {"now": EVENING}
    app.extensions[CLOCK] = lambda: moment["now"]
    hub = app.extensions["console.hub"]
    hub.idle_check = 0.05
    with app.app_context():
        hub.catalogue.due_keys(EVENING)  # the hub has seen the evening, as it would have all day
    subscription = hub.subscribe("dashboard")
    try:
        snapshot = "".join(wait_for(lambda: subscription.next_frame(timeout=0.2), timeout=10, message="no snapshot"))
        evening_row = _row(snapshot, "Support")
        assert "100%" in evening_row  # the evening's answered call, on target
        moment["now"] = EVENING + timedelta(seconds=30)  # past midnight; nothing is posted

        def redrawn():
            frame = subscription.next_frame(timeout=0.2)
            return frame if frame and dom_id("queue", "Support") in "".join(frame) else None

        frame = "".join(wait_for(redrawn, timeout=10, message="the queue rows were never redrawn after midnight"))
        assert dom_id("queue", "Sales") in frame
        morning_row = _row(frame, "Support")
        assert "100%" not in morning_row and "Too few calls" in morning_row  # a new day, nothing counted yet
    finally:
        hub.unsubscribe(subscription)
        hub.stop()
