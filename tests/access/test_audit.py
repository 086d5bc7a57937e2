"""The audit trail: exactly one entry per command, linked to the webhook that confirmed it, filterable, exportable."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.access.audit import csv_text
from console.access.auth import ACTING, permission_for
from console.access.users import add_user
from console.state.store import AUDIT_EVENT
from console.telnyx.events import Event, console_event
from tests.live_servers import *  # the simulator fixtures
from tests.live_servers import LiveConsole, console_config
from tests.routes import post_routes
from tests.signing_in import csrf_client, signed_in_client
from tests.waiting import wait_for

HTMX = {"HX-Request": "true"}
PASSWORD = "correct horse battery"
AUDITED = [(endpoint, url) for endpoint, url in post_routes() if permission_for(endpoint) in ACTING]
# Enough of every form that each command gets as far as it can with made-up ids.
ANY_FORM = {"step": "confirm", "target": "all", "digits": "1", "payload": "Hello", "voice": "female",
            "audio_url": "https://example.com/a.wav", "format": "wav", "call_control_id": "v3:sample-leg",
            "supervisor_role": "monitor", "queue_name": "sample-queue", "max_size": "5", "name": "Sample",
            "role": "viewer", "phone": "+13125550123", "keep_after_hangup": "true", "user_name": "nobody-here"}


@pytest.fixture
def desk(quiet_console):
    """A console (demo mode: the demo admin) on the simulator, without the reconciler."""
    return quiet_console


def store_of(desk):
    return desk.app.extensions["console.store"]


def new_entries(desk, before: set[str]) -> list[dict]:
    return [entry for entry in store_of(desk).audit_entries() if entry["id"] not in before]


def ids(desk) -> set[str]:
    return {entry["id"] for entry in store_of(desk).audit_entries()}


def answered(world, number: str) -> str:
    call = world.incoming_call(number, "+18005550100")
    world.answer_call(call["call_control_id"])
    return call["call_control_id"]


def conference(desk, simulator, size: int = 2) -> tuple[str, list[str]]:
    world = simulator.world
    legs = [answered(world, f"+1555200{index:04d}") for index in range(size)]
    conference_id = world.create_conference(legs[0], "Audited")["id"]
    for leg in legs[1:]:
        world.conference_action(conference_id, "join", {"call_control_id": leg})
    wait_for(lambda: len(store_of(desk).participants(conference_id)) == size, message="participants known")
    return conference_id, legs


@pytest.mark.parametrize(("endpoint", "url"), AUDITED, ids=[url for _, url in AUDITED])
def test_each_command_leaves_exactly_one_audit_entry_and_the_csv_has_it(desk, endpoint, url):
    client = csrf_client(desk.app)
    before = ids(desk)
    answer = client.post(url, data=ANY_FORM, headers=HTMX)
    entries = new_entries(desk, before)
    assert len(entries) == 1, [entry["action"] for entry in entries]
    entry = entries[0]
    assert (entry["endpoint"], entry["path"], entry["user_name"], entry["role"]) == (endpoint, url, "demo", "admin")
    assert entry["status"] == answer.status_code and entry["result"]
    assert "csrf_token" not in entry["parameters"]
    exported = list(csv.DictReader(io.StringIO(client.get("/audit.csv").text)))
    assert [row["action"] for row in exported if row["id"] == entry["id"]] == [entry["action"]]


def test_a_join_is_linked_to_the_participant_joined_webhook(desk, simulator):
    conference_id, _ = conference(desk, simulator)
    parked = answered(simulator.world, "+15559990001")
    wait_for(lambda: (store_of(desk).call(parked) or {}).get("state") == "answered", message="parked call known")
    answer = csrf_client(desk.app).post(f"/conferences/{conference_id}/join", data={"call_control_id": parked},
                                         headers=HTMX)
    assert answer.status_code == 200, answer.text
    entry = wait_for(lambda: next((e for e in store_of(desk).audit_entries(action="actions.join")
                                   if e["confirmed_by"]), None), message="join confirmed")
    assert (entry["conference_id"], entry["call_control_id"], entry["result"]) == (conference_id, parked, "ok")
    assert entry["confirmed_event_type"] == "conference.participant.joined"
    confirmation = next(event for event in store_of(desk).logged_events() if event.id == entry["confirmed_by"])
    assert confirmation.payload["call_control_id"] == parked


def test_a_recording_stop_is_linked_to_the_recording_saved_webhook(desk, simulator):
    conference_id, _ = conference(desk, simulator)
    client = csrf_client(desk.app)
    assert client.post(f"/conferences/{conference_id}/recording/start", data={"format": "wav"}, headers=HTMX).status_code == 200
    assert client.post(f"/conferences/{conference_id}/recording/stop", headers=HTMX).status_code == 200
    stop = wait_for(lambda: next((e for e in store_of(desk).audit_entries(action="actions.recording:stop")
                                  if e["confirmed_by"]), None), message="stop confirmed")
    assert stop["confirmed_event_type"] == "conference.recording.saved"
    start = store_of(desk).audit_entries(action="actions.recording:start")[0]
    assert start["result"] == "ok" and start["parameters"] == {"format": "wav"} and start["confirmed_by"] is None


def test_a_webhook_that_beat_the_entry_still_confirms_it(desk):
    """Telnyx may answer the command and send its webhook before the console records the entry."""
    store = store_of(desk)
    started = datetime.now(UTC) - timedelta(seconds=1)
    webhook = Event("evt-early", "conference.ended", datetime.now(UTC), {"conference_id": "c-early"})
    store.apply(webhook)
    store.apply(console_event(AUDIT_EVENT, {
        "at": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "user_name": "sam", "action": "actions.end",
        "conference_id": "c-early", "result": "ok", "awaits_event_type": "conference.ended",
        "awaits_field": "conference_id", "awaits_value": "c-early"}))
    assert store.audit_entries(conference_id="c-early")[0]["confirmed_by"] == "evt-early"


def test_a_telnyx_refusal_is_recorded_in_telnyxs_words(desk):
    before = ids(desk)
    answer = csrf_client(desk.app).post("/conferences/no-such-conference/mute", data={"target": "all"}, headers=HTMX)
    assert answer.status_code == 404
    [entry] = new_entries(desk, before)
    assert entry["result"] == "refused by Telnyx" and entry["status"] == 404
    assert entry["error"].startswith("Telnyx refused (HTTP 404")
    assert entry["awaits_event_type"] is None


def test_an_are_you_sure_question_is_not_an_action_but_the_confirmed_command_is(desk, simulator):
    conference_id, _ = conference(desk, simulator)
    client = csrf_client(desk.app)
    before = ids(desk)
    client.post(f"/conferences/{conference_id}/end", headers=HTMX)
    client.post(f"/conferences/{conference_id}/end", data={"step": "cancel"}, headers=HTMX)
    assert new_entries(desk, before) == []
    client.post(f"/conferences/{conference_id}/end", data={"step": "confirm"}, headers=HTMX)
    [entry] = new_entries(desk, before)
    assert entry["action"] == "actions.end" and entry["result"] == "ok"
    wait_for(lambda: store_of(desk).audit_entries(action="actions.end")[0]["confirmed_event_type"] == "conference.ended",
             message="end confirmed")


def test_refusals_sign_ins_and_passwords(tmp_path, simulator):
    console = LiveConsole({**console_config(tmp_path / "console.db", simulator), "CONSOLE_DEMO": False},
                          simulator, reconcile=False).start()
    try:
        store = console.app.extensions["console.store"]
        add_user(store, "vera", "viewer", PASSWORD)
        add_user(store, "ada", "admin", PASSWORD)
        viewer = signed_in_client(console.app, "vera", PASSWORD)
        viewer.post("/conferences/c1/mute", data={"target": "all"}, headers=HTMX)
        csrf_client(console.app).post("/login", data={"name": "vera", "password": "not the password"})
        admin = signed_in_client(console.app, "ada", PASSWORD)
        admin.post("/users", data={"user_name": "tom", "role": "viewer", "password": "tom's secret password"})
        exported = admin.get("/audit.csv").text
    finally:
        simulator.delivery.set_url(None)
        console.stop()
    forbidden = store.audit_entries(action="actions.audience:mute")[0]
    assert (forbidden["user_name"], forbidden["role"], forbidden["result"]) == ("vera", "viewer", "forbidden")
    assert "a viewer" in forbidden["error"]
    logins = {(e["user_name"], e["result"]) for e in store.audit_entries(action="auth.login")}
    assert logins == {("vera", "ok"), ("vera", "refused"), ("ada", "ok")}
    added = store.audit_entries(action="users.add")[0]
    assert added["target_user"] == "tom" and added["parameters"] == {"user_name": "tom", "role": "viewer"}
    assert "secret password" not in exported and "tom" in exported


# --- the page and its filters -------------------------------------------------------------------


@pytest.fixture
def trail(tmp_path):
    """An app whose audit trail holds three entries by two users across two conferences."""
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "audit.db"), "CONSOLE_SECRET_KEY": "audit-page"})
    store = app.extensions["console.store"]
    for name, role in (("vera", "viewer"), ("sam", "supervisor"), ("ada", "admin")):
        add_user(store, name, role, PASSWORD)
    for at, user, action, conference_id in (
        ("2026-03-02T09:00:00.000000Z", "sam", "actions.audience:mute", "conf-a"),
        ("2026-03-02T10:00:00.000000Z", "ada", "actions.end", "conf-b"),
        ("2026-03-02T11:00:00.000000Z", "sam", "actions.end", "conf-a"),
    ):
        store.apply(console_event(AUDIT_EVENT, {"at": at, "user_name": user, "role": "supervisor", "action": action,
                                                "conference_id": conference_id, "result": "ok", "status": 200,
                                                "parameters": {"queue_name": "=HYPERLINK(1)"}}))
    yield app
    app.extensions["console.hub"].stop()


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["11:00", "10:00", "09:00"]),
    ("?user=sam", ["11:00", "09:00"]),
    ("?action=actions.end", ["11:00", "10:00"]),
    ("?conference=conf-a&user=sam&action=actions.end", ["11:00"]),
    ("?since=2026-03-02T09:30&until=2026-03-02T10:30", ["10:00"]),
])
def test_the_audit_page_filters_by_user_action_conference_and_time(trail, query, expected):
    page = signed_in_client(trail, "sam", PASSWORD).get(f"/audit{query}").text
    rows = [row for row in re.findall(r'<tr id="audit__.*?</tr>', page, re.DOTALL) if ">auth.login<" not in row]
    shown = [re.search(r"<time datetime=\"[^\"]+\">\S+ (\d\d:\d\d)", row).group(1) for row in rows]
    assert shown == expected, "signing in to look is itself audited, so those rows are left out"
    exported = csv.DictReader(io.StringIO(signed_in_client(trail, "ada", PASSWORD).get(f"/audit.csv{query}").text))
    assert [row["at"][11:16] for row in exported if row["action"] != "auth.login"] == expected


def test_times_are_read_in_the_consoles_time_zone(trail):
    trail.config["CONSOLE_TIMEZONE"] = "Europe/Berlin"
    page = signed_in_client(trail, "sam", PASSWORD).get("/audit?since=2026-03-02T11:30&until=2026-03-02T12:30").text
    assert page.count("<time datetime=") == 1 and "2026-03-02 12:00:00" in page


def test_viewers_may_not_read_the_audit_trail(trail):
    viewer = signed_in_client(trail, "vera", PASSWORD)
    assert viewer.get("/audit").status_code == 403
    assert viewer.get("/audit.csv").status_code == 403


def test_the_csv_defuses_spreadsheet_formulas(trail):
    entry = {"user_name": "=cmd|' /C calc'!A0", "action": "+1", "parameters": {"a": 1}, "error": "@SUM(A1)"}
    [row] = list(csv.DictReader(io.StringIO(csv_text([entry]))))
    assert (row["user_name"], row["action"], row["error"]) == ("'=cmd|' /C calc'!A0", "'+1", "'@SUM(A1)")
    assert row["parameters"] == '{"a": 1}'


def test_a_webhook_cannot_forge_an_audit_entry(trail):
    store = trail.extensions["console.store"]
    forged = Event("forged-1", AUDIT_EVENT, datetime.now(UTC), {"user_name": "ada", "action": "actions.end"})
    store.apply(forged)
    assert all(entry["id"] != "forged-1" for entry in store.audit_entries())
