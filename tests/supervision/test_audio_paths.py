"""The console's own who-hears-whom equals the simulator's audio truth, for every role, mute and hold."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest

from console.agents.roles import LegRole
from console.simulator import audio as simulator_audio
from console.simulator.world import World
from console.state.store import Store
from console.supervision import audio_paths as console_audio
from console.telnyx.events import console_event, parse_event
from tests.sim_fixtures import ManualClock, answered_call

ROLES = ("none", "monitor", "whisper", "barge")
PEOPLE = ("c1", "c2", "c3", "c4")


def states_of(me: str, others: tuple[str, ...]):
    """Every state one participant can be in: role x mute x hold, and for a whisper every target set."""
    for role, muted, on_hold in itertools.product(ROLES, (False, True), (False, True)):
        target_sets = [()]
        if role == "whisper":
            target_sets = [combo for size in range(len(others) + 1) for combo in itertools.combinations(others, size)]
        for targets in target_sets:
            yield {"call_control_id": me, "supervisor_role": role, "muted": muted, "on_hold": on_hold,
                   "whisper_call_control_ids": list(targets)}


def as_read_model(state: dict) -> dict:
    """The row the console's store would hold: an unset role is None, a stale whisper list may linger."""
    role = state["supervisor_role"]
    return {**state, "display_name": state["call_control_id"].upper(),
            "supervisor_role": None if role == "none" else role,
            "whisper_call_control_ids": state["whisper_call_control_ids"] if role == "whisper" else ["c1", "c2"]}


def mismatches(rooms) -> list:
    wrong = []
    for room in rooms:
        truth = simulator_audio.audio_paths("conf", [dict(p) for p in room])["hears"]
        ours = console_audio.audio_paths([as_read_model(p) for p in room]).hears
        if ours != truth:
            wrong.append((room, truth, ours))
    return wrong


FIRST_OF_THREE = list(states_of("c1", ("c2", "c3")))


@pytest.mark.parametrize("first", FIRST_OF_THREE,
                         ids=[f"{s['supervisor_role']}-{'muted' if s['muted'] else 'open'}-"
                              f"{'held' if s['on_hold'] else 'live'}-{'+'.join(s['whisper_call_control_ids']) or 'none'}"
                              for s in FIRST_OF_THREE])
def test_three_participants_every_role_mute_hold_and_whisper_target(first):
    rooms = ((first, second, third)
             for second in states_of("c2", ("c1", "c3"))
             for third in states_of("c3", ("c1", "c2")))
    assert mismatches(rooms) == []


def four_person_state(me: str, role: str, muted: bool, on_hold: bool) -> dict:
    """A whisper in a room of four reaches the next two people round the table."""
    index = PEOPLE.index(me)
    targets = [PEOPLE[(index + 1) % 4], PEOPLE[(index + 2) % 4]] if role == "whisper" else []
    return {"call_control_id": me, "supervisor_role": role, "muted": muted, "on_hold": on_hold,
            "whisper_call_control_ids": targets}


SIXTEEN = list(itertools.product(ROLES, (False, True), (False, True)))


@pytest.mark.parametrize("first", SIXTEEN, ids=[f"{r}-{'muted' if m else 'open'}-{'held' if h else 'live'}"
                                                 for r, m, h in SIXTEEN])
def test_four_participants_every_role_mute_and_hold(first):
    rooms = ((four_person_state("c1", *first),
              *(four_person_state(person, *state) for person, state in zip(PEOPLE[1:], rest)))
             for rest in itertools.product(SIXTEEN, repeat=3))
    assert mismatches(rooms) == []


# --- sentences and the diagram agree with the paths ----------------------------------------------


def sample_rooms(count: int, seed: int = 5):
    rng = random.Random(seed)
    for _ in range(count):
        size = rng.choice((2, 3, 4))
        people = PEOPLE[:size]
        room = []
        for person in people:
            role = rng.choice(ROLES)
            others = [p for p in people if p != person]
            targets = rng.sample(others, rng.randint(0, len(others))) if role == "whisper" else []
            room.append({"call_control_id": person, "display_name": person.upper(), "supervisor_role": role,
                         "muted": rng.random() < .3, "on_hold": rng.random() < .2, "whisper_call_control_ids": targets})
        yield room


@pytest.mark.parametrize("room", list(sample_rooms(60)))
def test_hearing_sentence_names_exactly_who_hears_you(room):
    paths = console_audio.audio_paths(room)
    for person in paths.parties:
        heard = console_audio.hearing(paths, person.call_control_id)
        listeners = sorted(p for p, speakers in paths.hears.items() if person.call_control_id in speakers)
        assert sorted(heard.heard_by) == listeners
        deaf = [p.call_control_id for p in paths.parties if p != person and p.call_control_id not in listeners]
        if listeners:
            assert "hears you" in heard.microphone or "hear you" in heard.microphone
            for name in paths.names(listeners):
                assert name in heard.microphone
            if deaf:  # and who does not hear them, by name (rooms here are small enough to name everyone)
                said_not = heard.microphone.split(";", 1)[1]
                assert said_not.endswith(" does not" if len(deaf) == 1 else " do not")
                assert all(name in said_not for name in paths.names(deaf))
        else:
            assert "nobody hears you" in heard.microphone


def labelled_room(*people: tuple[str, str | None, dict]) -> console_audio.AudioPaths:
    """A room of (name, role kind or None, state) people; the first is "you"."""
    rows = []
    for index, (name, kind, state) in enumerate(people):
        rows.append({"call_control_id": f"c{index}", "display_name": name, "supervisor_role": None, "muted": False,
                     "on_hold": False, "whisper_call_control_ids": [],
                     "leg_role": LegRole(kind) if kind else None, **state})
    return console_audio.audio_paths(rows)


def test_the_statement_names_who_hears_you_and_who_does_not_with_their_roles():
    whisper = {"supervisor_role": "whisper", "whisper_call_control_ids": ["c1"]}
    paths = labelled_room(("Sam", "supervisor", whisper), ("Alice", "agent", {}), ("Carol", "customer", {}))
    assert console_audio.hearing(paths, "c0").microphone == "Alice (agent) hears you; Carol (customer) does not"
    assert console_audio.hearing(paths, "c0").listening == "You hear: Alice (agent) and Carol (customer)"
    barge = labelled_room(("Sam", "supervisor", {"supervisor_role": "barge"}), ("Alice", "agent", {}),
                          ("Carol", "customer", {}))
    assert console_audio.hearing(barge, "c0").microphone == "Everyone hears you: Alice (agent) and Carol (customer)"
    held = labelled_room(("Sam", "supervisor", {"supervisor_role": "barge"}), ("Alice", "agent", {}),
                         ("Carol", "customer", {"on_hold": True}), ("Dan", None, {}))
    assert console_audio.hearing(held, "c0").microphone == "Alice (agent) and Dan hear you; Carol (customer) does not"
    alone = labelled_room(("Sam", "supervisor", {"supervisor_role": "barge"}), ("Alice", "agent", {}))
    assert console_audio.hearing(alone, "c0").microphone == "Alice (agent) hears you"


def test_a_crowd_that_does_not_hear_you_is_counted_past_the_first_names():
    whisper = {"supervisor_role": "whisper", "whisper_call_control_ids": ["c1"]}
    crowd = [(f"Caller {n}", "customer", {}) for n in range(2, 8)]
    paths = labelled_room(("Sam", "supervisor", whisper), ("Alice", "agent", {}), *crowd)
    assert console_audio.hearing(paths, "c0").microphone == (
        "Alice (agent) hears you; Caller 2 (customer), Caller 3 (customer), Caller 4 (customer) and 3 others do not")
    everyone = labelled_room(("Sam", "supervisor", {"supervisor_role": "barge"}), ("Alice", "agent", {}), *crowd)
    assert console_audio.hearing(everyone, "c0").microphone == "Everyone in the conference hears you (7 people)"


def test_the_silent_sentences_stay():
    for state, sentence in (({"supervisor_role": "monitor"}, "You are listening only: nobody hears you"),
                            ({"supervisor_role": "barge", "muted": True}, "You are muted: nobody hears you"),
                            ({"on_hold": True}, "You are on hold: you hear nobody and nobody hears you")):
        paths = labelled_room(("Sam", "supervisor", state), ("Alice", "agent", {}))
        assert console_audio.hearing(paths, "c0").microphone == sentence


@pytest.mark.parametrize("room", list(sample_rooms(60, seed=9)))
def test_diagram_draws_one_line_per_pair_that_hears_with_arrows_to_the_listeners(room):
    paths = console_audio.audio_paths(room)
    drawing = console_audio.diagram(paths)
    drawn = {}
    for link in drawing.links:
        a, b = link.a.call_control_id, link.b.call_control_id
        drawn[(a, b)] = link.to_b
        drawn[(b, a)] = link.to_a
    for listener, speakers in paths.hears.items():
        for speaker in speakers:
            assert drawn.get((speaker, listener)) is True, (speaker, listener)
    assert sum(drawn.values()) == sum(len(speakers) for speakers in paths.hears.values())
    for node in drawing.nodes:
        assert 0 < node.x < drawing.width and 0 < node.y < drawing.height


def test_whisper_link_is_marked_as_a_whisper_and_monitor_links_as_listening():
    room = [{"call_control_id": "customer", "display_name": "Customer"},
            {"call_control_id": "agent", "display_name": "Agent"},
            {"call_control_id": "boss", "display_name": "Boss", "supervisor_role": "whisper",
             "whisper_call_control_ids": ["agent"]}]
    kinds = {frozenset((link.a.call_control_id, link.b.call_control_id)): link.kind
             for link in console_audio.diagram(console_audio.audio_paths(room)).links}
    assert kinds == {frozenset({"customer", "agent"}): "talk", frozenset({"agent", "boss"}): "whisper",
                     frozenset({"customer", "boss"}): "listen"}


# --- through the read model: world webhooks and the console's own records into a store ------------


@pytest.fixture
def world_and_store(tmp_path):
    clock = ManualClock()
    world = World(clock=clock, rng=random.Random(3))
    store = Store(str(tmp_path / "console.db"))
    store.migrate()
    world.subscribe(lambda body: store.apply(parse_event(body)))
    yield world, store, clock
    store.close()


def record(store, clock, conference_id, call_control_id, **state):
    """What the console records after a command Telnyx accepted (Telnyx sends no webhook for these)."""
    moment = datetime.fromtimestamp(clock(), tz=UTC)
    store.apply(console_event("console.participant.updated",
                              {"conference_id": conference_id, "call_control_id": call_control_id, **state}, moment))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("agent_muted", [False, True], ids=["agent-open", "agent-muted"])
@pytest.mark.parametrize("customer_held", [False, True], ids=["customer-live", "customer-held"])
@pytest.mark.parametrize("supervisor_muted", [False, True], ids=["supervisor-open", "supervisor-muted"])
def test_read_model_paths_equal_the_simulators(world_and_store, role, agent_muted, customer_held, supervisor_muted):
    world, store, clock = world_and_store
    customer = answered_call(world, from_="+15550000001")
    conference_id = world.create_conference(customer, "call-7")["id"]
    agent = answered_call(world, from_="+15550000002")
    world.conference_action(conference_id, "join", {"call_control_id": agent})
    supervisor = answered_call(world, from_="+15550000003")
    world.conference_action(conference_id, "join", {"call_control_id": supervisor, "supervisor_role": "monitor"})
    record(store, clock, conference_id, supervisor, supervisor_role="monitor", whisper_call_control_ids=[])
    clock.advance(1)
    targets = [agent] if role == "whisper" else []
    world.conference_action(conference_id, "update", {"call_control_id": supervisor, "supervisor_role": role,
                                                      "whisper_call_control_ids": targets})
    record(store, clock, conference_id, supervisor, supervisor_role=role, whisper_call_control_ids=targets)
    for leg, action, state, wanted in ((agent, "mute", "muted", agent_muted),
                                       (customer, "hold", "on_hold", customer_held),
                                       (supervisor, "mute", "muted", supervisor_muted)):
        if wanted:
            clock.advance(1)
            world.conference_action(conference_id, action, {"call_control_ids": [leg]})
            record(store, clock, conference_id, leg, **{state: True})
    ours = console_audio.audio_paths(store.participants(conference_id)).hears
    assert ours == world.audio_paths(conference_id)["hears"]
    assert set(ours) == {customer, agent, supervisor}
