"""History: ended conferences and queued-call outcomes by day, per-call timelines, CSV exports, alerts.

Everything here is read back from the event log, so it covers whatever the console has heard,
including calls that ended long ago.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template, request

from console.queues.acks import alert_entries
from console.queues.figures import events_for, kpi_settings
from console.queues.kpis import intervals
from console.state.store import get_store
from console.state.timeline import (
    conferences_joined,
    matches,
    queued_call_outcomes,
    timeline,
    timeline_title,
)

history = Blueprint("history", __name__)

OUTCOME_TYPES = ("call.initiated", "call.enqueued", "call.dequeued", "call.hangup")
MAX_CONFERENCES = 500
ALERTS_SHOWN = 200


def day_bounds(text: str | None, zone_name: str) -> tuple[date, datetime, datetime]:
    """The chosen day (default today) and its [start, end) in UTC, midnight to midnight in the zone."""
    zone = ZoneInfo(zone_name)
    try:
        day = date.fromisoformat(text) if text else datetime.now(zone).date()
    except ValueError:
        abort(400, description=f"“{text}” is not a date; use YYYY-MM-DD.")
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return day, start.astimezone(UTC), end.astimezone(UTC)


def history_screen(store, config, text: str, day_text: str | None) -> dict:
    """Queued-call outcomes and ended conferences for one day, filtered by the search text."""
    day, start, end = day_bounds(day_text, config.get("CONSOLE_TIMEZONE") or "UTC")
    calls = [row for row in queued_call_outcomes(store.logged_events_of_types(OUTCOME_TYPES, since=start - timedelta(hours=12), until=end))
             if row["enqueued_at"] and start <= row["enqueued_at"] < end and matches(row, text)]
    conferences = []
    for conference in store.ended_conferences(MAX_CONFERENCES):
        ended = _moment(conference.get("ended_at"))
        if ended and start <= ended < end and matches({"name": conference.get("name"), "id": conference.get("id")}, text):
            conferences.append(conference)
    return {"calls": calls, "conferences": conferences, "day": day, "q": text, "zone": config.get("CONSOLE_TIMEZONE") or "UTC"}


def _moment(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def call_timeline(store, call_control_id: str) -> list:
    """Every step of one call, including its conferences while it was in them."""
    own = store.logged_events_about(call_control_id=call_control_id)
    events = list(own)
    for conference_id in conferences_joined(own, call_control_id):
        events += store.logged_events_about(conference_id=conference_id)
    names = {}
    for conference_id in conferences_joined(own, call_control_id):
        conference = store.conference(conference_id)
        if conference and conference.get("name"):
            names[conference_id] = conference["name"]
        for participant in store.participants(conference_id, include_left=True):
            names[participant["call_control_id"]] = participant.get("display_name") or participant.get("from_number")
    for event in events:
        leg, name = event.payload.get("call_control_id"), event.payload.get("caller_id_name") or event.payload.get("from")
        if event.event_type == "call.initiated" and isinstance(leg, str) and isinstance(name, str):
            names[leg] = name
    return timeline(call_control_id, events, {leg: name for leg, name in names.items() if isinstance(name, str)})


def _csv(rows: list[list], filename: str) -> Response:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@history.get("/history")
def page():
    """Search ended conferences and queued calls by name, number and date."""
    screen = history_screen(get_store(), current_app.config, request.args.get("q", ""), request.args.get("date"))
    return render_template("history.html", page_name="history", **screen)


@history.get("/history/calls.csv")
def calls_csv():
    """The queued calls of a day (and search) as CSV."""
    screen = history_screen(get_store(), current_app.config, request.args.get("q", ""), request.args.get("date"))
    rows = [["call_control_id", "caller", "from", "to", "queue", "position", "enqueued_at", "left_at",
             "wait_seconds", "outcome", "reason"]]
    for row in screen["calls"]:
        rows.append([row["call_control_id"], row["name"] or "", row["from_number"] or "", row["to_number"] or "",
                     row["queue"], row["position"] or "", _iso(row["enqueued_at"]), _iso(row["left_at"]),
                     "" if row["wait"] is None else f"{row['wait']:.1f}", row["outcome"], row["reason"] or ""])
    return _csv(rows, f"queued-calls-{screen['day']}.csv")


@history.get("/history/kpis.csv")
def kpis_csv():
    """Queue KPIs of a day in intervals (`?interval=` seconds, default 900) as CSV."""
    config = current_app.config
    day, start, end = day_bounds(request.args.get("date"), config.get("CONSOLE_TIMEZONE") or "UTC")
    try:
        step = max(60, min(86400, int(request.args.get("interval", "900"))))
    except ValueError:
        abort(400, description="interval must be a whole number of seconds")
    end = min(end, datetime.now(UTC)) if start < datetime.now(UTC) else end
    rows = [["interval_start", "queue", "target", "offered", "answered", "answered_in_target", "abandoned",
             "short_abandoned", "abandon_rate", "service_level", "average_speed_of_answer", "average_handle_time",
             "waiting_at_end", "longest_wait_at_end"]]
    store = get_store()
    for moment, figures in intervals(events_for(store, start, end), start, end, timedelta(seconds=step),
                                     kpi_settings(config)):
        for queue in sorted(figures):
            f = figures[queue].as_dict()
            rows.append([_iso(moment), queue, f["target"], f["offered"], f["answered"], f["answered_in_target"],
                         f["abandoned"], f["short_abandoned"], _number(f["abandon_rate"]), _number(f["service_level"]),
                         _number(f["average_speed_of_answer"]), _number(f["average_handle_time"]), f["waiting"],
                         _number(f["longest_wait"])])
    return _csv(rows, f"queue-kpis-{day}.csv")


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


def _number(value) -> str:
    return "" if value is None else f"{value:.1f}"


@history.get("/calls/<path:call_control_id>/timeline")
def call_timeline_page(call_control_id: str):
    """One call's whole life from the event log."""
    steps = call_timeline(get_store(), call_control_id)
    if not steps:
        abort(404, description="The console has no events for this call.")
    store = get_store()
    title = timeline_title(call_control_id, store.logged_events_about(call_control_id=call_control_id),
                           store.call(call_control_id))
    return render_template("timeline.html", page_name="history", call_control_id=call_control_id, steps=steps,
                           title=title)


@history.get("/alerts")
def alerts_page():
    """Alert entries (repeat raises folded), newest first, live, with the opt-in for notifications and sound."""
    return render_template("alerts.html", page_name="alerts", live_watch="alerts",
                           alerts=alert_entries(get_store())[:ALERTS_SHOWN])
