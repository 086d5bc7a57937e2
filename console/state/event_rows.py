"""Event-log rows read back as Events; a row that cannot be read comes back as an UNREADABLE marker.

Rows stored before webhook bodies were checked may hold NaN, Infinity, integers SQLite cannot
keep, or text that is not JSON at all. No such row may make a page answer 500, so it is read as
an UNREADABLE event that names the stored type and time, and it is logged once per event id.
"""

from __future__ import annotations

import logging
import threading

from console.telnyx.events import (
    TELNYX,
    Event,
    EventParseError,
    parse_event,
    parse_timestamp,
    read_json,
)

log = logging.getLogger("console.store")

UNREADABLE = "console.event.unreadable"

# Which unreadable event ids this process has already logged: a page reload must not repeat them.
_REPORTED_MAX = 10_000
_reported: set[str] = set()
_reported_lock = threading.Lock()


def report_unreadable(event_id: str, what: str, error: BaseException) -> None:
    """Log, once per event id in this process, that a stored event could not be read or drawn."""
    with _reported_lock:
        if event_id in _reported:
            return
        if len(_reported) >= _REPORTED_MAX:
            _reported.clear()
        _reported.add(event_id)
    log.error("stored event %r cannot be %s, shown as unreadable: %s", event_id[:200], what, error)


def logged_event(row: dict) -> Event:
    """One events-table row as the Event it logged, or an UNREADABLE marker when it cannot be read."""
    try:
        data = {"id": row["id"], "event_type": row["event_type"], "payload": read_json(row["payload"])}
        if row["occurred_at"]:
            data["occurred_at"] = row["occurred_at"]
        return parse_event({"data": data}, source=row["source"] or TELNYX)
    except (ValueError, TypeError, RecursionError) as exc:
        report_unreadable(str(row["id"]), "read", exc)
        return unreadable_marker(row)


def unreadable_marker(row: dict) -> Event:
    """The stand-in for a row that cannot be read: its id, stored type and time, and no payload."""
    try:
        occurred_at = parse_timestamp(row["occurred_at"]) if row["occurred_at"] else None
    except EventParseError:
        occurred_at = None
    return Event(str(row["id"]), UNREADABLE, occurred_at, {"event_type": str(row["event_type"])},
                 str(row["source"] or TELNYX))
