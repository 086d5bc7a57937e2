"""The supervisor's conference commands: every conference and participant control posts here.

Each route validates its form (422, the form re-rendered with a message beside the field), sends
one command through the app's TelnyxClient, records what Telnyx will never confirm by webhook
(mute, hold, roles, participant settings, recording state) as a console event, and answers with
the control macro the page renders, now carrying a notice (see feedback.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, render_template, request

from console.ingest.group_commit import IngestUnavailable
from console.live.ui import render_memo
from console.state.store import get_store
from console.telnyx.client import get_telnyx
from console.telnyx.errors import TelnyxError
from console.web import fields, forms
from console.web.views.feedback import (
    answer,
    back_url,
    confirmation,
    done,
    is_htmx,
    macro,
    publish,
    report_retries,
    stream_unavailable,
    telnyx_refused,
)

actions = Blueprint("actions", __name__)
actions.app_errorhandler(TelnyxError)(telnyx_refused)
actions.app_errorhandler(IngestUnavailable)(stream_unavailable)


@actions.record_once
def _setup(state) -> None:
    """Note the client's retries, and give the control macros the read-model lookups they call."""
    report_retries(state.app)
    state.app.jinja_env.globals.update(
        conference_participants=lambda conference_id: render_memo(
            "participants", conference_id, lambda: get_store().participants(conference_id)),
        call_leg=lambda call_control_id: get_store().call(call_control_id),
        control_options=fields,
    )


# --- what the read model knows ----------------------------------------------------------------


def _conference(conference_id: str) -> dict:
    """The conference as the read model knows it (a bare id when it has not been seen yet)."""
    return get_store().conference(conference_id) or {"id": conference_id, "status": "in_progress"}


def _participant(conference_id: str, call_control_id: str) -> dict:
    for participant in get_store().participants(conference_id, include_left=True):
        if participant.get("call_control_id") == call_control_id:
            return participant
    return {"conference_id": conference_id, "call_control_id": call_control_id, "status": "joined"}


def _joined_ids(conference_id: str, **matching: Any) -> list[str]:
    """Call control ids of present participants, optionally only those in a given state."""
    return [p["call_control_id"] for p in get_store().participants(conference_id)
            if all(bool(p.get(k)) == v for k, v in matching.items())]


def _participant_state(conference_id: str, call_control_ids: list[str], **state: Any) -> None:
    """Telnyx never reports mute, hold or roles by webhook, so the console records what it did."""
    for call_control_id in call_control_ids:
        publish("console.participant.updated", {"conference_id": conference_id, "call_control_id": call_control_id,
                                                **state})


# --- the whole conference ---------------------------------------------------------------------

AUDIENCE = {
    "mute": ({"muted": True}, "Muted"),
    "unmute": ({"muted": False}, "Unmuted"),
    "hold": ({"on_hold": True}, "Put on hold:"),
    "unhold": ({"on_hold": False}, "Took off hold:"),
}


@actions.post("/conferences/<conference_id>/<any(mute, unmute, hold, unhold):action>")
def audience(conference_id, action):
    """Mute, unmute, hold (optionally with hold audio) or unhold everyone, or the ticked participants."""
    conference = _conference(conference_id)
    form = (forms.HoldForm if action == "hold" else forms.TargetedForm)(request.form)
    render = macro("audience_control")
    if not form.validate():
        return answer(render(conference, form=form), status=422)
    chosen = form.data.get("call_control_ids")
    client = get_telnyx()
    if action == "unhold":
        # Telnyx needs the ids to unhold; "everyone" means whoever the console knows is on hold.
        targets = chosen or _joined_ids(conference_id, on_hold=True) or _joined_ids(conference_id)
        client.unhold(conference_id, call_control_ids=targets)
    else:
        getattr(client, action)(conference_id, **form.data)
        targets = chosen or _joined_ids(conference_id)
    state, verb = AUDIENCE[action]
    _participant_state(conference_id, targets, **state)
    who = "the selected participants" if chosen else "everyone"
    return answer(render(conference, form=form, notice=done(f"{verb} {who}.")))


def _conference_command(conference_id: str, control: str, form_class, send: Callable[[Any, dict], Any],
                        said: str | Callable[[dict], str], *, confirm_if: Callable[[dict], bool] | None = None):
    """Validate, (confirm,) send one conference command, and re-render its control with the outcome."""
    conference = _conference(conference_id)
    form = form_class(request.form)
    render = macro(control)
    if not form.validate():
        return answer(render(conference, form=form), status=422)
    if confirm_if is not None:
        asking = confirmation(render, conference, form=form, needed=confirm_if(form.data))
        if asking is not None:
            return asking
    send(get_telnyx(), dict(form.data))
    text = said(form.data) if callable(said) else said
    return answer(render(_conference(conference_id), form=form, notice=done(text)))


@actions.post("/conferences/<conference_id>/play")
def play(conference_id):
    """Play a file into the conference."""
    return _conference_command(conference_id, "playback_control", forms.PlayForm,
                               lambda client, data: client.play(conference_id, **data),
                               "Playing; the page shows it when Telnyx reports playback.")


@actions.post("/conferences/<conference_id>/stop")
def stop(conference_id):
    """Stop audio playing into the conference."""
    return _conference_command(conference_id, "playback_control", forms.TargetedForm,
                               lambda client, data: client.stop(conference_id, **data), "Stopped the audio.")


@actions.post("/conferences/<conference_id>/speak")
def speak(conference_id):
    """Speak text or SSML into the conference."""
    return _conference_command(
        conference_id, "speak_control", forms.SpeakForm,
        lambda client, data: client.speak(conference_id, data.pop("payload"), data.pop("voice"), **data),
        "Speaking; the page shows it when Telnyx reports it.")


@actions.post("/conferences/<conference_id>/dtmf")
def send_dtmf(conference_id):
    """Send DTMF tones to participants."""
    return _conference_command(
        conference_id, "dtmf_control", forms.SendDtmfForm,
        lambda client, data: client.send_dtmf(conference_id, data.pop("digits"), **data),
        lambda data: f"Sent {data['digits']}.")


RECORDING = {
    "start": (forms.RecordStartForm, "recording", "Recording started."),
    "pause": (forms.RecordingForm, "paused", "Recording paused."),
    "resume": (forms.RecordingForm, "recording", "Recording resumed."),
    "stop": (forms.RecordingForm, None, "Recording stopped; it is listed when Telnyx saves it."),
}


@actions.post("/conferences/<conference_id>/recording/<any(start, pause, resume, stop):step>")
def recording(conference_id, step):
    """Start, pause, resume or stop the conference recording."""
    form_class, state, said = RECORDING[step]

    def send(client, data):
        if step == "start":
            client.record_start(conference_id, data.pop("format"), **data)
        else:
            getattr(client, f"record_{step}")(conference_id, **data)
        publish("console.conference.updated", {"conference_id": conference_id, "recording_state": state})

    return _conference_command(conference_id, "recording_control", form_class, send, said)


@actions.post("/conferences/<conference_id>/join")
def join(conference_id):
    """Join a parked call to the conference (barging in only after an inline confirm)."""
    def send(client, data):
        call_control_id = data.pop("call_control_id")
        client.join(conference_id, call_control_id, **data)
        role = {k: data[k] for k in ("supervisor_role", "whisper_call_control_ids") if k in data}
        if role:
            _participant_state(conference_id, [call_control_id], **role)

    return _conference_command(conference_id, "join_control", forms.JoinForm, send,
                               "Joining; the participant appears when Telnyx confirms.",
                               confirm_if=lambda data: data.get("supervisor_role") == "barge")


@actions.get("/conferences/<conference_id>/join-control")
def join_form(conference_id):
    """The join control afresh, so its list of parked calls is current when the panel opens."""
    return macro("join_control")(_conference(conference_id))


@actions.post("/conferences/<conference_id>/end")
def end(conference_id):
    """End the conference for everyone, after an inline "are you sure?"."""
    conference = _conference(conference_id)
    render = macro("end_control")
    asking = confirmation(render, conference)
    if asking is not None:
        return asking
    get_telnyx().end_conference(conference_id)
    return answer(render(conference, notice=done("Ending the conference; Telnyx will confirm.")))


@actions.post("/calls/<path:call_control_id>/conference")
def create_conference(call_control_id):
    """Start a conference around a parked call."""
    call = get_store().call(call_control_id) or {"call_control_id": call_control_id}
    form = forms.CreateConferenceForm(request.form)
    render = macro("create_conference_control")
    if not form.validate():
        return answer(render(call, form=form), status=422)
    options = dict(form.data)
    conference = get_telnyx().create_conference(call_control_id, options.pop("name"), **options)
    if isinstance(conference, dict) and conference.get("id"):
        publish("console.conference.synced", conference)
    return answer(render(call, form=form, notice=done(f"Conference {form.data['name']} started.")))


# --- one participant --------------------------------------------------------------------------

ONE_PARTICIPANT = {
    "mute": ({"muted": True}, "Muted."),
    "unmute": ({"muted": False}, "Unmuted."),
    "hold": ({"on_hold": True}, "On hold."),
    "unhold": ({"on_hold": False}, "Off hold."),
}


PARTICIPANT_ACTION = "<any(mute, unmute, hold, unhold, leave):action>"


@actions.post(f"/conferences/<conference_id>/participants/<path:call_control_id>/{PARTICIPANT_ACTION}")
def participant_action(conference_id, call_control_id, action):
    """Mute, unmute, hold, unhold or remove one participant."""
    client = get_telnyx()
    if action == "leave":
        # Telnyx's conference "leave" does not hang up: the leg stays connected, parked. Ask first.
        asking = confirmation(macro("participant_actions"), _conference(conference_id),
                              _participant(conference_id, call_control_id))
        if asking is not None:
            return asking
        client.leave(conference_id, call_control_id)
        notice = done("Taken out of the conference; the call stays connected, parked, when Telnyx confirms.")
    else:
        state, said = ONE_PARTICIPANT[action]
        getattr(client, action)(conference_id, call_control_ids=[call_control_id])
        _participant_state(conference_id, [call_control_id], **state)
        notice = done(said)
    render = macro("participant_actions")
    return answer(render(_conference(conference_id), _participant(conference_id, call_control_id), notice=notice))


def _participant_form(conference_id, call_control_id, control, form_class, send, said, *, confirm_if=None):
    """Validate a participant's form, send it, and re-render the control with the outcome."""
    conference = _conference(conference_id)
    form = form_class(request.form)
    render = macro(control)
    if not form.validate():
        return answer(render(conference, _participant(conference_id, call_control_id), form=form), status=422)
    if confirm_if is not None:
        asking = confirmation(render, conference, _participant(conference_id, call_control_id), form=form,
                              needed=confirm_if(form.data))
        if asking is not None:
            return asking
    send(get_telnyx(), dict(form.data))
    participant = _participant(conference_id, call_control_id)
    return answer(render(conference, participant, form=form, notice=done(said)))


@actions.get("/conferences/<conference_id>/participants/<path:call_control_id>/more")
def participant_more(conference_id, call_control_id):
    """The keypad, role and settings controls of one participant, rendered when their panel opens."""
    html = macro("participant_more")(_conference(conference_id), _participant(conference_id, call_control_id))
    if is_htmx():
        return html
    who = _participant(conference_id, call_control_id).get("display_name") or "this participant"
    return render_template("control_page.html", title=f"More controls for {who}", fragment=html, back=back_url())


@actions.post("/conferences/<conference_id>/participants/<path:call_control_id>/gather")
def gather(conference_id, call_control_id):
    """Play a prompt to one participant and collect digits; call.gather.ended brings them back."""
    return _participant_form(
        conference_id, call_control_id, "gather_control", forms.GatherForm,
        lambda client, data: client.gather_using_audio(conference_id, call_control_id, **data),
        "Prompt playing; the keys pressed appear on the card when the gather ends.")


@actions.post("/conferences/<conference_id>/participants/<path:call_control_id>/role")
def role(conference_id, call_control_id):
    """Change a participant's supervisor role; barging in asks first."""
    def send(client, data):
        targets = data.get("whisper_call_control_ids")
        client.update(conference_id, call_control_id, data["supervisor_role"], whisper_call_control_ids=targets)
        _participant_state(conference_id, [call_control_id], supervisor_role=data["supervisor_role"],
                           whisper_call_control_ids=targets or [])

    return _participant_form(conference_id, call_control_id, "role_control", forms.RoleForm, send, "Role changed.",
                             confirm_if=lambda data: data["supervisor_role"] == "barge")


@actions.post("/conferences/<conference_id>/participants/<path:call_control_id>/settings")
def settings(conference_id, call_control_id):
    """PATCH a participant's beep and end-on-exit settings."""
    def send(client, data):
        participant_id = _participant(conference_id, call_control_id).get("participant_id")
        if not participant_id:
            listed = client.list_participants(conference_id)
            participant_id = next((p["id"] for p in listed if p.get("call_control_id") == call_control_id),
                                  call_control_id)
        updated = client.update_participant(conference_id, participant_id, **data) or {}
        changed = {k: updated.get(k, data.get(k)) for k in ("end_conference_on_exit", "soft_end_conference_on_exit")}
        _participant_state(conference_id, [call_control_id], **{k: v for k, v in changed.items() if v is not None})

    return _participant_form(conference_id, call_control_id, "settings_control", forms.ParticipantSettingsForm,
                             send, "Settings saved.")

