"""TelnyxClient against a real local HTTP server: paths, bodies, errors, retries, pages, secrecy."""

from __future__ import annotations

import email.utils
import itertools
import logging
import socket
import time
import uuid

import pytest
import requests

import console
from console.telnyx.client import TelnyxClient
from console.telnyx.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TelnyxError,
    UnprocessableEntityError,
)
from tests.recording_server import RecordingServer, Reply

API_KEY = "KEYsecret0123456789"
CONF = "conf/1 a"
CONF_PATH = "conf%2F1%20a"
CALL = "v3:abc_def@edge"
QUEUE = "support line?#"
QUEUE_PATH = "support%20line%3F%23"
RECORDING = "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"

OK = {"data": {"result": "ok"}}
ERROR_BODY = {"errors": [{
    "code": "90058", "title": "Conference not found",
    "detail": "Conference does not exist.", "source": {"pointer": "/conference_id", "parameter": "region"},
}]}


def page(items, number=1, total=1, size=20):
    """A list envelope with full PaginationMeta."""
    meta = {"page_number": number, "page_size": size, "total_pages": total, "total_results": len(items)}
    return {"data": items, "meta": meta}


@pytest.fixture
def server():
    recording = RecordingServer().start()
    try:
        yield recording
    finally:
        recording.stop()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, sleeps):
    telnyx = TelnyxClient(API_KEY, server.url + "/v2", timeout=5, sleep=sleeps.append)
    try:
        yield telnyx
    finally:
        telnyx.close()


@pytest.fixture
def closed_port():
    """A port bound but not listening, so connecting is refused without any race."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# (method, args, kwargs, HTTP method, raw path, query pairs, JSON body, command_id minted, reply kind)
ENDPOINTS = [
    ("list_conferences", (),
     {"name": "Sales floor", "status": "in_progress", "region": "US", "page_size": 50},
     "GET", "/v2/conferences",
     [("filter[name]", "Sales floor"), ("filter[status]", "in_progress"), ("region", "US"),
      ("page[number]", "1"), ("page[size]", "50")], None, False, "list"),
    ("create_conference", (CALL, "Sales floor"), {"beep_enabled": "never", "duration_minutes": None},
     "POST", "/v2/conferences", [],
     {"call_control_id": CALL, "name": "Sales floor", "beep_enabled": "never"}, True, "object"),
    ("retrieve_conference", (CONF,), {"region": "Europe"},
     "GET", f"/v2/conferences/{CONF_PATH}", [("region", "Europe")], None, False, "object"),
    ("list_participants", (CONF,), {"muted": True, "on_hold": False},
     "GET", f"/v2/conferences/{CONF_PATH}/participants",
     [("filter[muted]", "true"), ("filter[on_hold]", "false"), ("page[number]", "1"), ("page[size]", "250")],
     None, False, "list"),
    ("retrieve_participant", (CONF, "agent 7"), {},
     "GET", f"/v2/conferences/{CONF_PATH}/participants/agent%207", [], None, False, "object"),
    ("update_participant", (CONF, "agent 7"), {"end_conference_on_exit": True, "beep_enabled": None},
     "PATCH", f"/v2/conferences/{CONF_PATH}/participants/agent%207", [],
     {"end_conference_on_exit": True}, False, "object"),
    ("end_conference", (CONF,), {}, "POST", f"/v2/conferences/{CONF_PATH}/actions/end", [], {}, True, "ok"),
    ("gather_using_audio", (CONF, CALL), {"audio_url": "https://example.test/menu.wav", "maximum_digits": 4},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/gather_using_audio", [],
     {"call_control_id": CALL, "audio_url": "https://example.test/menu.wav", "maximum_digits": 4}, False, "ok"),
    ("hold", (CONF,), {"call_control_ids": [CALL], "audio_url": "https://example.test/hold.mp3"},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/hold", [],
     {"call_control_ids": [CALL], "audio_url": "https://example.test/hold.mp3"}, False, "ok"),
    ("unhold", (CONF, [CALL]), {}, "POST", f"/v2/conferences/{CONF_PATH}/actions/unhold", [],
     {"call_control_ids": [CALL]}, False, "ok"),
    ("join", (CONF, CALL), {"supervisor_role": "monitor", "mute": None},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/join", [],
     {"call_control_id": CALL, "supervisor_role": "monitor"}, True, "ok"),
    ("leave", (CONF, CALL), {"beep_enabled": "on_exit"},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/leave", [],
     {"call_control_id": CALL, "beep_enabled": "on_exit"}, True, "ok"),
    ("mute", (CONF,), {"call_control_ids": [CALL]}, "POST", f"/v2/conferences/{CONF_PATH}/actions/mute", [],
     {"call_control_ids": [CALL]}, False, "ok"),
    ("unmute", (CONF,), {}, "POST", f"/v2/conferences/{CONF_PATH}/actions/unmute", [], {}, False, "ok"),
    ("play", (CONF,), {"audio_url": "https://example.test/a.mp3", "loop": "infinity"},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/play", [],
     {"audio_url": "https://example.test/a.mp3", "loop": "infinity"}, False, "ok"),
    ("stop", (CONF,), {"call_control_ids": [CALL]}, "POST", f"/v2/conferences/{CONF_PATH}/actions/stop", [],
     {"call_control_ids": [CALL]}, False, "ok"),
    ("speak", (CONF, "Hello team", "female"), {"language": "en-US"},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/speak", [],
     {"payload": "Hello team", "voice": "female", "language": "en-US"}, True, "ok"),
    ("send_dtmf", (CONF, "1234#"), {"duration_millis": 250},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/send_dtmf", [],
     {"digits": "1234#", "duration_millis": 250}, False, "ok"),
    ("record_start", (CONF, "mp3"), {"channels": "dual"},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/record_start", [],
     {"format": "mp3", "channels": "dual"}, True, "ok"),
    ("record_stop", (CONF,), {"recording_id": RECORDING},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/record_stop", [], {"recording_id": RECORDING}, True, "ok"),
    ("record_pause", (CONF,), {},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/record_pause", [], {}, True, "ok"),
    ("record_resume", (CONF,), {},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/record_resume", [], {}, True, "ok"),
    ("update", (CONF, CALL, "whisper"), {"whisper_call_control_ids": ["v3:agent"]},
     "POST", f"/v2/conferences/{CONF_PATH}/actions/update", [],
     {"call_control_id": CALL, "supervisor_role": "whisper", "whisper_call_control_ids": ["v3:agent"]},
     True, "ok"),
    ("list_queues", (), {"page_size": 10}, "GET", "/v2/queues",
     [("page[number]", "1"), ("page[size]", "10")], None, False, "list"),
    ("create_queue", (QUEUE, 40), {}, "POST", "/v2/queues", [],
     {"queue_name": QUEUE, "max_size": 40}, False, "object"),
    ("retrieve_queue", (QUEUE,), {}, "GET", f"/v2/queues/{QUEUE_PATH}", [], None, False, "object"),
    ("update_queue", (QUEUE, 80), {}, "POST", f"/v2/queues/{QUEUE_PATH}", [], {"max_size": 80}, False, "object"),
    ("delete_queue", (QUEUE,), {}, "DELETE", f"/v2/queues/{QUEUE_PATH}", [], None, False, "none"),
    ("list_queue_calls", (QUEUE,), {}, "GET", f"/v2/queues/{QUEUE_PATH}/calls",
     [("page[number]", "1"), ("page[size]", "250")], None, False, "list"),
    ("retrieve_queue_call", (QUEUE, CALL), {}, "GET", f"/v2/queues/{QUEUE_PATH}/calls/{CALL}", [],
     None, False, "object"),
    ("update_queue_call", (QUEUE, CALL, True), {}, "PATCH", f"/v2/queues/{QUEUE_PATH}/calls/{CALL}", [],
     {"keep_after_hangup": True}, False, "none"),
    ("remove_queue_call", (QUEUE, CALL), {}, "DELETE", f"/v2/queues/{QUEUE_PATH}/calls/{CALL}", [],
     None, False, "none"),
    ("enqueue", (CALL, QUEUE), {"max_wait_time_secs": 600}, "POST", f"/v2/calls/{CALL}/actions/enqueue", [],
     {"queue_name": QUEUE, "max_wait_time_secs": 600}, True, "ok"),
    ("leave_queue", (CALL,), {}, "POST", f"/v2/calls/{CALL}/actions/leave_queue", [], {}, True, "ok"),
    ("dial", ("conn-1", "+15550001111", "+15550002222"), {"timeout_secs": 30}, "POST", "/v2/calls", [],
     {"connection_id": "conn-1", "to": "+15550001111", "from": "+15550002222", "timeout_secs": 30},
     True, "object"),
    ("retrieve_call", (CALL,), {}, "GET", f"/v2/calls/{CALL}", [], None, False, "object"),
    ("hangup", (CALL,), {}, "POST", f"/v2/calls/{CALL}/actions/hangup", [], {}, True, "ok"),
    ("speak_to_call", (CALL, "Thanks for waiting", "female"), {"language": "en-US", "payload_type": None},
     "POST", f"/v2/calls/{CALL}/actions/speak", [],
     {"payload": "Thanks for waiting", "voice": "female", "language": "en-US"}, True, "ok"),
]

REPLIES = {
    "list": (Reply(200, page([{"id": "a"}, {"id": "b"}])), [{"id": "a"}, {"id": "b"}]),
    "object": (Reply(200, {"data": {"id": "x", "name": "thing"}}), {"id": "x", "name": "thing"}),
    "ok": (Reply(200, OK), {"result": "ok"}),
    "none": (Reply(204), None),
}


def test_every_endpoint_method_is_in_the_table():
    public = {name for name, member in vars(TelnyxClient).items() if not name.startswith("_") and callable(member)}
    assert public - {"close"} == {row[0] for row in ENDPOINTS}
    assert len(ENDPOINTS) == 38


@pytest.mark.parametrize(
    "name, args, kwargs, http_method, path, query, body, minted, kind",
    ENDPOINTS, ids=[row[0] for row in ENDPOINTS],
)
def test_endpoint_sends_the_documented_request(server, client, name, args, kwargs, http_method, path, query,
                                               body, minted, kind):
    reply, expected = REPLIES[kind]
    server.reply(reply)
    result = getattr(client, name)(*args, **kwargs)
    if kind == "list":
        result = list(result)

    assert result == expected
    (sent,) = server.requests
    assert (sent.method, sent.path) == (http_method, path)
    assert sent.query_pairs == query
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["user-agent"] == f"supervisor-console/{console.__version__}"
    sent_body = sent.json
    if minted:
        assert uuid.UUID(sent_body.pop("command_id")).version == 4
    assert sent_body == body
    if body is not None:
        assert sent.headers["content-type"] == "application/json"


def test_without_an_api_key_no_authorization_is_sent(server):
    with TelnyxClient(None, server.url + "/v2") as telnyx:
        telnyx.retrieve_queue("support")
    assert "authorization" not in server.requests[0].headers


def test_a_command_id_from_the_caller_is_kept(server, client):
    client.join("conf-1", CALL, command_id="supervisor-click-1")
    assert server.requests[0].json["command_id"] == "supervisor-click-1"


def test_each_command_gets_a_fresh_command_id(server, client):
    client.hangup(CALL)
    client.hangup(CALL)
    first, second = (r.json["command_id"] for r in server.requests)
    assert first != second


@pytest.mark.parametrize("bad_id", ["", ".", ".."])
def test_ids_that_would_reshape_the_path_are_refused(server, client, bad_id):
    with pytest.raises(ValueError):
        client.retrieve_queue(bad_id)
    assert server.requests == []


def test_an_injected_session_carries_the_requests(server):
    session = requests.Session()
    session.headers["X-Console-Trace"] = "t-1"
    with TelnyxClient(API_KEY, server.url + "/v2", session=session) as telnyx:
        telnyx.retrieve_call(CALL)
    sent = server.requests[0]
    assert sent.headers["x-console-trace"] == "t-1"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    session.close()


@pytest.mark.parametrize("status, error_class, tries", [
    (400, BadRequestError, 1),
    (401, AuthenticationError, 1),
    (403, PermissionDeniedError, 1),
    (404, NotFoundError, 1),
    (409, ConflictError, 3),
    (422, UnprocessableEntityError, 1),
    (429, RateLimitError, 3),
    (500, InternalServerError, 3),
    (503, InternalServerError, 3),
    (418, APIStatusError, 1),
])
def test_status_maps_to_its_error_class(server, client, status, error_class, tries):
    server.reply(Reply(status, ERROR_BODY))
    with pytest.raises(TelnyxError) as caught:
        client.retrieve_conference("c-1")

    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.title, error.detail, error.pointer) == (
        status, "90058", "Conference not found", "Conference does not exist.", "/conference_id")
    assert error.errors[0].parameter == "region"
    assert str(error) == f"Conference does not exist. (HTTP {status}, code 90058)"
    assert len(server.requests) == tries


def test_a_non_json_error_body_still_maps(server, client):
    server.reply(Reply(502, "<html><body>Bad gateway\nupstream</body></html>"))
    with pytest.raises(InternalServerError) as caught:
        client.retrieve_queue("support")
    error = caught.value
    assert (error.status, error.errors, error.code, error.detail) == (502, [], None, None)
    assert str(error) == "Telnyx answered Bad Gateway (HTTP 502)"


@pytest.mark.parametrize("body", [{"errors": "nope"}, {"message": "x"}, [1, 2], {"errors": [7, None]}])
def test_an_oddly_shaped_error_body_still_maps(server, client, body):
    server.reply(Reply(400, body))
    with pytest.raises(BadRequestError) as caught:
        client.retrieve_queue("support")
    assert caught.value.errors == []
    assert "HTTP 400" in str(caught.value)


def test_error_fields_of_odd_types_are_read_as_text(server, client):
    server.reply(Reply(422, {"errors": [{"code": 10004, "title": "Missing parameter", "source": "body"},
                                        {"code": "10032", "title": "Bad enum"}]}))
    with pytest.raises(UnprocessableEntityError) as caught:
        client.mute("conf-1")
    error = caught.value
    assert (error.code, error.pointer, len(error.errors)) == ("10004", None, 2)
    assert str(error) == "Missing parameter (HTTP 422, code 10004); and 1 more"


def test_rate_limit_waits_for_retry_after_and_resends_the_same_command_id(server):
    rate_limited = {"errors": [{"code": "10011", "title": "Too many requests"}]}
    server.reply(Reply(429, rate_limited, {"Retry-After": "1"}), Reply(200, OK))
    retries = []
    with TelnyxClient(API_KEY, server.url + "/v2", on_retry=lambda *a: retries.append(a)) as telnyx:
        started = time.monotonic()
        result = telnyx.join("conf-1", CALL, supervisor_role="monitor")
        elapsed = time.monotonic() - started

    assert result == {"result": "ok"}
    assert elapsed >= 0.9
    first, second = server.requests
    assert first.json == second.json
    assert uuid.UUID(first.json["command_id"]).version == 4
    ((attempt, wait, error),) = retries
    assert (attempt, wait, type(error)) == (1, 1.0, RateLimitError)


@pytest.mark.parametrize("headers, wait", [
    ({"retry-after-ms": "250"}, 0.25),
    ({"Retry-After": "2"}, 2.0),
    ({"Retry-After": "120"}, 8.0),
    ({"x-ratelimit-reset": "3"}, 3.0),
    ({"retry-after-ms": "1500", "Retry-After": "5"}, 1.5),
    ({"Retry-After": "2", "x-ratelimit-reset": "6"}, 2.0),
    ({"Retry-After": "nan", "x-ratelimit-reset": "4"}, 4.0),
])
def test_rate_limit_wait_follows_the_server_hint(server, client, sleeps, headers, wait):
    server.reply(Reply(429, {}, headers), Reply(200, OK))
    client.leave_queue(CALL)
    assert sleeps == [wait]
    assert len(server.requests) == 2


def test_retry_after_as_http_date(server, client, sleeps):
    server.reply(Reply(429, {}, {"Retry-After": email.utils.formatdate(time.time() + 4, usegmt=True)}),
                 Reply(200, OK))
    client.hangup(CALL)
    (wait,) = sleeps
    assert 2.5 <= wait <= 4.0


def test_backoff_doubles_with_jitter_and_is_capped(server, sleeps):
    server.reply(Reply(503, {}))
    telnyx = TelnyxClient(API_KEY, server.url + "/v2", max_retries=4, max_retry_wait=1.5, sleep=sleeps.append)
    with telnyx, pytest.raises(InternalServerError):
        telnyx.retrieve_queue("support")
    assert len(server.requests) == 5
    for wait, ceiling in zip(sleeps, [0.5, 1.0, 1.5, 1.5], strict=True):
        assert 0.75 * ceiling <= wait <= ceiling


def test_x_ratelimit_reset_only_counts_for_a_rate_limit(server, client, sleeps):
    server.reply(Reply(503, {}, {"x-ratelimit-reset": "6"}), Reply(200, {"data": {"id": "q"}}))
    client.retrieve_queue("support")
    assert 0.375 <= sleeps[0] <= 0.5


@pytest.mark.parametrize("call", [
    lambda c: c.create_queue("support", 10),
    lambda c: c.update_queue("support", 10),
    lambda c: c.mute("conf-1"),
    lambda c: c.send_dtmf("conf-1", "1"),
], ids=["create_queue", "update_queue", "mute", "send_dtmf"])
def test_a_post_without_command_id_is_never_retried(server, client, sleeps, call):
    server.reply(Reply(503, {}, {"x-should-retry": "true"}), Reply(200, OK))
    with pytest.raises(InternalServerError):
        call(client)
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("method, call", [
    ("DELETE", lambda c: c.remove_queue_call("support", CALL)),
    ("PATCH", lambda c: c.update_queue_call("support", CALL, False)),
    ("GET", lambda c: c.retrieve_call(CALL)),
])
def test_idempotent_requests_retry_after_a_server_error(server, client, method, call):
    server.reply(Reply(500, {}), Reply(204))
    assert call(client) is None
    assert [r.method for r in server.requests] == [method, method]


def test_x_should_retry_false_stops_a_retry(server, client):
    server.reply(Reply(503, {}, {"x-should-retry": "false"}), Reply(200, OK))
    with pytest.raises(InternalServerError):
        client.retrieve_queue("support")
    assert len(server.requests) == 1


def test_x_should_retry_true_retries_a_client_error(server, client):
    server.reply(Reply(400, ERROR_BODY, {"x-should-retry": "true"}), Reply(200, {"data": {"id": "q"}}))
    assert client.retrieve_queue("support") == {"id": "q"}
    assert len(server.requests) == 2


def test_pages_are_walked_lazily_in_order(server, client):
    server.reply(
        Reply(200, page([{"id": "q1"}, {"id": "q2"}], number=1, total=3, size=2)),
        Reply(200, page([{"id": "q3"}, {"id": "q4"}], number=2, total=3, size=2)),
        Reply(200, page([{"id": "q5"}], number=3, total=3, size=2)),
    )
    queues = client.list_queues(page_size=2)
    assert server.requests == []
    assert next(queues) == {"id": "q1"}
    assert len(server.requests) == 1
    assert [q["id"] for q in queues] == ["q2", "q3", "q4", "q5"]
    assert [dict(r.query_pairs) for r in server.requests] == [
        {"page[number]": str(n), "page[size]": "2"} for n in (1, 2, 3)]


@pytest.mark.parametrize("envelope", [
    {"data": [{"id": "c1"}]},
    {"data": [{"id": "c1"}], "meta": "nope"},
    {"data": [{"id": "c1"}], "meta": {"total_pages": "3"}},
    {"data": [{"id": "c1"}], "meta": {"total_pages": None}},
    {"data": [{"id": "c1"}], "meta": {"total_pages": True}},
], ids=["no-meta", "meta-not-object", "total-as-text", "total-null", "total-bool"])
def test_a_list_with_missing_or_malformed_meta_ends_after_one_page(server, client, envelope):
    server.reply(Reply(200, envelope))
    assert list(itertools.islice(client.list_conferences(), 100)) == [{"id": "c1"}]
    assert len(server.requests) == 1


def test_an_empty_page_ends_the_list_whatever_meta_says(server, client):
    server.reply(Reply(200, page([], number=1, total=5)))
    assert list(itertools.islice(client.list_queue_calls("support"), 100)) == []
    assert len(server.requests) == 1


def test_a_server_that_ignores_page_number_is_not_read_twice(server, client):
    server.reply(Reply(200, page([{"id": "p1"}], number=1, total=3)))
    assert list(itertools.islice(client.list_participants("conf-1"), 100)) == [{"id": "p1"}]
    assert len(server.requests) == 2


def test_connection_refused_raises_api_connection_error(closed_port, sleeps):
    retries = []
    telnyx = TelnyxClient(API_KEY, f"http://127.0.0.1:{closed_port}/v2", max_retries=1,
                          sleep=sleeps.append, on_retry=lambda *a: retries.append(a))
    with telnyx, pytest.raises(APIConnectionError) as caught:
        telnyx.retrieve_queue("support")
    assert not isinstance(caught.value, APITimeoutError)
    assert len(sleeps) == 1
    assert isinstance(retries[0][2], APIConnectionError)


def test_a_stalled_server_raises_api_timeout_error(server):
    server.reply(Reply(stall=True))
    telnyx = TelnyxClient(API_KEY, server.url + "/v2", timeout=0.3, max_retries=0)
    started = time.monotonic()
    with telnyx, pytest.raises(APITimeoutError) as caught:
        telnyx.retrieve_conference("conf-1")
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, APIConnectionError)


def test_a_timed_out_command_is_retried_with_the_same_command_id(server, sleeps):
    server.reply(Reply(stall=True), Reply(200, OK))
    telnyx = TelnyxClient(API_KEY, server.url + "/v2", timeout=0.3, max_retries=1, sleep=sleeps.append)
    with telnyx:
        assert telnyx.end_conference("conf-1") == {"result": "ok"}
    first, second = server.requests
    assert first.json["command_id"] == second.json["command_id"]


def test_the_api_key_never_leaks(server, client, caplog):
    caplog.set_level(logging.DEBUG)
    server.reply(
        Reply(200, {"data": {"id": "q"}}),
        Reply(429, {"errors": [{"code": "10011", "title": "Too many requests"}]}),
        Reply(200, OK),
        Reply(401, {"errors": [{"code": "10009", "title": "Authentication failed",
                                "detail": f"The API key {API_KEY} is not valid."}]}),
    )
    client.retrieve_queue("support")
    client.hangup(CALL)
    with pytest.raises(AuthenticationError) as caught:
        client.retrieve_call(CALL)

    error = caught.value
    assert API_KEY not in repr(client)
    assert API_KEY not in str(error) and API_KEY not in repr(error)
    assert error.detail == "The API key [redacted] is not valid."
    assert any("hangup" in record.getMessage() for record in caplog.records)
    assert all(API_KEY not in record.getMessage() for record in caplog.records)
    assert server.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
