"""Audio truth: who hears whom in a conference, for every supervisor role, with mute and hold."""

from __future__ import annotations

import random

import pytest
import requests

from console.simulator.app import create_rest_app
from console.simulator.audio import audio_paths
from console.simulator.chaos import Chaos
from console.simulator.world import World
from tests.sim_fixtures import ManualClock, answered_call, serving

ROLES = ("none", "barge", "monitor", "whisper")


@pytest.fixture
def world():
    return World(clock=ManualClock(), rng=random.Random(11))


@pytest.fixture
def room(world):
    """A customer and an agent in a conference, plus a supervisor line ready to join."""
    customer = answered_call(world, from_="+15550000001")
    conference = world.create_conference(customer, "call-42")
    agent = answered_call(world, from_="+15550000002")
    world.conference_action(conference["id"], "join", {"call_control_id": agent, "label": "agent"})
    supervisor = answered_call(world, from_="+15550000003")
    return conference["id"], customer, agent, supervisor


def join_supervisor(world, conference_id, supervisor, role, *, targets=(), mute=False, hold=False):
    world.conference_action(conference_id, "join", {
        "call_control_id": supervisor, "supervisor_role": role, "whisper_call_control_ids": list(targets),
        "mute": mute, "hold": hold})


def hears(world, conference_id) -> dict[str, set[str]]:
    return {listener: set(speakers) for listener, speakers in world.audio_paths(conference_id)["hears"].items()}


@pytest.mark.parametrize("muted", [False, True], ids=["unmuted", "muted"])
@pytest.mark.parametrize("held", [False, True], ids=["live", "held"])
@pytest.mark.parametrize("role", ROLES)
def test_who_hears_the_supervisor(world, room, role, muted, held):
    conference_id, customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, role, targets=[agent], mute=muted, hold=held)
    paths = hears(world, conference_id)
    speaks = not muted and not held
    assert (supervisor in paths[customer]) == (speaks and role in ("none", "barge"))
    assert (supervisor in paths[agent]) == (speaks and role in ("none", "barge", "whisper"))
    assert paths[supervisor] == (set() if held else {customer, agent}), "every role hears the room"
    assert paths[customer] - {supervisor} == {agent} and paths[agent] - {supervisor} == {customer}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("change", ["mute", "hold"])
def test_a_muted_or_held_customer_is_heard_by_nobody(world, room, role, change):
    conference_id, customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, role, targets=[agent])
    world.conference_action(conference_id, change, {"call_control_ids": [customer]})
    paths = hears(world, conference_id)
    assert all(customer not in speakers for speakers in paths.values())
    assert (paths[customer] == set()) == (change == "hold"), "only hold also stops the customer hearing"


def test_a_whisper_never_reaches_the_customer(world, room):
    conference_id, customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, "monitor")
    assert supervisor not in hears(world, conference_id)[agent]
    world.conference_action(conference_id, "update", {"call_control_id": supervisor, "supervisor_role": "whisper",
                                                      "whisper_call_control_ids": [agent]})
    paths = hears(world, conference_id)
    assert supervisor in paths[agent] and supervisor not in paths[customer]
    world.conference_action(conference_id, "update", {"call_control_id": supervisor, "supervisor_role": "barge"})
    assert supervisor in hears(world, conference_id)[customer]


def test_whisper_reaches_every_target_and_only_them(world, room):
    conference_id, _customer, agent, supervisor = room
    trainee = answered_call(world, from_="+15550000004")
    world.conference_action(conference_id, "join", {"call_control_id": trainee})
    join_supervisor(world, conference_id, supervisor, "whisper", targets=[agent, trainee])
    paths = hears(world, conference_id)
    assert {listener for listener, speakers in paths.items() if supervisor in speakers} == {agent, trainee}


def test_a_whisper_without_targets_is_a_monitor(world, room):
    conference_id, customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, "whisper")
    paths = hears(world, conference_id)
    assert all(supervisor not in speakers for speakers in paths.values())
    assert paths[supervisor] == {customer, agent}


def test_participants_who_left_are_left_out(world, room):
    conference_id, customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, "barge")
    world.conference_action(conference_id, "leave", {"call_control_id": supervisor})
    truth = world.audio_paths(conference_id)
    assert [p["call_control_id"] for p in truth["participants"]] == [customer, agent]
    assert supervisor not in truth["hears"]


def test_the_truth_names_roles_labels_and_flags(world, room):
    conference_id, _customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, "monitor", mute=True)
    truth = world.audio_paths(conference_id)
    assert truth["conference_id"] == conference_id
    by_leg = {p["call_control_id"]: p for p in truth["participants"]}
    assert by_leg[agent]["label"] == "agent"
    assert (by_leg[supervisor]["supervisor_role"], by_leg[supervisor]["muted"]) == ("monitor", True)
    assert all(truth["hears"][listener] == sorted(truth["hears"][listener]) for listener in truth["hears"])


def test_the_model_alone_is_symmetric_for_plain_participants():
    plain = [{"call_control_id": name, "supervisor_role": "none", "muted": False, "on_hold": False,
              "whisper_call_control_ids": []} for name in ("a", "b", "c")]
    assert audio_paths("conf", plain)["hears"] == {"a": ["b", "c"], "b": ["a", "c"], "c": ["a", "b"]}


def test_the_debug_route_serves_the_truth(world, room):
    conference_id, customer, agent, supervisor = room
    join_supervisor(world, conference_id, supervisor, "whisper", targets=[agent])
    with serving(create_rest_app(world, Chaos(), api_key="secret")) as root:
        response = requests.get(f"{root}/_sim/conferences/{conference_id}/audio", timeout=5)
    assert response.status_code == 200
    assert response.json() == world.audio_paths(conference_id)
    assert supervisor not in response.json()["hears"][customer]
