"""Starting a shift: acknowledging alerts, each queue's health on the dashboard, the supervisor's line bar.

An acknowledgement is a console event (console.queues.acks) published on the bus; the POST is
audited like every command (its permission is an acting one). The line bar in every page's header
is the signed-in supervisor's own, so the live hub never pushes it: it pushes a small signal when
any supervisor line changes (console.live.shift), and the signal fetches this user's bar over HTTP.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    get_template_attribute,
    redirect,
    request,
    url_for,
)

from console.access.auth import current_user
from console.ingest.bus import get_bus
from console.live.screens import participant_views
from console.live.shift import health_now
from console.queues.acks import AckRefused, acknowledge
from console.state.store import get_store
from console.supervision import line as supervision

shift = Blueprint("shift", __name__)

MODE_WORDS = {"monitor": "monitoring", "whisper": "whispering", "barge": "barged in"}


def _notify(queue: str) -> None:
    hub = current_app.extensions.get("console.hub")
    if hub is not None:
        hub.notify({"alerts", f"alert:{queue}"})


@shift.post("/alerts/<alert_id>/acknowledge")
def acknowledge_alert(alert_id: str):
    """Acknowledge an active alert: who and when are recorded as a console event."""
    user = current_user()
    try:
        event, entry = acknowledge(get_store(), alert_id, user.name, user.role)
    except AckRefused as refusal:
        abort(refusal.status, description=refusal.message)
    get_bus().publish(event)
    _notify(entry.queue)
    if request.htmx:
        return "", 204
    return redirect(url_for("history.alerts_page"), code=303)


def phone_words(phone: str | None) -> str:
    """A North American number spaced as people read it (+1 312 555 0123); anything else as it is."""
    if phone and len(phone) == 12 and phone.startswith("+1") and phone[1:].isdigit():
        return f"+1 {phone[2:5]} {phone[5:8]} {phone[8:]}"
    return phone or ""


def line_bar_view() -> dict | None:
    """What the header says about the signed-in supervisor's line; None when it is not live."""
    user = current_user()
    if user is None or not user.can("control"):
        return None
    line = supervision.line_of(supervision.current_supervisor())
    if not line.live:
        return None
    view = {"status": line.status, "phone": phone_words(line.dialled or line.phone), "conference": None,
            "others": [], "mode": None}
    if line.conference_id:
        store = get_store()
        conference = store.conference(line.conference_id)
        participants = participant_views(store.participants(line.conference_id))
        mine = next((p for p in participants if p["call_control_id"] == line.call_control_id), None)
        view["conference"] = conference
        view["others"] = [p["display_name"] for p in participants if p is not mine]
        view["mode"] = MODE_WORDS.get((mine or {}).get("supervisor_role") or "", "listening" if mine else None)
    return view


@shift.get("/supervisor/line/bar")
def line_bar():
    """The header's line bar alone, fetched again when a supervisor line changes."""
    return get_template_attribute("_line_bar.html", "line_bar")(line_bar_view())


@shift.app_template_global()
def my_line_bar() -> dict | None:
    """The line bar's view for the page being drawn (templates call it in the header)."""
    try:
        return line_bar_view()
    except supervision.SupervisionRefused:
        return None


@shift.app_template_global()
def health_of(queue_name: str):
    """A queue's health (service level, abandons, active alert), computed once per request or live tick."""
    return health_now().get(queue_name)
