"""Media in conferences: play and speak (conference-wide or to participants), stop, DTMF, gathering
digits (``call.gather.ended``) and recordings (``conference.recording.saved`` with a WAV URL)."""

from __future__ import annotations

import re

from console.simulator import errors
from console.simulator.records import Gather, Playback, Recording, iso

SECONDS_PER_WORD = 0.4
TAG = re.compile(r"<[^>]+>")


class MediaOperations:
    """The media half of the World (mixed into it; shares its lock, clock and records)."""

    # -- play, speak, stop ---------------------------------------------------------------------

    def _media_event(self, playback: Playback, phase: str) -> None:
        conference = self._conferences[playback.conference_id]
        creator_session = conference.creator.call_session_id
        if playback.target is None:
            payload = {"conference_id": conference.id, "connection_id": conference.connection_id,
                       "creator_call_session_id": creator_session}
            event_type = f"conference.{playback.kind}.{phase}"
        else:
            call = self._calls[playback.target]
            payload = {**self._conference_payload(conference, call), "creator_call_session_id": creator_session}
            event_type = f"conference.participant.{playback.kind}.{phase}"
        if playback.kind == "playback":
            payload.update(media_name=playback.media_name, media_url=playback.media_url)
        self._emit(event_type, payload)

    def _start_media(self, conference, kind: str, target: str | None, seconds: float | None, **media) -> None:
        """Start audio for the room or one participant, replacing what that target was hearing."""
        for playing in list(self._playbacks.values()):
            if playing.conference_id == conference.id and playing.kind == kind and playing.target == target:
                self._finish_media(playing.id)
        now = self._now()
        playback = Playback(id=self._new_id(), conference_id=conference.id, kind=kind, target=target,
                            ends_at=None if seconds is None else now + seconds, **media)
        self._playbacks[playback.id] = playback
        self._media_event(playback, "started")
        if playback.ends_at is not None:
            self._schedule(playback.ends_at, lambda: self._finish_media(playback.id))

    def _finish_media(self, playback_id: str) -> None:
        playback = self._playbacks.pop(playback_id, None)
        if playback is not None:
            self._media_event(playback, "ended")

    def _for_targets(self, conference, fields: dict, kind: str, seconds, **media) -> None:
        if fields.get("call_control_ids"):
            for participant in self._targets(conference, fields["call_control_ids"]):
                self._start_media(conference, kind, participant.call.call_control_id, seconds, **media)
        else:
            self._start_media(conference, kind, None, seconds, **media)

    def _on_play(self, conference, fields: dict) -> None:
        if not fields.get("audio_url") and not fields.get("media_name"):
            raise errors.missing("audio_url")
        loops = fields.get("loop", 1)
        seconds = None if loops is None else loops * self.playback_seconds
        self._for_targets(conference, fields, "playback", seconds,
                          media_url=fields.get("audio_url"), media_name=fields.get("media_name"))

    def _on_speak(self, conference, fields: dict) -> None:
        words = len(TAG.sub(" ", fields["payload"]).split())
        self._for_targets(conference, fields, "speak", max(1.0, words * SECONDS_PER_WORD))

    def _on_stop(self, conference, fields: dict) -> None:
        targets = None
        if fields.get("call_control_ids"):
            targets = {p.call.call_control_id for p in self._targets(conference, fields["call_control_ids"])}
        for playback in list(self._playbacks.values()):
            if playback.conference_id == conference.id and (targets is None or playback.target in targets):
                self._finish_media(playback.id)

    def _on_send_dtmf(self, conference, fields: dict) -> None:
        self._targets(conference, fields.get("call_control_ids"))

    def _stop_participant_media(self, conference, participant) -> None:
        ccid = participant.call.call_control_id
        for playback in list(self._playbacks.values()):
            if playback.conference_id == conference.id and playback.target == ccid:
                self._finish_media(playback.id)
        gather = self._gathers.get(ccid)
        if gather is not None and gather.conference_id == conference.id:
            self._cancel_gather(participant.call, "cancelled")

    def _stop_conference_media(self, conference) -> None:
        for playback in list(self._playbacks.values()):
            if playback.conference_id == conference.id:
                self._finish_media(playback.id)
        for gather in list(self._gathers.values()):
            if gather.conference_id == conference.id:
                self._cancel_gather(gather.call, "cancelled")

    # -- gathering digits ----------------------------------------------------------------------

    def _on_gather_using_audio(self, conference, fields: dict) -> None:
        participant = self._present(conference, fields["call_control_id"])
        call = participant.call
        self._cancel_gather(call, "cancelled")
        first_wait = fields.get("initial_timeout_millis", fields.get("timeout_millis", 60000)) / 1000
        gather = Gather(
            conference_id=conference.id, call=call, deadline=self._now() + first_wait,
            client_state=fields.get("client_state"), gather_id=fields.get("gather_id"),
            minimum_digits=fields.get("minimum_digits", 1), maximum_digits=fields.get("maximum_digits", 128),
            terminating_digit=fields.get("terminating_digit", "#"),
            valid_digits=fields.get("valid_digits", "0123456789#*"),
            inter_digit_timeout=fields.get("inter_digit_timeout_millis", 5000) / 1000,
        )
        self._gathers[call.call_control_id] = gather
        self._arm_gather(gather)

    def _arm_gather(self, gather: Gather) -> None:
        gather.generation += 1
        generation = gather.generation
        self._schedule(gather.deadline, lambda: self._gather_deadline(gather, generation))

    def _gather_deadline(self, gather: Gather, generation: int) -> None:
        if self._gathers.get(gather.call.call_control_id) is gather and gather.generation == generation:
            self._finish_gather(gather, "valid" if len(gather.digits) >= gather.minimum_digits else "timeout")

    def press_digits(self, call_control_id: str, digits: str) -> None:
        """A caller presses keys; a running gather collects them until it has enough or sees ``#``."""
        with self.lock:
            call = self._call(call_control_id)
            for digit in digits:
                gather = self._gathers.get(call.call_control_id)
                if gather is None:
                    return
                if digit == gather.terminating_digit:
                    self._finish_gather(gather, "valid" if len(gather.digits) >= gather.minimum_digits else "invalid")
                elif digit in gather.valid_digits:
                    gather.digits += digit
                    if len(gather.digits) >= gather.maximum_digits:
                        self._finish_gather(gather, "valid")
                    else:
                        gather.deadline = self._now() + gather.inter_digit_timeout
                        self._arm_gather(gather)

    def _finish_gather(self, gather: Gather, status: str) -> None:
        call = gather.call
        if self._gathers.get(call.call_control_id) is not gather:
            return
        del self._gathers[call.call_control_id]
        extra = {"gather_id": gather.gather_id} if gather.gather_id else {}
        self._call_event("call.gather.ended", call, client_state=gather.client_state, digits=gather.digits,
                         **{"from": call.from_, "to": call.to}, status=status, **extra)

    def _cancel_gather(self, call, status: str) -> None:
        gather = self._gathers.get(call.call_control_id)
        if gather is not None:
            self._finish_gather(gather, status)

    # -- recordings ------------------------------------------------------------------------------

    def _on_record_start(self, conference, fields: dict) -> None:
        now = self._now()
        recording = Recording(id=self._new_id(), conference_id=conference.id, format=fields["format"],
                              channels=fields.get("channels", "single"), started_at=now, running_since=now)
        self._recordings[recording.id] = recording

    def _running_recordings(self, conference, recording_id: str | None) -> list[Recording]:
        """The conference's unsaved recordings, or just the one named (404 10005 when it is not one)."""
        unsaved = [r for r in self._recordings.values() if r.conference_id == conference.id and r.ended_at is None]
        if recording_id is not None:
            unsaved = [r for r in unsaved if r.id == recording_id]
        if not unsaved:
            raise errors.recording_not_found()
        return unsaved

    def _on_record_pause(self, conference, fields: dict) -> None:
        now = self._now()
        for recording in self._running_recordings(conference, fields.get("recording_id")):
            if recording.running_since is not None:
                recording.recorded += now - recording.running_since
                recording.running_since = None

    def _on_record_resume(self, conference, fields: dict) -> None:
        for recording in self._running_recordings(conference, fields.get("recording_id")):
            if recording.running_since is None:
                recording.running_since = self._now()

    def _on_record_stop(self, conference, fields: dict) -> None:
        recordings = self._running_recordings(conference, fields.get("recording_id"))
        self._save_recordings(conference, fields.get("client_state"), recordings)

    def _save_recordings(self, conference, client_state, recordings=None) -> None:
        """Stop recordings and announce each saved file with ``conference.recording.saved``."""
        if recordings is None:
            recordings = [r for r in self._recordings.values()
                          if r.conference_id == conference.id and r.ended_at is None]
        now = self._now()
        creator = conference.creator
        for recording in recordings:
            recording.recorded = recording.length(now)
            recording.running_since = None
            recording.ended_at = now
            self._emit("conference.recording.saved", {
                "call_control_id": creator.call_control_id,
                "call_session_id": creator.call_session_id,
                "channels": recording.channels,
                "client_state": client_state or conference.client_state,
                "conference_id": conference.id,
                "connection_id": conference.connection_id,
                "format": recording.format,
                "public_recording_urls": {"mp3": None, "wav": None},
                "recording_ended_at": iso(recording.ended_at, "microseconds"),
                "recording_id": recording.id,
                "recording_started_at": iso(recording.started_at, "microseconds"),
                "recording_urls": {"mp3": None, "wav": self._recording_url(recording.id)},
            })

    def _recording_url(self, recording_id: str) -> str:
        base = (self.recording_base_url or "").rstrip("/")
        return f"{base}/_sim/recordings/{recording_id}.wav"
