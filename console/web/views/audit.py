"""The audit page and its CSV export: who did what, filtered by user, action, conference and time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request

from console.access.audit import csv_text
from console.state.row_views import display_name
from console.state.store import get_store

audit = Blueprint("audit", __name__)

PAGE_LIMIT = 500


@dataclass
class Filters:
    """The filters from the query string, what they mean for the store, and any the page could not read."""

    args: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CONSOLE_TIMEZONE") or "UTC")


def _moment(text: str, label: str, filters: Filters) -> datetime | None:
    """A datetime-local value in the console's time zone, as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        filters.problems.append(f"“{text}” is not a date and time, so the {label} filter was left out.")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone())
    return moment.astimezone(UTC)


def read_filters() -> Filters:
    """Filters from ?user=&action=&conference=&since=&until= (times in CONSOLE_TIMEZONE)."""
    filters = Filters()
    for arg, column in (("user", "user_name"), ("action", "action"), ("conference", "conference_id")):
        value = request.args.get(arg, "").strip()
        if value:
            filters.args[arg] = value
            filters.query[column] = value
    for arg, label in (("since", "from"), ("until", "until")):
        value = request.args.get(arg, "").strip()
        if value:
            filters.args[arg] = value
            moment = _moment(value, label, filters)
            if moment is not None:
                filters.query[arg] = moment
    return filters


def local_time(value: str | None) -> str:
    """An audit timestamp as a date and time in the console's time zone."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(_zone()).strftime("%Y-%m-%d %H:%M:%S")


def target_names(store, entries: list[dict]) -> dict[str, str]:
    """The names the console knows for the entries' conferences and calls, by id (an id it cannot name is left out)."""
    names: dict[str, str] = {}
    for conference_id in {e["conference_id"] for e in entries if e.get("conference_id")}:
        conference = store.conference(conference_id)
        if conference and conference.get("name"):
            names[conference_id] = conference["name"]
    for call_control_id in {e["call_control_id"] for e in entries if e.get("call_control_id")}:
        leg = store.call(call_control_id)
        name = display_name(leg) if leg else None
        if name and name != call_control_id:
            names[call_control_id] = name
    return names


@audit.get("/audit")
def page():
    """The newest audit entries matching the filters (the results alone for an htmx request)."""
    filters = read_filters()
    store = get_store()
    entries = store.audit_entries(**filters.query, limit=PAGE_LIMIT)
    context = {"entries": entries, "names": target_names(store, entries), "filters": filters,
               "choices": store.audit_choices(), "limit": PAGE_LIMIT, "local_time": local_time,
               "zone": current_app.config.get("CONSOLE_TIMEZONE") or "UTC", "page_name": "audit"}
    if request.htmx and not request.htmx.boosted:
        return render_template("_audit.html", **context)
    return render_template("audit.html", **context)


EXPORT_BATCH = 500


def csv_chunks(store, query: dict, size: int = EXPORT_BATCH) -> Iterator[str]:
    """The export's CSV, a batch of entries at a time: the header, then each batch's rows."""
    header_sent = False
    for batch in store.audit_batches(size, **query):
        text = csv_text(batch)
        if header_sent:
            text = text.split("\r\n", 1)[1]
        header_sent = True
        yield text
    if not header_sent:
        yield csv_text([])


@audit.get("/audit.csv")
def export():
    """Every entry matching the filters, as CSV, streamed a batch at a time (the trail may be long)."""
    filters = read_filters()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(csv_chunks(get_store(), filters.query), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
