"""Speaking a message to one queued caller at breach: the client command, the simulator's call-level
speak (wire, webhooks, who hears it), the console's route, and the dashboard's KPI formulas."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import telnyx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telnyx import Telnyx

from console import create_app
from console.access.users import add_user
from console.queues.kpis import FORMULAS
from console.simulator.app import create_rest_app
from console.simulator.chaos import Chaos
from console.state.timeline import timeline
from console.telnyx.client import TelnyxClient
from console.telnyx.errors import RateLimitError
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.recording_server import RecordingServer, Reply
from tests.signing_in import csrf_client, signed_in_client
from tests.sim_fixtures import EventLog, answered_call, listening_world, serving
from tests.waiting import wait_for

API_KEY = "KEY-speak-0123456789"
SUPPORT_LINE = "+18005550100"
MESSAGE = "Thank you for waiting. An agent will be with you shortly."
HTMX = {"HX-Request": "true"}


# -- the client ---------------------------------------------------------------------------------------

@pytest.fixture
def recording_server():
    server = RecordingServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_client_speaks_to_one_call_and_retries_with_the_same_command_id(recording_server):
    recording_server.reply(Reply(429, {"errors": [{"code": "10011", "title": "Too many requests"}]},
                                 {"retry-after-ms": "10"}), Reply(200, {"data": {"result": "ok"}}))
    retries = []
    with TelnyxClient(API_KEY, recording_server.url + "/v2", on_retry=lambda *a: retries.append(a)) as client:
        assert client.speak_to_call("v3:queued/caller", MESSAGE, "female", language="en-US") == {"result": "ok"}
    first, second = recording_server.requests
    assert (first.method, first.path) == ("POST", "/v2/calls/v3:queued%2Fcaller/actions/speak")
    body = first.json
    assert body == second.json
    assert uuid.UUID(body.pop("command_id")).version == 4
    assert body == {"payload": MESSAGE, "voice": "female", "language": "en-US"}
    assert [type(error) for _, _, error in retries] == [RateLimitError]


# -- the simulated world --------------------------------------------------------------------------------

@pytest.fixture
def world(clock, events):
    return listening_world(clock, events, seed=8)


def queued_caller(world, queue="Support", number="+15550002000") -> str:
    leg = answered_call(world, from_=number, to=SUPPORT_LINE)
    world.enqueue(leg, queue)
    return leg


def test_a_message_is_heard_by_that_caller_only_and_ends_after_its_words(world, clock, events):
    caller, neighbour = queued_caller(world), queued_caller(world, number="+15550003000")
    assert world.speak_to_call(caller, payload="one two three four five", voice="female") == {"result": "ok"}
    (started,) = events.of("call.speak.started")
    assert set(started["data"]["payload"]) == {"call_control_id", "call_leg_id", "call_session_id",
                                               "client_state", "connection_id"}
    assert started["data"]["payload"]["call_control_id"] == caller and started["data"]["occurred_at"]
    assert world.speech_heard_by(caller) == "one two three four five"
    assert world.speech_heard_by(neighbour) is None
    clock.advance(1.9)
    world.tick()
    assert events.of("call.speak.ended") == []
    clock.advance(0.1)  # five words at 0.4 s each
    world.tick()
    assert events.payloads("call.speak.ended")[0]["status"] == "completed"
    assert world.speech_heard_by(caller) is None
    assert world.snapshot()["queue_calls"]["Support"][caller]["queue_position"] == 1  # still in line


def test_messages_sent_back_to_back_play_one_after_another(world, clock, events):
    caller = queued_caller(world)
    world.speak_to_call(caller, payload="first", voice="female")
    world.speak_to_call(caller, payload="second", voice="male", client_state="c2Vjb25k")
    assert len(events.of("call.speak.started")) == 1
    clock.advance(1)
    world.tick()
    assert events.types()[-2:] == ["call.speak.ended", "call.speak.started"]
    assert world.speech_heard_by(caller) == "second"
    assert events.payloads("call.speak.started")[-1]["client_state"] == "c2Vjb25k"


def test_hanging_up_cuts_the_message_short_and_drops_the_ones_waiting(world, clock, events):
    caller = queued_caller(world)
    world.speak_to_call(caller, payload="a long message for the caller", voice="female")
    world.speak_to_call(caller, payload="never heard", voice="female")
    world.remote_hangup(caller)
    clock.advance(60)
    world.tick()
    assert [p["status"] for p in events.payloads("call.speak.ended")] == ["call_hangup"]
    assert len(events.of("call.speak.started")) == 1
    assert events.types().index("call.hangup") < events.types().index("call.speak.ended")


def test_the_same_command_id_speaks_once(world, events):
    caller = queued_caller(world)
    for _ in range(2):
        world.speak_to_call(caller, payload="once", voice="female", command_id="click-1")
    assert len(events.of("call.speak.started")) == 1


# -- the simulator over HTTP, driven by the official SDK ------------------------------------------------------

@pytest.fixture
def root(world):
    with serving(create_rest_app(world, Chaos(), api_key=API_KEY)) as url:
        yield url


@pytest.fixture
def sdk(root):
    return Telnyx(api_key=API_KEY, base_url=f"{root}/v2", max_retries=0)


def test_sdk_speaks_to_a_queued_caller(sdk, world, events):
    caller = queued_caller(world)
    answer = sdk.calls.actions.speak(caller, payload=MESSAGE, voice="AWS.Polly.Joanna-Neural", language="en-US",
                                     payload_type="text", service_level="premium")
    assert answer.data.result == "ok"
    assert events.payloads("call.speak.started")[0]["call_control_id"] == caller


def refusal(call) -> dict:
    with pytest.raises(telnyx.UnprocessableEntityError) as refused:
        call()
    return refused.value.body["errors"][0]


def test_sdk_sees_telnyx_style_refusals(sdk, world, events):
    caller = queued_caller(world)
    too_long = refusal(lambda: sdk.calls.actions.speak(caller, payload="x" * 3001, voice="female"))
    assert (too_long["code"], too_long["source"]["pointer"]) == ("10033", "/payload")
    blank = refusal(lambda: sdk.calls.actions.speak(caller, payload="  ", voice="female"))
    assert (blank["code"], blank["source"]["pointer"]) == ("10004", "/payload")
    no_voice = refusal(lambda: sdk.calls.actions.speak(caller, payload="hi", voice=""))
    assert (no_voice["code"], no_voice["source"]["pointer"]) == ("10004", "/voice")
    unknown = refusal(lambda: sdk.calls.actions.speak("v3:nobody", payload="hi", voice="female"))
    assert (unknown["code"], unknown["source"]) == ("90015", {"parameter": "call_control_id"})
    world.remote_hangup(caller)
    assert refusal(lambda: sdk.calls.actions.speak(caller, payload="hi", voice="female"))["code"] == "90018"
    assert events.of("call.speak.started") == []


JSON_VALUES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12) \
    | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
SPEAK_FIELDS = st.sampled_from(["payload", "voice", "language", "payload_type", "service_level", "target_legs",
                                "loop", "voice_settings", "client_state", "command_id", "self"]) | st.text(max_size=8)


@pytest.fixture
def rest_client(world):
    """The REST app without a key, in process, and a queued caller to speak to."""
    return create_rest_app(world, Chaos(), api_key=None).test_client(), queued_caller(world)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(SPEAK_FIELDS, JSON_VALUES, max_size=6))
def test_no_speak_body_causes_a_500(rest_client, body):
    client, caller = rest_client
    answer = client.post(f"/v2/calls/{caller}/actions/speak", data=json.dumps(body), content_type="application/json")
    assert answer.status_code in (200, 422), answer.get_data(as_text=True)
    if answer.status_code == 422:
        assert answer.get_json()["errors"][0]["code"]


# -- the console's breach action -----------------------------------------------------------------------

def caller_waiting(simulator, live_console, queue="Support", number="+15550002000") -> str:
    leg = queued_caller(simulator.world, queue, number)
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: any(q["call_control_id"] == leg for q in store.queue_calls(queue)),
             message="the queued caller never reached the console")
    return leg


@pytest.fixture
def heard(simulator):
    log = EventLog()
    simulator.world.subscribe(log)
    return log


def speak_url(leg: str, queue: str = "Support") -> str:
    return f"/queues/{queue}/calls/{leg}/speak"


def test_the_breach_actions_offer_the_message_with_a_default(live_console, simulator):
    leg = caller_waiting(simulator, live_console)
    html = csrf_client(live_console.app).get(f"/queues/Support/calls/{leg}/breach-actions",
                                              headers=HTMX).get_data(as_text=True)
    form = re.search(r'<form[^>]+action="[^"]*' + re.escape(speak_url(leg)) + r'".*?</form>', html, re.DOTALL)
    assert form, "no speak form for the queued caller"
    assert f'value="{MESSAGE}"' in form.group(0) and 'maxlength="3000" required' in form.group(0)
    assert 'name="csrf_token"' in form.group(0) and ">Speak to caller</button>" in form.group(0)


@pytest.mark.parametrize("payload, says", [("", "Type the message"), ("   ", "Type the message"),
                                           ("x" * 3001, "3001 characters; Telnyx speaks at most 3000")])
def test_an_empty_or_too_long_message_is_refused_and_nothing_is_sent(live_console, simulator, heard, payload, says):
    leg = caller_waiting(simulator, live_console)
    answer = csrf_client(live_console.app).post(speak_url(leg), data={"payload": payload}, headers=HTMX)
    assert answer.status_code == 422
    assert says in answer.get_data(as_text=True)
    assert heard.of("call.speak.started") == [] and simulator.world.speech_heard_by(leg) is None


def test_speaking_reaches_the_caller_and_the_console_keeps_the_webhooks(live_console, simulator, heard):
    leg = caller_waiting(simulator, live_console)
    other = caller_waiting(simulator, live_console, number="+15550003000")
    client = csrf_client(live_console.app)
    answer = client.post(speak_url(leg), data={"payload": "Hold on, Ada is coming."}, headers=HTMX)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "Speaking your message to the caller; they keep their place in Support." in answer.get_data(as_text=True)
    assert simulator.world.speech_heard_by(leg) == "Hold on, Ada is coming."
    assert simulator.world.speech_heard_by(other) is None
    assert heard.payloads("call.speak.started")[0]["call_control_id"] == leg
    store = live_console.app.extensions["console.store"]
    logged = wait_for(lambda: [e.event_type for e in store.logged_events_about(call_control_id=leg)
                               if e.event_type.startswith("call.speak.")] == ["call.speak.started", "call.speak.ended"]
                      and store.logged_events_about(call_control_id=leg), timeout=10,
                      message="the console did not keep call.speak.started and call.speak.ended")
    assert [q["call_control_id"] for q in store.queue_calls("Support")] == [leg, other]  # the queue is untouched
    steps = [step.text for step in timeline(leg, logged)]
    assert "A message began playing to the caller" in steps and "Message to the caller finished" in steps
    [entry] = wait_for(lambda: store.audit_entries(action="breach.speak_to_queued_call"), message="not audited")
    assert (entry["result"], entry["call_control_id"]) == ("ok", leg)
    assert entry["parameters"] == {"payload": "Hold on, Ada is coming."}
    confirmed = wait_for(lambda: store.audit_entries(action="breach.speak_to_queued_call")[0]["confirmed_by"],
                         message="the audit entry was not linked to call.speak.started")
    assert confirmed in [e.id for e in logged if e.event_type == "call.speak.started"]


def test_a_caller_who_hung_up_gets_telnyxs_refusal(live_console, simulator, heard):
    leg = caller_waiting(simulator, live_console)
    simulator.world.remote_hangup(leg)
    answer = csrf_client(live_console.app).post(speak_url(leg), data={"payload": MESSAGE}, headers=HTMX)
    assert answer.status_code == 422
    assert "Telnyx refused (HTTP 422, code 90018)" in answer.get_data(as_text=True)
    store = live_console.app.extensions["console.store"]
    [entry] = wait_for(lambda: store.audit_entries(action="breach.speak_to_queued_call"), message="not audited")
    assert entry["result"] == "refused by Telnyx" and entry["error"].startswith("Telnyx refused (HTTP 422")


@pytest.fixture
def console_on_recorder(tmp_path, recording_server):
    """A console whose Telnyx is a recording server, with a provider voice for caller messages."""
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "speak-tests",
                      "TELNYX_BASE_URL": recording_server.url + "/v2", "TELNYX_API_KEY": API_KEY,
                      "CONSOLE_CALLER_MESSAGE_VOICE": "AWS.Polly.Joanna-Neural"})
    for name, role in (("vera", "viewer"), ("sam", "supervisor")):
        add_user(app.extensions["console.store"], name, role, "correct horse battery")
    try:
        yield app
    finally:
        app.extensions["console.hub"].stop()
        app.extensions["console.store"].close()


def test_a_supervisor_speaks_with_the_configured_voice(console_on_recorder, recording_server):
    supervisor = signed_in_client(console_on_recorder, "sam", "correct horse battery")
    answer = supervisor.post(speak_url("v3:leg-1"), data={"payload": f"  {MESSAGE} "}, headers=HTMX)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    (sent,) = recording_server.requests
    assert sent.path == "/v2/calls/v3:leg-1/actions/speak"
    assert {k: v for k, v in sent.json.items() if k != "command_id"} == {"payload": MESSAGE,
                                                                       "voice": "AWS.Polly.Joanna-Neural"}


def test_a_viewer_cannot_speak_to_a_caller(console_on_recorder, recording_server):
    viewer = signed_in_client(console_on_recorder, "vera", "correct horse battery")
    answer = viewer.post(speak_url("v3:leg-1"), data={"payload": MESSAGE}, headers=HTMX)
    assert answer.status_code == 403
    assert "a viewer" in answer.get_data(as_text=True)
    assert recording_server.requests == []


# -- the dashboard's headline figures carry their formulas ---------------------------------------------------

def test_every_dashboard_kpi_tile_carries_its_formula(console_on_recorder):
    html = signed_in_client(console_on_recorder, "vera", "correct horse battery").get("/").get_data(as_text=True)
    slots = [(title, key) for key, title in
             re.findall(r'<div class="kpi kpi-([a-z_]+)" id="[^"]+" title="([^"]*)"', html)]
    tiles = re.findall(r'<div class="kpi kpi-([a-z_]+)"', html)
    assert [key for _, key in slots] == tiles and len(tiles) == 4
    formulas = {key: title for title, key in slots}
    assert all(title.strip() for title in formulas.values()), formulas
    assert formulas["waiting"] == FORMULAS["waiting"] and formulas["longest_wait"] == FORMULAS["longest_wait"]
    for title in formulas.values():
        assert f"How it is counted: {title}" in html  # the same words for screen readers
