"""The rules that order events and merge their writes into rows: which write wins, and what is derived.

Pure functions, no SQL: event_writes.py says which columns each event writes, batch.py loads the
rows, merges those writes under these rules in one transaction and saves what changed. Telnyx
delivers late, twice and out of order, so no column is ever simply overwritten:

* Each event has a total order key: its ordering timestamp (``occurred_at``; for
  ``conference.recording.saved`` the recording's end, else start; an event with no time at all
  sorts before every timed one), then a rank, then its id. At an equal timestamp the rank decides:
  closing events (conference.ended, participant.left, call.dequeued, call.hangup, the ``*.ended``
  of playback and speak, console.queue.deleted) beat console observations and updates
  (``console.*``) and progress events (floor.changed, call.answered, call.gather.ended,
  recording.saved), which beat opening events (conference.created, participant.joined,
  call.enqueued, call.initiated, the ``*.started`` of playback and speak). At an equal timestamp
  and rank, the greater event id wins.
* Each column is its own last-writer-wins register: a write lands only when the event's order
  key is greater than the one that last wrote that column (kept in the row's ``_versions``). So a
  newer mute never blocks an older join from setting the status, and an older join never undoes a
  newer leave. A few columns keep the earliest value ever seen instead (a conference's
  ``created_at`` and ``ended_at``, a queue's ``created_at``).
* A participant's and a queued call's ``status``/``left_at`` are derived, never written: from the
  status last reported for that row, and from whether its call hung up (or, for a participant,
  its conference ended) after that report. So a hangup ends only what was still joined or
  waiting when it happened, whichever order the events arrive in.

Because every column is a function of the set of events seen, applying any permutation of a
history, with duplicates, yields the same state. Changed entities come back as keys such as
``conference:<id>``, ``participant:<conference_id>:<call_control_id>``, ``call:<call_control_id>``,
``queue:<name>``, ``queue_call:<queue>:<call_control_id>`` and ``recording:<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.telnyx.events import Event, format_timestamp, parse_timestamp

KEYS = {
    "conferences": ("id",),
    "participants": ("conference_id", "call_control_id"),
    "calls": ("call_control_id",),
    "queues": ("name",),
    "queue_calls": ("queue_name", "call_control_id"),
    "recordings": ("id",),
    "supervisors": ("username",),
}
ENTITY = {
    "conferences": "conference",
    "participants": "participant",
    "calls": "call",
    "queues": "queue",
    "queue_calls": "queue_call",
    "recordings": "recording",
    "supervisors": "supervisor",
}
_NO_TIME = "0001-01-01T00:00:00.000000Z"


_OPENING, _PROGRESS, _CLOSING = 1, 2, 3
_RANKS = {
    "conference.created": _OPENING, "conference.participant.joined": _OPENING,
    "conference.participant.playback.started": _OPENING, "conference.participant.speak.started": _OPENING,
    "conference.playback.started": _OPENING, "conference.speak.started": _OPENING,
    "call.enqueued": _OPENING, "call.initiated": _OPENING,
    "conference.ended": _CLOSING, "conference.participant.left": _CLOSING,
    "conference.participant.playback.ended": _CLOSING, "conference.participant.speak.ended": _CLOSING,
    "conference.playback.ended": _CLOSING, "conference.speak.ended": _CLOSING,
    "call.dequeued": _CLOSING, "call.hangup": _CLOSING, "console.queue.deleted": _CLOSING,
}


def order_key(event: Event) -> str:
    """The event's place in the total order: timestamp, then rank, then id (text order works)."""
    moment = event.ordered_at
    stamp = format_timestamp(moment) if moment is not None else _NO_TIME
    return f"{stamp} {_RANKS.get(event.event_type, _PROGRESS)} {event.id}"


@dataclass
class Write:
    """Columns one event asks to set on one row: last-writer-wins, or keep-the-earliest."""

    table: str
    key: tuple[str, ...]
    latest: dict = field(default_factory=dict)
    earliest: dict = field(default_factory=dict)


# --- derived columns -------------------------------------------------------------------------


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return (parse_timestamp(end) - parse_timestamp(start)).total_seconds()


def _ending(row: dict | None, column: str, value: str, at_column: str) -> tuple[str, str | None] | None:
    """(order key, time) of the event that ended a call or conference, or None while it lives."""
    if row is None or row[column] != value:
        return None
    return row["_versions"].get(column, ""), row[at_column]


def settle_participant(row: dict, call: dict | None, conference: dict | None) -> None:
    """Status and left_at from the last report, unless the call or conference ended after it."""
    reported, reported_at = row["_reported_status"], row["_reported_at"]
    row["status"], row["left_at"] = reported, reported_at if reported == "left" else None
    if reported == "left":
        return
    since = row["_versions"].get("_reported_status", "")
    endings = [
        ending for ending in (_ending(call, "state", "hangup", "end_time"),
                              _ending(conference, "status", "completed", "ended_at"))
        if ending is not None and ending[0] > since
    ]
    if endings:
        times = [at for _, at in endings if at is not None]
        row["status"], row["left_at"] = "left", min(times) if times else None


def settle_queue_call(row: dict, call: dict | None) -> None:
    """Status, reason and wait from the last report, unless the call hung up after it while waiting."""
    reported = row["_reported_status"]
    row["status"] = reported
    row["left_at"] = row["_reported_at"] if reported == "left" else None
    row["leave_reason"] = row["_reported_reason"] if reported == "left" else None
    row["wait_time_secs"] = row["_reported_wait_time_secs"] if reported == "left" else None
    hangup = _ending(call, "state", "hangup", "end_time")
    since = row["_versions"].get("_reported_status", "")
    if reported != "left" and not row["keep_after_hangup"] and hangup is not None and hangup[0] > since:
        row["status"], row["left_at"], row["leave_reason"] = "left", hangup[1], "hangup"
    if row["status"] == "left" and row["wait_time_secs"] is None:
        row["wait_time_secs"] = _seconds_between(row["enqueued_at"], row["left_at"])


def merge(row: dict, version: str, write: Write) -> None:
    """Apply one write's columns to a row under the last-writer-wins and earliest rules."""
    versions = row["_versions"]
    for column, value in write.latest.items():
        if version > versions.get(column, ""):
            row[column] = value
            versions[column] = version
    for column, value in write.earliest.items():
        if row[column] is None or value < row[column]:
            row[column] = value


def entity_key(table: str, key: tuple[str, ...]) -> str:
    """The change key for a row, e.g. ``participant:<conference_id>:<call_control_id>``."""
    return ":".join((ENTITY[table], *key))
