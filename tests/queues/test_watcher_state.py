"""The alert watcher keeps only the conditions now raised: queues that come and go leave nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.ingest.bus import get_bus
from console.queues.alerts import alert_event, get_watcher
from tests.event_factory import dequeued, enqueued


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True,
                      "CONSOLE_ALERT_THRESHOLDS": "*:depth=1/2", "CONSOLE_ALERT_CLEAR_SECONDS": 0})
    try:
        yield app
    finally:
        get_watcher(app).stop()
        app.extensions["console.hub"].stop()


def publish(app, *events):
    with app.app_context():
        for event in events:
            get_bus().publish(event)


def test_the_watcher_forgets_conditions_once_they_clear(app):
    watcher = get_watcher(app)
    now = datetime.now(UTC) - timedelta(minutes=5)
    for index in range(20):
        queue = f"Queue {index}"
        publish(app, enqueued(queue, f"{index}-a", now), enqueued(queue, f"{index}-b", now))
        with app.app_context():
            assert [event.payload["level"] for event in watcher.check()] == ["critical"]
        assert list(watcher.states) == [(queue, "depth")]
        publish(app, dequeued(queue, f"{index}-a", now + timedelta(seconds=1)),
                dequeued(queue, f"{index}-b", now + timedelta(seconds=1)))
        with app.app_context():
            assert [event.payload["level"] for event in watcher.check()] == ["ok"]
        assert watcher.states == {} and watcher._easing == {}


def test_a_raised_alert_whose_queue_left_the_figures_clears_and_is_forgotten(app):
    """A restart reads the last levels from the log; a queue with no calls since the lookback no longer holds one up."""
    publish(app, alert_event("Gone", "depth", "critical", 7.0, None),
            alert_event("Kept", "depth", "warning", 1.0, None))
    publish(app, enqueued("Kept", "k", datetime.now(UTC) - timedelta(minutes=1)))
    watcher = get_watcher(app)
    with app.app_context():
        recorded = watcher.check()
    assert [(event.payload["queue"], event.event_type) for event in recorded] == [
        ("Gone", "console.alert.cleared")]
    assert watcher.states == {("Kept", "depth"): ("warning", 1.0)}
    with app.app_context():
        assert watcher.check() == []
