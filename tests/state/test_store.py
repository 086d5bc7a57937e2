"""The read model: each event's effect, idempotence, ordering rules, queries, and convergence."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.state.store import Store
from console.telnyx.events import (
    CONSOLE,
    Event,
    console_event,
    format_timestamp,
    parse_event,
)
from tests import event_factory as f
from tests.event_factory import at


@pytest.fixture
def store():
    store = Store(":memory:")
    store.migrate()
    yield store
    store.close()


def fresh_store() -> Store:
    store = Store(":memory:")
    store.migrate()
    return store


def ts(seconds: float) -> str:
    """A stored timestamp, `seconds` after the test epoch."""
    return format_timestamp(at(seconds))


def row(store: Store, table: str, *key: str) -> dict:
    """One entity from the canonical state."""
    entity = store.state()[table]
    for part in key:
        entity = entity[part]
    return entity


def console(event_type: str, seconds: float, event_id: str | None = None, **payload) -> Event:
    """A console event at a test time, optionally with a chosen id (for tie tests)."""
    event = console_event(event_type, payload, occurred_at=at(seconds))
    if event_id is None:
        return event
    return parse_event({"data": {"id": event_id, "event_type": event_type,
                                 "occurred_at": format_timestamp(at(seconds)), "payload": payload}}, source=CONSOLE)


def apply_all(store: Store, events) -> set[str]:
    keys: set[str] = set()
    for event in events:
        keys |= store.apply(event)
    return keys


# --- each of the 20 Telnyx event types -------------------------------------------------------------


@dataclass
class Case:
    """History before the event, the event, the columns it must leave, and keys it must return."""

    before: list[Event]
    event: Event
    expect: dict[tuple, object]
    keys: set[str] = field(default_factory=set)


def _cases() -> dict[str, Case]:
    created = f.conference_created("c1", "host", at(0))
    joined_a = f.joined("c1", "a", at(1))
    joined_b = f.joined("c1", "b", at(2))
    initiated = f.call_initiated("a", at(0.5), from_="+15550001111")
    enqueued = f.enqueued("sales", "a", at(3), position=2)
    return {
        "conference.created": Case(
            [], created,
            {("conferences", "c1", "status"): "in_progress", ("conferences", "c1", "created_at"): ts(0),
             ("conferences", "c1", "creator_call_control_id"): "host",
             ("conferences", "c1", "connection_id"): f.CONNECTION_ID},
            {"conference:c1"}),
        "conference.ended": Case(
            [created, joined_a, f.floor_changed("c1", "a", at(2))], f.conference_ended("c1", at(9), reason="host_left"),
            {("conferences", "c1", "status"): "completed", ("conferences", "c1", "ended_at"): ts(9),
             ("conferences", "c1", "end_reason"): "host_left",
             ("conferences", "c1", "floor_call_control_id"): None,
             ("participants", "c1", "a", "status"): "left", ("participants", "c1", "a", "left_at"): ts(9)},
            {"conference:c1", "participant:c1:a"}),
        "conference.floor.changed": Case(
            [created, joined_a, joined_b, f.floor_changed("c1", "a", at(3))], f.floor_changed("c1", "b", at(4)),
            {("conferences", "c1", "floor_call_control_id"): "b", ("conferences", "c1", "floor_changed_at"): ts(4)},
            {"conference:c1", "participant:c1:a", "participant:c1:b"}),
        "conference.participant.joined": Case(
            [created], joined_a,
            {("participants", "c1", "a", "status"): "joined", ("participants", "c1", "a", "joined_at"): ts(1),
             ("participants", "c1", "a", "left_at"): None, ("participants", "c1", "a", "call_leg_id"): "leg-a",
             ("participants", "c1", "a", "call_session_id"): "session-a"},
            {"participant:c1:a", "conference:c1"}),
        "conference.participant.left": Case(
            [created, joined_a], f.left("c1", "a", at(5)),
            {("participants", "c1", "a", "status"): "left", ("participants", "c1", "a", "left_at"): ts(5),
             ("participants", "c1", "a", "joined_at"): ts(1)},
            {"participant:c1:a", "conference:c1"}),
        "conference.participant.playback.started": Case(
            [created, joined_a], f.participant_media("playback", "started", "c1", "a", at(3)),
            {("participants", "c1", "a", "playing"): True,
             ("participants", "c1", "a", "playback_media"): "http://example.test/hold.wav"},
            {"participant:c1:a", "conference:c1"}),
        "conference.participant.playback.ended": Case(
            [created, joined_a, f.participant_media("playback", "started", "c1", "a", at(3))],
            f.participant_media("playback", "ended", "c1", "a", at(4)),
            {("participants", "c1", "a", "playing"): False, ("participants", "c1", "a", "playback_media"): None},
            {"participant:c1:a", "conference:c1"}),
        "conference.participant.speak.started": Case(
            [created, joined_a], f.participant_media("speak", "started", "c1", "a", at(3)),
            {("participants", "c1", "a", "speaking"): True}, {"participant:c1:a", "conference:c1"}),
        "conference.participant.speak.ended": Case(
            [created, joined_a, f.participant_media("speak", "started", "c1", "a", at(3))],
            f.participant_media("speak", "ended", "c1", "a", at(4)),
            {("participants", "c1", "a", "speaking"): False}, {"participant:c1:a", "conference:c1"}),
        "conference.playback.started": Case(
            [created], f.conference_media("playback", "started", "c1", at(3)),
            {("conferences", "c1", "playing"): True, ("conferences", "c1", "playback_media"): "announcement"},
            {"conference:c1"}),
        "conference.playback.ended": Case(
            [created, f.conference_media("playback", "started", "c1", at(3))],
            f.conference_media("playback", "ended", "c1", at(4)),
            {("conferences", "c1", "playing"): False, ("conferences", "c1", "playback_media"): None},
            {"conference:c1"}),
        "conference.speak.started": Case(
            [created], f.conference_media("speak", "started", "c1", at(3)),
            {("conferences", "c1", "speaking"): True}, {"conference:c1"}),
        "conference.speak.ended": Case(
            [created, f.conference_media("speak", "started", "c1", at(3))],
            f.conference_media("speak", "ended", "c1", at(4)),
            {("conferences", "c1", "speaking"): False}, {"conference:c1"}),
        "conference.recording.saved": Case(
            [created, console("console.conference.updated", 2, conference_id="c1", recording_state="recording")],
            f.recording_saved("c1", "r1", at(2), at(8)),
            {("recordings", "r1", "conference_id"): "c1", ("recordings", "r1", "started_at"): ts(2),
             ("recordings", "r1", "ended_at"): ts(8), ("recordings", "r1", "format"): "wav",
             ("recordings", "r1", "channels"): "single",
             ("recordings", "r1", "recording_urls"): {"mp3": None, "wav": "http://sim.test/_sim/recordings/r1.wav"},
             ("conferences", "c1", "recording_state"): None},
            {"recording:r1", "conference:c1"}),
        "call.enqueued": Case(
            [initiated], enqueued,
            {("queues", "sales", "deleted"): False, ("queues", "sales", "created_at"): ts(3),
             ("queues", "sales", "average_wait_time_secs"): 30,
             ("queue_calls", "sales", "a", "status"): "waiting", ("queue_calls", "sales", "a", "enqueued_at"): ts(3),
             ("queue_calls", "sales", "a", "entry_position"): 2},
            {"queue:sales", "queue_call:sales:a"}),
        "call.dequeued": Case(
            [initiated, enqueued], f.dequeued("sales", "a", at(15), reason="bridged", position=1, wait=12),
            {("queue_calls", "sales", "a", "status"): "left", ("queue_calls", "sales", "a", "left_at"): ts(15),
             ("queue_calls", "sales", "a", "leave_reason"): "bridged",
             ("queue_calls", "sales", "a", "wait_time_secs"): 12, ("queue_calls", "sales", "a", "last_position"): 1,
             ("queue_calls", "sales", "a", "entry_position"): 2},
            {"queue:sales", "queue_call:sales:a"}),
        "call.initiated": Case(
            [], initiated,
            {("calls", "a", "state"): "parked", ("calls", "a", "direction"): "incoming",
             ("calls", "a", "from_number"): "+15550001111", ("calls", "a", "to_number"): "+15559990000",
             ("calls", "a", "caller_id_name"): "Ada Lovelace", ("calls", "a", "start_time"): ts(0.5)},
            {"call:a"}),
        "call.answered": Case(
            [initiated], f.call_answered("a", at(1)),
            {("calls", "a", "state"): "answered", ("calls", "a", "answered_at"): ts(1),
             ("calls", "a", "from_number"): "+15550001111"},
            {"call:a"}),
        "call.hangup": Case(
            [initiated, f.call_answered("a", at(0.7)), created, joined_a, enqueued],
            f.call_hangup("a", at(20), cause="user_busy"),
            {("calls", "a", "state"): "hangup", ("calls", "a", "end_time"): ts(20),
             ("calls", "a", "hangup_cause"): "user_busy", ("calls", "a", "hangup_source"): "caller",
             ("participants", "c1", "a", "status"): "left", ("participants", "c1", "a", "left_at"): ts(20),
             ("queue_calls", "sales", "a", "status"): "left", ("queue_calls", "sales", "a", "leave_reason"): "hangup",
             ("queue_calls", "sales", "a", "left_at"): ts(20), ("queue_calls", "sales", "a", "wait_time_secs"): 17},
            {"call:a", "participant:c1:a", "conference:c1", "queue_call:sales:a", "queue:sales"}),
        "call.gather.ended": Case(
            [initiated, f.call_answered("a", at(1))], f.gather_ended("a", at(6), digits="1234#", status="valid"),
            {("calls", "a", "gather_digits"): "1234#", ("calls", "a", "gather_status"): "valid",
             ("calls", "a", "gather_ended_at"): ts(6), ("calls", "a", "state"): "answered"},
            {"call:a"}),
    }


CASES = _cases()


def test_every_telnyx_event_type_has_a_case():
    assert len(CASES) == 20
    assert {case.event.event_type for case in CASES.values()} == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_event_type_sets_documented_state(store, name):
    case = CASES[name]
    apply_all(store, case.before)
    keys = store.apply(case.event)
    for (table, *path), expected in case.expect.items():
        assert row(store, table, *path[:-1])[path[-1]] == expected, (table, *path)
    assert keys == case.keys


@pytest.mark.parametrize("name", CASES)
def test_event_type_applied_out_of_order_converges(name):
    case = CASES[name]
    in_order, reversed_order = fresh_store(), fresh_store()
    apply_all(in_order, [*case.before, case.event])
    apply_all(reversed_order, [case.event, *reversed(case.before), case.event])
    assert reversed_order.state() == in_order.state()


# --- idempotence and ordering -----------------------------------------------------------------


def test_duplicate_event_returns_no_keys_and_adds_no_row(store):
    event = f.joined("c1", "a", at(1))
    assert store.apply(event) == {"participant:c1:a", "conference:c1"}
    before = store.state()
    assert store.apply(event) == set()
    assert store.apply(f.event(event.event_type, at(1), event.id, **event.payload)) == set()
    assert store.event_count() == 1
    assert store.state() == before


def test_late_joined_after_left_does_not_resurrect(store):
    store.apply(f.left("c1", "a", at(5)))
    assert store.apply(f.joined("c1", "a", at(1))) >= set()
    participant = row(store, "participants", "c1", "a")
    assert (participant["status"], participant["left_at"], participant["joined_at"]) == ("left", ts(5), ts(1))
    assert store.participants("c1") == []


def test_rejoin_after_leave_is_joined_again(store):
    apply_all(store, [f.joined("c1", "a", at(1)), f.left("c1", "a", at(2)), f.joined("c1", "a", at(3))])
    participant = row(store, "participants", "c1", "a")
    assert (participant["status"], participant["left_at"], participant["joined_at"]) == ("joined", None, ts(3))


def test_late_conference_created_after_ended_does_not_reopen(store):
    store.apply(f.conference_ended("c1", at(9)))
    store.apply(f.conference_created("c1", "host", at(0)))
    conference = store.conference("c1")
    assert (conference["status"], conference["created_at"], conference["ended_at"]) == ("completed", ts(0), ts(9))
    assert store.live_conferences() == []


def test_recording_saved_after_end_does_not_reopen(store):
    apply_all(store, [f.conference_created("c1", "host", at(0)), f.conference_ended("c1", at(9))])
    store.apply(f.recording_saved("c1", "r1", at(1), at(10)))
    assert store.conference("c1")["status"] == "completed"


@pytest.mark.parametrize("order", ["joined-first", "left-first"])
def test_left_beats_joined_at_the_same_timestamp(store, order):
    events = [f.joined("c1", "a", at(3)), f.left("c1", "a", at(3))]
    apply_all(store, events if order == "joined-first" else events[::-1])
    assert row(store, "participants", "c1", "a")["status"] == "left"


@pytest.mark.parametrize("order", ["enqueued-first", "dequeued-first"])
def test_dequeued_beats_enqueued_at_the_same_timestamp(store, order):
    events = [f.enqueued("sales", "a", at(3)), f.dequeued("sales", "a", at(3))]
    apply_all(store, events if order == "enqueued-first" else events[::-1])
    assert row(store, "queue_calls", "sales", "a")["status"] == "left"


@pytest.mark.parametrize("order", ["ended-first", "created-first"])
def test_ended_beats_created_at_the_same_timestamp(store, order):
    events = [f.conference_created("c1", "h", at(3)), f.conference_ended("c1", at(3))]
    apply_all(store, events if order == "created-first" else events[::-1])
    assert store.conference("c1")["status"] == "completed"


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_greater_event_id_wins_at_equal_time_and_rank(store, order):
    events = [console("console.participant.updated", 4, "event-a", conference_id="c1", call_control_id="x", muted=True),
              console("console.participant.updated", 4, "event-b", conference_id="c1", call_control_id="x", muted=False)]
    apply_all(store, events if order == "a-first" else events[::-1])
    assert row(store, "participants", "c1", "x")["muted"] is False


def test_closing_webhook_beats_console_observation_which_beats_opening_webhook(store):
    synced_joined = console("console.participant.synced", 4, conference_id="c1", call_control_id="x", status="joined")
    apply_all(store, [f.left("c1", "x", at(4)), synced_joined])
    assert row(store, "participants", "c1", "x")["status"] == "left"
    other = fresh_store()
    synced_left = console("console.participant.synced", 4, conference_id="c1", call_control_id="x", status="left")
    apply_all(other, [synced_left, f.joined("c1", "x", at(4))])
    assert row(other, "participants", "c1", "x")["status"] == "left"


def test_event_without_any_time_never_overrides_a_timed_one(store):
    untimed = f.event("conference.participant.left", None, conference_id="c1", call_control_id="a")
    apply_all(store, [f.joined("c1", "a", at(1)), untimed])
    assert row(store, "participants", "c1", "a")["status"] == "joined"


def test_newer_mute_does_not_block_older_join(store):
    store.apply(console("console.participant.updated", 5, conference_id="c1", call_control_id="a", muted=True))
    store.apply(f.joined("c1", "a", at(1)))
    participant = row(store, "participants", "c1", "a")
    assert (participant["status"], participant["muted"]) == ("joined", True)


def test_older_setting_does_not_override_newer_one(store):
    store.apply(console("console.participant.updated", 5, conference_id="c1", call_control_id="a", on_hold=True))
    assert store.apply(console("console.participant.updated", 2, conference_id="c1", call_control_id="a",
                               on_hold=False)) == set()
    assert row(store, "participants", "c1", "a")["on_hold"] is True


# --- hangup consequences ----------------------------------------------------------------------------


def test_hangup_after_bridge_keeps_the_bridged_reason(store):
    apply_all(store, [f.enqueued("sales", "a", at(1)), f.dequeued("sales", "a", at(5), reason="bridged"),
                      f.call_hangup("a", at(30))])
    queued = row(store, "queue_calls", "sales", "a")
    assert (queued["leave_reason"], queued["left_at"]) == ("bridged", ts(5))


def test_hangup_arriving_before_enqueued_still_ends_the_wait(store):
    apply_all(store, [f.call_hangup("a", at(9)), f.enqueued("sales", "a", at(1))])
    queued = row(store, "queue_calls", "sales", "a")
    assert (queued["status"], queued["leave_reason"], queued["left_at"], queued["wait_time_secs"]) == (
        "left", "hangup", ts(9), 8)
    assert store.queue("sales")["current_size"] == 0


def test_hangup_after_leaving_keeps_the_earlier_left_at(store):
    apply_all(store, [f.joined("c1", "a", at(1)), f.call_hangup("a", at(9)), f.left("c1", "a", at(4))])
    participant = row(store, "participants", "c1", "a")
    assert (participant["status"], participant["left_at"]) == ("left", ts(4))


def test_hangup_does_not_end_a_later_join_of_the_same_leg(store):
    apply_all(store, [f.call_hangup("a", at(2)), f.joined("c1", "a", at(5))])
    assert row(store, "participants", "c1", "a")["status"] == "joined"


def test_kept_queued_call_stays_waiting_after_hangup(store):
    apply_all(store, [
        f.enqueued("sales", "a", at(1)),
        console("console.queue_call.synced", 2, queue_name="sales", call_control_id="a", keep_after_hangup=True),
        f.call_hangup("a", at(3)),
    ])
    assert [call["call_control_id"] for call in store.queue_calls("sales")] == ["a"]


def test_participant_settles_against_the_latest_observed_end():
    events = [f.conference_ended("c1", at(5)),
              console("console.participant.synced", 7, conference_id="c1", call_control_id="a", status="joined"),
              console("console.conference.synced", 9, id="c1", status="completed")]
    in_order, reversed_order = fresh_store(), fresh_store()
    apply_all(in_order, events)
    apply_all(reversed_order, events[::-1])
    assert row(in_order, "participants", "c1", "a")["status"] == "left"
    assert in_order.state() == reversed_order.state()


# --- unknown and unusable events ------------------------------------------------------------------


def test_unknown_event_type_is_logged_and_kept(store, caplog):
    event = f.event("call.machine.detection.ended", at(1), call_control_id="a")
    with caplog.at_level(logging.WARNING, logger="console.store"):
        assert store.apply(event) == set()
    assert store.has_event(event.id) and store.event_count() == 1
    assert "call.machine.detection.ended" in caplog.text
    assert store.state()["calls"] == {}


def test_known_event_without_its_ids_is_logged_and_kept(store, caplog):
    event = f.event("conference.participant.joined", at(1), call_control_id="a")
    with caplog.at_level(logging.WARNING, logger="console.store"):
        assert store.apply(event) == set()
    assert store.has_event(event.id)
    assert "conference_id" in caplog.text


def test_payload_values_of_the_wrong_type_are_ignored(store):
    event = f.event("call.initiated", at(1), call_control_id="a", **{"from": {"nested": 1}, "to": 7,
                                                                       "caller_id_name": ["x"]})
    assert store.apply(event) == {"call:a"}
    call = store.call("a")
    assert (call["from_number"], call["to_number"], call["caller_id_name"], call["state"]) == (
        None, None, None, "parked")


def test_participant_joined_for_unknown_conference_creates_it_live(store):
    store.apply(f.joined("c9", "a", at(1)))
    [live] = store.live_conferences()
    assert (live["id"], live["status"], live["participant_count"], live["created_at"]) == ("c9", "in_progress", 1, ts(1))


def test_numbers_sqlite_cannot_hold_are_ignored(store):
    """Webhook bodies holding them are refused at parse time; an Event built in code may still carry them."""
    body = f.body("call.enqueued", at(1), queue="sales", call_control_id="a", current_position=10**30)
    body["data"]["payload"]["queue_avg_wait_time_secs"] = float("nan")
    assert store.apply(parse_event(body)) == {"queue:sales", "queue_call:sales:a"}
    assert row(store, "queue_calls", "sales", "a")["entry_position"] is None
    assert row(store, "queues", "sales")["average_wait_time_secs"] is None


# --- console events ------------------------------------------------------------------------------


def test_console_participant_updated_sets_supervisor_fields(store):
    store.apply(f.joined("c1", "sup", at(1)))
    keys = store.apply(console("console.participant.updated", 2, conference_id="c1", call_control_id="sup",
                               supervisor_role="whisper", whisper_call_control_ids=["agent", "trainee"],
                               label="Supervisor Sam", muted=False, on_hold=False, end_conference_on_exit=True,
                               soft_end_conference_on_exit=False))
    assert keys == {"participant:c1:sup", "conference:c1"}
    participant = store.participants("c1")[0]
    assert participant["supervisor_role"] == "whisper"
    assert participant["whisper_call_control_ids"] == ["agent", "trainee"]
    assert (participant["label"], participant["display_name"]) == ("Supervisor Sam", "Supervisor Sam")
    assert participant["end_conference_on_exit"] is True


def test_console_participant_updated_with_null_clears_a_setting(store):
    store.apply(console("console.participant.updated", 1, conference_id="c1", call_control_id="a", label="Agent"))
    store.apply(console("console.participant.updated", 2, conference_id="c1", call_control_id="a", label=None))
    assert row(store, "participants", "c1", "a")["label"] is None


def test_console_conference_synced_fills_name_and_keeps_earliest_created_at(store):
    store.apply(f.joined("c1", "a", at(5)))
    store.apply(console("console.conference.synced", 6, id="c1", name="Escalations", status="in_progress",
                        created_at=format_timestamp(at(2)), expires_at=format_timestamp(at(14_400)),
                        region="US", record_type="conference"))
    conference = store.conference("c1")
    assert (conference["name"], conference["created_at"], conference["region"]) == ("Escalations", ts(2), "US")
    assert conference["expires_at"] == ts(14_400)


def test_console_conference_synced_completed_ends_conference_and_participants(store):
    apply_all(store, [f.conference_created("c1", "h", at(0)), f.joined("c1", "a", at(1))])
    store.apply(console("console.conference.synced", 30, id="c1", status="completed"))
    assert (store.conference("c1")["status"], store.conference("c1")["ended_at"]) == ("completed", ts(30))
    assert store.participants("c1") == []
    assert row(store, "participants", "c1", "a")["left_at"] == ts(30)


def test_console_participant_synced_reads_the_rest_participant_shape(store):
    store.apply(console("console.participant.synced", 3, record_type="participant", id="p-1",
                        call_control_id="a", call_leg_id="leg-a", conference={"id": "c1", "name": "Sales huddle"},
                        whisper_call_control_ids=[], created_at=format_timestamp(at(1)),
                        updated_at=format_timestamp(at(2)), end_conference_on_exit=False,
                        soft_end_conference_on_exit=False, status="joined", muted=True, on_hold=False))
    participant = row(store, "participants", "c1", "a")
    assert (participant["participant_id"], participant["status"], participant["muted"]) == ("p-1", "joined", True)
    assert participant["joined_at"] == ts(1)
    assert store.conference("c1")["name"] == "Sales huddle"


def test_console_participant_synced_left_ends_participant(store):
    store.apply(f.joined("c1", "a", at(1)))
    store.apply(console("console.participant.synced", 7, conference_id="c1", call_control_id="a", status="left"))
    assert (row(store, "participants", "c1", "a")["status"], row(store, "participants", "c1", "a")["left_at"]) == (
        "left", ts(7))


def test_console_queue_synced_sets_queue_but_size_stays_derived(store):
    store.apply(console("console.queue.synced", 1, record_type="queue", id="q-1", name="sales", current_size=9,
                        max_size=50, average_wait_time_secs=40, created_at=format_timestamp(at(0))))
    queue = store.queue("sales")
    assert (queue["id"], queue["max_size"], queue["average_wait_time_secs"]) == ("q-1", 50, 40)
    assert queue["current_size"] == 0


def test_console_queue_call_synced_adds_a_waiting_caller_with_numbers(store):
    store.apply(console("console.queue_call.synced", 5, record_type="queue_call", queue_name="sales",
                        call_control_id="a", call_leg_id="leg-a", call_session_id="s-a",
                        **{"from": "+15550002222", "to": "+15559990000"}, enqueued_at=format_timestamp(at(2)),
                        wait_time_secs=3, queue_position=1, queue_id="q-1", is_alive=True))
    [queued] = store.queue_calls("sales")
    assert (queued["from_number"], queued["enqueued_at"], queued["position"]) == ("+15550002222", ts(2), 1)


def test_console_queue_call_synced_left_removes_a_caller(store):
    store.apply(f.enqueued("sales", "a", at(1)))
    store.apply(console("console.queue_call.synced", 5, queue_name="sales", call_control_id="a", status="left"))
    assert store.queue_calls("sales") == []
    assert row(store, "queue_calls", "sales", "a")["left_at"] == ts(5)


def test_keep_after_hangup_setting_does_not_put_a_departed_caller_back(store):
    apply_all(store, [f.enqueued("sales", "a", at(1)), f.dequeued("sales", "a", at(2))])
    store.apply(console("console.queue_call.synced", 5, queue_name="sales", call_control_id="a",
                        keep_after_hangup=True))
    queued = row(store, "queue_calls", "sales", "a")
    assert (queued["status"], queued["keep_after_hangup"]) == ("left", True)


def test_console_queue_deleted_hides_queue_until_used_again(store):
    store.apply(f.enqueued("sales", "a", at(1)))
    assert store.apply(console("console.queue.deleted", 2, queue_name="sales")) == {"queue:sales"}
    assert store.queues() == [] and store.queue("sales") is None
    store.apply(f.enqueued("sales", "b", at(3)))
    assert [queue["name"] for queue in store.queues()] == ["sales"]


def test_console_call_synced_dead_call_is_hung_up(store):
    apply_all(store, [f.call_initiated("a", at(0)), f.joined("c1", "a", at(1))])
    store.apply(console("console.call.synced", 9, record_type="call", call_control_id="a", call_leg_id="leg-a",
                        call_session_id="s-a", is_alive=False, end_time=format_timestamp(at(8))))
    assert (store.call("a")["state"], store.call("a")["end_time"]) == ("hangup", ts(8))
    assert row(store, "participants", "c1", "a")["status"] == "left"


def test_console_conference_updated_sets_recording_state(store):
    store.apply(f.conference_created("c1", "h", at(0)))
    store.apply(console("console.conference.updated", 1, conference_id="c1", recording_state="recording"))
    assert store.live_conferences()[0]["recording"] is True
    store.apply(console("console.conference.updated", 2, conference_id="c1", recording_state="paused"))
    live = store.live_conferences()[0]
    assert (live["recording"], live["recording_paused"]) == (False, True)


# --- queue positions and queries -----------------------------------------------------------------


def test_positions_move_up_when_an_earlier_caller_leaves(store):
    apply_all(store, [f.enqueued("sales", ccid, at(i)) for i, ccid in enumerate("abc")])
    assert [(q["call_control_id"], q["position"]) for q in store.queue_calls("sales")] == [
        ("a", 1), ("b", 2), ("c", 3)]
    keys = store.apply(f.dequeued("sales", "a", at(10)))
    assert [(q["call_control_id"], q["position"]) for q in store.queue_calls("sales")] == [("b", 1), ("c", 2)]
    assert {"queue_call:sales:b", "queue_call:sales:c", "queue:sales", "queue_call:sales:a"} <= keys


def test_enqueue_at_the_tail_reports_only_its_own_position(store):
    apply_all(store, [f.enqueued("sales", "a", at(1))])
    assert store.apply(f.enqueued("sales", "b", at(2))) == {"queue:sales", "queue_call:sales:b"}


def test_queues_show_size_longest_wait_and_three_oldest_callers(store):
    apply_all(store, [f.call_initiated("c", at(0), from_="+15550003333")])
    apply_all(store, [f.enqueued("sales", ccid, at(i)) for i, ccid in enumerate("abcde", start=1)])
    apply_all(store, [f.enqueued("support", "z", at(7)), f.dequeued("sales", "b", at(8))])
    sales, support = store.queues()
    assert (sales["name"], sales["current_size"], sales["oldest_enqueued_at"]) == ("sales", 4, ts(1))
    assert [(q["call_control_id"], q["position"]) for q in sales["oldest_waiting"]] == [
        ("a", 1), ("c", 2), ("d", 3)]
    assert sales["oldest_waiting"][1]["from_number"] == "+15550003333"
    assert (support["current_size"], [q["call_control_id"] for q in support["oldest_waiting"]]) == (1, ["z"])
    assert store.queue("support")["current_size"] == 1
    assert store.queue("nowhere") is None


def test_live_conference_shows_head_count_and_floor_holder(store):
    apply_all(store, [
        f.call_initiated("a", at(0), from_="+15550001111"), f.conference_created("c1", "a", at(0)),
        f.joined("c1", "a", at(1)), f.joined("c1", "b", at(2)), f.joined("c1", "c", at(3)), f.left("c1", "c", at(4)),
        f.floor_changed("c1", "a", at(5)),
    ])
    [live] = store.live_conferences()
    assert (live["participant_count"], live["floor_call_control_id"], live["floor_display_name"]) == (
        2, "a", "Ada Lovelace")
    store.apply(console("console.participant.updated", 6, conference_id="c1", call_control_id="a", label="Agent 7"))
    assert store.live_conferences()[0]["floor_display_name"] == "Agent 7"


def test_live_and_ended_conference_lists(store):
    apply_all(store, [f.conference_created(f"c{i}", "h", at(i)) for i in range(4)])
    apply_all(store, [f.conference_ended("c0", at(10)), f.conference_ended("c2", at(12))])
    assert [c["id"] for c in store.live_conferences()] == ["c3", "c1"]
    assert [c["id"] for c in store.ended_conferences()] == ["c2", "c0"]
    assert [c["id"] for c in store.ended_conferences(limit=1)] == ["c2"]
    assert store.conference("missing") is None


def test_participants_in_join_order_with_call_details(store):
    apply_all(store, [f.joined("c1", "b", at(2)), f.joined("c1", "a", at(1)), f.left("c1", "b", at(3)),
                      f.call_initiated("a", at(0)), f.floor_changed("c1", "a", at(4))])
    [present] = store.participants("c1")
    assert (present["call_control_id"], present["from_number"], present["has_floor"]) == ("a", "+15550001111", True)
    assert [p["call_control_id"] for p in store.participants("c1", include_left=True)] == ["a", "b"]


def test_parked_calls_are_answered_and_nowhere_else(store):
    apply_all(store, [f.call_initiated(ccid, at(0)) for ccid in "abcde"])
    apply_all(store, [f.call_answered(ccid, at(i)) for i, ccid in enumerate("edcb", start=1)])
    apply_all(store, [f.joined("c1", "b", at(6)), f.enqueued("sales", "c", at(6)), f.call_hangup("d", at(7))])
    assert [call["call_control_id"] for call in store.parked_calls()] == ["e"]
    store.apply(f.left("c1", "b", at(8)))
    assert [call["call_control_id"] for call in store.parked_calls()] == ["e", "b"]


def test_recordings_for_a_conference(store):
    apply_all(store, [f.recording_saved("c1", "r2", at(5), at(9)), f.recording_saved("c1", "r1", at(1), at(3)),
                      f.recording_saved("c2", "r3", at(1), at(3))])
    assert [r["id"] for r in store.recordings("c1")] == ["r1", "r2"]


def test_event_log_bookkeeping():
    clock_times = iter([datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 10, 1, tzinfo=UTC)])
    store = Store(":memory:", clock=lambda: next(clock_times))
    store.migrate()
    assert (store.event_count(), store.last_event_received_at()) == (0, None)
    apply_all(store, [f.joined("c1", "a", at(1)), f.left("c1", "a", at(2))])
    assert store.event_count() == 2
    assert store.last_event_received_at() == datetime(2026, 3, 2, 10, 1, tzinfo=UTC)
    assert not store.has_event("nope")


def test_logged_events_replay_into_an_equal_store(store):
    apply_all(store, [*CASES["call.hangup"].before, CASES["call.hangup"].event,
                      console("console.participant.updated", 30, conference_id="c1", call_control_id="a", muted=True),
                      f.recording_saved("c1", "r1", at(2), at(8))])
    replayed = fresh_store()
    replayed.apply_many(store.logged_events())
    assert replayed.state() == store.state()
    assert replayed.event_count() == store.event_count()


def test_migrate_is_idempotent_and_keeps_data(tmp_path):
    path = tmp_path / "console.db"
    first = Store(path)
    first.migrate()
    first.apply(f.joined("c1", "a", at(1)))
    first.close()
    second = Store(path)
    second.migrate()
    second.migrate()
    assert second.event_count() == 1
    assert row(second, "participants", "c1", "a")["status"] == "joined"
    second.close()


def test_store_without_migrate_says_so():
    with pytest.raises(RuntimeError, match="migrate"):
        Store(":memory:").live_conferences()


# --- convergence: any order, with duplicates, gives the same state -------------------------------

LEGS = ["a", "b", "c"]
CONFERENCES = ["c1", "c2"]
QUEUES = ["sales", "support"]


def _step(kind: str, when: datetime, conference: str, leg: str, queue: str, flag: bool) -> Event:
    """One event of the vocabulary the property test draws from."""
    seconds = (when - f.T0).total_seconds()
    builders = {
        "created": lambda: f.conference_created(conference, leg, when),
        "ended": lambda: f.conference_ended(conference, when),
        "joined": lambda: f.joined(conference, leg, when),
        "left": lambda: f.left(conference, leg, when),
        "floor": lambda: f.floor_changed(conference, leg, when),
        "participant_playback": lambda: f.participant_media(
            "playback", "started" if flag else "ended", conference, leg, when),
        "participant_speak": lambda: f.participant_media("speak", "started" if flag else "ended", conference, leg, when),
        "conference_playback": lambda: f.conference_media("playback", "started" if flag else "ended", conference, when),
        "conference_speak": lambda: f.conference_media("speak", "started" if flag else "ended", conference, when),
        "recording": lambda: f.recording_saved(conference, f"r-{conference}-{leg}", f.T0, when, leg),
        "enqueued": lambda: f.enqueued(queue, leg, when),
        "dequeued": lambda: f.dequeued(queue, leg, when, reason="bridged" if flag else "timeout"),
        "initiated": lambda: f.call_initiated(leg, when),
        "answered": lambda: f.call_answered(leg, when),
        "hangup": lambda: f.call_hangup(leg, when),
        "gather": lambda: f.gather_ended(leg, when, digits="1" if flag else "2"),
        "mute": lambda: console("console.participant.updated", seconds, conference_id=conference,
                                call_control_id=leg, muted=flag),
        "conference_synced": lambda: console("console.conference.synced", seconds, id=conference,
                                             status="completed" if flag else "in_progress"),
        "participant_synced": lambda: console("console.participant.synced", seconds, conference_id=conference,
                                              call_control_id=leg, status="left" if flag else "joined"),
        "queue_deleted": lambda: console("console.queue.deleted", seconds, queue_name=queue),
        "queue_call_synced": lambda: console(
            "console.queue_call.synced", seconds, queue_name=queue, call_control_id=leg,
            **({"keep_after_hangup": True} if flag else {"record_type": "queue_call",
                                                         "enqueued_at": format_timestamp(when)})),
    }
    return builders[kind]()


STEPS = st.tuples(
    st.sampled_from(["created", "ended", "joined", "joined", "left", "floor", "participant_playback",
                     "participant_speak", "conference_playback", "conference_speak", "recording", "enqueued",
                     "enqueued", "dequeued", "initiated", "answered", "hangup", "gather", "mute",
                     "conference_synced", "participant_synced", "queue_deleted", "queue_call_synced"]),
    st.sampled_from(CONFERENCES), st.sampled_from(LEGS), st.sampled_from(QUEUES), st.booleans(),
    st.integers(min_value=0, max_value=3),
)


def _history(steps) -> list[Event]:
    """Events 0-3 s apart: mostly increasing, sometimes at the same instant so ties are exercised too."""
    events, seconds = [], 0
    for kind, conference, leg, queue, flag, gap in steps:
        seconds += gap
        events.append(_step(kind, at(seconds), conference, leg, queue, flag))
    return events


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(STEPS, min_size=1, max_size=40), data=st.data())
def test_any_order_with_duplicates_converges_to_in_order_state(steps, data):
    events = _history(steps)
    in_order = fresh_store()
    in_order.apply_many(events)
    shuffled = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10))
    scrambled = fresh_store()
    for event in [*shuffled[: len(shuffled) // 2], *repeats, *shuffled[len(shuffled) // 2:]]:
        scrambled.apply(event)
    assert scrambled.state() == in_order.state()
    assert scrambled.event_count() == in_order.event_count() == len({event.id for event in events})
    in_order.close()
    scrambled.close()


# --- threads -----------------------------------------------------------------------------------


def test_threads_share_a_file_store(tmp_path):
    path = tmp_path / "console.db"
    store = Store(path)
    store.migrate()
    per_thread = [
        [event for i in range(10) for event in (f.joined(f"conf-{n}", f"leg-{n}-{i}", at(i)),
                                                f.enqueued(f"queue-{n}", f"caller-{n}-{i}", at(i)))]
        for n in range(6)
    ]
    errors: list[Exception] = []

    def write(events):
        try:
            for event in events:
                store.apply(event)
                store.live_conferences()
                store.queues()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(events,), daemon=True) for events in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert store.event_count() == 120
    assert sorted(c["participant_count"] for c in store.live_conferences()) == [10] * 6
    assert [q["current_size"] for q in store.queues()] == [10] * 6
    reference = fresh_store()
    everything = [event for events in per_thread for event in events]
    random.Random(7).shuffle(everything)
    reference.apply_many(everything)
    assert store.state() == reference.state()
    store.close()
