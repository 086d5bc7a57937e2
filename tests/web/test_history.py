"""History search, queued-call outcomes, CSV exports, call timelines and the alert page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.ingest.bus import get_bus
from console.state.timeline import queued_call_outcomes, timeline
from console.telnyx.events import console_event
from tests.event_factory import (
    at,
    call_hangup,
    call_initiated,
    conference_created,
    dequeued,
    enqueued,
    joined,
    left,
)


def life(now):
    """Ada queues in Support, is answered into conf-1 with an agent, is muted, and hangs up."""
    t = lambda seconds: now + timedelta(seconds=seconds)
    return [
        call_initiated("ada", t(0), from_="+15550001111"),
        enqueued("Support", "ada", t(1), position=2),
        call_initiated("bob", t(2), from_="+15550002222", caller_id_name="Bob Stone"),
        enqueued("Support", "bob", t(2)),
        dequeued("Support", "bob", t(6), reason="hangup"),
        conference_created("conf-1", "ada", t(31)),
        dequeued("Support", "ada", t(31), wait=30),
        joined("conf-1", "ada", t(31)),
        call_initiated("agent", t(32), from_="+15550009999", caller_id_name="Agent Smith"),
        joined("conf-1", "agent", t(33)),
        console_event("console.participant.updated", {"conference_id": "conf-1", "call_control_id": "ada",
                                                      "muted": True}, t(40)),
        left("conf-1", "ada", t(90)),
        call_hangup("ada", t(90)),
        joined("conf-2", "agent", t(95)),
    ]


def test_timeline_follows_the_call_and_only_its_time_in_the_conference():
    steps = timeline("ada", life(at(0)), {"agent": "Agent Smith"})
    texts = [step.text for step in steps]
    assert texts[0].startswith("Call from +15550001111")
    assert "Entered queue Support at position 2" in texts
    assert any(text.startswith("Left queue Support (bridged, answered) after waiting 30 s") for text in texts)
    assert "Agent Smith joined conference conf-1" in texts
    assert "This call: muted" in texts
    assert texts[-1].startswith("Hung up")
    assert not any("conf-2" in text for text in texts)  # the agent's next call is not Ada's


def test_queued_call_outcomes():
    rows = queued_call_outcomes(life(at(0)))
    assert [(row["call_control_id"], row["outcome"], row["wait"]) for row in rows] == [
        ("bob", "abandoned", 4.0), ("ada", "answered", 30.0)]
    assert rows[0]["name"] == "Bob Stone" and rows[0]["from_number"] == "+15550002222"


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    try:
        yield app
    finally:
        app.extensions["console.hub"].stop()


def test_history_search_csv_and_timeline_page(app):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    if now.date() != datetime.now(UTC).date():
        now = datetime.now(UTC).replace(hour=0, minute=0, second=1)
    with app.app_context():
        for event in life(now):
            get_bus().publish(event)
    client = app.test_client()
    html = client.get("/history?q=bob").get_data(as_text=True)
    assert "Bob Stone" in html and "+15550001111" not in html
    assert "abandoned (hangup)" in html
    assert "No queued calls match." in client.get("/history?date=2001-01-01").get_data(as_text=True)
    assert client.get("/history?date=yesterday").status_code == 400
    rows = list(csv.reader(io.StringIO(client.get("/history/calls.csv").get_data(as_text=True))))
    assert rows[0][0] == "call_control_id" and sorted(row[0] for row in rows[1:]) == ["ada", "bob"]
    kpis = list(csv.DictReader(io.StringIO(client.get("/history/kpis.csv?interval=86400").get_data(as_text=True))))
    support = [row for row in kpis if row["queue"] == "Support"]
    assert support and support[0]["answered"] == "1" and support[0]["average_speed_of_answer"] == "30.0"
    page = client.get("/calls/ada/timeline").get_data(as_text=True)
    assert "Entered queue Support" in page and "Hung up" in page
    assert client.get("/calls/nobody/timeline").status_code == 404


def test_alert_page_lists_recorded_alerts(app):
    with app.app_context():
        get_bus().publish(console_event("console.alert.raised", {"queue": "Sales", "metric": "depth", "level": "critical",
                                                                  "value": 9, "message": "Sales: callers waiting critical (9)."}))
    html = app.test_client().get("/alerts").get_data(as_text=True)
    assert "Sales: callers waiting critical (9)." in html and 'data-level="critical"' in html
    assert 'id="alert-opt-in"' in html
