"""One-click actions for a queued caller about to breach (or past) the service-level target.

Moving a caller is two Telnyx commands: leave_queue, then enqueue into the other queue.
Speaking to a caller uses the call-level speak command, since a queued caller is in no conference;
only that caller hears it, and they keep their place in the queue.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    g,
    get_template_attribute,
    render_template_string,
    request,
)
from markupsafe import Markup

from console.live.screens import queued_call_views
from console.live.ui import render_memo
from console.queues.figures import kpi_settings
from console.state.store import get_store
from console.telnyx.client import get_telnyx
from console.telnyx.errors import TelnyxError
from console.web.fields import SPEAK_PAYLOAD_LIMIT
from console.web.views.feedback import explain, status_for

breach = Blueprint("breach", __name__)

_NOTICE = '<p class="breach-notice" role="status" data-kind="{{ kind }}">{{ text }}</p>'


def _notice(text: str, kind: str = "done", status: int = 200):
    return render_template_string(_NOTICE, text=text, kind=kind), status


def _refused(error: TelnyxError, before: str = ""):
    """Telnyx's refusal in its own words; the audit entry records it as refused by Telnyx."""
    g.telnyx_refusal = explain(error)
    current_app.logger.warning("Telnyx refused %s %s: %s", request.method, request.path, error)
    return _notice(before + g.telnyx_refusal, "error", status_for(error))


@breach.app_template_global()
def service_target_seconds(queue_name: str) -> int:
    """The service-level target (seconds) a queue's callers count down to."""
    return kpi_settings(current_app.config).target_for(queue_name).seconds


@breach.app_template_global()
def other_queue_names(queue_name: str) -> list[str]:
    """Queues a caller could be moved to."""
    names = render_memo("queue_names", None, lambda: [queue["name"] for queue in get_store().queues()])
    return sorted(name for name in names if name != queue_name)


@breach.get("/queues/<path:name>/calls/<path:call_control_id>/breach-actions")
def breach_action_forms(name: str, call_control_id: str):
    """The move and speak forms for a caller who has just reached the target (the row always offers take-out and remove)."""
    store = get_store()
    queued = next((call for call in store.queue_calls(name) if call["call_control_id"] == call_control_id), None)
    if queued is None:
        return _notice("This caller is no longer waiting in the queue.", "error", 404)
    queue = store.queue(name) or {"name": name}
    [queued_call] = queued_call_views(store, [queued])
    return get_template_attribute("_breach.html", "breach_action_forms")(queue, queued_call)


@breach.post("/queues/<path:name>/calls/<path:call_control_id>/move")
def move_queued_call(name: str, call_control_id: str):
    """Take the caller out of this queue and put them in another."""
    target = (request.form.get("target_queue") or "").strip()
    if not target or target == name or len(target) > 255:
        return _notice("Choose a different queue to move the caller to.", "error", 422)
    client = get_telnyx()
    try:
        client.leave_queue(call_control_id)
        client.enqueue(call_control_id, target)
    except TelnyxError as error:
        return _refused(error, "The move did not complete. ")
    return _notice(Markup("Moving the caller to {}; the page updates when Telnyx confirms.").format(target))


@breach.post("/queues/<path:name>/calls/<path:call_control_id>/speak")
def speak_to_queued_call(name: str, call_control_id: str):
    """Speak a message to this caller alone, e.g. that an agent is coming; they keep their place."""
    message = (request.form.get("payload") or "").strip()
    if not message:
        return _notice("Type the message to speak to the caller.", "error", 422)
    if len(message) > SPEAK_PAYLOAD_LIMIT:
        return _notice(f"The message has {len(message)} characters; Telnyx speaks at most {SPEAK_PAYLOAD_LIMIT}.",
                       "error", 422)
    try:
        get_telnyx().speak_to_call(call_control_id, message, current_app.config["CONSOLE_CALLER_MESSAGE_VOICE"])
    except TelnyxError as error:
        return _refused(error)
    return _notice(f"Speaking your message to the caller; they keep their place in {name}.")
