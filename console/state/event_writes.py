"""The columns each event type writes: a Telnyx webhook or a console event, turned into row writes.

Pure functions, no SQL, and no ordering: every write says only which row and which columns; the
rules in projection.py decide which of them win. A payload field that is missing, of the wrong type
or not storable counts as absent, and an event without the ids that place it is UnusableEvent.

Console events are written like webhooks. ``console.participant.updated`` (conference_id,
call_control_id and any of muted, on_hold, supervisor_role, whisper_call_control_ids, label,
end_conference_on_exit, soft_end_conference_on_exit; null clears) and ``console.conference.updated``
(conference_id, recording_state "recording"/"paused"/null) are the console's own changes. The
``console.*.synced`` events (conference, participant + conference_id, queue, queue_call +
queue_name, call) carry a REST object as observed at occurred_at and write only what they carry;
a queue_call payload with neither enqueued_at nor status is a setting (keep_after_hangup), not a
sighting. ``console.queue.deleted`` takes queue_name. ``console.supervisor.updated`` (username and
any of display_name, phone, line_call_control_id, line_source; null clears) is a supervisor's own
profile and the leg that is their supervisor line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable

from console.state.projection import Write
from console.telnyx.events import (
    Event,
    EventParseError,
    format_timestamp,
    parse_timestamp,
)


class UnusableEvent(Exception):
    """A known event type without the ids needed to place it."""


def _need(payload: dict, name: str) -> str:
    """An id the event cannot be placed without."""
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise UnusableEvent(f"no usable {name!r}")
    return value


def _text(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and value else None


def _number(payload: dict, name: str) -> int | float | None:
    """A finite number SQLite can hold; anything else counts as absent."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return value if abs(value) < 2**63 else None
    return value if math.isfinite(value) else None


def _flag(payload: dict, name: str) -> bool | None:
    value = payload.get(name)
    return value if isinstance(value, bool) else None


def _moment(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    try:
        return format_timestamp(parse_timestamp(value))
    except EventParseError:
        return None


def _id_list(value) -> str | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return json.dumps(value)
    return None


def _urls(value) -> str | None:
    if isinstance(value, dict):
        return json.dumps({k: v for k, v in sorted(value.items()) if isinstance(v, str) or v is None})
    return None


def _some(**columns) -> dict:
    """Only the columns the event actually carries."""
    return {name: value for name, value in columns.items() if value is not None}


def _leg(payload: dict) -> dict:
    return _some(call_leg_id=_text(payload, "call_leg_id"), call_session_id=_text(payload, "call_session_id"))


def _conference(conference_id: str, latest: dict | None = None, **earliest) -> Write:
    return Write("conferences", (conference_id,), latest or {}, _some(**earliest))


def _participant(payload: dict, latest: dict) -> list[Write]:
    conference_id, call_control_id = _need(payload, "conference_id"), _need(payload, "call_control_id")
    return [_conference(conference_id), Write("participants", (conference_id, call_control_id), _leg(payload) | latest)]


_CONFERENCE_CLOSED = {
    "status": "completed", "floor_call_control_id": None, "floor_changed_at": None,
    "recording_state": None, "playing": False, "playback_media": None, "speaking": False,
}


def _conference_created(p: dict, at: str | None) -> list[Write]:
    latest = {"status": "in_progress"} | _some(
        connection_id=_text(p, "connection_id"), creator_call_control_id=_text(p, "call_control_id"))
    return [_conference(_need(p, "conference_id"), latest, created_at=at)]


def _conference_ended(p: dict, at: str | None) -> list[Write]:
    latest = _CONFERENCE_CLOSED | _some(
        end_reason=_text(p, "reason"), ended_by_call_control_id=_text(p, "call_control_id"))
    return [_conference(_need(p, "conference_id"), latest, ended_at=at)]


def _floor_changed(p: dict, at: str | None) -> list[Write]:
    latest = {"floor_call_control_id": _need(p, "call_control_id"), "floor_changed_at": at}
    return [_conference(_need(p, "conference_id"), latest)]


def _joined(p: dict, at: str | None) -> list[Write]:
    writes = _participant(p, {"_reported_status": "joined", "_reported_at": at, "joined_at": at})
    writes[0] = _conference(writes[0].key[0], {"status": "in_progress"}, created_at=at)
    return writes


def _left(p: dict, at: str | None) -> list[Write]:
    return _participant(p, {"_reported_status": "left", "_reported_at": at})


def _media(p: dict) -> str | None:
    return _text(p, "media_name") or _text(p, "media_url")


def _participant_playback(playing: bool):
    def project(p: dict, at: str | None) -> list[Write]:
        return _participant(p, {"playing": playing, "playback_media": _media(p) if playing else None})
    return project


def _participant_speak(speaking: bool):
    def project(p: dict, at: str | None) -> list[Write]:
        return _participant(p, {"speaking": speaking})
    return project


def _conference_playback(playing: bool):
    def project(p: dict, at: str | None) -> list[Write]:
        return [_conference(_need(p, "conference_id"),
                            {"playing": playing, "playback_media": _media(p) if playing else None})]
    return project


def _conference_speak(speaking: bool):
    def project(p: dict, at: str | None) -> list[Write]:
        return [_conference(_need(p, "conference_id"), {"speaking": speaking})]
    return project


def _recording_saved(p: dict, at: str | None) -> list[Write]:
    conference_id = _text(p, "conference_id")
    recording = Write("recordings", (_need(p, "recording_id"),), _some(
        conference_id=conference_id, call_control_id=_text(p, "call_control_id"),
        call_session_id=_text(p, "call_session_id"), format=_text(p, "format"),
        channels=_text(p, "channels"), started_at=_moment(p, "recording_started_at"),
        ended_at=_moment(p, "recording_ended_at"), recording_urls=_urls(p.get("recording_urls")),
        public_recording_urls=_urls(p.get("public_recording_urls"))))
    if conference_id is None:
        return [recording]
    return [recording, _conference(conference_id, {"recording_state": None})]


def _queue_report(status: str, at: str | None, reason=None, wait=None) -> dict:
    return {"_reported_status": status, "_reported_at": at, "_reported_reason": reason,
            "_reported_wait_time_secs": wait}


def _enqueued(p: dict, at: str | None) -> list[Write]:
    queue_name, call_control_id = _need(p, "queue"), _need(p, "call_control_id")
    position = _number(p, "current_position")
    queue = Write("queues", (queue_name,), {"deleted": False} | _some(
        average_wait_time_secs=_number(p, "queue_avg_wait_time_secs")), _some(created_at=at))
    latest = _leg(p) | _queue_report("waiting", at) | {"enqueued_at": at} | _some(
        entry_position=position, last_position=position)
    return [queue, Write("queue_calls", (queue_name, call_control_id), latest)]


def _dequeued(p: dict, at: str | None) -> list[Write]:
    queue_name, call_control_id = _need(p, "queue"), _need(p, "call_control_id")
    latest = _leg(p) | _queue_report("left", at, _text(p, "reason"), _number(p, "wait_time_secs")) | _some(
        last_position=_number(p, "queue_position"))
    return [Write("queues", (queue_name,)), Write("queue_calls", (queue_name, call_control_id), latest)]


def _call_details(p: dict) -> dict:
    return _leg(p) | _some(
        connection_id=_text(p, "connection_id"), from_number=_text(p, "from"), to_number=_text(p, "to"),
        client_state=_text(p, "client_state"), start_time=_moment(p, "start_time"))


def _call_initiated(p: dict, at: str | None) -> list[Write]:
    latest = _call_details(p) | {"state": _text(p, "state") or "parked"} | _some(
        direction=_text(p, "direction"), caller_id_name=_text(p, "caller_id_name"))
    return [Write("calls", (_need(p, "call_control_id"),), latest)]


def _call_answered(p: dict, at: str | None) -> list[Write]:
    latest = _call_details(p) | {"state": "answered", "answered_at": at}
    return [Write("calls", (_need(p, "call_control_id"),), latest)]


def _call_hangup(p: dict, at: str | None) -> list[Write]:
    latest = _call_details(p) | {"state": "hangup", "end_time": at} | _some(
        hangup_cause=_text(p, "hangup_cause"), hangup_source=_text(p, "hangup_source"),
        sip_hangup_cause=_text(p, "sip_hangup_cause"))
    return [Write("calls", (_need(p, "call_control_id"),), latest)]


def _gather_ended(p: dict, at: str | None) -> list[Write]:
    digits = p.get("digits") if isinstance(p.get("digits"), str) else None
    latest = _call_details(p) | {"gather_digits": digits, "gather_status": _text(p, "status"),
                                 "gather_ended_at": at}
    return [Write("calls", (_need(p, "call_control_id"),), latest)]


_PARTICIPANT_SETTINGS: dict[str, Callable] = {
    "muted": lambda v: v if isinstance(v, bool) else None,
    "on_hold": lambda v: v if isinstance(v, bool) else None,
    "end_conference_on_exit": lambda v: v if isinstance(v, bool) else None,
    "soft_end_conference_on_exit": lambda v: v if isinstance(v, bool) else None,
    "supervisor_role": lambda v: v if isinstance(v, str) and v else None,
    "label": lambda v: v if isinstance(v, str) and v else None,
    "whisper_call_control_ids": _id_list,
}


def _settings(payload: dict, names: Iterable[str]) -> dict:
    """The participant settings the payload names; an explicit null clears a setting."""
    chosen = {}
    for name in names:
        if name in payload:
            value = _PARTICIPANT_SETTINGS[name](payload[name])
            if value is not None or payload[name] is None:
                chosen[name] = value
    return chosen


def _participant_updated(p: dict, at: str | None) -> list[Write]:
    return _participant(p, _settings(p, _PARTICIPANT_SETTINGS))


def _conference_updated(p: dict, at: str | None) -> list[Write]:
    latest = {}
    if "recording_state" in p and (p["recording_state"] is None or _text(p, "recording_state")):
        latest["recording_state"] = p["recording_state"]
    return [_conference(_need(p, "conference_id"), latest)]


_SUPERVISOR_FIELDS = ("display_name", "phone", "line_call_control_id", "line_source")


def _supervisor_updated(p: dict, at: str | None) -> list[Write]:
    latest = {name: p[name] for name in _SUPERVISOR_FIELDS
              if name in p and (p[name] is None or _text(p, name))}
    return [Write("supervisors", (_need(p, "username"),), latest)]


def _conference_synced(p: dict, at: str | None) -> list[Write]:
    status = _text(p, "status")
    ended_by = p.get("ended_by") if isinstance(p.get("ended_by"), dict) else {}
    latest = _some(name=_text(p, "name"), status=status, region=_text(p, "region"),
                   connection_id=_text(p, "connection_id"), expires_at=_moment(p, "expires_at"),
                   ended_by_call_control_id=_text(ended_by, "call_control_id"),
                   beep_enabled=_text(p, "beep_enabled"), max_participants=_number(p, "max_participants"))
    if "end_reason" in p:
        latest["end_reason"] = _text(p, "end_reason")
    ended_at = None
    if status == "completed":
        latest |= _CONFERENCE_CLOSED
        ended_at = _moment(p, "updated_at") or at
    return [_conference(_need(p, "id"), latest, created_at=_moment(p, "created_at"), ended_at=ended_at)]


def _participant_synced(p: dict, at: str | None) -> list[Write]:
    conference = p.get("conference") if isinstance(p.get("conference"), dict) else {}
    conference_id = _text(p, "conference_id") or _need(conference, "id")
    status = _text(p, "status")
    latest = _settings(p, _PARTICIPANT_SETTINGS) | _leg(p) | _some(
        participant_id=_text(p, "id"), joined_at=_moment(p, "created_at"))
    if status is not None:
        reported_at = (_moment(p, "updated_at") or at) if status == "left" else at
        latest |= {"_reported_status": status, "_reported_at": reported_at}
    writes = _participant(p | {"conference_id": conference_id}, latest)
    if _text(conference, "name"):
        writes[0].latest["name"] = conference["name"]
    return writes


def _queue_synced(p: dict, at: str | None) -> list[Write]:
    latest = {"deleted": False} | _some(
        id=_text(p, "id"), max_size=_number(p, "max_size"),
        average_wait_time_secs=_number(p, "average_wait_time_secs"))
    return [Write("queues", (_need(p, "name"),), latest, _some(created_at=_moment(p, "created_at")))]


def _queue_call_synced(p: dict, at: str | None) -> list[Write]:
    """A REST QueueCall (waiting), an explicit status "left", or a bare keep_after_hangup setting."""
    queue_name = _text(p, "queue_name") or _need(p, "queue")
    latest = _leg(p) | _some(
        enqueued_at=_moment(p, "enqueued_at"), last_position=_number(p, "queue_position"),
        from_number=_text(p, "from"), to_number=_text(p, "to"),
        keep_after_hangup=_flag(p, "keep_after_hangup"))
    if p.get("status") == "left":
        latest |= _queue_report("left", at, _text(p, "reason"), _number(p, "wait_time_secs"))
    elif p.get("status") == "waiting" or "enqueued_at" in p or p.get("record_type") == "queue_call":
        latest |= _queue_report("waiting", at)
    return [Write("queues", (queue_name,)), Write("queue_calls", (queue_name, _need(p, "call_control_id")), latest)]


def _queue_deleted(p: dict, at: str | None) -> list[Write]:
    return [Write("queues", (_text(p, "queue_name") or _need(p, "name"),), {"deleted": True})]


def _call_synced(p: dict, at: str | None) -> list[Write]:
    latest = _call_details(p) | _some(direction=_text(p, "direction"), caller_id_name=_text(p, "caller_id_name"))
    if p.get("is_alive") is False:
        latest |= {"state": "hangup", "end_time": _moment(p, "end_time") or at}
    return [Write("calls", (_need(p, "call_control_id"),), latest)]


PROJECTIONS: dict[str, Callable[[dict, str | None], list[Write]]] = {
    "conference.created": _conference_created,
    "conference.ended": _conference_ended,
    "conference.floor.changed": _floor_changed,
    "conference.participant.joined": _joined,
    "conference.participant.left": _left,
    "conference.participant.playback.started": _participant_playback(True),
    "conference.participant.playback.ended": _participant_playback(False),
    "conference.participant.speak.started": _participant_speak(True),
    "conference.participant.speak.ended": _participant_speak(False),
    "conference.playback.started": _conference_playback(True),
    "conference.playback.ended": _conference_playback(False),
    "conference.speak.started": _conference_speak(True),
    "conference.speak.ended": _conference_speak(False),
    "conference.recording.saved": _recording_saved,
    "call.enqueued": _enqueued,
    "call.dequeued": _dequeued,
    "call.initiated": _call_initiated,
    "call.answered": _call_answered,
    "call.hangup": _call_hangup,
    "call.gather.ended": _gather_ended,
    # A message spoken to one caller (a breach action) changes nothing shown; the timeline reads the log.
    "call.speak.started": lambda p, at: [],
    "call.speak.ended": lambda p, at: [],
    "console.participant.updated": _participant_updated,
    "console.conference.updated": _conference_updated,
    "console.conference.synced": _conference_synced,
    "console.participant.synced": _participant_synced,
    "console.queue.synced": _queue_synced,
    "console.queue_call.synced": _queue_call_synced,
    "console.queue.deleted": _queue_deleted,
    "console.call.synced": _call_synced,
    "console.supervisor.updated": _supervisor_updated,
    "console.alert.raised": lambda p, at: [],
    "console.alert.cleared": lambda p, at: [],
    "console.alert.acknowledged": lambda p, at: [],
}


def writes_for(event: Event) -> list[Write] | None:
    """The writes an event asks for; None for an unknown type; UnusableEvent when ids are missing."""
    project = PROJECTIONS.get(event.event_type)
    if project is None:
        return None
    moment = event.ordered_at
    return project(event.payload, format_timestamp(moment) if moment is not None else None)
