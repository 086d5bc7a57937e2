"""The simulated Telnyx REST API over real HTTP: the official SDK against it, and raw wire checks."""

from __future__ import annotations

import io
import json
import time
import uuid
import wave

import pytest
import requests
import telnyx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telnyx import Telnyx

from console.simulator.app import create_rest_app
from console.simulator.chaos import Chaos
from console.simulator.conferences import ACTIONS
from console.simulator.validation import SCHEMAS
from tests.sim_fixtures import answered_call, listening_world, serving
from tests.simulator.wire_facts import undocumented

API_KEY = "KEY-simulated-0123456789"


@pytest.fixture
def world(clock, events):
    return listening_world(clock, events, seed=5)


@pytest.fixture
def chaos():
    return Chaos()


@pytest.fixture
def root(world, chaos):
    with serving(create_rest_app(world, chaos, api_key=API_KEY)) as url:
        yield url


@pytest.fixture
def client(root):
    return Telnyx(api_key=API_KEY, base_url=f"{root}/v2", max_retries=0)


class Api:
    """Raw HTTP against ``/v2`` with the bearer key, for checks the SDK would hide."""

    def __init__(self, root: str):
        self.root = root
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {API_KEY}"

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.root}/v2{path}", timeout=10, **kwargs)


@pytest.fixture
def api(root):
    api = Api(root)
    yield api
    api.session.close()


def error_of(response: requests.Response) -> dict:
    body = response.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    error = body["errors"][0]
    assert isinstance(error["code"], str) and error["title"] and error["detail"]
    return error


# -- the official SDK, endpoint by endpoint -------------------------------------------------------------

def test_sdk_dials_reads_and_hangs_up_a_call(client, world, clock):
    dialled = client.calls.dial(connection_id=world.connection_id, from_="+15559990000", to="+15550002222").data
    assert dialled.call_control_id.startswith("v3:") and dialled.is_alive
    world.tick(clock.advance(1))
    status = client.calls.retrieve_status(dialled.call_control_id).data
    assert (status.call_control_id, status.is_alive, status.record_type) == (dialled.call_control_id, True, "call")
    assert client.calls.actions.hangup(dialled.call_control_id).data.result == "ok"
    assert client.calls.retrieve_status(dialled.call_control_id).data.is_alive is False


def test_sdk_creates_reads_and_updates_a_conference(client, world):
    agent, customer = answered_call(world), answered_call(world, from_="+15550004444")
    created = client.conferences.create(call_control_id=agent, name="support-1", beep_enabled="on_enter",
                                        max_participants=10, region="US").data
    assert (created.name, created.status, created.record_type) == ("support-1", "in_progress", "conference")
    client.conferences.actions.join(created.id, call_control_id=customer, extra_body={"label": "customer"})
    assert client.conferences.retrieve(created.id).data.id == created.id
    found = client.conferences.list(filter={"name": "support-1", "status": "in_progress"}, region="US")
    assert [c.id for c in found] == [created.id]
    listed = list(client.conferences.list_participants(created.id, region="US"))
    assert [p.call_control_id for p in listed] == [agent, customer]
    assert listed[0].conference.name == "support-1"
    by_label = client.conferences.retrieve_participant("customer", id=created.id).data
    assert (by_label.call_control_id, by_label.conference_id, by_label.label) == (customer, created.id, "customer")
    updated = client.conferences.update_participant(listed[1].id, id=created.id, end_conference_on_exit=True,
                                                    soft_end_conference_on_exit=False, beep_enabled="never").data
    assert updated.end_conference_on_exit is True and updated.id == listed[1].id


def test_sdk_runs_every_conference_action(client, world, events):
    agent, customer = answered_call(world), answered_call(world, from_="+15550004444")
    supervisor = answered_call(world, from_="+15550006666")
    conference = client.conferences.create(call_control_id=agent, name="support-2").data
    actions = client.conferences.actions

    def ok(response) -> bool:
        return response.data.result == "ok"

    def participant(ccid):
        return client.conferences.retrieve_participant(ccid, id=conference.id).data

    assert ok(actions.join(conference.id, call_control_id=customer, mute=False, command_id=str(uuid.uuid4())))
    assert ok(actions.join(conference.name, call_control_id=supervisor, supervisor_role="monitor"))
    assert ok(actions.update(conference.id, call_control_id=supervisor, supervisor_role="whisper",
                             whisper_call_control_ids=[agent]))
    assert [p.call_control_id for p in client.conferences.list_participants(
        conference.id, filter={"whispering": True})] == [supervisor]
    assert ok(actions.mute(conference.id, call_control_ids=[customer])) and participant(customer).muted
    assert ok(actions.unmute(conference.id, call_control_ids=[customer])) and not participant(customer).muted
    assert ok(actions.hold(conference.id, call_control_ids=[customer], audio_url="https://example.com/h.wav"))
    assert participant(customer).on_hold
    assert ok(actions.unhold(conference.id, call_control_ids=[customer])) and not participant(customer).on_hold
    assert ok(actions.play(conference.id, audio_url="https://example.com/a.wav", loop="infinity"))
    assert ok(actions.stop(conference.id))
    assert len(events.of("conference.playback.ended")) == 1
    assert ok(actions.speak(conference.id, payload="Welcome", voice="female", language="en-US"))
    assert events.of("conference.speak.started")
    assert ok(actions.send_dtmf(conference.id, digits="1234#", duration_millis=250))
    assert ok(actions.gather_dtmf_audio(conference.id, call_control_id=customer, maximum_digits=2))
    world.press_digits(customer, "77")
    assert events.payloads("call.gather.ended")[0]["digits"] == "77"
    assert ok(actions.record_start(conference.id, format="wav", channels="dual"))
    assert ok(actions.record_pause(conference.id))
    assert ok(actions.record_resume(conference.id))
    assert ok(actions.record_stop(conference.id))
    assert events.payloads("conference.recording.saved")[0]["channels"] == "dual"
    assert ok(actions.leave(conference.id, call_control_id=supervisor))
    assert participant(supervisor).status == "left"
    assert ok(actions.end_conference(conference.id))
    assert client.conferences.retrieve(conference.id).data.status == "completed"


def test_sdk_manages_queues_and_queued_calls(client, world):
    first, second = answered_call(world), answered_call(world, from_="+15550004444")
    queue = client.queues.create(queue_name="support", max_size=10).data
    assert (queue.name, queue.max_size, queue.current_size) == ("support", 10, 0)
    assert client.queues.update("support", max_size=20).data.max_size == 20
    assert client.calls.actions.enqueue(first, queue_name="support").data.result == "ok"
    assert client.calls.actions.enqueue(second, queue_name="support", keep_after_hangup=False).data.result == "ok"
    assert client.queues.retrieve("support").data.current_size == 2
    assert [q.name for q in client.queues.list()] == ["support"]
    waiting = list(client.queues.calls.list("support"))
    assert [(c.call_control_id, c.queue_position) for c in waiting] == [(first, 1), (second, 2)]
    assert client.queues.calls.retrieve(second, queue_name="support").data.queue_id == queue.id
    assert client.queues.calls.update(second, queue_name="support", keep_after_hangup=True) is None
    assert client.calls.actions.leave_queue(first).data.result == "ok"
    assert client.queues.calls.retrieve(second, queue_name="support").data.queue_position == 1
    world.remote_hangup(second)
    assert client.queues.calls.retrieve(second, queue_name="support").data.is_alive is False
    assert client.queues.calls.remove(second, queue_name="support") is None
    assert client.queues.delete("support") is None
    assert list(client.queues.list()) == []


def test_sdk_walks_every_page(client, world):
    conferences = [world.create_conference(answered_call(world), f"room-{n}")["id"] for n in range(23)]
    first_page = client.conferences.list(page_size=10)
    assert len(first_page.data) == 10 and first_page.has_next_page()
    assert sorted(c.id for c in client.conferences.list(page_size=10)) == sorted(conferences)

    for n in range(7):
        world.create_queue(f"queue-{n}")
    assert [q.name for q in client.queues.list(page_size=3)] == [f"queue-{n}" for n in range(7)]

    callers = [answered_call(world, from_=f"+1555000200{n}") for n in range(5)]
    for caller in callers:
        world.enqueue(caller, "queue-0")
    assert [c.call_control_id for c in client.queues.calls.list("queue-0", page_size=2)] == callers

    room = conferences[0]
    for caller in callers:
        world.conference_action(room, "join", {"call_control_id": caller})
    assert len(list(client.conferences.list_participants(room, page_size=2))) == 6


def test_sdk_raises_its_own_error_types(root, client, world):
    wrong_key = Telnyx(api_key="not-the-key", base_url=f"{root}/v2", max_retries=0)
    with pytest.raises(telnyx.AuthenticationError) as unauthorized:
        list(wrong_key.conferences.list())
    with pytest.raises(telnyx.NotFoundError) as missing:
        client.conferences.retrieve(str(uuid.uuid4()))
    with pytest.raises(telnyx.UnprocessableEntityError) as invalid:
        client.conferences.create(call_control_id=answered_call(world), name="x", max_participants=1)
    assert unauthorized.value.status_code == 401 and unauthorized.value.body["errors"][0]["code"] == "10009"
    assert missing.value.body["errors"][0]["code"] == "90058"
    assert invalid.value.body["errors"][0]["code"] == "10033"


def test_sdk_retries_after_a_429_as_told(root, chaos, world):
    patient = Telnyx(api_key=API_KEY, base_url=f"{root}/v2", max_retries=1)
    chaos.fail_next("429")
    started = time.monotonic()
    assert list(patient.queues.list()) == []
    assert time.monotonic() - started >= 0.9
    assert chaos.as_dict()["pending_rest_faults"] == []


# -- raw wire: error codes -----------------------------------------------------------------------------

@pytest.fixture
def scene(world):
    """Legs and resources in every state the error cases need."""
    host = answered_call(world)
    conference = world.create_conference(host, "busy", max_participants=2)
    world.conference_action(conference["id"], "join", {"call_control_id": answered_call(world, from_="+15550000002")})
    ended_host = answered_call(world, from_="+15550000003")
    ended = world.create_conference(ended_host, "finished")
    world.conference_action(ended["id"], "end", {})
    ringing = world.incoming_call("+15550000004", "+15559990000")["call_control_id"]
    world.create_queue("tiny", max_size=1)
    queued = answered_call(world, from_="+15550000005")
    world.enqueue(queued, "tiny")
    return {"conference": conference["id"], "ended_conference": ended["id"], "dead": ended_host,
            "ringing": ringing, "queued": queued, "spare": answered_call(world, from_="+15550000006")}


ERROR_CASES = {
    "90058 conference not found": ("GET", lambda s: f"/conferences/{uuid.uuid4()}", None, 404, "90058"),
    "10007 resource not found": ("GET", lambda s: "/queues/nowhere", None, 404, "10007"),
    "10007 route not found": ("GET", lambda s: "/nowhere", None, 404, "10007"),
    "10007 method not allowed": ("PUT", lambda s: "/queues", None, 404, "10007"),
    "10004 missing parameter": ("POST", lambda s: "/conferences", lambda s: {"name": "x"}, 422, "10004"),
    "10032 bad enum": ("POST", lambda s: "/conferences",
                       lambda s: {"call_control_id": s["spare"], "name": "x", "beep_enabled": "sometimes"},
                       422, "10032"),
    "10033 out of range": ("POST", lambda s: "/conferences",
                           lambda s: {"call_control_id": s["spare"], "name": "x", "max_participants": 801},
                           422, "10033"),
    "10015 wrong type": ("POST", lambda s: "/queues", lambda s: {"queue_name": "q", "max_size": "ten"}, 422, "10015"),
    "10015 queue name taken": ("POST", lambda s: "/queues", lambda s: {"queue_name": "tiny"}, 422, "10015"),
    "10015 bad client_state": ("POST", lambda s: f"/calls/{s['spare']}/actions/hangup",
                               lambda s: {"client_state": "not base64!"}, 422, "10015"),
    "10016 bad phone number": ("POST", lambda s: "/calls",
                               lambda s: {"connection_id": "1494404757140276705", "to": "0800", "from": "+15550001111"},
                               422, "10016"),
    "90015 bad call_control_id": ("POST", lambda s: "/conferences",
                                  lambda s: {"call_control_id": "v3:nobody", "name": "x"}, 422, "90015"),
    "90015 bad call_control_id in path": ("GET", lambda s: "/calls/v3:nobody", None, 422, "90015"),
    "90018 call ended": ("POST", lambda s: f"/calls/{s['dead']}/actions/hangup", lambda s: {}, 422, "90018"),
    "90019 conference ended": ("POST", lambda s: f"/conferences/{s['ended_conference']}/actions/mute",
                               lambda s: {}, 422, "90019"),
    "90032 max participants": ("POST", lambda s: f"/conferences/{s['conference']}/actions/join",
                               lambda s: {"call_control_id": s["spare"]}, 422, "90032"),
    "90033 name already active": ("POST", lambda s: "/conferences",
                                  lambda s: {"call_control_id": s["spare"], "name": "busy"}, 422, "90033"),
    "90034 call not answered": ("POST", lambda s: f"/calls/{s['ringing']}/actions/enqueue",
                                lambda s: {"queue_name": "support"}, 422, "90034"),
    "90036 queue full": ("POST", lambda s: f"/calls/{s['spare']}/actions/enqueue",
                         lambda s: {"queue_name": "tiny"}, 422, "90036"),
    "90038 already in queue": ("POST", lambda s: f"/calls/{s['queued']}/actions/enqueue",
                               lambda s: {"queue_name": "tiny"}, 422, "90038"),
    "90050 queue not empty": ("DELETE", lambda s: "/queues/tiny", None, 400, "90050"),
    "10005 recording not found": ("POST", lambda s: f"/conferences/{s['conference']}/actions/record_stop",
                                  lambda s: {"recording_id": str(uuid.uuid4())}, 404, "10005"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES), ids=list(ERROR_CASES))
def test_each_error_has_the_telnyx_code_and_body(api, scene, case):
    method, path, body, status, code = ERROR_CASES[case]
    response = api(method, path(scene), json=body(scene) if body else None)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert error_of(response)["code"] == code
    assert undocumented(status, code) is None


@pytest.mark.parametrize("path, body, pointer", [
    ("/conferences", {"name": "x"}, "/call_control_id"),
    ("/queues", {"queue_name": ""}, "/queue_name"),
    ("/calls", {"connection_id": "1494404757140276705", "to": "+15550002222"}, "/from"),
])
def test_errors_point_at_the_offending_field(api, path, body, pointer):
    assert error_of(api("POST", path, json=body))["source"] == {"pointer": pointer}


@pytest.mark.parametrize("query, parameter, code", [
    ("page[number]=0", "page[number]", "10033"),
    ("page[size]=251", "page[size]", "10033"),
    ("page[size]=abc", "page[size]", "10015"),
    ("filter[status]=done", "filter[status]", "10032"),
    ("region=Mars", "region", "10032"),
])
def test_bad_query_values_name_their_parameter(api, query, parameter, code):
    response = api("GET", f"/conferences?{query}")
    error = error_of(response)
    assert (response.status_code, error["code"], error["source"]) == (422, code, {"parameter": parameter})


def test_a_missing_or_wrong_key_is_401(root):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_KEY}"}):
        response = requests.get(f"{root}/v2/queues", headers=headers, timeout=5)
        error = error_of(response)
        assert (response.status_code, error["code"], error["title"]) == (401, "10009", "Authentication failed")


@pytest.mark.parametrize("raw, status", [(b"{not json", 400), (b"\xff\xfe", 400), (b"[1, 2]", 422), (b'"text"', 422)])
def test_a_body_that_is_not_a_json_object_is_refused_cleanly(api, scene, raw, status):
    response = api("POST", f"/conferences/{scene['conference']}/actions/mute", data=raw,
                   headers={"Content-Type": "application/json"})
    assert response.status_code == status and error_of(response)["code"] in {"10015", "10028"}


def test_unknown_fields_and_stray_path_keys_are_ignored(api, scene):
    response = api("POST", f"/calls/{scene['spare']}/actions/enqueue",
                   json={"queue_name": "other", "call_control_id": "v3:someone-else", "colour": "blue"})
    assert response.status_code == 200 and response.json() == {"data": {"result": "ok"}}


# -- raw wire: envelopes, pagination, 204s, filters ------------------------------------------------------

def test_single_objects_and_lists_have_their_envelopes(api, world):
    conference = world.create_conference(answered_call(world), "room")
    single = api("GET", f"/conferences/{conference['id']}").json()
    assert set(single) == {"data"} and single["data"]["id"] == conference["id"]
    listed = api("GET", "/conferences").json()
    assert set(listed) == {"data", "meta"}
    assert listed["meta"] == {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": 1}


@pytest.mark.parametrize("path", ["/conferences", "/queues", "/queues/q0/calls", "/conferences/{room}/participants"])
def test_every_list_pages_with_all_four_meta_fields(api, world, path):
    room = world.create_conference(answered_call(world), "room")["id"]
    world.create_queue("q0")
    world.enqueue(answered_call(world, from_="+15550003999"), "q0")
    for n in range(4):
        world.create_conference(answered_call(world), f"other-{n}")
        world.create_queue(f"q{n + 1}")
        caller = answered_call(world, from_=f"+1555000300{n}")
        world.enqueue(caller, "q0")
    for n in range(4):
        world.conference_action(room, "join", {"call_control_id": answered_call(world, from_=f"+1555000400{n}")})
    url = path.format(room=room)
    everything = api("GET", f"{url}?page[size]=250").json()["data"]
    second = api("GET", f"{url}?page[number]=2&page[size]=2").json()
    assert second["meta"] == {"page_number": 2, "page_size": 2, "total_pages": 3, "total_results": 5}
    assert second["data"] == everything[2:4]
    beyond = api("GET", f"{url}?page[number]=9&page[size]=2").json()
    assert beyond["data"] == [] and beyond["meta"]["total_results"] == 5


def test_an_empty_list_has_zero_pages(api):
    assert api("GET", "/queues").json() == {
        "data": [], "meta": {"page_number": 1, "page_size": 20, "total_pages": 0, "total_results": 0}}


def test_204_answers_have_no_body(api, world):
    caller = answered_call(world)
    world.enqueue(caller, "support", keep_after_hangup=True)
    patched = api("PATCH", f"/queues/support/calls/{caller}", json={"keep_after_hangup": False})
    world.enqueue(answered_call(world, from_="+15550004444"), "other")
    removed = api("DELETE", f"/queues/support/calls/{caller}")
    deleted = api("DELETE", "/queues/support")
    assert (patched.status_code, patched.content) == (204, b"")
    assert (removed.status_code, removed.content) == (204, b"")
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_conference_filters(api, world):
    live = world.create_conference(answered_call(world), "Live")
    done = world.create_conference(answered_call(world, from_="+15550004444"), "done")
    world.conference_action(done["id"], "end", {})

    def names(query):
        return [c["name"] for c in api("GET", f"/conferences?{query}").json()["data"]]

    assert names("filter[name]=Live") == ["Live"]
    assert names("filter[name]=live") == [], "name matching is case-sensitive"
    assert names("filter[status]=completed") == ["done"]
    assert names("filter[status]=in_progress&filter[name]=Live") == ["Live"]
    assert sorted(names("region=Europe")) == ["Live", "done"]
    assert names("") == [c["name"] for c in world.list_conferences()] and live["name"] == "Live"


def test_participant_filters(api, world):
    host, muted, held = answered_call(world), answered_call(world, from_="+1555000001"), answered_call(
        world, from_="+1555000002")
    conference = world.create_conference(host, "room")["id"]
    world.conference_action(conference, "join", {"call_control_id": muted, "mute": True})
    world.conference_action(conference, "join", {"call_control_id": held, "hold": True})

    def legs(query):
        return [p["call_control_id"] for p in
                api("GET", f"/conferences/{conference}/participants?{query}").json()["data"]]

    assert legs("filter[muted]=true") == [muted]
    assert legs("filter[on_hold]=true") == [held]
    assert legs("filter[muted]=false&filter[on_hold]=false") == [host]
    assert legs("filter[whispering]=true") == []
    assert error_of(api("GET", f"/conferences/{conference}/participants?filter[muted]=maybe"))["code"] == "10015"


def test_conference_ids_and_names_where_the_spec_allows_them(api, world):
    conference = world.create_conference(answered_call(world), "by-name")
    assert api("POST", "/conferences/by-name/actions/mute", json={}).status_code == 200
    assert api("GET", "/conferences/by-name").status_code == 404, "retrieve takes ids only"
    assert api("POST", "/conferences/by-name/actions/end", json={}).status_code == 404, "end takes ids only"
    assert api("POST", f"/conferences/{conference['id']}/actions/end", json={}).status_code == 200


# -- raw wire: idempotency ---------------------------------------------------------------------------------

def test_a_repeated_command_id_is_acknowledged_and_not_run_twice(api, world, events):
    first = answered_call(world)
    create = {"call_control_id": first, "name": "once", "command_id": "create-1"}
    made, again = api("POST", "/conferences", json=create), api("POST", "/conferences", json=create)
    assert made.status_code == again.status_code == 200 and made.json() == again.json()
    assert len(events.of("conference.created")) == 1
    caller = answered_call(world, from_="+15550004444")
    for _ in range(2):
        response = api("POST", f"/calls/{caller}/actions/enqueue", json={"queue_name": "q", "command_id": "enq-1"})
        assert response.status_code == 200 and response.json() == {"data": {"result": "ok"}}
    assert len(events.of("call.enqueued")) == 1
    end = {"command_id": "end-1"}
    conference = made.json()["data"]["id"]
    assert api("POST", f"/conferences/{conference}/actions/end", json=end).status_code == 200
    assert api("POST", f"/conferences/{conference}/actions/end", json=end).status_code == 200
    assert len(events.of("conference.ended")) == 1
    assert error_of(api("POST", f"/conferences/{conference}/actions/end", json={"command_id": "end-2"}))[
        "code"] == "90019"


def test_a_repeated_dial_returns_the_same_leg(api, world):
    dial = {"connection_id": world.connection_id, "to": "+15550002222", "from": "+15559990000", "command_id": "d-1"}
    assert api("POST", "/calls", json=dial).json() == api("POST", "/calls", json=dial).json()
    assert len(world.snapshot()["calls"]) == 1


# -- raw wire: REST chaos ------------------------------------------------------------------------------------

def test_a_429_fault_says_when_to_retry(api, chaos):
    chaos.fail_next("429")
    limited = api("GET", "/queues")
    error = error_of(limited)
    assert (limited.status_code, error["code"], error["title"]) == (429, "10011", "Too many requests")
    assert limited.headers["Retry-After"] == "1"
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= {h.lower() for h in limited.headers}
    assert api("GET", "/queues").status_code == 200


def test_a_500_fault_has_an_errors_body(api, chaos):
    chaos.fail_next("500", 2)
    assert [api("GET", "/queues").status_code for _ in range(3)] == [500, 500, 200]


def test_a_500_fault_does_not_run_the_command(api, chaos, world, events):
    caller = answered_call(world)
    chaos.fail_next("500")
    assert api("POST", f"/calls/{caller}/actions/hangup", json={}).status_code == 500
    assert events.of("call.hangup") == []


def test_a_timeout_fault_holds_the_request_then_answers_503(api, chaos):
    chaos.update(timeout_seconds=0.3)
    chaos.fail_next("timeout")
    started = time.monotonic()
    response = api("GET", "/queues")
    assert time.monotonic() - started >= 0.3
    assert (response.status_code, error_of(response)["code"]) == (503, "10007")


def test_chaos_does_not_touch_the_debug_routes(root, chaos):
    chaos.fail_next("500")
    assert requests.get(f"{root}/_sim/state", timeout=5).status_code == 200
    assert chaos.as_dict()["pending_rest_faults"] == ["500"]


# -- debug routes ---------------------------------------------------------------------------------------------

def test_debug_routes_drive_calls_without_a_key(root, world, events):
    made = requests.post(f"{root}/_sim/calls", json={"from": "+15550001111", "to": "+15559990000"}, timeout=5)
    ccid = made.json()["call_control_id"]
    for stimulus in ("answer", "talk", "hangup"):
        assert requests.post(f"{root}/_sim/calls/{ccid}/{stimulus}", timeout=5).json() == {"result": "ok"}
    assert events.types() == ["call.initiated", "call.answered", "call.hangup"]
    assert requests.get(f"{root}/_sim/state", timeout=5).json()["calls"][ccid]["is_alive"] is False


def test_the_chaos_route_reads_and_sets_knobs(root, chaos):
    response = requests.post(f"{root}/_sim/chaos", json={"drop": 0.5, "fail_next": "429", "count": 2}, timeout=5)
    assert response.json()["drop"] == 0.5 and chaos.as_dict()["pending_rest_faults"] == ["429", "429"]
    assert requests.post(f"{root}/_sim/chaos", json={"drop": 7}, timeout=5).status_code == 422
    assert requests.post(f"{root}/_sim/chaos", json={"clear": True}, timeout=5).json()["drop"] == 0.0


def test_recording_urls_serve_the_wav(api, world, clock, events):
    conference = world.create_conference(answered_call(world), "recorded")["id"]
    assert api("POST", f"/conferences/{conference}/actions/record_start", json={"format": "wav"}).status_code == 200
    clock.advance(2)
    assert api("POST", f"/conferences/{conference}/actions/record_stop", json={}).status_code == 200
    url = events.payloads("conference.recording.saved")[0]["recording_urls"]["wav"]
    assert url.startswith(api.root + "/_sim/recordings/")
    response = requests.get(url, timeout=5)
    assert response.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as recording:
        assert recording.getnframes() == 2 * recording.getframerate()


# -- robustness: no request body makes the simulator fail with a 500 ---------------------------------------------

FIELD_NAMES = sorted({name for rules in SCHEMAS.values() for name in rules} | {"from_", "id", "data"})
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
BODIES = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), JSON_VALUES, max_size=6)
ACTION_NAMES = sorted(ACTIONS)


@pytest.fixture
def test_client(world):
    scene_legs = {"leg": answered_call(world)}
    conference = world.create_conference(scene_legs["leg"], "fuzz")
    world.create_queue("fuzz-queue")
    queued = answered_call(world, from_="+15550000009")
    world.enqueue(queued, "fuzz-queue")
    app = create_rest_app(world, Chaos(), api_key=None)
    return app.test_client(), {"conference": conference["id"], "leg": scene_legs["leg"], "queued": queued}


ROUTES = [("POST", "/calls"), ("POST", "/calls/{leg}/actions/hangup"), ("POST", "/calls/{leg}/actions/enqueue"),
          ("POST", "/calls/{queued}/actions/leave_queue"), ("POST", "/conferences"), ("POST", "/queues"),
          ("POST", "/queues/fuzz-queue"), ("PATCH", "/queues/fuzz-queue/calls/{queued}"),
          ("PATCH", "/conferences/{conference}/participants/{leg}")]
ROUTES += [("POST", f"/conferences/{{conference}}/actions/{action}") for action in ACTION_NAMES]


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_no_body_ever_causes_a_500(test_client, method, path, body):
    client, scene = test_client
    response = client.open(path="/v2" + path.format(**scene), method=method, data=json.dumps(body),
                           content_type="application/json")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert undocumented(response.status_code, response.get_json()["errors"][0]["code"]) is None
