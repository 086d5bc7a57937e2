"""The simulated Telnyx world: call legs, conferences, queues and recordings as one state machine.

Every change emits the webhook body Telnyx would send, to each subscribed listener, in order and
under ``lock``. REST operations are plain methods returning the REST ``data`` object or raising
WorldError; phone-network stimuli (a call arrives, is answered, hangs up, talks, presses digits) and
``tick`` (timers) drive the rest.

Idempotency: a command with a ``command_id`` already executed in the same scope (the conference
for conference actions, the call leg for call commands, every dial for dials) is not executed
again; the first result is returned again. Commands that failed are not remembered.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import logging
import random
import threading
import time
from collections import OrderedDict

from console.simulator import audio, errors, validation, wav
from console.simulator.conferences import ConferenceOperations
from console.simulator.errors import WorldError
from console.simulator.media import MediaOperations
from console.simulator.queues import QueueOperations
from console.simulator.records import Call, iso, new_call_control_id, new_uuid
from console.simulator.speech import SpeechOperations

__all__ = ["World", "WorldError"]

log = logging.getLogger(__name__)

DEFAULT_CONNECTION_ID = "1494404757140276705"
REMEMBERED_COMMANDS = 10_000
STAMPED_BESIDE_PAYLOAD = frozenset({
    "call.initiated", "call.answered", "call.hangup", "call.gather.ended", "call.enqueued", "call.dequeued",
    "conference.participant.joined", "conference.participant.left", "call.speak.started", "call.speak.ended",
})
NEVER_STAMPED = frozenset({"conference.recording.saved"})
UNWRAPPED = frozenset({"conference.floor.changed"})
SIP_CAUSES = {"normal_clearing": "200", "user_busy": "486", "call_rejected": "603", "timeout": "408",
              "no_answer": "480", "not_found": "404", "originator_cancel": "487"}


class World(ConferenceOperations, MediaOperations, QueueOperations, SpeechOperations):
    """Everything Telnyx knows about one account's calls, conferences and queues."""

    def __init__(self, *, clock=time.time, rng: random.Random | None = None,
                 connection_id: str = DEFAULT_CONNECTION_ID):
        self.lock = threading.RLock()
        self.clock = clock
        self.rng = rng or random.Random()
        self.connection_id = connection_id
        self.dial_answer_delay = 0.5
        self.unanswered_numbers: set[str] = set()
        self.recording_base_url: str | None = None
        self.playback_seconds = 5.0
        self.retention_secs = 3600.0
        self._listeners = []
        self._calls: dict[str, Call] = {}
        self._conferences = {}
        self._queues = {}
        self._recordings = {}
        self._playbacks = {}
        self._gathers = {}
        self._speeches = {}
        self._timers = []
        self._timer_order = itertools.count()
        self._done_commands: OrderedDict = OrderedDict()
        self._moment: float | None = None

    # -- plumbing ----------------------------------------------------------------------

    def _now(self) -> float:
        """The time of the change being made: a timer's due time while timers run, else the clock."""
        return self._moment if self._moment is not None else self.clock()

    def _new_id(self) -> str:
        return new_uuid(self.rng)

    def _schedule(self, due: float, action) -> None:
        """Run ``action()`` from ``tick`` once the clock reaches ``due``; actions re-check their state."""
        heapq.heappush(self._timers, (due, next(self._timer_order), action))

    def subscribe(self, listener) -> None:
        """Call ``listener(body)`` with every webhook body from now on; it must only enqueue."""
        with self.lock:
            self._listeners.append(listener)

    def _emit(self, event_type: str, payload: dict) -> None:
        """Wrap a payload as Telnyx does for this event type and hand it to every listener."""
        stamp = iso(self._now(), "microseconds")
        event = {"record_type": "event", "event_type": event_type, "id": self._new_id()}
        if event_type in STAMPED_BESIDE_PAYLOAD:
            event["occurred_at"] = stamp
        elif event_type not in NEVER_STAMPED:
            payload = {**payload, "occurred_at": stamp}
        event["payload"] = payload
        body = event if event_type in UNWRAPPED else {"data": event}
        for listener in list(self._listeners):
            try:
                listener(body)
            except Exception:
                log.exception("webhook listener failed on %s", event_type)

    def _once(self, scope: tuple, command_id: str | None, run):
        """Run a command unless the same ``command_id`` already ran in ``scope``; return its result."""
        if command_id is None:
            return run()
        key = (scope, command_id)
        if key in self._done_commands:
            return copy.deepcopy(self._done_commands[key])
        result = run()
        self._done_commands[key] = copy.deepcopy(result)
        while len(self._done_commands) > REMEMBERED_COMMANDS:
            self._done_commands.popitem(last=False)
        return result

    @staticmethod
    def _leg(call: Call) -> dict:
        return {"call_control_id": call.call_control_id, "call_leg_id": call.call_leg_id,
                "call_session_id": call.call_session_id}

    def _call_event(self, event_type: str, call: Call, *, client_state=None, **fields) -> None:
        """Emit a ``call.*`` event: the leg's ids, its client_state, the connection, then ``fields``."""
        payload = {**self._leg(call), "client_state": client_state or call.client_state,
                   "connection_id": call.connection_id}
        payload.update(fields)
        self._emit(event_type, payload)

    def _parties(self, call: Call) -> dict:
        return {"from": call.from_, "to": call.to, "start_time": iso(call.start_time, "microseconds")}

    # -- call legs ---------------------------------------------------------------------

    def _call(self, call_control_id, *, field: str = "call_control_id", in_path: bool = False) -> Call:
        """The leg with this id, or 90015 Invalid Call Control ID."""
        call = self._calls.get(call_control_id) if isinstance(call_control_id, str) else None
        if call is None:
            raise errors.invalid_call_control_id(field, in_path=in_path)
        return call

    @staticmethod
    def _require_answered(call: Call) -> None:
        if not call.alive:
            raise errors.call_ended()
        if call.answered_at is None:
            raise errors.call_not_answered()

    def _new_call(self, from_: str, to: str, direction: str, **details) -> Call:
        call = Call(call_control_id=new_call_control_id(self.rng), call_leg_id=self._new_id(),
                    call_session_id=self._new_id(), connection_id=self.connection_id, from_=from_, to=to,
                    direction=direction, start_time=self._now(), **details)
        self._calls[call.call_control_id] = call
        return call

    def incoming_call(self, from_: str, to: str, caller_id_name: str | None = None) -> dict:
        """A call arrives from the phone network and is parked (``call.initiated``, incoming)."""
        with self.lock:
            call = self._new_call(from_, to, "incoming", caller_id_name=caller_id_name or from_)
            self._call_event("call.initiated", call, caller_id_name=call.caller_id_name, direction="incoming",
                             **self._parties(call), state="parked")
            return call.rest(self._now())

    def answer_call(self, call_control_id: str) -> None:
        """The leg is answered (``call.answered``); answering twice changes nothing."""
        with self.lock:
            call = self._call(call_control_id)
            if not call.alive:
                raise errors.call_ended()
            if call.answered_at is None:
                self._answer(call)

    def _answer(self, call: Call) -> None:
        call.answered_at = self._now()
        self._call_event("call.answered", call, **self._parties(call), state="answered")
        if call.direction == "outgoing":
            self._schedule(call.answered_at + call.time_limit_secs,
                           lambda: self._end_call(call, "time_limit", "unknown"))

    def remote_hangup(self, call_control_id: str, cause="normal_clearing", source="caller") -> None:
        """The far end hangs up (``call.hangup``), with what follows: leaving conference and queue."""
        with self.lock:
            self._end_call(self._call(call_control_id), cause, source)

    def _end_call(self, call: Call, cause: str, source: str) -> None:
        """Hang a leg up once and apply the consequences in the order Telnyx reports them."""
        if not call.alive:
            return
        call.end_time = self._now()
        self._call_event("call.hangup", call, **self._parties(call), hangup_cause=cause, hangup_source=source,
                         sip_hangup_cause=SIP_CAUSES.get(cause, "unspecified"), state="hangup")
        self._cancel_gather(call, "call_hangup")
        self._silence_hung_up_call(call)
        if call.conference_id:
            conference = self._conferences[call.conference_id]
            self._participant_gone(conference, conference.participants[call.call_control_id])
        if call.queue_name:
            self._queued_call_hung_up(call)

    def talk(self, call_control_id: str) -> None:
        """A participant starts talking; when the room can hear them they take the floor."""
        with self.lock:
            call = self._call(call_control_id)
            if not call.alive or not call.conference_id:
                return
            conference = self._conferences[call.conference_id]
            participant = conference.participants[call.call_control_id]
            if conference.floor == call.call_control_id or not audio.heard_by_room(self._heard(participant)):
                return
            conference.floor = call.call_control_id
            self._emit("conference.floor.changed", self._conference_payload(conference, call))

    def dial(self, connection_id, to, from_, **options) -> dict:
        """``POST /calls``: dial a new outgoing leg that answers after ``dial_answer_delay`` seconds."""
        fields = validation.validate("dial", {**options, "connection_id": connection_id, "to": to, "from": from_})
        with self.lock:
            if fields["connection_id"] != self.connection_id:
                raise errors.invalid_connection_id()
            return self._once(("dial",), fields.get("command_id"), lambda: self._dial(fields))

    def _dial(self, fields: dict) -> dict:
        call = self._new_call(fields["from"], fields["to"], "outgoing",
                              caller_id_name=fields.get("from_display_name") or fields["from"],
                              client_state=fields.get("client_state"),
                              timeout_secs=fields.get("timeout_secs", 30),
                              time_limit_secs=fields.get("time_limit_secs", 14400))
        self._call_event("call.initiated", call, caller_id_name=call.caller_id_name, direction="outgoing",
                         **self._parties(call), state="bridging")
        self._schedule(call.start_time + self.dial_answer_delay, lambda: self._ring_out(call))
        self._schedule(call.start_time + call.timeout_secs, lambda: self._ring_timeout(call))
        return {"record_type": "call", **self._leg(call), "is_alive": True}

    def _ring_out(self, call: Call) -> None:
        if call.alive and call.answered_at is None and call.to not in self.unanswered_numbers:
            self._answer(call)

    def _ring_timeout(self, call: Call) -> None:
        if call.alive and call.answered_at is None:
            self._end_call(call, "timeout", "unknown")

    def retrieve_call(self, call_control_id) -> dict:
        """``GET /calls/{call_control_id}``: the leg's status, alive or not."""
        with self.lock:
            return self._call(call_control_id, in_path=True).rest(self._now())

    def hangup(self, call_control_id, **options) -> dict:
        """``POST /calls/{id}/actions/hangup``: end the leg (Telnyx's side hangs up)."""
        fields = validation.validate("hangup", options)
        with self.lock:
            call = self._call(call_control_id, in_path=True)
            return self._once(("call", call.call_control_id), fields.get("command_id"),
                              lambda: self._hangup(call, fields))

    def _hangup(self, call: Call, fields: dict) -> dict:
        if not call.alive:
            raise errors.call_ended()
        if fields.get("client_state"):
            call.client_state = fields["client_state"]
        if call.direction == "incoming":
            self._end_call(call, "normal_clearing", "callee")
        else:
            self._end_call(call, "normal_clearing" if call.answered_at else "originator_cancel", "caller")
        return {"result": "ok"}

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Run every timer due by ``now`` (default: the clock) in due order, then forget old history."""
        with self.lock:
            now = self.clock() if now is None else now
            while self._timers and self._timers[0][0] <= now:
                due, _, action = heapq.heappop(self._timers)
                self._moment = due
                try:
                    action()
                finally:
                    self._moment = None
            self._forget_before(now - self.retention_secs)

    def _forget_before(self, cutoff: float) -> None:
        """Drop ended legs, completed conferences and recordings older than the retention window."""
        for conference in [c for c in self._conferences.values() if not c.active and c.updated_at < cutoff]:
            del self._conferences[conference.id]
        for call in [c for c in self._calls.values() if not c.alive and c.end_time < cutoff and not c.queue_name]:
            del self._calls[call.call_control_id]
        for recording in [r for r in self._recordings.values() if r.ended_at is not None and r.ended_at < cutoff]:
            del self._recordings[recording.id]

    # -- truth and debugging -----------------------------------------------------------------

    @staticmethod
    def _heard(participant) -> dict:
        """A participant as the audio model sees it."""
        return {"call_control_id": participant.call.call_control_id, "label": participant.label,
                "supervisor_role": participant.supervisor_role, "muted": participant.muted,
                "on_hold": participant.on_hold,
                "whisper_call_control_ids": list(participant.whisper_call_control_ids)}

    def audio_paths(self, conference_id) -> dict:
        """Who hears whom right now in a conference (by id or name); left participants are excluded."""
        with self.lock:
            conference = self._conference(conference_id, names=True)
            return audio.audio_paths(conference.id, [self._heard(p) for p in conference.present()])

    def snapshot(self) -> dict:
        """The whole state in REST shapes: conferences, participants, queues, queued calls and legs."""
        with self.lock:
            now = self._now()
            return {
                "conferences": {c.id: c.rest() for c in self._conferences.values()},
                "participants": {c.id: {ccid: p.listed(c.name) for ccid, p in c.participants.items()}
                                 for c in self._conferences.values()},
                "queues": {q.name: q.rest() for q in self._queues.values()},
                "queue_calls": {q.name: {ccid: q.rest_call(ccid, now) for ccid in q.calls}
                                for q in self._queues.values()},
                "calls": {ccid: call.rest(now) for ccid, call in self._calls.items()},
            }

    def recording_wav(self, recording_id) -> bytes:
        """The saved recording as WAV bytes of its recorded (unpaused) length."""
        with self.lock:
            recording = self._recordings.get(recording_id)
            if recording is None or recording.ended_at is None:
                raise errors.recording_not_found()
            seconds, channels = recording.recorded, 2 if recording.channels == "dual" else 1
        return wav.recording_wav(seconds, channels=channels)
