"""Conferences and their participants: creation, joining and leaving, mute, hold, supervisor roles,
and the rules that end a conference (all left, host left, ended via API, time exceeded)."""

from __future__ import annotations

from console.simulator import errors, validation
from console.simulator.records import FOUR_HOURS, Conference, Participant

# Spec: these actions name the conference by id only; every other action takes an id or a name.
BY_ID_ONLY = frozenset({"end", "gather_using_audio", "send_dtmf"})
ACTIONS = frozenset({
    "end", "gather_using_audio", "hold", "unhold", "join", "leave", "mute", "unmute", "play", "stop", "speak",
    "send_dtmf", "record_start", "record_stop", "record_pause", "record_resume", "update",
})
# conference.ended's `reason` lists only all_left, host_left and time_exceeded (SPEC ConferenceEnded), while
# the Conference resource's end_reason adds ended_via_api. The end command hangs every participant up, so its
# webhook says all_left; the REST shape keeps ended_via_api. Any other cause is already a listed reason.
WEBHOOK_END_REASONS = {"ended_via_api": "all_left"}


class ConferenceOperations:
    """The conference half of the World (mixed into it; shares its lock, clock and records)."""

    # -- lookups ----------------------------------------------------------------------------

    def _conference(self, id_or_name, *, names: bool, parameter: str = "id") -> Conference:
        """A conference by id or, when allowed, by name (the live one first, else the latest)."""
        conference = self._conferences.get(id_or_name)
        if conference is None and names:
            named = [c for c in self._conferences.values() if c.name == id_or_name]
            live = [c for c in named if c.active]
            conference = (live or named or [None])[-1]
        if conference is None:
            raise errors.conference_not_found(parameter)
        return conference

    def _conference_payload(self, conference: Conference, call) -> dict:
        """Fields shared by conference events about one leg; client_state is the conference's."""
        return {**self._leg(call), "client_state": conference.client_state, "conference_id": conference.id,
                "connection_id": conference.connection_id}

    def _present(self, conference: Conference, call_control_id: str, field: str = "call_control_id") -> Participant:
        participant = conference.participants.get(call_control_id)
        if participant is None or not participant.present:
            raise errors.invalid_call_control_id(field)
        return participant

    def _targets(self, conference: Conference, call_control_ids) -> list[Participant]:
        """The participants named by ``call_control_ids``; everyone present when it is empty or absent."""
        if not call_control_ids:
            return conference.present()
        return [self._present(conference, ccid, "call_control_ids") for ccid in call_control_ids]

    def _check_whisper_targets(self, call_control_ids) -> list[str]:
        for ccid in call_control_ids or []:
            self._call(ccid, field="whisper_call_control_ids")
        return list(dict.fromkeys(call_control_ids or []))

    # -- REST: conferences and participants ---------------------------------------------------

    def create_conference(self, call_control_id, name, **options) -> dict:
        """``POST /conferences``: start a conference around an answered leg, which joins it."""
        fields = validation.validate("create_conference",
                                     {**options, "call_control_id": call_control_id, "name": name})
        with self.lock:
            call = self._call(fields["call_control_id"])
            return self._once(("call", call.call_control_id), fields.get("command_id"),
                              lambda: self._create_conference(call, fields))

    def _create_conference(self, call, fields: dict) -> dict:
        self._require_answered(call)
        if any(c.active and c.name == fields["name"] for c in self._conferences.values()):
            raise errors.conference_name_active()
        now = self._now()
        lifetime = min(FOUR_HOURS, fields["duration_minutes"] * 60) if "duration_minutes" in fields else FOUR_HOURS
        conference = Conference(
            id=self._new_id(), name=fields["name"], creator=call, created_at=now, updated_at=now,
            expires_at=now + lifetime, connection_id=self.connection_id, region=fields.get("region", "US"),
            status="in_progress" if fields.get("start_conference_on_create", True) else "init",
            client_state=fields.get("client_state"), beep_enabled=fields.get("beep_enabled", "never"),
            comfort_noise=fields.get("comfort_noise", True), max_participants=fields.get("max_participants", 250),
            hold_audio_url=fields.get("hold_audio_url") or fields.get("hold_media_name"),
        )
        if conference.client_state:
            call.client_state = conference.client_state
        self._detach(call)
        self._conferences[conference.id] = conference
        self._emit("conference.created", self._conference_payload(conference, call))
        self._add_participant(conference, call, {})
        self._schedule(conference.expires_at, lambda: self._expire(conference))
        return conference.rest()

    def list_conferences(self, name=None, status=None) -> list[dict]:
        """Every conference known, newest expiry first, optionally by exact name and status."""
        if status is not None and status not in validation.CONFERENCE_STATUSES:
            raise errors.bad_enum("filter[status]", validation.CONFERENCE_STATUSES, in_query=True)
        with self.lock:
            chosen = [c for c in reversed(self._conferences.values())
                      if (name is None or c.name == name) and (status is None or c.status == status)]
            chosen.sort(key=lambda c: c.expires_at, reverse=True)
            return [c.rest() for c in chosen]

    def retrieve_conference(self, id_or_name, *, names: bool = True) -> dict:
        """One conference; the REST route passes ``names=False`` because the spec takes ids only there."""
        with self.lock:
            return self._conference(id_or_name, names=names).rest()

    def list_participants(self, conference_id, muted=None, on_hold=None, whispering=None) -> list[dict]:
        """Every participant of a conference (including those who left), in joining order, filtered."""
        with self.lock:
            conference = self._conference(conference_id, names=False, parameter="conference_id")
            return [p.listed(conference.name) for p in conference.participants.values()
                    if (muted is None or p.muted == muted) and (on_hold is None or p.on_hold == on_hold)
                    and (whispering is None or p.whispering == whispering)]

    def _participant(self, conference: Conference, participant_id, *, labels: bool) -> Participant:
        for participant in conference.participants.values():
            keys = (participant.id, participant.call.call_control_id)
            if participant_id in keys or (labels and participant.label and participant.label == participant_id):
                return participant
        raise errors.not_found("participant_id")

    def retrieve_participant(self, conference_id, participant_id_or_label) -> dict:
        """One participant by id (or call control id) or label, in the ConferenceParticipant shape."""
        with self.lock:
            conference = self._conference(conference_id, names=False)
            return self._participant(conference, participant_id_or_label, labels=True).single()

    def update_participant(self, conference_id, participant_id, **fields) -> dict:
        """Change a participant's beep and end-on-exit settings (the only three fields allowed)."""
        checked = validation.validate("update_participant", fields)
        with self.lock:
            conference = self._conference(conference_id, names=False)
            participant = self._participant(conference, participant_id, labels=False)
            if not conference.active:
                raise errors.conference_ended()
            for key, value in checked.items():
                setattr(participant, key, value)
            participant.updated_at = self._now()
            return participant.single()

    # -- REST: actions ----------------------------------------------------------------------

    def conference_action(self, conference_id_or_name, action: str, body: dict) -> dict:
        """``POST /conferences/{id}/actions/<action>``: check, find, deduplicate, then act."""
        if action not in ACTIONS:
            raise errors.route_not_found()
        fields = validation.validate(action, body or {})
        with self.lock:
            conference = self._conference(conference_id_or_name, names=action not in BY_ID_ONLY)
            return self._once(("conference", conference.id), fields.get("command_id"),
                              lambda: self._act(conference, action, fields))

    def _act(self, conference: Conference, action: str, fields: dict) -> dict:
        if not conference.active:
            raise errors.conference_ended()
        getattr(self, f"_on_{action}")(conference, fields)
        return {"result": "ok"}

    def _on_end(self, conference: Conference, fields: dict) -> None:
        self._end_conference(conference, "ended_via_api", hang_up=True)

    def _on_join(self, conference: Conference, fields: dict) -> None:
        call = self._call(fields["call_control_id"])
        self._require_answered(call)
        already = conference.participants.get(call.call_control_id)
        if already is not None and already.present:
            return
        if len(conference.present()) >= conference.max_participants:
            raise errors.conference_full(conference.max_participants)
        whisper_targets = self._check_whisper_targets(fields.get("whisper_call_control_ids"))
        self._detach(call)
        if fields.get("client_state"):
            call.client_state = fields["client_state"]
            if call is conference.creator:
                conference.client_state = fields["client_state"]
        if fields.get("start_conference_on_enter") and conference.status == "init":
            self._start(conference)
        self._add_participant(conference, call, {**fields, "whisper_call_control_ids": whisper_targets})

    def _on_leave(self, conference: Conference, fields: dict) -> None:
        self._participant_gone(conference, self._present(conference, fields["call_control_id"]))

    def _set_each(self, conference: Conference, fields: dict, **changes) -> None:
        now = self._now()
        for participant in self._targets(conference, fields.get("call_control_ids")):
            for key, value in changes.items():
                setattr(participant, key, value)
            participant.updated_at = now

    def _on_mute(self, conference: Conference, fields: dict) -> None:
        self._set_each(conference, fields, muted=True)

    def _on_unmute(self, conference: Conference, fields: dict) -> None:
        self._set_each(conference, fields, muted=False)

    def _on_hold(self, conference: Conference, fields: dict) -> None:
        self._set_each(conference, fields, on_hold=True, held_until_start=False)

    def _on_unhold(self, conference: Conference, fields: dict) -> None:
        self._set_each(conference, fields, on_hold=False, held_until_start=False)

    def _on_update(self, conference: Conference, fields: dict) -> None:
        participant = self._present(conference, fields["call_control_id"])
        targets = self._check_whisper_targets(fields.get("whisper_call_control_ids"))
        participant.supervisor_role = fields["supervisor_role"]
        participant.whisper_call_control_ids = targets if fields["supervisor_role"] == "whisper" else []
        participant.updated_at = self._now()

    # -- membership and ending ------------------------------------------------------------------

    def _detach(self, call) -> None:
        """Take a leg out of the conference or queue it is in before it goes somewhere else."""
        if call.conference_id:
            conference = self._conferences[call.conference_id]
            self._participant_gone(conference, conference.participants[call.call_control_id])
        if call.queue_name:
            self._dequeue(call, "bridged")

    def _add_participant(self, conference: Conference, call, fields: dict) -> Participant:
        now = self._now()
        role = fields.get("supervisor_role", "none")
        participant = Participant(
            id=self._new_id(), call=call, conference_id=conference.id, created_at=now, updated_at=now,
            label=fields.get("label"), muted=fields.get("mute", False), on_hold=fields.get("hold", False),
            end_conference_on_exit=fields.get("end_conference_on_exit", False),
            soft_end_conference_on_exit=fields.get("soft_end_conference_on_exit", False),
            beep_enabled=fields.get("beep_enabled"), supervisor_role=role,
            whisper_call_control_ids=fields.get("whisper_call_control_ids", []) if role == "whisper" else [],
        )
        if conference.status == "init" and not participant.on_hold:
            participant.on_hold = participant.held_until_start = True
        conference.participants.pop(call.call_control_id, None)
        conference.participants[call.call_control_id] = participant
        conference.updated_at = now
        call.conference_id = conference.id
        self._emit("conference.participant.joined", self._conference_payload(conference, call))
        return participant

    def _start(self, conference: Conference) -> None:
        """An init conference starts: everyone put on hold only because it had not started is released."""
        conference.status = "in_progress"
        conference.updated_at = self._now()
        for participant in conference.present():
            if participant.held_until_start:
                participant.on_hold = participant.held_until_start = False
                participant.updated_at = conference.updated_at

    def _participant_gone(self, conference: Conference, participant: Participant) -> None:
        """A participant leaves (or its leg hung up); then the conference's end rules apply."""
        if not participant.present:
            return
        now = self._now()
        participant.status = "left"
        participant.updated_at = conference.updated_at = now
        call = participant.call
        if call.conference_id == conference.id:
            call.conference_id = None
        if conference.floor == call.call_control_id:
            conference.floor = None
        self._stop_participant_media(conference, participant)
        self._emit("conference.participant.left", self._conference_payload(conference, call))
        if conference.ending:
            return
        if participant.end_conference_on_exit:
            self._end_conference(conference, "host_left", hang_up=True, ended_by=call)
        elif participant.soft_end_conference_on_exit:
            self._end_conference(conference, "host_left", hang_up=False, ended_by=call)
        elif not conference.present():
            self._end_conference(conference, "all_left", hang_up=False, ended_by=call)

    def _expire(self, conference: Conference) -> None:
        if conference.active and conference.expires_at <= self._now():
            self._end_conference(conference, "time_exceeded", hang_up=True)

    def _end_conference(self, conference: Conference, reason: str, *, hang_up: bool, ended_by=None) -> None:
        """End a conference once: media stops, everyone leaves (hung up unless soft), then it completes."""
        if conference.ending or not conference.active:
            return
        conference.ending = True
        self._stop_conference_media(conference)
        for participant in conference.present():
            if hang_up and participant.call.alive:
                self._end_call(participant.call, "normal_clearing", "unknown")
            else:
                self._participant_gone(conference, participant)
        conference.status = "completed"
        conference.end_reason = reason
        conference.updated_at = self._now()
        if ended_by is not None:
            conference.ended_by = {"call_control_id": ended_by.call_control_id,
                                   "call_session_id": ended_by.call_session_id}
        self._emit("conference.ended", {**self._conference_payload(conference, conference.creator),
                                        "reason": WEBHOOK_END_REASONS.get(reason, reason)})
        self._save_recordings(conference, None)
        conference.ending = False
