"""The audit trail: who did what, to which conference, participant, queue or user, and what came of it.

One after_request hook records every POST to an endpoint whose permission changes something
(auth.ACTING) and every sign-in and sign-out, so no control can forget it. An entry names the
user and role, the action (endpoint, plus the variant such as ``:mute``), its targets and form
parameters (never passwords or the CSRF token), the result (ok, invalid, forbidden, refused by
Telnyx with Telnyx's words, failed), and the client's address. An "are you sure?" question, or a
Cancel, sends nothing and is not recorded; the confirmed command is. The words of a refusal come
from whoever refused: ``g.refusal`` from auth's check, ``g.telnyx_refusal`` from the web room's
answer to a Telnyx error.

Entries are console events on the bus (so every instance sees them); the store keeps them in
the audit table. Where Telnyx confirms a command by webhook, the entry waits for it: a join for
``conference.participant.joined`` of the same call_control_id, a recording stop for
``conference.recording.saved``, and so on (CONFIRMED_BY); the store links the first such webhook
received after the command, even one that arrived while the request was still running.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, datetime

from flask import Flask, g, request

from console.access.auth import ACTING, current_user, permission_for
from console.ingest.bus import get_bus
from console.state.store import AUDIT_EVENT
from console.telnyx.events import console_event, format_timestamp

log = logging.getLogger("console.audit")

SIGN_IN_ENDPOINTS = frozenset({"auth.login", "auth.logout"})
# The view argument that says which of several commands one route carried out.
VARIANT_ARGS = ("action", "step", "mode", "change")
HIDDEN_PARAMETERS = frozenset({"csrf_token"})

CONFIRMED_BY = {
    "actions.join": ("conference.participant.joined", "call_control_id"),
    "actions.participant_action:leave": ("conference.participant.left", "call_control_id"),
    "actions.end": ("conference.ended", "conference_id"),
    "actions.recording:stop": ("conference.recording.saved", "conference_id"),
    "actions.play": ("conference.playback.started", "conference_id"),
    "actions.speak": ("conference.speak.started", "conference_id"),
    "actions.create_conference": ("conference.created", "call_control_id"),
    "actions.gather": ("call.gather.ended", "call_control_id"),
    "queue_actions.enqueue": ("call.enqueued", "call_control_id"),
    "breach.move_queued_call": ("call.enqueued", "call_control_id"),
    "breach.speak_to_queued_call": ("call.speak.started", "call_control_id"),
    "queue_actions.leave_queue": ("call.dequeued", "call_control_id"),
    "queue_actions.remove_queued_call": ("call.dequeued", "call_control_id"),
    "supervise.connect_line": ("call.answered", "call_control_id"),
}

CSV_COLUMNS = (
    "at", "user_name", "role", "action", "result", "status", "error", "conference_id", "call_control_id",
    "queue_name", "target_user", "parameters", "confirmed_event_type", "confirmed_at", "confirmed_by",
    "client_address", "endpoint", "method", "path", "id",
)


def action_name() -> str:
    """The endpoint, plus the variant when one route serves several commands (``actions.audience:mute``)."""
    arguments = request.view_args or {}
    variant = next((arguments[name] for name in VARIANT_ARGS if arguments.get(name)), None)
    return f"{request.endpoint}:{variant}" if variant else request.endpoint


def _parameters() -> dict:
    """What the form asked for, without secrets or fields left empty; repeated fields stay lists."""
    values = {}
    for name in request.form:
        if name in HIDDEN_PARAMETERS or "password" in name:
            continue
        found = [value for value in request.form.getlist(name) if value != ""]
        if not found:
            continue
        values[name] = found[0] if len(found) == 1 else found
    return values


def _result(status: int) -> str:
    if g.get("telnyx_refusal"):
        return "refused by Telnyx"
    if status == 403:
        return "forbidden"
    if status == 422:
        return "invalid"
    if status >= 500:
        return "failed"
    if status >= 400:
        return "refused"
    return "ok"


def _only_asked(response) -> bool:
    """An "are you sure?" being shown, or answered with Cancel: nothing was sent."""
    if request.form.get("step") == "cancel":
        return True
    if request.form.get("step") == "confirm" or response.status_code != 200 or response.is_streamed:
        return False
    return b'name="step" value="confirm"' in response.get_data()


def entry_for(response) -> dict | None:
    """The audit entry for this request, or None when it is not one to record."""
    endpoint = request.endpoint
    if request.method != "POST" or not (permission_for(endpoint) in ACTING or endpoint in SIGN_IN_ENDPOINTS):
        return None
    user = current_user()
    if user is None and endpoint != "auth.login":
        return None
    if response.status_code < 400 and _only_asked(response):
        return None
    form, arguments = request.form, request.view_args or {}
    action = action_name()
    status = response.status_code
    result = _result(status)
    if endpoint == "auth.login" and status >= 400:
        user = None  # a failed sign-in is recorded under the name that was tried
    entry = {
        "at": format_timestamp(g.get("request_started") or datetime.now(UTC)),
        "user_name": user.name if user else (form.get("name") or "").strip()[:64] or None,
        "role": user.role if user else None,
        "action": action,
        "endpoint": endpoint,
        "method": request.method,
        "path": request.script_root + request.path,
        "conference_id": arguments.get("conference_id") or form.get("conference_id"),
        "call_control_id": arguments.get("call_control_id") or form.get("call_control_id"),
        "queue_name": form.get("queue_name") or (arguments.get("name") if endpoint.startswith("queue_actions.") else None),
        "target_user": arguments.get("user_name") or form.get("user_name"),
        "parameters": _parameters(),
        "result": result,
        "status": status,
        "error": g.get("telnyx_refusal") or g.get("refusal"),
        "client_address": request.remote_addr,
    }
    awaited = CONFIRMED_BY.get(action) or CONFIRMED_BY.get(endpoint)
    if awaited and result == "ok" and entry[awaited[1]]:
        entry |= {"awaits_event_type": awaited[0], "awaits_field": awaited[1], "awaits_value": entry[awaited[1]]}
    return entry


def record_request(response):
    """after_request: record the entry, if this request makes one; a failure to record is logged loudly."""
    try:
        entry = entry_for(response)
        if entry is not None:
            get_bus().publish(console_event(AUDIT_EVENT, entry))
    except Exception:  # the command already ran; losing its answer too would only make things worse
        log.exception("could not record the audit entry for %s %s", request.method, request.path)
    return response


def csv_text(entries: list[dict]) -> str:
    """Entries as CSV; cells that a spreadsheet would run as a formula are quoted with a leading '."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = []
        for column in CSV_COLUMNS:
            value = entry.get(column)
            if column == "parameters":
                value = json.dumps(value or {}, sort_keys=True)
            text = "" if value is None else str(value)
            row.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
        writer.writerow(row)
    return out.getvalue()


def init_app(app: Flask) -> None:
    """Record after every request."""
    app.after_request(record_request)
