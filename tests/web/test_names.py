"""Names, not ids: the call timeline's title and the audit trail's targets name who and what they are about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.ingest.bus import get_bus
from console.state.timeline import timeline_title
from console.web.views.audit import target_names
from tests.event_factory import call_initiated
from tests.live_servers import *  # the simulator fixtures
from tests.signing_in import csrf_client
from tests.waiting import wait_for

HTMX = {"HX-Request": "true"}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_the_title_prefers_the_legs_name_then_the_webhooks_then_none():
    events = [call_initiated("v3:leg", NOW, from_="+15550001111", caller_id_name="Bob Stone")]
    assert timeline_title("v3:leg", events, {"call_control_id": "v3:leg", "label": "Agent Ann"}) == "Agent Ann"
    assert timeline_title("v3:leg", events, None) == "Bob Stone"
    assert timeline_title("v3:leg", [call_initiated("v3:leg", NOW, caller_id_name="")]) == "+15550001111"
    assert timeline_title("v3:leg", [call_initiated("v3:other", NOW, from_="+15550002222")]) is None
    assert timeline_title("v3:leg", [], {"call_control_id": "v3:leg"}) is None


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    try:
        yield app
    finally:
        app.extensions["console.hub"].stop()


def test_the_timeline_page_is_titled_with_the_callers_name_and_keeps_the_id_small(app):
    with app.app_context():
        get_bus().publish(call_initiated("v3:abcdef123456", datetime.now(UTC) - timedelta(minutes=1),
                                         from_="+15550001111", caller_id_name="Bob Stone"))
    page = app.test_client().get("/calls/v3:abcdef123456/timeline").get_data(as_text=True)
    assert "<title>Call timeline: Bob Stone" in page
    assert 'Call timeline: Bob Stone\n    <small class="mono quiet" title="v3:abcdef123456">' in page


def test_audit_entries_name_the_conference_and_the_call(quiet_console, simulator):
    store = quiet_console.app.extensions["console.store"]
    world = simulator.world
    legs = []
    for number, name in (("+15552000001", "Agent Ann"), ("+15552000002", "Caller Carl")):
        call = world.incoming_call(number, "+18005550100", caller_id_name=name)
        world.answer_call(call["call_control_id"])
        legs.append(call["call_control_id"])
    conference_id = world.create_conference(legs[0], "Escalations")["id"]
    world.conference_action(conference_id, "join", {"call_control_id": legs[1]})
    wait_for(lambda: len(store.participants(conference_id)) == 2, message="participants known")
    client = csrf_client(quiet_console.app)
    answer = client.post(f"/conferences/{conference_id}/participants/{legs[1]}/mute", headers=HTMX)
    assert answer.status_code < 500, answer.text
    page = client.get("/audit").text
    # Without the reconciler the console never learns this conference's name: the short id stays, whole on hover.
    assert f'title="{conference_id}"><span class="mono">{conference_id[:8]}' in page
    assert f'<span title="{legs[1]}">Caller Carl</span>' in page


class Known:
    """A store that knows one named conference and one labelled call."""

    def conference(self, conference_id):
        return {"id": conference_id, "name": "Escalations"} if conference_id == "conf-1" else None

    def call(self, call_control_id):
        return {"call_control_id": call_control_id, "label": "Agent Ann"} if call_control_id == "v3:ann" else None


def test_target_names_names_what_the_console_knows_and_leaves_the_rest_out():
    entries = [{"conference_id": "conf-1", "call_control_id": "v3:ann"},
               {"conference_id": "conf-2", "call_control_id": "v3:gone"}, {"conference_id": None}]
    assert target_names(Known(), entries) == {"conf-1": "Escalations", "v3:ann": "Agent Ann"}
