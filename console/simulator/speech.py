"""Speech to one call leg (``POST /calls/{id}/actions/speak``): a queue of messages per leg, each
announced by ``call.speak.started`` and ``call.speak.ended`` (completed, or call_hangup).

Telnyx plays consecutive speak commands one after another, so a message sent while another is
playing waits its turn; only the leg itself hears it, wherever the leg is (parked or queued).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from console.simulator import validation
from console.simulator.media import SECONDS_PER_WORD, TAG
from console.simulator.records import Call


@dataclass
class Speech:
    """One message for one leg; ``seconds`` is None when it loops until the call ends."""

    call: Call
    payload: str
    seconds: float | None
    started_at: float | None = None


def speaking_seconds(payload: str, loops: int | None) -> float | None:
    """How long a message lasts: words at a steady pace, at least a second, times its loops."""
    words = len(TAG.sub(" ", payload).split())
    return None if loops is None else max(1.0, words * SECONDS_PER_WORD) * loops


class SpeechOperations:
    """The call-speech part of the World (mixed into it; shares its lock, clock and records)."""

    def speak_to_call(self, call_control_id, **options) -> dict:
        """``POST /calls/{id}/actions/speak``: queue text to be spoken to this leg only."""
        fields = validation.validate("speak_call", options)
        with self.lock:
            call = self._call(call_control_id, in_path=True)
            return self._once(("call", call.call_control_id), fields.get("command_id"),
                              lambda: self._speak_to_call(call, fields))

    def _speak_to_call(self, call: Call, fields: dict) -> dict:
        self._require_answered(call)
        if fields.get("client_state"):
            call.client_state = fields["client_state"]
        speech = Speech(call=call, payload=fields["payload"],
                        seconds=speaking_seconds(fields["payload"], fields.get("loop", 1)))
        waiting = self._speeches.setdefault(call.call_control_id, deque())
        waiting.append(speech)
        if len(waiting) == 1:
            self._start_speech(speech)
        return {"result": "ok"}

    def _start_speech(self, speech: Speech) -> None:
        speech.started_at = self._now()
        self._call_event("call.speak.started", speech.call)
        if speech.seconds is not None:
            self._schedule(speech.started_at + speech.seconds, lambda: self._finish_speech(speech))

    def _finish_speech(self, speech: Speech) -> None:
        """The message has been spoken in full; the next one waiting for this leg starts."""
        waiting = self._speeches.get(speech.call.call_control_id)
        if not waiting or waiting[0] is not speech:
            return
        waiting.popleft()
        self._call_event("call.speak.ended", speech.call, status="completed")
        if waiting:
            self._start_speech(waiting[0])
        else:
            del self._speeches[speech.call.call_control_id]

    def _silence_hung_up_call(self, call: Call) -> None:
        """The leg hung up: the message playing ends with call_hangup; those waiting are never spoken."""
        waiting = self._speeches.pop(call.call_control_id, None)
        if waiting and waiting[0].started_at is not None:
            self._call_event("call.speak.ended", call, status="call_hangup")

    def speech_heard_by(self, call_control_id: str) -> str | None:
        """The text this leg is hearing spoken right now, or None: the simulator's truth for tests."""
        with self.lock:
            waiting = self._speeches.get(call_control_id)
            return waiting[0].payload if waiting else None
