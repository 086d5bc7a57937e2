"""The forms behind each control, checked before anything is sent to Telnyx.

Each control posts an HTML form; its Form class turns the raw strings into the typed fields
Telnyx expects, or into one message per field so the control can show it beside the input
(keeping what was typed). The parsers and limits they use are in fields.py.
"""

from __future__ import annotations

from xml.etree import ElementTree

from console.web.fields import (
    BEEP_OPTIONS,
    PAYLOAD_TYPES,
    RECORDING_CHANNELS,
    RECORDING_FORMATS,
    SPEAK_LANGUAGES,
    SPEAK_PAYLOAD_LIMIT,
    SUPERVISOR_ROLES,
    Field,
    Form,
    audio_url,
    choice,
    digit_set,
    dtmf_digits,
    flag,
    loop_count,
    terminating_digit,
    text,
    uuid_text,
    whole_number,
)


class TargetedForm(Form):
    """A conference action aimed at everyone, or at the participants ticked in the list."""

    fields = (Field("call_control_ids", many=True), Field("target", choice(("all", "selected"))))

    def check(self) -> None:
        target = self.data.pop("target", None)
        if target is None:
            # Nothing is preselected: "Everyone" by accident is how a whole floor gets muted.
            if "target" not in self.errors:
                self.error("target", "Choose who this goes to: Everyone or Selected participants.")
            return
        if target == "selected":
            if "call_control_ids" not in self.data:
                self.error("call_control_ids", "Tick at least one participant first.")
        else:
            self.data.pop("call_control_ids", None)


class HoldForm(TargetedForm):
    """Hold everyone or the selected participants, optionally with hold music."""

    fields = TargetedForm.fields + (Field("audio_url", audio_url), Field("media_name"))

    def check(self) -> None:
        super().check()
        self.one_of("audio_url", "media_name")


class PlayForm(TargetedForm):
    """Play a file into the conference, to everyone or to the selected participants."""

    fields = TargetedForm.fields + (
        Field("audio_url", audio_url), Field("media_name"), Field("loop", loop_count),
    )

    def check(self) -> None:
        super().check()
        self.one_of("audio_url", "media_name", required=True)


class SpeakForm(TargetedForm):
    """Speak text or SSML into the conference."""

    fields = TargetedForm.fields + (
        Field("payload", text(1, SPEAK_PAYLOAD_LIMIT), required=True),
        Field("payload_type", choice(PAYLOAD_TYPES)),
        Field("voice", text(1, 200), required=True),
        Field("language", choice(SPEAK_LANGUAGES)),
    )

    def check(self) -> None:
        super().check()
        if self.data.get("payload_type") == "ssml":
            try:
                root = ElementTree.fromstring(self.data["payload"])
            except ElementTree.ParseError as exc:
                self.error("payload", f"This is not well-formed SSML ({exc}).")
                return
            if root.tag != "speak":
                self.error("payload", "SSML must be wrapped in <speak>…</speak>.")


class SendDtmfForm(TargetedForm):
    """Send DTMF tones to everyone or to the selected participants."""

    fields = TargetedForm.fields + (
        Field("digits", dtmf_digits, required=True),
        Field("duration_millis", whole_number(100, 500)),
    )


class ParticipantForm(Form):
    """An action on one participant, named by its call_control_id."""

    fields = (Field("call_control_id", required=True),)


class GatherForm(Form):
    """Play a prompt to one participant and collect the keys they press."""

    fields = (
        Field("audio_url", audio_url),
        Field("media_name"),
        Field("minimum_digits", whole_number(1, 128)),
        Field("maximum_digits", whole_number(1, 128)),
        Field("maximum_tries", whole_number(1)),
        Field("timeout_millis", whole_number(1)),
        Field("inter_digit_timeout_millis", whole_number(1)),
        Field("terminating_digit", terminating_digit),
        Field("valid_digits", digit_set),
        Field("gather_id", text(1, 100)),
    )

    def check(self) -> None:
        self.one_of("audio_url", "media_name", required=True)
        low, high = self.data.get("minimum_digits", 1), self.data.get("maximum_digits", 128)
        if low > high:
            self.error("maximum_digits", "Maximum digits must not be less than minimum digits.")


class CreateConferenceForm(Form):
    """Start a conference around a parked call."""

    fields = (
        Field("name", text(1, 255), required=True),
        Field("beep_enabled", choice(BEEP_OPTIONS)),
        Field("max_participants", whole_number(2, 800)),
        # Telnyx ends every conference after four hours anyway.
        Field("duration_minutes", whole_number(1, 240)),
        Field("start_conference_on_create", flag),
        Field("comfort_noise", flag),
        Field("hold_audio_url", audio_url),
        Field("hold_media_name"),
    )

    def check(self) -> None:
        self.one_of("hold_audio_url", "hold_media_name")


class JoinForm(Form):
    """Join a parked call to the conference, optionally muted, held or as a supervisor."""

    fields = (
        Field("call_control_id", required=True),
        Field("beep_enabled", choice(BEEP_OPTIONS)),
        Field("mute", flag),
        Field("hold", flag),
        Field("hold_audio_url", audio_url),
        Field("end_conference_on_exit", flag),
        Field("soft_end_conference_on_exit", flag),
        Field("supervisor_role", choice(SUPERVISOR_ROLES)),
        Field("whisper_call_control_ids", many=True),
    )

    def check(self) -> None:
        whisper_needs_targets(self)


class LeaveForm(Form):
    """Move a participant out of the conference and back to a parked call."""

    fields = (Field("call_control_id", required=True), Field("beep_enabled", choice(BEEP_OPTIONS)))


class RoleForm(Form):
    """Change a participant's supervisor role, and whom a whisper reaches."""

    fields = (
        Field("supervisor_role", choice(SUPERVISOR_ROLES), required=True),
        Field("whisper_call_control_ids", many=True),
    )

    def check(self) -> None:
        whisper_needs_targets(self)
        if self.data["supervisor_role"] != "whisper":
            self.data.pop("whisper_call_control_ids", None)


def whisper_needs_targets(form: Form) -> None:
    """A whisper with nobody to hear it silently becomes monitor at Telnyx, so ask for targets."""
    if form.data.get("supervisor_role") == "whisper" and not form.data.get("whisper_call_control_ids"):
        form.error("whisper_call_control_ids", "Choose who should hear the whisper.")


class ParticipantSettingsForm(Form):
    """The three settings Telnyx lets a participant PATCH change."""

    fields = (
        Field("beep_enabled", choice(BEEP_OPTIONS)),
        Field("end_conference_on_exit", flag),
        Field("soft_end_conference_on_exit", flag),
    )

    def check(self) -> None:
        if not self.data:
            self.error("beep_enabled", "Change at least one setting.")


class RecordStartForm(Form):
    """Start recording the conference."""

    fields = (
        Field("format", choice(RECORDING_FORMATS), required=True),
        Field("channels", choice(RECORDING_CHANNELS)),
        Field("trim", choice(("trim-silence",))),
        Field("play_beep", flag),
        Field("custom_file_name", text(1, 40)),
    )


class RecordingForm(Form):
    """Pause, resume or stop the conference recording (optionally one recording by id)."""

    fields = (Field("recording_id", uuid_text),)


class CreateQueueForm(Form):
    """Create a call queue."""

    fields = (Field("queue_name", text(1, 255), required=True), Field("max_size", whole_number(1)))


class QueueSizeForm(Form):
    """Change how many calls a queue may hold."""

    fields = (Field("max_size", whole_number(1), required=True),)


class QueuedCallForm(Form):
    """Whether a queued call keeps its place after the caller hangs up."""

    fields = (Field("keep_after_hangup", flag, required=True),)


class EnqueueForm(Form):
    """Put a parked call into a queue (Telnyx creates the queue when it is new)."""

    fields = (
        Field("queue_name", text(1, 255), required=True),
        Field("max_size", whole_number(1)),
        Field("max_wait_time_secs", whole_number(1)),
        Field("keep_after_hangup", flag),
    )


class ConfirmForm(Form):
    """The second click of a destructive action: nothing runs until `confirmed` is yes."""

    fields = (Field("confirmed", flag),)

    @property
    def confirmed(self) -> bool:
        """Whether the supervisor said yes on the confirm step."""
        return bool(self.data.get("confirmed"))
