"""Webhook JSON to Event: every envelope shape Telnyx uses, and a clear error for everything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.telnyx.events import (
    CONSOLE,
    Event,
    EventParseError,
    console_event,
    format_timestamp,
    parse_event,
    parse_timestamp,
)
from tests import event_factory as factory

CONFERENCE = "3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11"


def wrapped(**data) -> dict:
    return {"data": {"record_type": "event", "event_type": "conference.participant.joined", "id": "e-1",
                     "payload": {"conference_id": CONFERENCE}} | data}


def test_wrapped_event_with_occurred_at_beside_payload():
    event = parse_event(json.dumps(wrapped(occurred_at="2026-03-02T09:30:00.250000Z")).encode())
    assert (event.id, event.event_type, event.source) == ("e-1", "conference.participant.joined", "telnyx")
    assert event.occurred_at == datetime(2026, 3, 2, 9, 30, 0, 250000, tzinfo=UTC)
    assert event.payload == {"conference_id": CONFERENCE}


def test_occurred_at_inside_payload_is_found():
    body = factory.body("conference.created", factory.at(5), conference_id=CONFERENCE)
    assert "occurred_at" not in body["data"] and "occurred_at" in body["data"]["payload"]
    assert parse_event(body).occurred_at == factory.at(5)


def test_occurred_at_beside_payload_wins_over_inside():
    body = wrapped(occurred_at="2026-03-02T09:30:00Z")
    body["data"]["payload"]["occurred_at"] = "2026-03-02T10:00:00Z"
    assert parse_event(body).occurred_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_unwrapped_floor_changed_shape_parses():
    body = factory.body("conference.floor.changed", factory.at(7), event_id="floor-1",
                        conference_id=CONFERENCE, call_control_id="v3:agent")
    assert "data" not in body and body["event_type"] == "conference.floor.changed"
    event = parse_event(json.dumps(body))
    assert (event.id, event.occurred_at) == ("floor-1", factory.at(7))
    assert event.payload["call_control_id"] == "v3:agent"


@pytest.mark.parametrize(
    ("recording_times", "expected"),
    [
        ({"recording_started_at": "2026-03-02T09:30:01Z", "recording_ended_at": "2026-03-02T09:31:00Z"},
         datetime(2026, 3, 2, 9, 31, tzinfo=UTC)),
        ({"recording_started_at": "2026-03-02T09:30:01Z"}, datetime(2026, 3, 2, 9, 30, 1, tzinfo=UTC)),
        ({}, None),
    ],
    ids=["ended", "started-only", "no-times"],
)
def test_recording_saved_has_no_occurred_at_and_orders_by_recording_times(recording_times, expected):
    body = wrapped(event_type="conference.recording.saved", payload={"recording_id": "r-1", **recording_times})
    event = parse_event(body)
    assert event.occurred_at is None
    assert event.ordered_at == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T09:30:00Z", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        ("2026-03-02T11:30:00+02:00", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        ("2026-03-02T04:00:00.5-05:30", datetime(2026, 3, 2, 9, 30, 0, 500000, tzinfo=UTC)),
        ("2026-03-02T09:30:00.123Z", datetime(2026, 3, 2, 9, 30, 0, 123000, tzinfo=UTC)),
        ("2026-03-02T09:30:00.123456789Z", datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-02T09:30:00", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
    ],
    ids=["z", "offset", "negative-offset-fraction", "millis", "nanos", "naive-is-utc"],
)
def test_timestamps_become_aware_utc(text, expected):
    moment = parse_event(wrapped(occurred_at=text)).occurred_at
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("kind", [bytes, bytearray, str, dict])
def test_body_may_be_bytes_text_or_parsed(kind):
    document = wrapped(occurred_at="2026-03-02T09:30:00Z")
    text = json.dumps(document)
    body = {dict: document, str: text, bytes: text.encode(), bytearray: bytearray(text.encode())}[kind]
    assert parse_event(body).id == "e-1"


BAD_BODIES = {
    "invalid-utf8": b'{"data": {"id": "\xff"}}',
    "not-json": b"event",
    "truncated-json": b'{"data": {"id": "e-1"',
    "json-array": b"[]",
    "json-number": b"42",
    "json-null": b"null",
    "data-not-object": {"data": ["e-1"]},
    "no-data-no-event-type": {"id": "e-1", "payload": {}},
    "missing-id": {"data": {"event_type": "call.hangup", "payload": {}}},
    "blank-id": {"data": {"id": "  ", "event_type": "call.hangup", "payload": {}}},
    "numeric-id": {"data": {"id": 7, "event_type": "call.hangup", "payload": {}}},
    "missing-event-type": {"data": {"id": "e-1", "payload": {}}},
    "event-type-not-string": {"data": {"id": "e-1", "event_type": ["call.hangup"], "payload": {}}},
    "payload-list": {"data": {"id": "e-1", "event_type": "call.hangup", "payload": []}},
    "payload-null": {"data": {"id": "e-1", "event_type": "call.hangup", "payload": None}},
    "occurred-at-garbage": {"data": {"id": "e-1", "event_type": "call.hangup", "occurred_at": "yesterday",
                                     "payload": {}}},
    "occurred-at-number": {"data": {"id": "e-1", "event_type": "call.hangup", "occurred_at": 1767225600,
                                    "payload": {}}},
    "occurred-at-in-payload-garbage": {"data": {"id": "e-1", "event_type": "conference.created",
                                                "payload": {"occurred_at": "2026-13-45T00:00:00Z"}}},
    "recording-time-garbage": {"data": {"id": "e-1", "event_type": "conference.recording.saved",
                                        "payload": {"recording_ended_at": "soon"}}},
    "record-type-not-string": {"data": {"id": "e-1", "event_type": "call.hangup", "record_type": 1,
                                        "payload": {}}},
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
    "huge-integer": b'{"data": {"id": "e-1", "event_type": "x", "payload": {"n": ' + b"9" * 5000 + b"}}}",
    "wrong-python-type": 3.5,
}
_PAYLOAD_WITH = b'{"data": {"id": "e-1", "event_type": "x", "payload": {"a": [1, {"b": %s}]}}}'
for _name, _number in {"nan": b"NaN", "infinity": b"Infinity", "minus-infinity": b"-Infinity",
                       "float-overflow": b"1e999", "minus-float-overflow": b"-1.5e400",
                       "int-past-int64": b"9223372036854775808", "int-below-int64": b"-9223372036854775809",
                       "int-20-digits": b"10000000000000000000", "int-4301-digits": b"7" * 4301}.items():
    BAD_BODIES[f"unstorable-number-{_name}"] = _PAYLOAD_WITH % _number


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_raise_event_parse_error(body):
    with pytest.raises(EventParseError) as raised:
        parse_event(body)
    assert str(raised.value)


@pytest.mark.parametrize(("text", "message"), [
    ("NaN", "body holds NaN, which is not a JSON number"),
    ("-Infinity", "body holds -Infinity, which is not a JSON number"),
    ("1e999", "number 1e999 is too large to store"),
    ("9223372036854775808", "integer 9223372036854775808 is outside the signed 64-bit range SQLite can store"),
])
def test_unstorable_numbers_are_refused_by_name(text, message):
    with pytest.raises(EventParseError) as raised:
        parse_event(b'{"data": {"id": "e-1", "event_type": "x", "payload": {"n": %s}}}' % text.encode())
    assert str(raised.value) == message


def test_numbers_at_the_edges_of_what_sqlite_holds_parse():
    body = (b'{"data": {"id": "e-1", "event_type": "x", "payload": {"max": 9223372036854775807,'
            b' "min": -9223372036854775808, "big": 1.7976931348623157e308, "tiny": 1e-999, "zero": -0}}}')
    payload = parse_event(body).payload
    assert payload == {"max": 2**63 - 1, "min": -(2**63), "big": 1.7976931348623157e308, "tiny": 0.0, "zero": 0}
    assert all(type(payload[name]) is int for name in ("max", "min", "zero"))


def test_parse_error_is_a_value_error_with_a_clear_message():
    with pytest.raises(ValueError, match="missing 'id'"):
        parse_event({"data": {"event_type": "call.hangup", "payload": {}}})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
EVENTISH = st.fixed_dictionaries(
    {},
    optional={"id": JSON_VALUES, "event_type": JSON_VALUES, "occurred_at": JSON_VALUES, "payload": JSON_VALUES,
              "record_type": JSON_VALUES},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_VALUES, EVENTISH, EVENTISH.map(lambda data: {"data": data}), st.binary(max_size=200)))
def test_any_input_either_parses_or_raises_event_parse_error(body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        event = parse_event(raw)
    except EventParseError:
        return
    assert isinstance(event, Event) and event.id.strip() and isinstance(event.payload, dict)


def test_events_compare_by_content_not_raw_and_hash_by_id():
    first = parse_event(wrapped(occurred_at="2026-03-02T09:30:00Z"))
    second = parse_event(json.dumps(wrapped(occurred_at="2026-03-02T09:30:00.000Z", extra=1)))
    assert first == second and first.raw != second.raw
    assert len({first, second}) == 1


def test_source_is_chosen_by_the_caller_not_the_body():
    body = wrapped(source="console")
    assert parse_event(body).source == "telnyx"
    assert parse_event(body, source=CONSOLE).source == CONSOLE


def test_console_event_has_fresh_id_console_source_and_now():
    before = datetime.now(UTC)
    first = console_event("console.participant.updated", {"conference_id": CONFERENCE, "muted": True})
    after = datetime.now(UTC)
    second = console_event("console.participant.updated", {"conference_id": CONFERENCE, "muted": True})
    assert first.id != second.id
    assert first.source == CONSOLE
    assert before <= first.occurred_at <= after
    assert first.payload == {"conference_id": CONFERENCE, "muted": True}


def test_console_event_keeps_given_time_in_utc():
    moment = datetime(2026, 3, 2, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    event = console_event("console.queue.deleted", {"queue_name": "sales"}, occurred_at=moment)
    assert event.occurred_at == moment and event.occurred_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("event_type", "payload"), [("", {}), (None, {}), ("console.x", [])])
def test_console_event_rejects_bad_arguments(event_type, payload):
    with pytest.raises(TypeError):
        console_event(event_type, payload)


def test_envelope_parses_back_to_the_same_event():
    event = console_event("console.participant.updated", {"conference_id": CONFERENCE, "label": "Agent 7"})
    again = parse_event(json.dumps(event.envelope()), source=event.source)
    assert again == event


def test_formatted_timestamps_are_fixed_width_and_sort_like_time():
    moments = [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 5, 6, tzinfo=UTC),
               datetime(2026, 3, 2, 9, 30, 0, 1, tzinfo=UTC), datetime(2026, 3, 2, 9, 30, 0, 10, tzinfo=UTC)]
    texts = [format_timestamp(moment) for moment in moments]
    assert len({len(text) for text in texts}) == 1
    assert sorted(texts) == texts
    assert [parse_timestamp(text) for text in texts] == moments
