"""One-click actions for a queued caller about to breach (or past) the service-level target.

Moving a caller is two Telnyx commands: leave_queue, then enqueue into the other queue.
Speaking to a single queued caller needs a call-level speak command the Telnyx client does
not offer yet, so it is not here.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template_string, request
from markupsafe import Markup

from ..extensions import get_store, get_telnyx
from ..kpi_source import kpi_settings
from ..telnyx_errors import TelnyxError
from ..ui import render_memo

breach = Blueprint("breach", __name__)

_NOTICE = '<p class="breach-notice" role="status" data-kind="{{ kind }}">{{ text }}</p>'


def _notice(text: str, kind: str = "done", status: int = 200):
    return render_template_string(_NOTICE, text=text, kind=kind), status


@breach.app_template_global()
def service_target_seconds(queue_name: str) -> int:
    """The service-level target (seconds) a queue's callers count down to."""
    return kpi_settings(current_app.config).target_for(queue_name).seconds


@breach.app_template_global()
def other_queue_names(queue_name: str) -> list[str]:
    """Queues a caller could be moved to."""
    names = render_memo("queue_names", None, lambda: [queue["name"] for queue in get_store().queues()])
    return sorted(name for name in names if name != queue_name)


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
        return _notice(f"Telnyx refused the move: {error}", "error", 502)
    return _notice(Markup("Moving the caller to {}; the page updates when Telnyx confirms.").format(target))


@breach.post("/queues/<path:name>/calls/<path:call_control_id>/take-out")
def take_out_queued_call(name: str, call_control_id: str):
    """Take the caller out of the queue (they stay on the line, parked)."""
    try:
        get_telnyx().leave_queue(call_control_id)
    except TelnyxError as error:
        return _notice(f"Telnyx refused: {error}", "error", 502)
    return _notice(f"Taking the caller out of {name}.")
