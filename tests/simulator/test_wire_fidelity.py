"""The simulator says only what the Telnyx wire documents: conference.ended reasons and error codes."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import get_args

import pytest
from telnyx.types import ConferenceEndedWebhookEvent
from telnyx.types.conference_ended import Payload as SdkConferenceEndedPayload

import console.simulator as simulator_package
from console.simulator import errors
from console.simulator.app import create_rest_app
from console.simulator.chaos import Chaos
from console.simulator.conferences import WEBHOOK_END_REASONS
from console.simulator.errors import WorldError
from tests.sim_fixtures import answered_call, listening_world
from tests.simulator.wire_facts import CONFERENCE_ENDED_REASONS, undocumented

API_KEY = "KEY-wire-fidelity"
SIMULATOR_SOURCES = sorted(Path(simulator_package.__file__).parent.glob("*.py"))


@pytest.fixture
def world(clock, events):
    return listening_world(clock, events, seed=16)


def conference_of(world, *numbers, **options):
    """A conference created by one answered leg, with one more answered leg joined per number."""
    host = answered_call(world)
    conference = world.create_conference(host, "support", **options)
    legs = [host]
    for number in numbers:
        leg = answered_call(world, from_=number)
        world.conference_action(conference["id"], "join", {"call_control_id": leg})
        legs.append(leg)
    return conference["id"], legs


def _ended_by_api(world, clock):
    conference_id, _ = conference_of(world, "+15550000002")
    world.conference_action(conference_id, "end", {})
    return conference_id


def _last_one_leaves(world, clock):
    conference_id, (host, guest) = conference_of(world, "+15550000002")
    world.conference_action(conference_id, "leave", {"call_control_id": guest})
    world.conference_action(conference_id, "leave", {"call_control_id": host})
    return conference_id


def _last_one_hangs_up(world, clock):
    conference_id, (host,) = conference_of(world)
    world.remote_hangup(host)
    return conference_id


def _last_one_kicked(world, clock):
    conference_id, (host,) = conference_of(world)
    world.hangup(host)
    return conference_id


def _host_with_end_on_exit_hangs_up(world, clock):
    conference_id, (host, _) = conference_of(world, "+15550000002")
    participant_id = world.retrieve_participant(conference_id, host)["id"]
    world.update_participant(conference_id, participant_id, end_conference_on_exit=True)
    world.remote_hangup(host)
    return conference_id


def _supervisor_with_soft_end_leaves(world, clock):
    conference_id, _ = conference_of(world)
    supervisor = answered_call(world, from_="+15550000009")
    world.conference_action(conference_id, "join", {"call_control_id": supervisor,
                                                    "soft_end_conference_on_exit": True})
    world.conference_action(conference_id, "leave", {"call_control_id": supervisor})
    return conference_id


def _time_runs_out(world, clock):
    conference_id, _ = conference_of(world, "+15550000002", duration_minutes=1)
    world.tick(clock.advance(60))
    return conference_id


WAYS_TO_END = {
    "ended via the API": (_ended_by_api, "ended_via_api", "all_left"),
    "last participant leaves": (_last_one_leaves, "all_left", "all_left"),
    "last participant hangs up": (_last_one_hangs_up, "all_left", "all_left"),
    "last participant hung up by command": (_last_one_kicked, "all_left", "all_left"),
    "host with end_conference_on_exit hangs up": (_host_with_end_on_exit_hangs_up, "host_left", "host_left"),
    "supervisor with soft_end_conference_on_exit leaves": (_supervisor_with_soft_end_leaves, "host_left",
                                                           "host_left"),
    "duration runs out": (_time_runs_out, "time_exceeded", "time_exceeded"),
}


def test_the_sdk_lists_the_same_conference_ended_reasons_as_our_copy_of_the_spec():
    reason = SdkConferenceEndedPayload.model_fields["reason"].annotation
    literals = {value for arg in get_args(reason) for value in get_args(arg)}
    assert literals == CONFERENCE_ENDED_REASONS


@pytest.mark.parametrize("way", list(WAYS_TO_END), ids=list(WAYS_TO_END))
def test_every_way_a_conference_ends_sends_a_listed_reason(world, clock, events, way):
    end, rest_reason, webhook_reason = WAYS_TO_END[way]
    conference_id = end(world, clock)

    [body] = [b for b in events.of("conference.ended") if b["data"]["payload"]["conference_id"] == conference_id]
    assert body["data"]["payload"]["reason"] == webhook_reason
    assert webhook_reason in CONFERENCE_ENDED_REASONS
    event = ConferenceEndedWebhookEvent.model_validate(body)  # the SDK's Literal refuses any other reason
    assert event.data.payload.reason == webhook_reason
    assert world.retrieve_conference(conference_id)["end_reason"] == rest_reason


def test_every_end_cause_in_the_source_maps_onto_a_listed_reason():
    source = (Path(simulator_package.__file__).parent / "conferences.py").read_text()
    causes = set(re.findall(r'_end_conference\([^,]+, "([a-z_]+)"', source))
    assert causes == {"ended_via_api", "host_left", "all_left", "time_exceeded"}, "a new way to end needs a test"
    assert {WEBHOOK_END_REASONS.get(cause, cause) for cause in causes} <= CONFERENCE_ENDED_REASONS


# -- errors --------------------------------------------------------------------------------------

def _factories():
    return [(name, function) for name, function in inspect.getmembers(errors, inspect.isfunction)
            if function.__module__ == errors.__name__ and not name.startswith("_")]


def _call_with_placeholders(function):
    """Call an error factory with a harmless value for each required argument."""
    placeholders = {"allowed": ("dual", "single"), "limit": 250}
    parameters = inspect.signature(function).parameters.items()
    arguments = {name: placeholders.get(name, "value") for name, parameter in parameters
                 if parameter.default is inspect.Parameter.empty}
    return function(**arguments)


@pytest.mark.parametrize("name", [name for name, _ in _factories()])
def test_every_error_factory_uses_a_documented_status_and_code(name):
    error = _call_with_placeholders(getattr(errors, name))
    assert isinstance(error, WorldError)
    assert undocumented(error.status, error.code) is None
    body = error.body()["errors"][0]
    assert body["code"] == error.code and body["title"] and body["detail"]


def test_no_error_is_built_outside_the_errors_module():
    builders = []
    for path in SIMULATOR_SOURCES:
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(called, "id", getattr(called, "attr", None)) == "WorldError":
                builders.append(f"{path.name}:{node.lineno}")
    assert builders == []


@pytest.fixture
def rest(world):
    chaos = Chaos()
    app = create_rest_app(world, chaos, api_key=API_KEY)
    return app.test_client(), chaos


AUTH = {"Authorization": f"Bearer {API_KEY}"}

REFUSALS = {
    "no key": lambda client, chaos: client.get("/v2/queues"),
    "wrong key": lambda client, chaos: client.get("/v2/queues", headers={"Authorization": "Bearer nope"}),
    "unknown route": lambda client, chaos: client.get("/v2/nowhere", headers=AUTH),
    "method not allowed": lambda client, chaos: client.delete("/v2/conferences", headers=AUTH),
    "body not JSON": lambda client, chaos: client.post("/v2/queues", data=b"{not json", headers=AUTH,
                                                       content_type="application/json"),
    "body not UTF-8": lambda client, chaos: client.post("/v2/queues", data=b"\xff\xfe", headers=AUTH,
                                                        content_type="application/json"),
    "body not an object": lambda client, chaos: client.post("/v2/queues", json=[1], headers=AUTH),
    "rate limited": lambda client, chaos: (chaos.fail_next("429"), client.get("/v2/queues", headers=AUTH))[1],
    "server fault": lambda client, chaos: (chaos.fail_next("500"), client.get("/v2/queues", headers=AUTH))[1],
    "held then answered": lambda client, chaos: (chaos.update(timeout_seconds=0.05), chaos.fail_next("timeout"),
                                                 client.get("/v2/queues", headers=AUTH))[2],
}


@pytest.mark.parametrize("refusal", list(REFUSALS), ids=list(REFUSALS))
def test_every_refusal_the_rest_app_answers_is_documented(rest, refusal):
    client, chaos = rest
    response = REFUSALS[refusal](client, chaos)
    assert response.status_code >= 400
    [error] = response.get_json()["errors"]
    assert undocumented(response.status_code, error["code"]) is None
