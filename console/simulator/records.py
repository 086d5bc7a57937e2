"""The simulated world's records (call legs, conferences, participants, queues, recordings) and
the exact REST shapes Telnyx serialises them as."""

from __future__ import annotations

import string
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

CONTROL_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
FOUR_HOURS = 4 * 60 * 60


def iso(moment: float, timespec: str = "milliseconds") -> str:
    """An ISO-8601 UTC timestamp with a Z suffix, as Telnyx writes them."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def new_uuid(rng) -> str:
    """A version-4 UUID drawn from the world's random source, so a seed replays the same ids."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_call_control_id(rng) -> str:
    """A call control id shaped like Telnyx's: ``v3:`` and a 54-character URL-safe token."""
    return "v3:" + "".join(rng.choice(CONTROL_ID_ALPHABET) for _ in range(54))


@dataclass
class Call:
    """One call leg: incoming (parked until answered) or dialled (ringing until answered)."""

    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    from_: str
    to: str
    direction: str
    start_time: float
    caller_id_name: str | None = None
    client_state: str | None = None
    answered_at: float | None = None
    end_time: float | None = None
    conference_id: str | None = None
    queue_name: str | None = None
    timeout_secs: int = 30
    time_limit_secs: int = FOUR_HOURS

    @property
    def alive(self) -> bool:
        return self.end_time is None

    def rest(self, now: float) -> dict:
        """The ``Call`` shape of ``GET /calls/{call_control_id}``."""
        shape = {
            "record_type": "call",
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "client_state": self.client_state,
            "is_alive": self.alive,
            "start_time": iso(self.start_time),
            "call_duration": int((self.end_time if self.end_time is not None else now) - self.start_time),
        }
        if self.end_time is not None:
            shape["end_time"] = iso(self.end_time)
        return shape


@dataclass
class Participant:
    """A call leg's membership of one conference, with the supervisor role Telnyx never reports."""

    id: str
    call: Call
    conference_id: str
    created_at: float
    updated_at: float
    label: str | None = None
    status: str = "joined"
    muted: bool = False
    on_hold: bool = False
    held_until_start: bool = False
    end_conference_on_exit: bool = False
    soft_end_conference_on_exit: bool = False
    beep_enabled: str | None = None
    supervisor_role: str = "none"
    whisper_call_control_ids: list[str] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.status != "left"

    @property
    def whispering(self) -> bool:
        return self.supervisor_role == "whisper" and bool(self.whisper_call_control_ids)

    def listed(self, conference_name: str) -> dict:
        """The ``Participant`` shape of the participant list."""
        return {
            "record_type": "participant",
            "id": self.id,
            "call_leg_id": self.call.call_leg_id,
            "call_control_id": self.call.call_control_id,
            "conference": {"id": self.conference_id, "name": conference_name},
            "whisper_call_control_ids": list(self.whisper_call_control_ids),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "end_conference_on_exit": self.end_conference_on_exit,
            "soft_end_conference_on_exit": self.soft_end_conference_on_exit,
            "status": self.status,
            "muted": self.muted,
            "on_hold": self.on_hold,
        }

    def single(self) -> dict:
        """The ``ConferenceParticipant`` shape of the single GET and PATCH (flat id, a label, no record_type)."""
        return {
            "id": self.id,
            "call_control_id": self.call.call_control_id,
            "call_leg_id": self.call.call_leg_id,
            "conference_id": self.conference_id,
            "label": self.label,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "end_conference_on_exit": self.end_conference_on_exit,
            "soft_end_conference_on_exit": self.soft_end_conference_on_exit,
            "status": self.status,
            "muted": self.muted,
            "on_hold": self.on_hold,
            "whisper_call_control_ids": list(self.whisper_call_control_ids),
        }


@dataclass
class Conference:
    """A conference from creation (init or in_progress) to completed, with its participants by leg."""

    id: str
    name: str
    creator: Call
    created_at: float
    updated_at: float
    expires_at: float
    connection_id: str
    region: str
    status: str = "in_progress"
    client_state: str | None = None
    beep_enabled: str = "never"
    comfort_noise: bool = True
    max_participants: int = 250
    hold_audio_url: str | None = None
    end_reason: str | None = None
    ended_by: dict | None = None
    floor: str | None = None
    ending: bool = False
    participants: dict[str, Participant] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status != "completed"

    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.present]

    def rest(self) -> dict:
        """The ``Conference`` shape; ``end_reason`` and ``ended_by`` appear once it has ended."""
        shape = {
            "record_type": "conference",
            "id": self.id,
            "name": self.name,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "updated_at": iso(self.updated_at),
            "status": self.status,
            "region": self.region,
            "connection_id": self.connection_id,
        }
        if self.end_reason:
            shape["end_reason"] = self.end_reason
        if self.ended_by:
            shape["ended_by"] = dict(self.ended_by)
        return shape


@dataclass
class QueuedCall:
    """A call waiting in a queue; it may outlive its leg when ``keep_after_hangup`` is set."""

    call: Call
    enqueued_at: float
    max_wait_time_secs: int | None = None
    keep_after_hangup: bool = False


@dataclass
class Queue:
    """A named FIFO of calls, with the waits of calls that already left it for the average."""

    id: str
    name: str
    max_size: int
    created_at: float
    updated_at: float
    calls: dict[str, QueuedCall] = field(default_factory=dict)
    past_waits: deque = field(default_factory=lambda: deque(maxlen=200))

    def position(self, call_control_id: str) -> int:
        return list(self.calls).index(call_control_id) + 1

    def average_wait(self) -> int:
        return int(sum(self.past_waits) / len(self.past_waits)) if self.past_waits else 0

    def rest(self) -> dict:
        """The ``Queue`` shape."""
        return {
            "record_type": "queue",
            "id": self.id,
            "name": self.name,
            "current_size": len(self.calls),
            "max_size": self.max_size,
            "average_wait_time_secs": self.average_wait(),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    def rest_call(self, call_control_id: str, now: float) -> dict:
        """The ``QueueCall`` shape of one waiting call, with its live position and wait."""
        queued = self.calls[call_control_id]
        call = queued.call
        return {
            "record_type": "queue_call",
            "call_control_id": call.call_control_id,
            "call_leg_id": call.call_leg_id,
            "call_session_id": call.call_session_id,
            "connection_id": call.connection_id,
            "from": call.from_,
            "to": call.to,
            "enqueued_at": iso(queued.enqueued_at),
            "wait_time_secs": int(now - queued.enqueued_at),
            "queue_position": self.position(call_control_id),
            "queue_id": self.id,
            "is_alive": call.alive,
        }


@dataclass
class Recording:
    """A conference recording; its length counts only the time it was not paused."""

    id: str
    conference_id: str
    format: str
    channels: str
    started_at: float
    running_since: float | None
    recorded: float = 0.0
    ended_at: float | None = None

    def length(self, now: float) -> float:
        running = now - self.running_since if self.running_since is not None else 0.0
        return self.recorded + running


@dataclass
class Playback:
    """Audio or speech going into a conference (target None) or to one participant."""

    id: str
    conference_id: str
    kind: str
    target: str | None
    ends_at: float | None
    media_url: str | None = None
    media_name: str | None = None


@dataclass
class Gather:
    """A ``gather_using_audio`` waiting for a participant's digits."""

    conference_id: str
    call: Call
    deadline: float
    client_state: str | None
    gather_id: str | None
    minimum_digits: int
    maximum_digits: int
    terminating_digit: str
    valid_digits: str
    inter_digit_timeout: float
    digits: str = ""
    generation: int = 0
