"""The simulated Telnyx world as a state machine, driven by a hand-moved clock."""

from __future__ import annotations

import io
import wave
from datetime import datetime

import pytest

from console.simulator.world import WorldError
from tests.sim_fixtures import START, EventLog, answered_call, listening_world

FOUR_HOURS = 4 * 60 * 60


@pytest.fixture
def world(clock, events):
    world = listening_world(clock, events, seed=3)
    world.recording_base_url = "http://sim.test"
    return world


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def conference_with(world, *extra_legs, name="support", **options):
    """A conference created by one answered leg, with ``extra_legs`` more answered legs joined."""
    host = answered_call(world)
    conference = world.create_conference(host, name, **options)
    legs = [host]
    for number in extra_legs:
        leg = answered_call(world, from_=number)
        world.conference_action(conference["id"], "join", {"call_control_id": leg})
        legs.append(leg)
    return conference, legs


def participant(world, conference_id, ccid):
    return world.retrieve_participant(conference_id, ccid)


def alive(world, ccid) -> bool:
    return world.retrieve_call(ccid)["is_alive"]


# -- call legs -----------------------------------------------------------------------------------

def test_call_control_ids_look_like_telnyx_v3_ids(world):
    ccid = world.incoming_call("+15550001111", "+15559990000")["call_control_id"]
    assert ccid.startswith("v3:") and len(ccid) > 20


def test_an_incoming_call_is_parked_until_answered(world, events):
    ccid = world.incoming_call("+15550001111", "+15559990000", "Ada")["call_control_id"]
    initiated = events.payloads("call.initiated")[0]
    assert (initiated["direction"], initiated["state"], initiated["caller_id_name"]) == ("incoming", "parked", "Ada")
    with pytest.raises(WorldError) as raised:
        world.enqueue(ccid, "support")
    assert raised.value.code == "90034"
    world.answer_call(ccid)
    assert events.payloads("call.answered")[0]["state"] == "answered"


def test_a_dialled_leg_answers_after_the_delay(world, clock, events):
    world.dial_answer_delay = 2.0
    leg = world.dial(world.connection_id, "+15550002222", "+15559990000", client_state="c3VwZXJ2aXNvcg==")
    assert leg["is_alive"] and leg["record_type"] == "call"
    initiated = events.payloads("call.initiated")[0]
    assert (initiated["direction"], initiated["state"]) == ("outgoing", "bridging")
    assert initiated["client_state"] == "c3VwZXJ2aXNvcg=="
    world.tick(clock.advance(1.9))
    assert events.of("call.answered") == []
    world.tick(clock.advance(0.2))
    answered = events.of("call.answered")
    assert len(answered) == 1 and answered[0]["data"]["payload"]["call_control_id"] == leg["call_control_id"]


def test_a_number_that_never_answers_times_out(world, clock, events):
    world.unanswered_numbers.add("+15550003333")
    leg = world.dial(world.connection_id, "+15550003333", "+15559990000", timeout_secs=10)
    world.tick(clock.advance(9))
    assert alive(world, leg["call_control_id"])
    world.tick(clock.advance(1))
    hangup = events.payloads("call.hangup")[0]
    assert hangup["hangup_cause"] == "timeout" and events.of("call.answered") == []
    assert not alive(world, leg["call_control_id"])


def test_dialling_needs_the_worlds_connection_id(world):
    with pytest.raises(WorldError) as raised:
        world.dial("999", "+15550002222", "+15559990000")
    assert (raised.value.status, raised.value.pointer) == (422, "/connection_id")


def test_hangup_ends_the_leg_once(world, events):
    ccid = answered_call(world)
    assert world.hangup(ccid) == {"result": "ok"}
    assert len(events.of("call.hangup")) == 1
    with pytest.raises(WorldError) as raised:
        world.hangup(ccid)
    assert raised.value.code == "90018"


def test_a_repeated_command_id_is_acknowledged_but_not_run_again(world, events):
    ccid = answered_call(world)
    assert world.hangup(ccid, command_id="once") == world.hangup(ccid, command_id="once") == {"result": "ok"}
    assert len(events.of("call.hangup")) == 1


def test_a_failed_command_is_not_remembered(world):
    ccid = world.incoming_call("+15550001111", "+15559990000")["call_control_id"]
    with pytest.raises(WorldError):
        world.enqueue(ccid, "support", command_id="try")
    world.answer_call(ccid)
    assert world.enqueue(ccid, "support", command_id="try") == {"result": "ok"}


def test_a_failing_listener_does_not_break_the_world(world, events):
    def broken(body):
        raise RuntimeError("listener bug")

    world.subscribe(broken)
    answered_call(world)
    assert events.types()[-1] == "call.answered"


# -- conference lifecycle ---------------------------------------------------------------------------

def test_creating_a_conference_starts_it_with_the_creator_joined(world, events):
    conference, (host,) = conference_with(world, client_state="dGVhbQ==")
    assert conference["status"] == "in_progress"
    assert when(conference["expires_at"]) - when(conference["created_at"]) == pytest.approx(FOUR_HOURS)
    assert events.types()[-2:] == ["conference.created", "conference.participant.joined"]
    created = events.payloads("conference.created")[0]
    assert (created["conference_id"], created["call_control_id"], created["client_state"]) == (
        conference["id"], host, "dGVhbQ==")


def test_a_conference_expires_after_four_hours(world, clock, events):
    conference, legs = conference_with(world, "+15550004444")
    world.tick(clock.advance(FOUR_HOURS - 1))
    assert world.retrieve_conference(conference["id"])["status"] == "in_progress"
    world.tick(clock.advance(1))
    ended = world.retrieve_conference(conference["id"])
    assert (ended["status"], ended["end_reason"]) == ("completed", "time_exceeded")
    payload = events.payloads("conference.ended")[0]
    assert payload["reason"] == "time_exceeded"
    assert when(payload["occurred_at"]) == pytest.approx(START + FOUR_HOURS)
    assert not any(alive(world, leg) for leg in legs)


def test_duration_minutes_ends_the_conference_early(world, clock):
    conference, _ = conference_with(world, duration_minutes=30)
    assert when(conference["expires_at"]) == pytest.approx(START + 30 * 60)
    world.tick(clock.advance(30 * 60))
    assert world.retrieve_conference(conference["id"])["end_reason"] == "time_exceeded"


def test_the_last_participant_leaving_ends_it_as_all_left(world, events):
    conference, (host, guest) = conference_with(world, "+15550004444")
    world.remote_hangup(guest)
    assert world.retrieve_conference(conference["id"])["status"] == "in_progress"
    world.conference_action(conference["id"], "leave", {"call_control_id": host})
    ended = world.retrieve_conference(conference["id"])
    assert (ended["end_reason"], ended["ended_by"]["call_control_id"]) == ("all_left", host)
    assert alive(world, host), "leave keeps the leg up"
    assert events.types()[-2:] == ["conference.participant.left", "conference.ended"]


def test_end_conference_on_exit_hangs_everyone_up_as_host_left(world):
    conference, (host, guest, other) = conference_with(world, "+15550004444", "+15550005555")
    world.update_participant(conference["id"], participant(world, conference["id"], host)["id"],
                             end_conference_on_exit=True)
    world.remote_hangup(host)
    assert world.retrieve_conference(conference["id"])["end_reason"] == "host_left"
    assert not alive(world, guest) and not alive(world, other)


def test_soft_end_leaves_the_others_connected(world):
    host = answered_call(world)
    conference = world.create_conference(host, "support")
    supervisor = answered_call(world, from_="+15550006666")
    world.conference_action(conference["id"], "join", {"call_control_id": supervisor,
                                                       "soft_end_conference_on_exit": True})
    world.conference_action(conference["id"], "leave", {"call_control_id": supervisor})
    assert world.retrieve_conference(conference["id"])["end_reason"] == "host_left"
    assert alive(world, host)
    assert participant(world, conference["id"], host)["status"] == "left"


def test_ending_via_the_api_hangs_up_every_participant(world, events):
    conference, legs = conference_with(world, "+15550004444")
    world.conference_action(conference["id"], "end", {})
    ended = world.retrieve_conference(conference["id"])
    assert (ended["status"], ended["end_reason"]) == ("completed", "ended_via_api")
    assert not any(alive(world, leg) for leg in legs)
    assert events.types()[-1] == "conference.ended"
    with pytest.raises(WorldError) as raised:
        world.conference_action(conference["id"], "mute", {})
    assert raised.value.code == "90019"


def test_a_conference_not_started_holds_everyone_until_someone_starts_it(world):
    host = answered_call(world)
    conference = world.create_conference(host, "waiting-room", start_conference_on_create=False)
    assert conference["status"] == "init"
    held = answered_call(world, from_="+15550004444")
    world.conference_action(conference["id"], "join", {"call_control_id": held, "hold": True})
    assert participant(world, conference["id"], host)["on_hold"]
    agent = answered_call(world, from_="+15550005555")
    world.conference_action(conference["id"], "join", {"call_control_id": agent, "start_conference_on_enter": True})
    assert world.retrieve_conference(conference["id"])["status"] == "in_progress"
    assert not participant(world, conference["id"], host)["on_hold"]
    assert participant(world, conference["id"], held)["on_hold"], "an explicit hold outlives the start"
    assert not participant(world, conference["id"], agent)["on_hold"]


def test_max_participants_is_enforced(world):
    conference, _ = conference_with(world, "+15550004444", max_participants=2)
    third = answered_call(world, from_="+15550005555")
    with pytest.raises(WorldError) as raised:
        world.conference_action(conference["id"], "join", {"call_control_id": third})
    assert raised.value.code == "90032"


@pytest.mark.parametrize("value", [1, 801])
def test_max_participants_must_be_between_2_and_800(world, value):
    with pytest.raises(WorldError) as raised:
        world.create_conference(answered_call(world), "big", max_participants=value)
    assert (raised.value.code, raised.value.pointer) == ("10033", "/max_participants")


def test_a_name_is_taken_only_while_its_conference_is_active(world):
    conference, _ = conference_with(world, name="daily")
    with pytest.raises(WorldError) as raised:
        world.create_conference(answered_call(world), "daily")
    assert raised.value.code == "90033"
    world.conference_action(conference["id"], "end", {})
    assert world.create_conference(answered_call(world), "daily")["id"] != conference["id"]


def test_conferences_are_listed_newest_expiry_first_and_filtered(world, clock):
    first, _ = conference_with(world, name="a")
    clock.advance(60)
    second, _ = conference_with(world, name="b")
    world.conference_action(first["id"], "end", {})
    assert [c["id"] for c in world.list_conferences()] == [second["id"], first["id"]]
    assert [c["name"] for c in world.list_conferences(status="completed")] == ["a"]
    assert [c["name"] for c in world.list_conferences(name="b")] == ["b"]


def test_joining_moves_a_queued_call_out_as_bridged(world, events):
    caller = answered_call(world)
    world.enqueue(caller, "support")
    conference, _ = conference_with(world)
    world.conference_action(conference["id"], "join", {"call_control_id": caller})
    assert events.payloads("call.dequeued")[-1]["reason"] == "bridged"
    assert world.list_queue_calls("support") == []


def test_participant_list_and_single_shapes_differ(world):
    conference, (host,) = conference_with(world)
    listed = world.list_participants(conference["id"])[0]
    single = participant(world, conference["id"], host)
    assert listed["record_type"] == "participant" and listed["conference"] == {
        "id": conference["id"], "name": conference["name"]}
    assert "record_type" not in single and "conference" not in single
    assert single["conference_id"] == conference["id"] and "label" in single
    assert "supervisor_role" not in listed and "supervisor_role" not in single


def test_a_participant_is_found_by_label(world):
    conference, _ = conference_with(world)
    agent = answered_call(world, from_="+15550004444")
    world.conference_action(conference["id"], "join", {"call_control_id": agent, "label": "agent-7"})
    assert world.retrieve_participant(conference["id"], "agent-7")["call_control_id"] == agent


def test_participant_filters(world):
    conference, (host, guest) = conference_with(world, "+15550004444")
    supervisor = answered_call(world, from_="+15550006666")
    world.conference_action(conference["id"], "join", {
        "call_control_id": supervisor, "supervisor_role": "whisper", "whisper_call_control_ids": [host]})
    world.conference_action(conference["id"], "mute", {"call_control_ids": [guest]})
    world.conference_action(conference["id"], "hold", {"call_control_ids": [host]})

    def pick(**flags):
        return [p["call_control_id"] for p in world.list_participants(conference["id"], **flags)]

    assert pick(muted=True) == [guest]
    assert pick(on_hold=True) == [host]
    assert pick(whispering=True) == [supervisor]
    assert pick(whispering=False) == [host, guest]


def test_floor_changes_only_for_someone_the_room_hears(world, events):
    conference, (host, guest) = conference_with(world, "+15550004444")
    world.talk(guest)
    world.talk(guest)
    floor = events.of("conference.floor.changed")
    assert len(floor) == 1 and "data" not in floor[0]
    assert floor[0]["payload"]["call_control_id"] == guest
    world.conference_action(conference["id"], "mute", {"call_control_ids": [host]})
    world.talk(host)
    assert len(events.of("conference.floor.changed")) == 1


# -- media -------------------------------------------------------------------------------------------

def test_conference_wide_playback_loops_then_ends(world, clock, events):
    world.playback_seconds = 4.0
    conference, _ = conference_with(world)
    world.conference_action(conference["id"], "play", {"audio_url": "https://example.com/hold.wav", "loop": 3})
    started = events.payloads("conference.playback.started")[0]
    assert started["media_url"] == "https://example.com/hold.wav" and "call_control_id" not in started
    assert "client_state" not in started
    world.tick(clock.advance(11.9))
    assert events.of("conference.playback.ended") == []
    world.tick(clock.advance(0.1))
    assert len(events.of("conference.playback.ended")) == 1


def test_participant_playback_runs_until_stopped_when_looping_forever(world, clock, events):
    conference, (host, guest) = conference_with(world, "+15550004444")
    world.conference_action(conference["id"], "play", {"media_name": "jingle", "loop": "infinity",
                                                       "call_control_ids": [guest]})
    started = events.payloads("conference.participant.playback.started")
    assert [p["call_control_id"] for p in started] == [guest] and started[0]["media_name"] == "jingle"
    world.tick(clock.advance(3600))
    assert events.of("conference.participant.playback.ended") == []
    world.conference_action(conference["id"], "stop", {"call_control_ids": [guest]})
    assert len(events.of("conference.participant.playback.ended")) == 1


def test_speak_starts_and_ends(world, clock, events):
    conference, (host,) = conference_with(world)
    world.conference_action(conference["id"], "speak", {"payload": "Your call matters to us", "voice": "female"})
    world.conference_action(conference["id"], "speak", {"payload": "Hi", "voice": "female",
                                                        "call_control_ids": [host]})
    assert len(events.of("conference.speak.started")) == 1
    assert events.payloads("conference.participant.speak.started")[0]["call_control_id"] == host
    world.tick(clock.advance(60))
    assert len(events.of("conference.speak.ended")) == len(events.of("conference.participant.speak.ended")) == 1


def test_gather_collects_digits_until_the_terminator(world, events):
    conference, (host, caller) = conference_with(world, "+15550004444")
    world.conference_action(conference["id"], "gather_using_audio", {
        "call_control_id": caller, "audio_url": "https://example.com/menu.wav", "gather_id": "menu-1",
        "client_state": "bWVudQ=="})
    world.press_digits(caller, "4x2#")
    ended = events.payloads("call.gather.ended")[0]
    assert (ended["digits"], ended["status"], ended["call_control_id"]) == ("42", "valid", caller)
    assert (ended["gather_id"], ended["client_state"]) == ("menu-1", "bWVudQ==")


def test_gather_times_out_without_digits(world, clock, events):
    conference, (host, caller) = conference_with(world, "+15550004444")
    world.conference_action(conference["id"], "gather_using_audio", {"call_control_id": caller,
                                                                     "timeout_millis": 8000})
    world.tick(clock.advance(7.9))
    assert events.of("call.gather.ended") == []
    world.tick(clock.advance(0.1))
    assert events.payloads("call.gather.ended")[0]["status"] == "timeout"


def test_send_dtmf_checks_its_digits(world):
    conference, _ = conference_with(world)
    assert world.conference_action(conference["id"], "send_dtmf", {"digits": "12w#"}) == {"result": "ok"}
    with pytest.raises(WorldError) as raised:
        world.conference_action(conference["id"], "send_dtmf", {"digits": "12x"})
    assert raised.value.pointer == "/digits"


@pytest.mark.parametrize("channels, expected_channels", [("single", 1), ("dual", 2)])
def test_a_recording_is_a_wav_of_the_unpaused_time(world, clock, events, channels, expected_channels):
    conference, _ = conference_with(world)
    world.conference_action(conference["id"], "record_start", {"format": "wav", "channels": channels})
    clock.advance(3)
    world.conference_action(conference["id"], "record_pause", {})
    clock.advance(5)
    world.conference_action(conference["id"], "record_resume", {})
    clock.advance(2)
    world.conference_action(conference["id"], "record_stop", {"client_state": "ZG9uZQ=="})
    saved = events.of("conference.recording.saved")[0]["data"]
    assert "occurred_at" not in saved and "occurred_at" not in saved["payload"]
    payload = saved["payload"]
    assert payload["recording_urls"]["wav"] == f"http://sim.test/_sim/recordings/{payload['recording_id']}.wav"
    assert (payload["channels"], payload["format"], payload["client_state"]) == (channels, "wav", "ZG9uZQ==")
    with wave.open(io.BytesIO(world.recording_wav(payload["recording_id"]))) as recording:
        assert recording.getnchannels() == expected_channels
        assert recording.getnframes() / recording.getframerate() == pytest.approx(5.0)


def test_ending_a_conference_saves_its_running_recording(world, clock, events):
    conference, _ = conference_with(world)
    world.conference_action(conference["id"], "record_start", {"format": "mp3"})
    clock.advance(4)
    world.conference_action(conference["id"], "end", {})
    assert events.types()[-2:] == ["conference.ended", "conference.recording.saved"]


def test_stopping_an_unknown_recording_is_404(world):
    conference, _ = conference_with(world)
    with pytest.raises(WorldError) as raised:
        world.conference_action(conference["id"], "record_stop", {})
    assert (raised.value.status, raised.value.code) == (404, "10005")


# -- queues -------------------------------------------------------------------------------------------

def enqueue_three(world, clock, queue="support"):
    legs = []
    for n in range(3):
        leg = answered_call(world, from_=f"+1555000100{n}")
        world.enqueue(leg, queue)
        legs.append(leg)
        clock.advance(10)
    return legs


def test_queue_positions_move_up(world, clock, events):
    first, second, third = enqueue_three(world, clock)
    assert [p["current_position"] for p in events.payloads("call.enqueued")] == [1, 2, 3]
    world.leave_queue(first)
    dequeued = events.payloads("call.dequeued")[0]
    assert (dequeued["queue_position"], dequeued["reason"], dequeued["wait_time_secs"]) == (1, "leave", 30)
    positions = {c["call_control_id"]: c["queue_position"] for c in world.list_queue_calls("support")}
    assert positions == {second: 1, third: 2}
    assert alive(world, first)


def test_average_wait_counts_calls_that_left(world, clock):
    first, second, _ = enqueue_three(world, clock)
    world.leave_queue(first)
    world.leave_queue(second)
    assert world.retrieve_queue("support")["average_wait_time_secs"] == 25


def test_max_wait_time_removes_the_call_as_timeout(world, clock, events):
    ccid = answered_call(world)
    world.enqueue(ccid, "support", max_wait_time_secs=30)
    world.tick(clock.advance(29))
    assert world.retrieve_queue("support")["current_size"] == 1
    world.tick(clock.advance(1))
    assert events.payloads("call.dequeued")[0]["reason"] == "timeout"
    assert world.retrieve_queue("support")["current_size"] == 0 and alive(world, ccid)


def test_hanging_up_in_a_queue_dequeues_unless_kept(world, events):
    gone, kept = answered_call(world), answered_call(world, from_="+15550007777")
    world.enqueue(gone, "support")
    world.enqueue(kept, "support", keep_after_hangup=True)
    world.remote_hangup(gone)
    world.remote_hangup(kept)
    assert [p["reason"] for p in events.payloads("call.dequeued")] == ["hangup"]
    assert world.retrieve_queue_call("support", kept)["is_alive"] is False
    world.remove_queue_call("support", kept)
    assert [p["reason"] for p in events.payloads("call.dequeued")] == ["hangup", "hangup"]


def test_queue_sizes_default_by_how_the_queue_was_made(world):
    assert world.create_queue("made-by-rest")["max_size"] == 300
    world.enqueue(answered_call(world), "made-by-enqueue")
    assert world.retrieve_queue("made-by-enqueue")["max_size"] == 100


def test_a_full_queue_and_a_repeat_enqueue_are_refused(world):
    world.create_queue("tiny", max_size=1)
    first = answered_call(world)
    world.enqueue(first, "tiny")
    with pytest.raises(WorldError) as repeat:
        world.enqueue(first, "tiny")
    with pytest.raises(WorldError) as full:
        world.enqueue(answered_call(world, from_="+15550008888"), "tiny")
    assert (repeat.value.code, full.value.code) == ("90038", "90036")


def test_enqueue_max_size_does_not_change_an_existing_queue(world):
    world.create_queue("support", max_size=5)
    world.enqueue(answered_call(world), "support", max_size=50)
    assert world.retrieve_queue("support")["max_size"] == 5


def test_only_an_empty_queue_can_be_deleted(world):
    ccid = answered_call(world)
    world.enqueue(ccid, "support")
    with pytest.raises(WorldError) as raised:
        world.delete_queue("support")
    assert (raised.value.status, raised.value.code) == (400, "90050")
    world.leave_queue(ccid)
    world.delete_queue("support")
    assert world.list_queues() == []


# -- event shapes ----------------------------------------------------------------------------------------

def full_story(world, clock):
    """A run that emits every event type the world knows."""
    conference, (host, guest) = conference_with(world, "+15550004444")
    world.talk(guest)
    world.conference_action(conference["id"], "play", {"audio_url": "https://example.com/a.wav"})
    world.conference_action(conference["id"], "play", {"audio_url": "https://example.com/b.wav",
                                                       "call_control_ids": [guest]})
    world.conference_action(conference["id"], "speak", {"payload": "hello", "voice": "female"})
    world.conference_action(conference["id"], "speak", {"payload": "hello", "voice": "female",
                                                        "call_control_ids": [guest]})
    world.conference_action(conference["id"], "gather_using_audio", {"call_control_id": guest})
    world.press_digits(guest, "1#")
    world.conference_action(conference["id"], "record_start", {"format": "wav"})
    world.tick(clock.advance(30))
    queued = answered_call(world, from_="+15550009999")
    world.enqueue(queued, "support")
    world.leave_queue(queued)
    world.dial(world.connection_id, "+15550002222", "+15559990000")
    world.conference_action(conference["id"], "end", {})


BESIDE_PAYLOAD = {"call.initiated", "call.answered", "call.hangup", "call.gather.ended", "call.enqueued",
                  "call.dequeued", "conference.participant.joined", "conference.participant.left"}
INSIDE_PAYLOAD = {"conference.created", "conference.ended", "conference.floor.changed",
                  "conference.playback.started", "conference.playback.ended",
                  "conference.participant.playback.started", "conference.participant.playback.ended",
                  "conference.speak.started", "conference.speak.ended",
                  "conference.participant.speak.started", "conference.participant.speak.ended"}


def test_every_event_type_appears_in_a_full_story(world, clock, events):
    full_story(world, clock)
    assert set(events.types()) == BESIDE_PAYLOAD | INSIDE_PAYLOAD | {"conference.recording.saved"}


@pytest.mark.parametrize("event_type", sorted(BESIDE_PAYLOAD | INSIDE_PAYLOAD | {"conference.recording.saved"}))
def test_occurred_at_sits_where_the_spec_puts_it(world, clock, events, event_type):
    full_story(world, clock)
    for body in events.of(event_type):
        event = EventLog.event(body)
        assert ("data" in body) == (event_type != "conference.floor.changed")
        assert event["record_type"] == "event" and event["id"]
        assert ("occurred_at" in event) == (event_type in BESIDE_PAYLOAD)
        assert ("occurred_at" in event["payload"]) == (event_type in INSIDE_PAYLOAD)
        assert event["payload"]["connection_id"] == world.connection_id
        conference_wide = event_type.startswith(("conference.playback", "conference.speak"))
        assert ("client_state" in event["payload"]) != conference_wide


def test_snapshot_holds_every_record_in_rest_shapes(world):
    conference, (host,) = conference_with(world)
    world.enqueue(answered_call(world, from_="+15550004444"), "support")
    state = world.snapshot()
    assert set(state) == {"conferences", "participants", "queues", "queue_calls", "calls"}
    assert state["conferences"][conference["id"]]["record_type"] == "conference"
    assert state["participants"][conference["id"]][host]["record_type"] == "participant"
    assert state["queues"]["support"]["current_size"] == 1
    assert [c["queue_position"] for c in state["queue_calls"]["support"].values()] == [1]
    assert all(call["record_type"] == "call" for call in state["calls"].values())


@pytest.mark.parametrize("body, code, pointer", [
    ({}, "10004", "/audio_url"),
    ({"audio_url": "https://example.com/a.wav", "media_name": "a"}, "10015", "/media_name"),
    ({"audio_url": "https://example.com/a.wav", "loop": 101}, "10033", "/loop"),
    ({"audio_url": "https://example.com/a.wav", "loop": "forever"}, "10032", "/loop"),
])
def test_play_checks_its_source_and_loop(world, body, code, pointer):
    conference, _ = conference_with(world)
    with pytest.raises(WorldError) as raised:
        world.conference_action(conference["id"], "play", body)
    assert (raised.value.code, raised.value.pointer) == (code, pointer)
