"""History: ended conferences and queued-call outcomes by day, per-call timelines, CSV exports, alerts.

Everything here is read back from the event log, so it covers whatever the console still keeps. A
day older than CONSOLE_RETENTION_DAYS is kept as its queue figures only (console/queues/daily_figures.py):
its page shows them per queue, its KPI export gives the rows it gave before, and its queued-calls
export says the calls are no longer kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)

from console.queues import daily_figures
from console.queues.acks import ALERTS_SHOWN, alert_entries
from console.queues.daily_figures import IntervalNotKept, day_span
from console.queues.figures import figure_intervals, kpi_settings
from console.queues.kpis import ALL_QUEUES, QueueFigures
from console.state.history_rows import (
    BadCursor,
    Cursor,
    Page,
    ended_conferences_page,
    queued_calls,
    queued_calls_page,
)
from console.state.store import get_store
from console.state.timeline import conferences_joined, timeline, timeline_title

history = Blueprint("history", __name__)

CALL_COLUMNS = ["call_control_id", "caller", "from", "to", "queue", "position", "enqueued_at", "left_at",
                "wait_seconds", "outcome", "reason"]
KPI_COLUMNS = ["interval_start", "queue", "target", "offered", "answered", "answered_in_target", "abandoned",
               "short_abandoned", "abandon_rate", "service_level", "average_speed_of_answer", "average_handle_time",
               "waiting_at_end", "longest_wait_at_end"]


def day_bounds(text: str | None, zone_name: str) -> tuple[date, datetime, datetime]:
    """The chosen day (default today) and its [start, end) in UTC, midnight to midnight in the zone."""
    zone = ZoneInfo(zone_name)
    try:
        day = date.fromisoformat(text) if text else datetime.now(zone).date()
    except ValueError:
        abort(400, description=f"“{text}” is not a date; use YYYY-MM-DD.")
    return day, *day_span(day, zone_name)


def page_cursor(name: str, key_type: type) -> Cursor | None:
    """The cursor in ?<name>=, or 400 with words when the link is not one the console made."""
    token = request.args.get(name, "").strip()
    if not token:
        return None
    try:
        return Cursor.read(token, key_type)
    except BadCursor as exc:
        abort(400, description=f"That page link (“{name}”) is not valid: {exc}. "
                               "Open History again to start from the newest rows.")


def history_screen(store, config, text: str, day_text: str | None, calls_at: Cursor | None = None,
                   conferences_at: Cursor | None = None) -> dict:
    """One page of a day's queued-call outcomes and one of its ended conferences, filtered by the search text."""
    day, start, end = day_bounds(day_text, config.get("CONSOLE_TIMEZONE") or "UTC")
    screen = {"day": day, "q": text, "zone": config.get("CONSOLE_TIMEZONE") or "UTC", "fold": None}
    fold = daily_figures.find(store, day)
    if fold is not None:  # only the day's figures are kept: no rows to list or page through
        totals = daily_figures.day_totals(store, fold)
        nothing = Page([], None, None)
        return screen | {"fold": fold, "calls": [], "conferences": [], "calls_page": nothing,
                         "conferences_page": nothing, "kept_note": kept_as_figures(config),
                         "day_figures": [totals[queue].as_dict() for queue in sorted(totals, key=_queue_order)]}
    calls = queued_calls_page(store, start, end, text, calls_at)
    conferences = ended_conferences_page(store, start, end, text, conferences_at)
    return screen | {"calls": calls.rows, "conferences": conferences.rows, "calls_page": calls,
                     "conferences_page": conferences}


def _queue_order(queue: str) -> tuple[bool, str]:
    """Queues by name, all queues together last."""
    return queue == ALL_QUEUES, queue


def call_timeline(store, call_control_id: str) -> list:
    """Every step of one call, including its conferences while it was in them."""
    own = store.logged_events_about(call_control_id=call_control_id)
    events = own + store.logged_events_naming(conference_ids=conferences_joined(own, call_control_id))
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


def _csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """Each row as one CSV line, written as it comes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _streamed_csv(rows: Iterable[list], filename: str) -> Response:
    """A CSV download sent as it is made: memory holds a batch of rows, not the day."""
    return Response(_csv_lines(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def page_links(screen: dict, args) -> dict[str, dict[str, str | None]]:
    """Each list's links to its newest, newer and older page; the other list keeps its place."""
    base = {"q": screen["q"] or None, "date": screen["day"].isoformat()}
    links = {}
    for name, other in (("calls", "conferences"), ("conferences", "calls")):
        page, keep = screen[f"{name}_page"], {other: args.get(other) or None, "_anchor": f"history-{name}"}
        links[name] = {
            "newest": url_for("history.page", **base, **keep) if args.get(name) else None,
            "newer": url_for("history.page", **base, **keep, **{name: page.newer.token()}) if page.newer else None,
            "older": url_for("history.page", **base, **keep, **{name: page.older.token()}) if page.older else None,
        }
    return links


@history.get("/history")
def page():
    """Search ended conferences and queued calls by name, number and date, a page at a time."""
    screen = history_screen(get_store(), current_app.config, request.args.get("q", ""), request.args.get("date"),
                            page_cursor("calls", int), page_cursor("conferences", str))
    return render_template("history.html", page_name="history", links=page_links(screen, request.args), **screen)


def call_rows(store, start: datetime, end: datetime, text: str) -> Iterator[list]:
    """The queued-calls CSV: its header, then one line per queued call, newest first."""
    yield CALL_COLUMNS
    for row in queued_calls(store, start, end, text):
        yield [row["call_control_id"], row["name"] or "", row["from_number"] or "", row["to_number"] or "",
               row["queue"], row["position"] or "", _iso(row["enqueued_at"]), _iso(row["left_at"]),
               "" if row["wait"] is None else f"{row['wait']:.1f}", row["outcome"], row["reason"] or ""]


@history.get("/history/calls.csv")
def calls_csv():
    """The queued calls of a day (and search) as CSV, streamed."""
    config = current_app.config
    day, start, end = day_bounds(request.args.get("date"), config.get("CONSOLE_TIMEZONE") or "UTC")
    if daily_figures.find(get_store(), day) is not None:
        abort(410, description=f"The queued calls of {day} are no longer kept: {kept_as_figures(config)} "
                               "That day's KPI export still gives its figures.")
    return _streamed_csv(call_rows(get_store(), start, end, request.args.get("q", "")), f"queued-calls-{day}.csv")


def kept_as_figures(config) -> str:
    """The sentence that says why a day's calls are gone: how long calls are kept, and what is kept after."""
    days = config.get("CONSOLE_RETENTION_DAYS") or 0
    if days:
        return f"calls older than {days} day{'s' if days != 1 else ''} are kept as daily figures only."
    return "this day was kept as daily figures only when an earlier retention setting applied."


def kpi_rows(store, config, start: datetime, end: datetime, step: int) -> Iterator[list]:
    """The KPI CSV: its header, then each interval's figures per queue."""
    return kpi_lines(figure_intervals(store, start, end, timedelta(seconds=step), kpi_settings(config)))


def kpi_lines(intervals: Iterable[tuple[datetime, dict[str, QueueFigures]]]) -> Iterator[list]:
    """The KPI CSV's header, then each interval's figures per queue (read from the facts, or kept for a folded day)."""
    yield KPI_COLUMNS
    for moment, figures in intervals:
        for queue in sorted(figures):
            f = figures[queue].as_dict()
            yield [_iso(moment), queue, f["target"], f["offered"], f["answered"], f["answered_in_target"],
                   f["abandoned"], f["short_abandoned"], _number(f["abandon_rate"]), _number(f["service_level"]),
                   _number(f["average_speed_of_answer"]), _number(f["average_handle_time"]), f["waiting"],
                   _number(f["longest_wait"])]


@history.get("/history/kpis.csv")
def kpis_csv():
    """Queue KPIs of a day in intervals (`?interval=` seconds, default 900) as CSV, streamed."""
    config = current_app.config
    day, start, end = day_bounds(request.args.get("date"), config.get("CONSOLE_TIMEZONE") or "UTC")
    try:
        step = max(60, min(86400, int(request.args.get("interval", "900"))))
    except ValueError:
        abort(400, description="interval must be a whole number of seconds")
    fold = daily_figures.find(get_store(), day)
    if fold is not None:
        try:
            kept = daily_figures.folded_intervals(get_store(), fold, timedelta(seconds=step))
        except IntervalNotKept as exc:
            abort(400, description=f"{exc} (900, 1800, 3600, …).")
        return _streamed_csv(kpi_lines(kept), f"queue-kpis-{day}.csv")
    end = min(end, datetime.now(UTC)) if start < datetime.now(UTC) else end
    return _streamed_csv(kpi_rows(get_store(), dict(config), start, end, step), f"queue-kpis-{day}.csv")


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
