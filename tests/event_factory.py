"""Webhook bodies shaped like Telnyx's (WIRE.md §7 and §10), for tests of parsing and the store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from console.telnyx.events import Event, format_timestamp, parse_event

CONNECTION_ID = "1494404757140276705"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# Where the spec puts occurred_at for each event type: beside the payload, inside it, or nowhere.
BESIDE_PAYLOAD = {
    "conference.participant.joined", "conference.participant.left", "call.enqueued", "call.dequeued",
    "call.initiated", "call.answered", "call.hangup", "call.gather.ended",
}
NO_OCCURRED_AT = {"conference.recording.saved"}
CONFERENCE_WIDE = {"conference.playback.started", "conference.playback.ended",
                   "conference.speak.started", "conference.speak.ended"}


def at(seconds: float) -> datetime:
    """A moment `seconds` after the test epoch."""
    return T0 + timedelta(seconds=seconds)


def leg_ids(call_control_id: str) -> dict:
    """The leg and session ids that travel with a call control id."""
    return {"call_control_id": call_control_id, "call_leg_id": f"leg-{call_control_id}",
            "call_session_id": f"session-{call_control_id}"}


def body(event_type: str, when: datetime | None, event_id: str | None = None, **payload) -> dict:
    """A complete webhook body with occurred_at where the spec puts it for this event type."""
    payload = {"connection_id": CONNECTION_ID} | payload
    if event_type not in CONFERENCE_WIDE:
        payload.setdefault("client_state", None)
    data = {"record_type": "event", "event_type": event_type, "id": event_id or str(uuid.uuid4()),
            "payload": payload}
    if when is not None and event_type not in NO_OCCURRED_AT:
        holder = data if event_type in BESIDE_PAYLOAD else payload
        holder["occurred_at"] = format_timestamp(when)
    if event_type == "conference.floor.changed":
        return data
    return {"data": data}


def event(event_type: str, when: datetime | None, event_id: str | None = None, **payload) -> Event:
    """The parsed Event for `body(...)`."""
    return parse_event(body(event_type, when, event_id, **payload))


def conference_created(conference_id: str, call_control_id: str, when: datetime, **extra) -> Event:
    return event("conference.created", when, conference_id=conference_id, **leg_ids(call_control_id), **extra)


def conference_ended(conference_id: str, when: datetime, reason: str = "all_left", **extra) -> Event:
    return event("conference.ended", when, conference_id=conference_id, reason=reason, **extra)


def floor_changed(conference_id: str, call_control_id: str, when: datetime, **extra) -> Event:
    return event("conference.floor.changed", when, conference_id=conference_id, **leg_ids(call_control_id), **extra)


def joined(conference_id: str, call_control_id: str, when: datetime, **extra) -> Event:
    return event("conference.participant.joined", when, conference_id=conference_id,
                 **leg_ids(call_control_id), **extra)


def left(conference_id: str, call_control_id: str, when: datetime, **extra) -> Event:
    return event("conference.participant.left", when, conference_id=conference_id,
                 **leg_ids(call_control_id), **extra)


def participant_media(kind: str, phase: str, conference_id: str, call_control_id: str, when: datetime,
                      **extra) -> Event:
    """conference.participant.{playback,speak}.{started,ended}."""
    media = {"media_name": None, "media_url": "http://example.test/hold.wav"} if kind == "playback" else {}
    return event(f"conference.participant.{kind}.{phase}", when, conference_id=conference_id,
                 creator_call_session_id="session-console", **leg_ids(call_control_id), **media, **extra)


def conference_media(kind: str, phase: str, conference_id: str, when: datetime, **extra) -> Event:
    """conference.{playback,speak}.{started,ended}."""
    media = {"media_name": "announcement", "media_url": None} if kind == "playback" else {}
    return event(f"conference.{kind}.{phase}", when, conference_id=conference_id,
                 creator_call_session_id="session-console", **media, **extra)


def recording_saved(conference_id: str, recording_id: str, started: datetime, ended: datetime,
                    call_control_id: str = "host", **extra) -> Event:
    urls = {"mp3": None, "wav": f"http://sim.test/_sim/recordings/{recording_id}.wav"}
    return event("conference.recording.saved", None, conference_id=conference_id, recording_id=recording_id,
                 call_control_id=call_control_id, call_session_id=f"session-{call_control_id}",
                 channels="single", format="wav", recording_started_at=format_timestamp(started),
                 recording_ended_at=format_timestamp(ended), recording_urls=urls,
                 public_recording_urls={"mp3": None, "wav": None}, **extra)


def enqueued(queue: str, call_control_id: str, when: datetime, position: int = 1, **extra) -> Event:
    return event("call.enqueued", when, queue=queue, current_position=position, queue_avg_wait_time_secs=30,
                 **leg_ids(call_control_id), **extra)


def dequeued(queue: str, call_control_id: str, when: datetime, reason: str = "bridged", position: int = 1,
             wait: int = 12, **extra) -> Event:
    return event("call.dequeued", when, queue=queue, queue_position=position, wait_time_secs=wait, reason=reason,
                 **leg_ids(call_control_id), **extra)


def call_initiated(call_control_id: str, when: datetime, from_: str = "+15550001111", to: str = "+15559990000",
                   **extra) -> Event:
    fields = {"direction": "incoming", "from": from_, "to": to, "caller_id_name": "Ada Lovelace",
              "start_time": format_timestamp(when), "state": "parked"} | extra
    return event("call.initiated", when, **leg_ids(call_control_id), **fields)


def call_answered(call_control_id: str, when: datetime, **extra) -> Event:
    return event("call.answered", when, **leg_ids(call_control_id), **{"state": "answered"} | extra)


def call_hangup(call_control_id: str, when: datetime, cause: str = "normal_clearing", **extra) -> Event:
    return event("call.hangup", when, **leg_ids(call_control_id),
                 **{"hangup_cause": cause, "hangup_source": "caller", "sip_hangup_cause": "200"} | extra)


def gather_ended(call_control_id: str, when: datetime, digits: str = "42#", status: str = "valid",
                 **extra) -> Event:
    return event("call.gather.ended", when, **leg_ids(call_control_id), digits=digits, status=status, **extra)
