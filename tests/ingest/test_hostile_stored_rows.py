"""Event-log rows that cannot be read or drawn: every page still answers, and shows the row as unreadable.

Before webhook bodies were checked, a signed body could leave NaN, Infinity or an integer SQLite
cannot hold in the log, and a damaged file can hold anything. These tests write such rows straight
into the database file with sqlite3, as an older console would have left them, then open every
page that reads the log.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest

from console.state.schema import AUDIT_EVENT
from console.telnyx import signing
from console.telnyx.events import console_event, format_timestamp
from tests import event_factory as ef
from tests.signed_webhooks import CONFERENCE_ID, encode, post_signed, webhook_app

LEG = "v3:old-leg"
DAY = ef.at(0).date().isoformat()
PAGES = ("/", f"/history?date={DAY}", f"/history/calls.csv?date={DAY}", f"/history/kpis.csv?date={DAY}",
         "/alerts", "/queues/support", f"/conferences/{CONFERENCE_ID}")


@pytest.fixture(scope="module")
def key():
    return signing.generate_signing_key()


@pytest.fixture
def app(tmp_path, key):
    app = webhook_app(tmp_path / "console.db", key, CONSOLE_DEMO=True)  # signed in to view pages
    app.config["PROPAGATE_EXCEPTIONS"] = True  # a crash fails the test with its traceback, not a bare 500
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _a_call_in_a_conference(client, key) -> None:
    """Good webhooks: LEG calls in, waits in queue support, and joins CONFERENCE_ID."""
    for document in (
        ef.body("call.initiated", ef.at(0), **ef.leg_ids(LEG), caller_id_name="Ada", **{"from": "+15550001111"}),
        ef.body("call.enqueued", ef.at(1), **ef.leg_ids(LEG), queue="support", current_position=1),
        ef.body("conference.created", ef.at(20), conference_id=CONFERENCE_ID, **ef.leg_ids(LEG)),
        ef.body("conference.participant.joined", ef.at(21), conference_id=CONFERENCE_ID, **ef.leg_ids(LEG)),
    ):
        assert post_signed(client, key, encode(document)).get_json() == {"status": "stored"}


def _write_rows(app, rows: list[tuple[str, str, str | None, str]]) -> list[str]:
    """Insert (event_type, source, occurred_at, payload text) rows as they are, and return their fresh ids."""
    ids = [f"old-{uuid.uuid4()}" for _ in rows]
    received = format_timestamp(datetime.now(UTC))
    with sqlite3.connect(app.config["CONSOLE_DATABASE"]) as connection:
        connection.executemany(
            "INSERT INTO events (id, event_type, source, occurred_at, order_key, received_at, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(event_id, event_type, source, occurred_at, f"{occurred_at or '~'} 5 {event_id}", received, payload)
             for event_id, (event_type, source, occurred_at, payload) in zip(ids, rows, strict=True)])
    connection.close()
    return ids


AT = format_timestamp(ef.at(30))
# (why, (event_type, source, occurred_at, payload text as an older console stored it))
UNREADABLE_ROWS = {
    "NaN": ("call.dequeued", "telnyx", AT,
            f'{{"call_control_id": "{LEG}", "queue": "support", "reason": "bridged", "wait_time_secs": NaN}}'),
    "Infinity": ("call.speak.started", "telnyx", AT, f'{{"call_control_id": "{LEG}", "volume": Infinity}}'),
    "-Infinity": ("call.speak.ended", "telnyx", AT, f'{{"call_control_id": "{LEG}", "volume": -Infinity}}'),
    "an integer past 64 bits": ("call.answered", "telnyx", AT,
                                f'{{"call_control_id": "{LEG}", "attempt": 1180591620717411303424}}'),
    "truncated JSON": ("call.hangup", "telnyx", AT, f'{{"call_control_id": "{LEG}", "hangup_cause": '),
    "occurred_at that is not a time": ("call.answered", "telnyx", "yesterday", f'{{"call_control_id": "{LEG}"}}'),
    "a blank event type": ("", "telnyx", AT, f'{{"call_control_id": "{LEG}"}}'),
    "NaN from another leg in the call's conference": (
        "conference.participant.joined", "telnyx", AT,
        f'{{"conference_id": "{CONFERENCE_ID}", "call_control_id": "v3:other", "muted": NaN}}'),
}


def _errors_naming(caplog, event_id: str) -> int:
    return sum(1 for record in caplog.records if record.levelno >= logging.ERROR and event_id in record.getMessage())


def test_the_timeline_shows_each_unreadable_row_as_one_line_and_logs_it_once(app, client, key, caplog):
    _a_call_in_a_conference(client, key)
    ids = _write_rows(app, list(UNREADABLE_ROWS.values()))
    with caplog.at_level(logging.ERROR):
        pages = [client.get(f"/calls/{LEG}/timeline") for _ in range(2)]
    for page in pages:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Call from +15550001111" in html and "Entered queue support" in html
        assert html.count("could not be read") == len(ids)
        for event_id in ids:
            assert f"id {event_id})" in html
    for event_id in ids:
        assert _errors_naming(caplog, event_id) == 1, event_id


def test_every_page_reading_the_log_answers_despite_unreadable_rows(app, client, key):
    _a_call_in_a_conference(client, key)
    _write_rows(app, list(UNREADABLE_ROWS.values()))
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    calls = client.get(f"/history/calls.csv?date={DAY}").get_data(as_text=True)
    assert LEG in calls  # the readable events still make their row


def test_an_unreadable_alert_is_listed_as_unreadable(app, client):
    raised = ("console.alert.raised", "console", AT,
              '{"queue": "support", "metric": "depth", "level": "critical", "value": NaN, "message": "deep"}')
    fine = ("console.alert.raised", "console", AT,
            '{"queue": "support", "metric": "depth", "level": "warning", "value": 3, "message": "Three waiting"}')
    [bad_id, _] = _write_rows(app, [raised, fine])
    page = client.get("/alerts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"This alert (id {bad_id}) could not be read" in html and "Three waiting" in html


def test_a_row_sqlite_cannot_read_as_json_does_not_block_audit_confirmations(app):
    store = app.extensions["console.store"]
    _write_rows(app, [UNREADABLE_ROWS["NaN"]])
    store.apply(console_event(AUDIT_EVENT, {
        "at": "2000-01-01T00:00:00.000000Z", "user_name": "sam", "action": "queues.dequeue", "result": "ok",
        "awaits_event_type": "call.dequeued", "awaits_field": "call_control_id", "awaits_value": LEG}))
    [entry] = store.audit_entries(user_name="sam")
    assert entry["confirmed_by"] is None


def test_pages_draw_events_whose_fields_hold_the_wrong_types(app, client, key):
    """Signed events with a list, an object, a flag or text where a number or id belongs are stored; pages still draw."""
    _a_call_in_a_conference(client, key)
    for number, (event_type, extra) in enumerate((
        ("call.dequeued", {"queue": ["support"], "reason": {"why": "bridged"}, "wait_time_secs": "soon"}),
        ("call.dequeued", {"queue": "support", "reason": "bridged", "wait_time_secs": [4]}),
        ("call.hangup", {"hangup_cause": ["normal"], "hangup_source": {"who": 1}}),
        ("conference.participant.joined", {"conference_id": [CONFERENCE_ID], "supervisor_role": 7}),
        ("conference.participant.left", {"conference_id": {"id": CONFERENCE_ID}}),
        ("call.enqueued", {"queue": {"name": "support"}, "current_position": "first"}),
    )):
        document = ef.body(event_type, ef.at(40 + number), **ef.leg_ids(LEG))
        document["data"]["payload"].update(extra)
        assert post_signed(client, key, encode(document)).get_json() == {"status": "stored"}, event_type
    other = ef.body("conference.participant.joined", ef.at(50), conference_id=CONFERENCE_ID,
                    **ef.leg_ids("v3:other"))
    other["data"]["payload"]["call_control_id"] = ["v3:other"]
    assert post_signed(client, key, encode(other)).get_json() == {"status": "stored"}
    for path in (f"/calls/{LEG}/timeline", *PAGES):
        assert client.get(path).status_code == 200, path
