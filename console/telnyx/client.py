"""What the console can ask Telnyx: conferences and their actions, queues, and call legs.

Each method names one endpoint of the conference, queue and call-leg REST API; how the request
travels (session, auth, retries, pages) is transport.py's job. The app keeps one client, reached
with :func:`get_telnyx`.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import current_app

from console.telnyx.transport import TelnyxTransport, compact


class TelnyxClient(TelnyxTransport):
    """Speaks to Telnyx (or the bundled simulator) for the console; one instance per app."""

    # -- conferences -----------------------------------------------------------------

    def list_conferences(self, name=None, status=None, region=None, *,
                         page_size: int = 250) -> Iterator[dict]:
        """Every conference, newest expiry first, optionally filtered by exact name or status."""
        filters = {"filter[name]": name, "filter[status]": status, "region": region}
        return self._pages(("conferences",), filters, page_size)

    def create_conference(self, call_control_id, name, **options) -> dict:
        """Start a conference around an answered call."""
        return self._command("conferences", call_control_id=call_control_id, name=name, **options)

    def retrieve_conference(self, conference_id, *, region=None) -> dict:
        """One conference by id."""
        return self._call("GET", "conferences", conference_id, params=compact({"region": region}))

    def list_participants(self, conference_id, muted=None, on_hold=None, whispering=None,
                          *, region=None, page_size: int = 250) -> Iterator[dict]:
        """Every participant of a conference, optionally filtered by mute, hold or whisper state."""
        filters = {"filter[muted]": muted, "filter[on_hold]": on_hold,
                   "filter[whispering]": whispering, "region": region}
        return self._pages(("conferences", conference_id, "participants"), filters, page_size)

    def retrieve_participant(self, conference_id, participant_id) -> dict:
        """One participant, by id or label."""
        return self._call("GET", "conferences", conference_id, "participants", participant_id)

    def update_participant(self, conference_id, participant_id, **fields) -> dict:
        """Change a participant's beep and end-on-exit settings."""
        return self._call("PATCH", "conferences", conference_id, "participants", participant_id,
                          body=compact(fields))

    # -- conference actions ------------------------------------------------------------

    def _action(self, conference_id, action, **fields) -> dict:
        """POST an action whose schema has no ``command_id``; it is therefore never retried."""
        return self._call("POST", "conferences", conference_id, "actions", action, body=compact(fields))

    def end_conference(self, conference_id, **options) -> dict:
        """End the conference for everyone."""
        return self._command("conferences", conference_id, "actions", "end", **options)

    def gather_using_audio(self, conference_id, call_control_id, **options) -> dict:
        """Play audio to one participant and collect DTMF digits."""
        return self._action(conference_id, "gather_using_audio", call_control_id=call_control_id, **options)

    def hold(self, conference_id, **options) -> dict:
        """Put participants on hold (everyone when ``call_control_ids`` is empty)."""
        return self._action(conference_id, "hold", **options)

    def unhold(self, conference_id, call_control_ids, **options) -> dict:
        """Take the given participants off hold."""
        return self._action(conference_id, "unhold", call_control_ids=call_control_ids, **options)

    def join(self, conference_id, call_control_id, **options) -> dict:
        """Join a call to the conference, e.g. a supervisor line with a ``supervisor_role``."""
        return self._command("conferences", conference_id, "actions", "join",
                             call_control_id=call_control_id, **options)

    def leave(self, conference_id, call_control_id, **options) -> dict:
        """Remove a call from the conference without hanging it up."""
        return self._command("conferences", conference_id, "actions", "leave",
                             call_control_id=call_control_id, **options)

    def mute(self, conference_id, **options) -> dict:
        """Mute participants (everyone when ``call_control_ids`` is empty)."""
        return self._action(conference_id, "mute", **options)

    def unmute(self, conference_id, **options) -> dict:
        """Unmute participants (everyone when ``call_control_ids`` is empty)."""
        return self._action(conference_id, "unmute", **options)

    def play(self, conference_id, **options) -> dict:
        """Play an audio URL or stored media into the conference."""
        return self._action(conference_id, "play", **options)

    def stop(self, conference_id, **options) -> dict:
        """Stop audio being played into the conference."""
        return self._action(conference_id, "stop", **options)

    def speak(self, conference_id, payload, voice, **options) -> dict:
        """Speak text into the conference."""
        return self._command("conferences", conference_id, "actions", "speak",
                             payload=payload, voice=voice, **options)

    def send_dtmf(self, conference_id, digits, **options) -> dict:
        """Send DTMF tones to participants."""
        return self._action(conference_id, "send_dtmf", digits=digits, **options)

    def record_start(self, conference_id, format, **options) -> dict:
        """Start recording the conference as wav or mp3."""
        return self._command("conferences", conference_id, "actions", "record_start",
                             format=format, **options)

    def record_stop(self, conference_id, **options) -> dict:
        """Stop recording the conference."""
        return self._command("conferences", conference_id, "actions", "record_stop", **options)

    def record_pause(self, conference_id, **options) -> dict:
        """Pause the conference recording."""
        return self._command("conferences", conference_id, "actions", "record_pause", **options)

    def record_resume(self, conference_id, **options) -> dict:
        """Resume a paused conference recording."""
        return self._command("conferences", conference_id, "actions", "record_resume", **options)

    def update(self, conference_id, call_control_id, supervisor_role, **options) -> dict:
        """Change a participant's supervisor role (barge, monitor, none or whisper)."""
        return self._command("conferences", conference_id, "actions", "update",
                             call_control_id=call_control_id, supervisor_role=supervisor_role, **options)

    # -- queues ----------------------------------------------------------------------

    def list_queues(self, *, page_size: int = 250) -> Iterator[dict]:
        """Every call queue."""
        return self._pages(("queues",), {}, page_size)

    def create_queue(self, queue_name, max_size=None) -> dict:
        """Create a queue; not retried, because the request has no command_id."""
        return self._call("POST", "queues", body=compact({"queue_name": queue_name, "max_size": max_size}))

    def retrieve_queue(self, name) -> dict:
        """One queue by name."""
        return self._call("GET", "queues", name)

    def update_queue(self, name, max_size) -> dict:
        """Change a queue's maximum size (Telnyx uses POST for this)."""
        return self._call("POST", "queues", name, body={"max_size": max_size})

    def delete_queue(self, name) -> None:
        """Delete a queue."""
        return self._call("DELETE", "queues", name)

    def list_queue_calls(self, name, *, page_size: int = 250) -> Iterator[dict]:
        """Every call waiting in a queue."""
        return self._pages(("queues", name, "calls"), {}, page_size)

    def retrieve_queue_call(self, name, call_control_id) -> dict:
        """One queued call."""
        return self._call("GET", "queues", name, "calls", call_control_id)

    def update_queue_call(self, name, call_control_id, keep_after_hangup) -> None:
        """Say whether a queued call keeps its place after it hangs up."""
        return self._call("PATCH", "queues", name, "calls", call_control_id,
                          body={"keep_after_hangup": keep_after_hangup})

    def remove_queue_call(self, name, call_control_id) -> None:
        """Remove a call that is no longer alive from a queue."""
        return self._call("DELETE", "queues", name, "calls", call_control_id)

    def enqueue(self, call_control_id, queue_name, **options) -> dict:
        """Put a call into a queue, creating the queue if needed."""
        return self._command("calls", call_control_id, "actions", "enqueue", queue_name=queue_name, **options)

    def leave_queue(self, call_control_id, **options) -> dict:
        """Take a call out of its queue."""
        return self._command("calls", call_control_id, "actions", "leave_queue", **options)

    # -- call legs -------------------------------------------------------------------

    def dial(self, connection_id, to, from_, **options) -> dict:
        """Dial a new leg, such as the supervisor line."""
        return self._command("calls", connection_id=connection_id, to=to, **{"from": from_}, **options)

    def retrieve_call(self, call_control_id) -> dict:
        """A call leg's status."""
        return self._call("GET", "calls", call_control_id)

    def hangup(self, call_control_id, **options) -> dict:
        """Hang up a call leg."""
        return self._command("calls", call_control_id, "actions", "hangup", **options)

    def speak_to_call(self, call_control_id, payload, voice, **options) -> dict:
        """Speak text to one call leg only, e.g. a caller waiting in a queue (no conference needed)."""
        return self._command("calls", call_control_id, "actions", "speak", payload=payload, voice=voice, **options)


def get_telnyx() -> TelnyxClient:
    """The current app's Telnyx client."""
    return current_app.extensions["console.telnyx"]
