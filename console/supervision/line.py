"""The supervisor line and the supervisor modes: monitor, whisper, barge and leave.

A supervisor first needs a call leg of their own, the supervisor line: the console dials the phone
or SIP address in their profile (or an admin attaches a parked call) and follows that leg through
the call webhooks. With the line answered, Monitor joins it to a conference as a monitor; Whisper
and Barge change the role of the same leg with ``actions/update``; Leave takes it out again.
Telnyx never reports roles back, so each change Telnyx accepted is recorded as a
``console.participant.updated`` event, and nothing is recorded when it refused: the console must
never show a supervisor as quieter than Telnyx has them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from flask import current_app

from console.access.auth import current_user
from console.access.users import UserError, check_address
from console.ingest.bus import get_bus
from console.ingest.singletons import Busy, exclusive
from console.state.store import get_store
from console.supervision.audio_paths import Hearing, audio_paths, hearing, join_names
from console.supervision.targets import roles_of, the_agent
from console.telnyx.client import get_telnyx
from console.telnyx.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    TelnyxError,
)
from console.telnyx.events import console_event

DEMO_PHONE = "+13125550199"
DIAL_TIMEOUT_SECS = 30
# How long a second click waits for the first one's dial (Telnyx answers POST /calls well within it).
DIAL_LOCK_SECONDS = 20.0
PRESENT = ("joining", "joined")
HEARD_BY_ALL = ("none", "barge")


class SupervisionRefused(Exception):
    """A step the supervisor cannot take right now, in words they can act on, with an HTTP status."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status


def current_supervisor() -> dict:
    """The signed-in user making this request, as the supervisor whose line and modes these are."""
    user = current_user()
    if user is None:
        raise SupervisionRefused("Sign in first: the supervisor line belongs to a signed-in user.", 401)
    return {
        "username": user.name,
        "display_name": "Demo supervisor" if user.source == "demo" else user.name,
        "phone": user.phone or current_app.config.get("CONSOLE_SUPERVISOR_PHONE"),
    }


def _line_address(raw: str | None) -> str:
    """The number or SIP address typed for the line, checked as access checks a user's phone (422 when wrong)."""
    try:
        return check_address(raw)
    except UserError as wrong:
        raise SupervisionRefused(str(wrong), 422) from None


def telnyx_words(error: TelnyxError) -> str:
    """Telnyx's refusal as one sentence a supervisor can read."""
    if isinstance(error, APITimeoutError):
        return "Telnyx did not answer in time, so the change may or may not have happened."
    if isinstance(error, APIConnectionError):
        return "Telnyx could not be reached."
    if isinstance(error, APIStatusError):
        words = (error.detail or error.title or "no reason given").rstrip(". ")
        return f"Telnyx refused (HTTP {error.status}): {words}."
    return f"Telnyx answered something the console could not read: {error}"


def _uncertain(error: TelnyxError) -> bool:
    """Whether Telnyx may have carried the command out even though it failed (timeouts, 5xx)."""
    return isinstance(error, APIConnectionError) or (isinstance(error, APIStatusError) and error.status >= 500)


def _publish(event_type: str, payload: dict) -> None:
    get_bus().publish(console_event(event_type, payload))


# --- the supervisor line ----------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A supervisor's profile and their line: none, calling, connected or ended (and since when)."""

    username: str
    display_name: str
    phone: str | None
    call_control_id: str | None = None
    source: str | None = None
    status: str = "none"
    since: str | None = None
    conference_id: str | None = None
    dialled: str | None = None
    hangup_cause: str | None = None

    @property
    def live(self) -> bool:
        return self.status in ("calling", "connected")


def _line_status(row: dict) -> tuple[str, str | None]:
    """The line's state from its call leg: an attached leg the console has not seen is taken as answered."""
    state = row.get("line_state")
    if state == "hangup":
        return "ended", row.get("line_ended_at")
    if state == "answered" or (state is None and row.get("line_source") == "attached"):
        return "connected", row.get("line_answered_at")
    return "calling", row.get("line_started_at")


def line_of(supervisor: dict) -> Line:
    """The supervisor's profile and line as the read model knows them."""
    row = get_store().supervisor(supervisor["username"]) or {}
    phone = row.get("phone") or supervisor.get("phone")
    if not phone and current_app.config.get("CONSOLE_DEMO"):
        phone = DEMO_PHONE
    line = Line(supervisor["username"], row.get("display_name") or supervisor["display_name"], phone)
    if not row.get("line_call_control_id"):
        return line
    status, since = _line_status(row)
    return Line(line.username, line.display_name, phone, row["line_call_control_id"], row.get("line_source"),
                status, since, row.get("line_conference_id") if status == "connected" else None,
                row.get("line_to_number"), row.get("line_hangup_cause"))


def _save_profile(supervisor: dict, **fields) -> None:
    _publish("console.supervisor.updated",
             {"username": supervisor["username"], "display_name": supervisor["display_name"], **fields})


def save_phone(supervisor: dict, raw: str | None) -> str:
    """Keep the phone number or SIP address the console dials as this supervisor's line."""
    phone = _line_address(raw)
    _save_profile(supervisor, phone=phone)
    return f"Saved: the console calls {phone} when you connect your line."


def _client_state(username: str) -> str:
    return base64.b64encode(f"supervisor-line:{username}".encode()).decode("ascii")


def connect_line(supervisor: dict, raw_phone: str | None = None) -> str:
    """Dial the supervisor's phone (POST /calls); the call webhooks then say when it is answered.

    One dial at a time per supervisor, across every instance: a second click waits for the first
    and then finds the line already calling.
    """
    try:
        with exclusive(current_app._get_current_object(), f"supervisor-line:{supervisor['username']}",
                       DIAL_LOCK_SECONDS):
            return _dial_line(supervisor, raw_phone)
    except Busy:
        raise SupervisionRefused("The console is already calling your phone.") from None


def _dial_line(supervisor: dict, raw_phone: str | None) -> str:
    line = line_of(supervisor)
    if line.live:
        raise SupervisionRefused("Your line is already connected." if line.status == "connected"
                                 else "The console is already calling your phone.")
    phone = _line_address(raw_phone) if raw_phone and raw_phone.strip() else line.phone
    if not phone:
        raise SupervisionRefused("Enter the phone number or SIP address the console should call.", 422)
    connection_id = current_app.config.get("TELNYX_CONNECTION_ID")
    caller_id = current_app.config.get("TELNYX_CALLER_ID")
    if not connection_id or not caller_id:
        raise SupervisionRefused("The console cannot dial out: TELNYX_CONNECTION_ID and TELNYX_CALLER_ID "
                                 "must both be set.", 503)
    call = get_telnyx().dial(connection_id, phone, caller_id, from_display_name="Supervisor console",
                             client_state=_client_state(supervisor["username"]), timeout_secs=DIAL_TIMEOUT_SECS)
    call_control_id = (call or {}).get("call_control_id")
    if not call_control_id:
        raise SupervisionRefused("Telnyx accepted the call but sent no call_control_id back.", 502)
    _publish("console.call.synced", {**call, "direction": "outgoing"})
    _save_profile(supervisor, phone=phone, line_call_control_id=call_control_id, line_source="dialled")
    return f"Calling {phone}: answer your phone to connect your line."


def attach_line(supervisor: dict, raw_call_control_id: str | None) -> str:
    """Use an existing call leg (a parked call) as the supervisor's line."""
    call_control_id = (raw_call_control_id or "").strip()
    if not call_control_id:
        raise SupervisionRefused("Enter the call_control_id of the parked call to use.", 422)
    call = get_telnyx().retrieve_call(call_control_id) or {}
    if not call.get("is_alive"):
        raise SupervisionRefused("That call has already ended, so it cannot be your line.")
    _publish("console.call.synced", {**call, "call_control_id": call_control_id})
    _save_profile(supervisor, line_call_control_id=call_control_id, line_source="attached")
    return "That call is now your supervisor line."


def hang_up_line(supervisor: dict) -> str:
    """Hang up the supervisor's line (which also takes it out of any conference)."""
    line = line_of(supervisor)
    if not line.live:
        raise SupervisionRefused("Your line is not connected.")
    get_telnyx().hangup(line.call_control_id)
    return "Hanging up your line."


# --- the modes --------------------------------------------------------------------------------


def _ready_line(supervisor: dict, conference_id: str) -> Line:
    if (get_store().conference(conference_id) or {}).get("status") == "completed":
        raise SupervisionRefused("This conference has ended: there is nobody left to listen to.")
    line = line_of(supervisor)
    if line.status == "calling":
        raise SupervisionRefused("Answer your phone first: the console is still calling it.")
    if line.status != "connected":
        raise SupervisionRefused("Connect your line first: the console calls you, then you can monitor.")
    return line


def _member(conference_id: str, line: Line) -> dict | None:
    """The line's participant row in this conference when it is there."""
    if line.conference_id != conference_id:
        return None
    return next((p for p in get_store().participants(conference_id) if p["call_control_id"] == line.call_control_id),
                None)


def _record(conference_id: str, call_control_id: str, role: str, targets: list[str], **extra) -> None:
    _publish("console.participant.updated", {"conference_id": conference_id, "call_control_id": call_control_id,
                                             "supervisor_role": role, "whisper_call_control_ids": targets, **extra})


def _join_as_monitor(conference_id: str, line: Line) -> None:
    """Always enter a conference as a monitor: nobody hears the supervisor until they choose so."""
    # Recorded first: whatever Telnyx answers (even a timeout), a leg this join puts in the
    # conference is a monitor, and a row that never joins is never shown.
    _record(conference_id, line.call_control_id, "monitor", [], label=line.display_name)
    get_telnyx().join(conference_id, line.call_control_id, supervisor_role="monitor")


def reaches_more(was_role: str, was_targets: list[str], role: str, targets: list[str]) -> bool:
    """Whether the new role could be heard by someone the old one was not."""
    if role == "monitor" or was_role in HEARD_BY_ALL:
        return False
    if role in HEARD_BY_ALL or was_role == "monitor":
        return True
    return bool(set(targets) - set(was_targets))


def _change_role(conference_id: str, line: Line, recorded: dict, role: str, targets: list[str]) -> None:
    """Change the line's role; record it only once Telnyx accepted, and undo an uncertain louder change."""
    was_role = recorded.get("supervisor_role") or "none"
    was_targets = list(recorded.get("whisper_call_control_ids") or []) if was_role == "whisper" else []
    client = get_telnyx()
    try:
        client.update(conference_id, line.call_control_id, role, whisper_call_control_ids=targets or None)
    except TelnyxError as error:
        if not _uncertain(error) or not reaches_more(was_role, was_targets, role, targets):
            raise
        try:
            client.update(conference_id, line.call_control_id, was_role,
                          whisper_call_control_ids=was_targets or None)
        except TelnyxError:
            raise SupervisionRefused(f"{telnyx_words(error)} Telnyx may now have you as {role}; "
                                     f"press Monitor to make sure nobody hears you.", 502) from error
        raise SupervisionRefused(f"{telnyx_words(error)} The console set you back to {was_role}, "
                                 "as you were.", 502) from error
    _record(conference_id, line.call_control_id, role, targets)


def _enter(conference_id: str, line: Line) -> dict:
    """The line's participant row, joining the conference as a monitor first when it is not in it."""
    member = _member(conference_id, line)
    if member is None:
        _join_as_monitor(conference_id, line)
        member = {"supervisor_role": "monitor", "whisper_call_control_ids": []}
    return member


def monitor(conference_id: str, supervisor: dict) -> str:
    """Join as a monitor, or go back to monitoring on the same leg."""
    line = _ready_line(supervisor, conference_id)
    member = _member(conference_id, line)
    if member is None:
        _join_as_monitor(conference_id, line)
        return "Joining as a monitor: you hear everyone and nobody hears you."
    if member.get("supervisor_role") == "monitor":
        return "You are already monitoring: nobody hears you."
    _change_role(conference_id, line, member, "monitor", [])
    return "Back to monitor: nobody hears you."


CUSTOMER_CONFIRMATION = "Whisper to the customer: the customer will hear you"


def whisper(conference_id: str, supervisor: dict, targets: list[str], *, customer_confirmed: bool = False) -> str:
    """Whisper to the chosen participants only (joining as a monitor first if needed).

    A whisper meant for the agent that reaches the customer is the worst mistake on this page, so a
    customer target is refused unless the supervisor confirmed it in words.
    """
    targets = list(dict.fromkeys(t for t in targets if t))
    if not targets:
        raise SupervisionRefused("Tick who should hear your whisper first.", 422)
    line = _ready_line(supervisor, conference_id)
    present = {p["call_control_id"]: p for p in get_store().participants(conference_id)}
    gone = [t for t in targets if t not in present or t == line.call_control_id]
    if gone:
        raise SupervisionRefused("You can only whisper to other people in this conference; "
                                 f"{len(gone)} of those ticked {'is' if len(gone) == 1 else 'are'} not.", 422)
    roles = roles_of([present[t] for t in targets])
    customers = [t for t in targets if roles[t].is_customer]
    if customers and not customer_confirmed:
        names = join_names([present[t].get("display_name") or t for t in customers])
        raise SupervisionRefused(f"You ticked {names}, a customer: the customer would hear your whisper. "
                                 f"Tick \"{CUSTOMER_CONFIRMATION}\" to do that, or untick them.", 422)
    member = _enter(conference_id, line)
    _change_role(conference_id, line, member, "whisper", targets)
    names = join_names([present[t].get("display_name") or t for t in targets])
    return f"Whispering: only {names} can hear you."


def barge(conference_id: str, supervisor: dict) -> str:
    """Barge in: everyone hears the supervisor (the page asks first)."""
    line = _ready_line(supervisor, conference_id)
    member = _enter(conference_id, line)
    _change_role(conference_id, line, member, "barge", [])
    return "Barged in: everyone in the conference can hear you."


def leave(conference_id: str, supervisor: dict) -> str:
    """Take the supervisor line out of the conference; the line stays connected."""
    line = line_of(supervisor)
    if _member(conference_id, line) is None:
        raise SupervisionRefused("Your line is not in this conference.")
    get_telnyx().leave(conference_id, line.call_control_id)
    return "Leaving the conference; your line stays connected."


# --- what the conference page shows the supervisor --------------------------------------------


@dataclass
class Panel:
    """Everything the supervisor's own box on a conference page shows."""

    conference: dict
    line: Line
    member: dict | None
    hearing: Hearing | None
    candidates: list[dict] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    confirming: bool = False

    @property
    def role(self) -> str | None:
        return (self.member.get("supervisor_role") or "none") if self.member else None

    @property
    def customer_words(self) -> str | None:
        """The confirmation a customer target needs, when a customer is among the candidates."""
        return CUSTOMER_CONFIRMATION if any(p["leg_role"].is_customer for p in self.candidates) else None

    @property
    def live_conference(self) -> bool:
        return self.conference.get("status") != "completed"


def conference_panel(conference_id: str, supervisor: dict, *, selected: list[str] | None = None,
                     confirming: bool = False) -> Panel:
    """The supervisor's line, role and hearing in one conference, and whom they could whisper to."""
    store = get_store()
    conference = store.conference(conference_id) or {"id": conference_id, "status": "in_progress"}
    line = line_of(supervisor)
    present = store.participants(conference_id)
    mine = line.call_control_id if line.conference_id == conference_id else None
    member = next((p for p in present if p["call_control_id"] == mine), None)
    roles = roles_of(present)
    labelled = [{**p, "leg_role": roles[p["call_control_id"]]} for p in present]
    others = [p for p in labelled
              if p["call_control_id"] != line.call_control_id and (p.get("supervisor_role") or "none") == "none"]
    # Agents first: the whisper is meant for them, the customer is the one who must not hear it.
    candidates = sorted(others, key=lambda p: (not p["leg_role"].is_agent, p["leg_role"].is_customer))
    whispering = member is not None and member.get("supervisor_role") == "whisper"
    current = (member.get("whisper_call_control_ids") or []) if whispering else the_agent(candidates)
    # The sentence names everyone with who they are: "Alice (agent) hears you; Carol (customer) does not".
    heard = hearing(audio_paths(labelled), mine) if member else None
    return Panel(conference, line, member, heard, candidates,
                 list(selected) if selected is not None else list(current), confirming)
