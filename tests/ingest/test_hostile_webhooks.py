"""Hostile input on POST /webhooks/telnyx: refused cleanly, stored safely, or ignored; never a 500.

Unverifiable requests get a 4xx and store nothing; so does a timestamp header that is not a short
run of plain digits. Verified bodies that are not events get 400, and so do bodies holding NaN,
Infinity or numbers SQLite cannot store, anywhere. Verified events with odd values are kept in the
log and only their usable parts reach the read model. HTML in any field is stored as text and
escaped on every page that shows it.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.state.projection import KEYS
from console.telnyx import signing
from console.telnyx.events import console_event
from tests import event_factory as ef
from tests.ingest.test_webhook_fast_path import _without_fast_path
from tests.signed_webhooks import (
    CONFERENCE_ID,
    encode,
    envelope,
    post,
    post_signed,
    webhook_app,
)

TS, SIG = signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER
LIMIT = 64 * 1024
SCRIPT = '<script>alert("owned")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def key():
    return signing.generate_signing_key()


@pytest.fixture
def app(tmp_path, key):
    app = webhook_app(tmp_path / "console.db", key, CONSOLE_WEBHOOK_MAX_BYTES=LIMIT, CONSOLE_DEMO=True)  # signed in to view pages
    app.config["PROPAGATE_EXCEPTIONS"] = True  # a crash fails the test with its traceback, not a bare 500
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["console.store"]


def assert_still_serving(client, key):
    """The console answers health checks and still stores a good event."""
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert post_signed(client, key, encode(envelope())).get_json() == {"status": "stored"}


def _rows(entities: dict, depth: int):
    """The rows of Store.state()'s nesting: one dict level per key column."""
    if depth == 0:
        yield entities
        return
    for inner in entities.values():
        yield from _rows(inner, depth - 1)


def assert_read_model_holds_only_plain_values(store):
    """Every stored column is text, a finite number, a flag or null; JSON columns hold their own shapes."""
    for table, entities in store.state().items():
        for row in _rows(entities, len(KEYS[table])):
            for column, cell in row.items():
                where = (table, column, cell)
                if column in ("recording_urls", "public_recording_urls"):
                    assert cell is None or all(isinstance(v, str) or v is None for v in cell.values()), where
                elif column == "whisper_call_control_ids":
                    assert cell is None or all(isinstance(item, str) for item in cell), where
                else:
                    assert cell is None or isinstance(cell, (str, int, float, bool)), where
                    assert not (isinstance(cell, float) and not math.isfinite(cell)), where


# --- unverifiable: 4xx, nothing stored -------------------------------------------------------------

OTHER_KEY = signing.generate_signing_key()


def _with(headers: dict, **changes) -> dict:
    return {**headers, **{name.replace("_", "-"): value for name, value in changes.items()}}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


UNVERIFIABLE = {
    "no signature headers": lambda b, k: (b, {}),
    "no timestamp header": lambda b, k: (b, {SIG: signing.sign(b, k)[SIG]}),
    "no signature header": lambda b, k: (b, {TS: signing.sign(b, k)[TS]}),
    "empty signature": lambda b, k: (b, {**signing.sign(b, k), SIG: ""}),
    "empty timestamp": lambda b, k: (b, {**signing.sign(b, k), TS: ""}),
    "timestamp in words": lambda b, k: (b, {**signing.sign(b, k), TS: "yesterday"}),
    "timestamp with a fraction": lambda b, k: (b, {**signing.sign(b, k), TS: f"{int(time.time())}.5"}),
    "timestamp in hex": lambda b, k: (b, {**signing.sign(b, k), TS: hex(int(time.time()))}),
    "timestamp in full-width digits": lambda b, k: (
        b, {**signing.sign(b, k), TS: str(int(time.time())).translate({c: c + 0xFEE0 for c in range(48, 58)})}),
    "signature not base64": lambda b, k: (b, {**signing.sign(b, k), SIG: "!!!not*base64!!!"}),
    "signature too short": lambda b, k: (b, {**signing.sign(b, k), SIG: _b64(bytes(32))}),
    "signature too long": lambda b, k: (b, {**signing.sign(b, k), SIG: _b64(bytes(96))}),
    "signature of zeros": lambda b, k: (b, {**signing.sign(b, k), SIG: _b64(bytes(64))}),
    "stale timestamp": lambda b, k: (b, signing.sign(b, k, timestamp=int(time.time()) - 301)),
    "future timestamp": lambda b, k: (b, signing.sign(b, k, timestamp=int(time.time()) + 301)),
    "timestamp zero": lambda b, k: (b, signing.sign(b, k, timestamp=0)),
    "negative timestamp": lambda b, k: (b, signing.sign(b, k, timestamp=-5)),
    "timestamp changed after signing": lambda b, k: (
        b, {**signing.sign(b, k), TS: str(int(signing.sign(b, k)[TS]) + 1)}),
    "body tampered": lambda b, k: (b.replace(b"leg-1", b"leg-2"), signing.sign(b, k)),
    "body truncated": lambda b, k: (b[:-10], signing.sign(b, k)),
    "body extended": lambda b, k: (b + b" ", signing.sign(b, k)),
    "signed by another key": lambda b, k: (b, signing.sign(b, OTHER_KEY)),
    "signature of another body": lambda b, k: (b, signing.sign(encode(envelope()), k)),
}


def _stamped(body: bytes, key, stamp: str) -> dict:
    """Headers signing `body` under a timestamp header of exactly `stamp`, so only the stamp is wrong."""
    signature = key.sign(stamp.encode("utf-8") + b"|" + body).signature
    return {TS: stamp, SIG: _b64(signature)}


NOW = str(int(time.time()))
HOSTILE_STAMPS = {
    "doubled minus": "--1",
    "doubled minus before now": "--" + NOW,
    "minus now": "-" + NOW,
    "plus now": "+" + NOW,
    "5,000 digits": "9" * 5000,
    "5,000 digits with a minus": "-" + "9" * 5000,
    "milliseconds (13 digits)": NOW + "000",
    "now padded with zeros to 40 digits": NOW.zfill(40),
    "underscores between digits": f"{NOW[:4]}_{NOW[4:]}",
    "Arabic-Indic digits": NOW.translate({c: c + 0x0630 for c in range(48, 58)}),
    "superscript digits": "\u00b9\u00b2\u00b3",
    "digits and a NUL": NOW + "\x00",
}


@pytest.mark.parametrize("case", HOSTILE_STAMPS, ids=str)
def test_a_timestamp_that_is_not_plain_digits_gets_400_even_when_it_is_what_was_signed(client, store, key, case):
    body = encode(envelope(event_id="evt-stamp"))
    response = post(client, body, _stamped(body, key, HOSTILE_STAMPS[case]))
    assert response.status_code == 400
    assert response.get_json() == {"error": signing.MalformedTimestampError.reason}
    assert store.event_count() == 0
    assert_still_serving(client, key)


def test_a_plain_timestamp_signed_as_sent_is_accepted(client, store, key):
    body = encode(envelope(event_id="evt-plain-stamp"))
    now = str(int(time.time()))  # read now, not at import: a long suite reaches this test minutes later
    assert post(client, body, _stamped(body, key, now)).get_json() == {"status": "stored"}
    assert store.has_event("evt-plain-stamp")


@pytest.mark.parametrize("case", UNVERIFIABLE, ids=str)
def test_unverifiable_request_gets_400_and_stores_nothing(client, store, key, case):
    body, headers = UNVERIFIABLE[case](encode(envelope(event_id="evt-hostile")), key)
    response = post(client, body, headers)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert store.event_count() == 0
    assert client.get("/readyz").get_json()["webhooks"]["last_received_at"] is None
    assert_still_serving(client, key)


def test_oversized_body_gets_413_before_any_check(client, store, key):
    document = envelope(caller_id_name="A" * LIMIT)
    response = post_signed(client, key, encode(document))
    assert response.status_code == 413
    assert store.event_count() == 0
    assert_still_serving(client, key)


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 413), (100, 200)])
def test_a_body_without_content_length_is_read_only_up_to_the_limit(client, store, key, size, status):
    body = encode(envelope(caller_id_name="B" * size))
    response = client.post("/webhooks/telnyx", input_stream=io.BytesIO(body),
                           environ_overrides={"wsgi.input_terminated": True},
                           headers={"Content-Type": "application/json", **signing.sign(body, key)})
    assert response.status_code == status
    assert store.event_count() == (1 if status == 200 else 0)


# --- verified but not an event: 400, nothing stored ---------------------------------------------------

def _data(**changes) -> bytes:
    document = envelope()
    document["data"].update(changes)
    return encode(document)


NOT_EVENTS = {
    "non-UTF-8 bytes": b'\xff\xfe{"data": {}}',
    "latin-1 text": '{"data": {"id": "caf\xe9", "event_type": "call.initiated", "payload": {}}}'.encode("latin-1"),
    "empty body": b"",
    "not JSON": b"<xml>call</xml>",
    "truncated JSON": encode(envelope())[:40],
    "JSON array": b"[1, 2, 3]",
    "JSON string": b'"call.initiated"',
    "JSON null": b"null",
    "data is a list": b'{"data": []}',
    "no data and no event_type": b'{"event": "call.initiated"}',
    "id missing": _data(id=None),
    "id is a number": _data(id=42),
    "id is blank": _data(id="   "),
    "event_type missing": _data(event_type=None),
    "event_type is an object": _data(event_type={"name": "call.initiated"}),
    "record_type is a number": _data(record_type=1),
    "payload is a list": _data(payload=["call_control_id"]),
    "payload is a string": _data(payload="call_control_id=v3:leg-1"),
    "occurred_at is a number": _data(occurred_at=1_767_225_600),
    "occurred_at is not a date": _data(occurred_at="next tuesday"),
    "occurred_at out of range": _data(occurred_at="9999-12-31T23:59:59-05:00"),
    "recording time is not a date": encode(ef.body("conference.recording.saved", None, recording_id="r",
                                                    recording_started_at="soon")),
    "lone surrogate in the id": b'{"data": {"id": "\\ud800", "event_type": "call.initiated", "payload": {}}}',
    "lone surrogate in the payload": (b'{"data": {"id": "e", "event_type": "call.initiated",'
                                      b' "payload": {"call_control_id": "x", "caller_id_name": "\\udfff"}}}'),
    "nested too deeply": b'{"data": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    "integer with too many digits": b'{"data": {"id": "e", "event_type": "x", "payload": {"n": ' + b"9" * 5000 + b"}}}",
}


def _holding(number: bytes, where: str = "payload") -> bytes:
    """A real call.enqueued body with `number` written into it as raw JSON text at `where`."""
    spot = {
        "payload": b'"current_position": %s, ',
        "nested deep in the payload": b'"client_state": {"a": [1, {"b": [%s]}]}, ',
        "beside the payload": None,
    }[where]
    body = encode(ef.body("call.enqueued", ef.at(1), **ef.leg_ids("v3:numbers"), queue="support"))
    if spot is None:
        return body.replace(b'"payload":', b'"extra": %s, "payload":' % number, 1)
    return body.replace(b'"payload":{', b'"payload":{' + spot % number, 1)


UNSTORABLE_NUMBERS = {
    "NaN": b"NaN", "Infinity": b"Infinity", "-Infinity": b"-Infinity",
    "1e999 (a float too large to be finite)": b"1e999", "-1e999": b"-1e999",
    "2**63 (one past SQLite's largest integer)": str(2**63).encode(),
    "-(2**63) - 1 (one below SQLite's smallest integer)": str(-(2**63) - 1).encode(),
    "2**70": str(2**70).encode(), "20 digits": b"9" * 20, "4,301 digits": b"1" * 4301,
}
for _name, _number in UNSTORABLE_NUMBERS.items():
    for _where in ("payload", "nested deep in the payload", "beside the payload"):
        NOT_EVENTS[f"{_name} {_where}"] = _holding(_number, _where)


@pytest.mark.parametrize("case", NOT_EVENTS, ids=str)
def test_verified_body_that_is_not_an_event_gets_400_and_stores_nothing(client, store, key, case):
    response = post_signed(client, key, NOT_EVENTS[case])
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("unreadable event")
    assert store.event_count() == 0
    assert_still_serving(client, key)


def test_numbers_at_the_edges_of_what_sqlite_holds_are_stored(client, store, key):
    for event_id, number in (("largest", 2**63 - 1), ("smallest", -(2**63)), ("huge float", 1.7976931348623157e308),
                             ("underflows to zero", "1e-999")):
        body = _holding(str(number).encode()).replace(b'"id":"', b'"id":"%s-' % event_id.encode(), 1)
        assert post_signed(client, key, body).get_json() == {"status": "stored"}, event_id
    assert store.event_count() == 4
    assert_read_model_holds_only_plain_values(store)
    assert client.get("/calls/v3:numbers/timeline").status_code == 200


@pytest.mark.parametrize("case", ["NaN payload", "-Infinity nested deep in the payload", "2**70 beside the payload",
                                  "1e999 (a float too large to be finite) payload"])
def test_the_flask_view_refuses_unstorable_numbers_as_the_fast_path_does(tmp_path, key, case):
    slow = _without_fast_path(webhook_app(tmp_path / "slow.db", key))
    fast = webhook_app(tmp_path / "fast.db", key)
    answers = [(response.status_code, response.get_json()) for response in
               (post_signed(app.test_client(), key, NOT_EVENTS[case]) for app in (fast, slow))]
    assert answers[0] == answers[1]
    assert answers[0][0] == 400 and answers[0][1]["error"].startswith("unreadable event")
    assert [app.extensions["console.store"].event_count() for app in (fast, slow)] == [0, 0]


# --- verified events with odd values: stored safely -------------------------------------------------

# Every payload field the projection reads, by an event type that reads it.
FIELDS_READ = [
    ("conference.created", "conference_id"), ("conference.created", "call_control_id"),
    ("conference.created", "connection_id"), ("conference.ended", "reason"),
    ("conference.floor.changed", "call_control_id"), ("conference.participant.joined", "conference_id"),
    ("conference.participant.joined", "call_leg_id"), ("conference.participant.left", "call_session_id"),
    ("conference.participant.playback.started", "media_url"), ("conference.playback.started", "media_name"),
    ("conference.recording.saved", "recording_id"), ("conference.recording.saved", "channels"),
    ("conference.recording.saved", "format"), ("conference.recording.saved", "recording_urls"),
    ("conference.recording.saved", "public_recording_urls"), ("call.enqueued", "queue"),
    ("call.enqueued", "current_position"), ("call.enqueued", "queue_avg_wait_time_secs"),
    ("call.dequeued", "queue_position"), ("call.dequeued", "wait_time_secs"), ("call.dequeued", "reason"),
    ("call.initiated", "from"), ("call.initiated", "to"), ("call.initiated", "caller_id_name"),
    ("call.initiated", "client_state"), ("call.initiated", "start_time"), ("call.initiated", "state"),
    ("call.initiated", "direction"), ("call.hangup", "hangup_cause"), ("call.hangup", "hangup_source"),
    ("call.hangup", "sip_hangup_cause"), ("call.gather.ended", "digits"), ("call.gather.ended", "status"),
]
WRONG_VALUES = {
    "integer": 7, "largest integer": 2**63 - 1, "smallest integer": -(2**63), "float": 1.5e308,
    "tiny float": 5e-324, "flag": True, "null": None,
    "list": ["v3:leg-1"], "object": {"id": "v3:leg-1"}, "empty text": "",
}


def _real_body(event_type: str) -> dict:
    """A well-formed body of this type about conference CONFERENCE_ID and leg v3:leg-1."""
    ids = {"conference_id": CONFERENCE_ID, **ef.leg_ids("v3:leg-1")}
    extra = {
        "conference.recording.saved": {"recording_id": "rec-1", "format": "wav", "channels": "single",
                                       "recording_urls": {"wav": "http://sim.test/r.wav"},
                                       "public_recording_urls": {"wav": None}},
        "call.enqueued": {"queue": "support", "current_position": 1, "queue_avg_wait_time_secs": 30},
        "call.dequeued": {"queue": "support", "queue_position": 1, "wait_time_secs": 4, "reason": "bridged"},
        "call.initiated": {"from": "+15550001111", "to": "+15559990000", "caller_id_name": "Ada",
                           "start_time": "2026-03-02T09:30:00Z", "state": "parked", "direction": "incoming"},
        "call.hangup": {"hangup_cause": "normal_clearing", "hangup_source": "caller", "sip_hangup_cause": "200"},
        "call.gather.ended": {"digits": "42#", "status": "valid"},
        "conference.participant.playback.started": {"media_url": "http://sim.test/hold.wav"},
        "conference.playback.started": {"media_name": "hold"},
        "conference.ended": {"reason": "all_left"},
    }.get(event_type, {})
    return ef.body(event_type, ef.at(1), **ids, **extra)


def _payload(document: dict) -> dict:
    return document.get("data", document)["payload"]


@pytest.mark.parametrize("kind", WRONG_VALUES, ids=str)
@pytest.mark.parametrize(("event_type", "field"), FIELDS_READ, ids=lambda v: v)
def test_wrong_type_in_a_field_the_store_reads_is_stored_safely(client, store, key, event_type, field, kind):
    document = _real_body(event_type)
    _payload(document)[field] = WRONG_VALUES[kind]
    response = post_signed(client, key, encode(document))
    assert response.status_code == 200
    assert response.get_json() == {"status": "stored"}
    assert store.event_count() == 1
    assert_read_model_holds_only_plain_values(store)
    assert_still_serving(client, key)


@pytest.mark.parametrize("event_type", ["call.teleported", "conference.participant.joined.twice",
                                        "x" * 10_000, "CALL.INITIATED", "call.initiated "])
def test_unknown_event_type_is_kept_in_the_log_and_changes_nothing(client, store, key, event_type, caplog):
    response = post_signed(client, key, encode(envelope(event_type=event_type)))
    assert response.get_json() == {"status": "stored"}
    assert store.event_count() == 1
    assert store.state()["conferences"] == {} and store.state()["participants"] == {}
    assert "unknown type" in caplog.text
    assert_still_serving(client, key)


@pytest.mark.parametrize("event_type", ["console.participant.updated", "console.conference.synced",
                                        "console.queue.deleted"])
def test_a_webhook_naming_a_console_event_is_ignored(client, store, key, event_type, caplog):
    document = envelope(event_type=event_type, muted=True, queue_name="support", id=CONFERENCE_ID,
                        status="completed")
    response = post_signed(client, key, encode(document))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored"}
    assert store.event_count() == 0
    assert "console's own events" in caplog.text


@pytest.mark.parametrize("event_id", ["x" * 20_000, "../../etc/passwd", "line\nbreak\r\n", "nul\x00byte",
                                      "\u202eevil", "🎧📞", "'; DROP TABLE events; --"])
def test_odd_event_ids_are_stored_once_as_given(client, store, key, event_id):
    body = encode(envelope(event_id=event_id))
    assert post_signed(client, key, body).get_json() == {"status": "stored"}
    assert post_signed(client, key, body, timestamp=int(time.time()) - 1).get_json() == {"status": "duplicate"}
    assert store.has_event(event_id)
    assert store.event_count() == 1


def test_very_long_strings_are_stored_whole(client, store, key):
    name, state = "N" * 20_000, "S" * 20_000
    document = ef.body("call.initiated", ef.at(1), **ef.leg_ids("v3:long"), caller_id_name=name,
                       client_state=state, **{"from": "+1" + "5" * 10_000})
    assert post_signed(client, key, encode(document)).get_json() == {"status": "stored"}
    call = store.call("v3:long")
    assert (call["caller_id_name"], call["client_state"], len(call["from_number"])) == (name, state, 10_002)


def test_duplicate_json_keys_take_the_last_value(client, store, key):
    body = (b'{"data": {"record_type": "event", "event_type": "call.initiated", "id": "dup-keys",'
            b' "occurred_at": "2026-03-02T09:30:00Z",'
            b' "payload": {"call_control_id": "v3:a", "caller_id_name": "first", "caller_id_name": "second"}}}')
    assert post_signed(client, key, body).get_json() == {"status": "stored"}
    assert store.call("v3:a")["caller_id_name"] == "second"


def test_not_a_number_and_infinity_are_refused_and_the_call_timeline_keeps_working(client, store, key):
    good = encode(ef.body("call.initiated", ef.at(0), **ef.leg_ids("v3:a"), caller_id_name="Ada"))
    assert post_signed(client, key, good).get_json() == {"status": "stored"}
    body = (b'{"data": {"record_type": "event", "event_type": "call.enqueued", "id": "nan",'
            b' "occurred_at": "2026-03-02T09:30:00Z", "payload": {"call_control_id": "v3:a", "queue": "q",'
            b' "current_position": NaN, "queue_avg_wait_time_secs": Infinity}}}')
    response = post_signed(client, key, body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "unreadable event: body holds NaN, which is not a JSON number"}
    assert not store.has_event("nan") and store.queue("q") is None
    page = client.get("/calls/v3:a/timeline")
    assert page.status_code == 200 and "Call from" in page.get_data(as_text=True)


# --- HTML and script: stored as text, escaped where shown ------------------------------------------------

def _publish(app, event) -> None:
    with app.app_context():
        app.extensions["console.bus"].publish(event)


def test_html_in_caller_ids_names_labels_and_client_state_is_escaped_on_pages(app, client, store, key):
    leg = "v3:<b>leg</b>"
    for document in (
        ef.body("call.initiated", ef.at(1), **ef.leg_ids(leg), caller_id_name=SCRIPT, client_state=SCRIPT,
                **{"from": SCRIPT, "to": SCRIPT}),
        ef.body("conference.created", ef.at(2), conference_id=CONFERENCE_ID, **ef.leg_ids(leg)),
        ef.body("conference.participant.joined", ef.at(2), conference_id=CONFERENCE_ID, **ef.leg_ids(leg)),
        ef.body("call.enqueued", ef.at(3), queue="support", current_position=1, **ef.leg_ids("v3:queued")),
        ef.body("call.initiated", ef.at(3), **ef.leg_ids("v3:queued"), caller_id_name=SCRIPT,
                **{"from": SCRIPT}),
    ):
        assert post_signed(client, key, encode(document)).get_json() == {"status": "stored"}
    _publish(app, console_event("console.participant.updated",
                                {"conference_id": CONFERENCE_ID, "call_control_id": leg, "label": SCRIPT}))
    _publish(app, console_event("console.conference.synced",
                                {"id": CONFERENCE_ID, "name": SCRIPT, "status": "in_progress"}))
    assert store.call(leg)["caller_id_name"] == SCRIPT
    for path in ("/", f"/conferences/{CONFERENCE_ID}", "/queues/support"):
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html, path
        assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", ""), path
        assert "&lt;script&gt;alert" in html, path


# --- property tests: signed random JSON never gets a 500 ------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
FIELD_NAMES = ["data", "id", "event_type", "record_type", "occurred_at", "payload", "conference_id",
               "call_control_id", "queue", "recording_id", "recording_started_at", "recording_ended_at",
               "current_position", "status", "from", "to", "client_state", "name"]
EVENT_TYPES = sorted(set(ef.BESIDE_PAYLOAD | ef.NO_OCCURRED_AT | ef.CONFERENCE_WIDE) | {
    "conference.created", "conference.ended", "conference.floor.changed",
    "conference.participant.playback.started", "conference.participant.playback.ended",
    "conference.participant.speak.started", "conference.participant.speak.ended"})
TEMPLATES = [_real_body(event_type) for event_type in EVENT_TYPES]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, key):
    """One app for all generated examples: whatever they did, it must keep serving afterwards."""
    app = webhook_app(tmp_path_factory.mktemp("fuzz") / "console.db", key, CONSOLE_DEMO=True)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    return app


def _accepted_or_refused(app, key, document) -> None:
    body = json.dumps(document).encode()
    response = post_signed(app.test_client(), key, body)
    assert response.status_code in (200, 400, 413), response.get_data(as_text=True)[:300]
    if response.status_code == 200:
        assert response.get_json()["status"] in ("stored", "duplicate", "ignored")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.one_of(
    json_values,
    st.fixed_dictionaries({"data": json_values}),
    st.fixed_dictionaries({"data": st.fixed_dictionaries(
        {"id": json_values, "event_type": st.sampled_from(EVENT_TYPES) | json_values, "payload": json_values})}),
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6),
))
def test_signed_random_json_never_gets_a_500(fuzzed, key, document):
    _accepted_or_refused(fuzzed, key, document)


def _paths(value, prefix=()):
    """Every (path, value) inside a JSON document, the document itself included."""
    yield prefix, value
    if isinstance(value, dict):
        for name, inner in value.items():
            yield from _paths(inner, (*prefix, name))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


def _mutate(document, path, action, replacement):
    """Replace, delete, or wrap the value at `path` (a deep copy is changed, the template never)."""
    document = json.loads(json.dumps(document))
    if not path:
        return replacement if action != "wrap" else [document]
    holder = document
    for step in path[:-1]:
        holder = holder[step]
    last = path[-1]
    if action == "delete" and isinstance(holder, dict):
        del holder[last]
    elif action == "wrap":
        holder[last] = {"value": holder[last]}
    else:
        holder[last] = replacement
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_signed_mutations_of_real_events_never_get_a_500(fuzzed, key, data):
    document = data.draw(st.sampled_from(TEMPLATES))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [path for path, _ in _paths(document)]
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "delete", "wrap"]))
        document = _mutate(document, path, action, data.draw(json_values))
    _accepted_or_refused(fuzzed, key, document)


BYTE_SPLICES = [b'\\ud800', b'\\udfff', b'\\u0000', b'\\"', b'"', b"{", b"}", b"[", b",", b":", b"\xff",
                b"\xc3", b"NaN", b"-Infinity", b"1e999", b"null", b"<script>", b"\\ud83d\\ude00"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_signed_byte_level_damage_to_real_events_never_gets_a_500(fuzzed, key, data):
    body = json.dumps(data.draw(st.sampled_from(TEMPLATES))).encode()
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(body)))
        end = data.draw(st.integers(start, min(len(body), start + 8)))
        splice = data.draw(st.sampled_from(BYTE_SPLICES) | st.binary(max_size=4))
        body = body[:start] + splice + body[end:]
    response = post_signed(fuzzed.test_client(), key, body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]


def test_the_fuzzed_console_still_serves_and_its_read_model_is_plain(fuzzed, key):
    client = fuzzed.test_client()
    assert_still_serving(client, key)
    assert_read_model_holds_only_plain_values(fuzzed.extensions["console.store"])


def test_every_page_reading_the_fuzzed_event_log_draws(fuzzed):
    client = fuzzed.test_client()
    day = ef.at(0).date().isoformat()
    for path in ("/calls/v3:leg-1/timeline", f"/history?date={day}", f"/history/calls.csv?date={day}",
                 f"/history/kpis.csv?date={day}", "/alerts", "/queues/support", "/"):
        assert client.get(path).status_code in (200, 404), path
