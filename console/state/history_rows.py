"""History a page at a time: a day's queued calls and ended conferences, newest first, by keyset.

A page is read from where the last one stopped (a `Cursor`: the time and tie-breaking key of its
edge row), through the event log's index on type and time or the conferences' index on status and
end time, so reading page 40 costs what reading page 1 does, and rows that arrive meanwhile never
shift a page (they appear above the first). Each queued-call row is made only from the events of
its own call, read through the index on the call an event names; a search filters rows as they
are made, a batch at a time, and so costs the rows it has to look at. The CSV export walks the
same pages to the end, never holding more than a batch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.state.queries import _CONFERENCE_SELECT
from console.state.row_views import conference_view
from console.state.schema import EVENT_CALL
from console.state.timeline import matches, queued_call_outcomes
from console.telnyx.events import EventParseError, format_timestamp, parse_timestamp

PAGE_SIZE = 50
BATCH = 200
OUTCOME_TYPES = ("call.initiated", "call.enqueued", "call.dequeued", "call.hangup")
OLDER, NEWER = "older", "newer"


class BadCursor(ValueError):
    """A page link the console did not make (edited, cut short, or from another list)."""


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: rows older (or newer) than the row at time `at` with tie-breaker `key`."""

    direction: str
    at: str
    key: int | str

    def token(self) -> str:
        text = json.dumps([self.direction, self.at, self.key], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def read(cls, token: str, key_type: type) -> Cursor:
        """The cursor in a page link, or BadCursor saying what is wrong with it."""
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            direction, at, key = json.loads(text)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise BadCursor("it cannot be read") from exc
        if direction not in (OLDER, NEWER):
            raise BadCursor("it names no direction")
        if not isinstance(key, key_type) or isinstance(key, bool):
            raise BadCursor("it names no row of this list")
        try:
            at = format_timestamp(parse_timestamp(at))
        except EventParseError as exc:
            raise BadCursor("its time is not a time") from exc
        return cls(direction, at, key)


@dataclass
class Page:
    """One page of rows, newest first, and the cursors of the pages beside it (None at either end)."""

    rows: list[dict]
    newer: Cursor | None
    older: Cursor | None


# Reads up to `limit` (time, key, row) from the cursor on, nearest the cursor first.
Reader = Callable[[Cursor | None, int], list[tuple[str, Any, dict]]]


def page_of(read: Reader, cursor: Cursor | None, size: int = PAGE_SIZE) -> Page:
    """A page read from the cursor (one row more than shown, to know whether a page lies beyond).

    Going newer up to the newest rows shows the first page whole, rather than a short page at the top.
    """
    found = read(cursor, size + 1)
    if cursor is not None and cursor.direction == NEWER:
        if len(found) <= size:
            return page_of(read, None, size)
        shown = found[:size][::-1]
        return Page([row for _, _, row in shown], Cursor(NEWER, *shown[0][:2]), Cursor(OLDER, *shown[-1][:2]))
    shown = found[:size]
    newer = Cursor(NEWER, *shown[0][:2]) if shown and cursor is not None else None
    older = Cursor(OLDER, *shown[-1][:2]) if len(found) > size else None
    return Page([row for _, _, row in shown], newer, older)


def _bounds(start: str, end: str, cursor: Cursor | None, time: str, key: str) -> tuple[list[str], list]:
    """WHERE terms and values for [start, end) past the cursor, as one index range that starts at the cursor.

    SQLite bounds an index walk by one upper (or lower) limit, so the tighter one is chosen here:
    given both the day's end and the cursor, it would walk down from the end of the day.
    """
    if cursor is not None and cursor.direction == OLDER and cursor.at < end:
        return ([f"{time} >= ?", f"{time} <= ?", f"({time} < ? OR {key} < ?)"],
                [start, cursor.at, cursor.at, cursor.key])
    if cursor is not None and cursor.direction == NEWER and cursor.at >= start:
        return ([f"{time} >= ?", f"{time} < ?", f"({time} > ? OR {key} > ?)"],
                [cursor.at, end, cursor.at, cursor.key])
    return [f"{time} >= ?", f"{time} < ?"], [start, end]


def _order(cursor: Cursor | None) -> str:
    return "ASC" if cursor is not None and cursor.direction == NEWER else "DESC"


def _further(cursor: Cursor | None, at: str, key) -> Cursor:
    """The cursor after a batch ending at (at, key), read the same way."""
    return Cursor(cursor.direction if cursor is not None else OLDER, at, key)


# -- queued calls -------------------------------------------------------------------------------


def _enqueues(store, start: str, end: str, cursor: Cursor | None, limit: int) -> list[dict]:
    """Up to `limit` call.enqueued rows of [start, end) past the cursor, nearest the cursor first."""
    terms, params = _bounds(start, end, cursor, "occurred_at", "rowid")
    order = _order(cursor)
    sql = (f"SELECT rowid AS log_rowid, id, occurred_at, {EVENT_CALL} AS call_control_id FROM events"
           f" WHERE event_type = 'call.enqueued' AND {' AND '.join(terms)}"
           f" ORDER BY occurred_at {order}, rowid {order} LIMIT ?")
    return store._rows(sql, [*params, limit])


def _visits(store, enqueues: list[dict]) -> list[tuple[dict, dict]]:
    """(enqueue row, queued-call row) for each readable enqueue, made from the outcome events of its own call."""
    calls = list(dict.fromkeys(row["call_control_id"] for row in enqueues if isinstance(row["call_control_id"], str)))
    lives: dict[str, list] = {}
    for event in store.logged_events_naming(calls, event_types=OUTCOME_TYPES, in_arrival_order=True):
        ccid = event.payload.get("call_control_id")
        if isinstance(ccid, str):
            lives.setdefault(ccid, []).append(event)
    made = {}
    for ccid in calls:
        for row in queued_call_outcomes(lives.get(ccid, [])):
            made[row.pop("event_id")] = row
    return [(enqueue, made[enqueue["id"]]) for enqueue in enqueues if enqueue["id"] in made]


def _calls_reader(store, start: datetime, end: datetime, text: str) -> Reader:
    first, last = format_timestamp(start), format_timestamp(end)

    def read(cursor: Cursor | None, limit: int) -> list[tuple[str, Any, dict]]:
        found = []
        size = max(limit, BATCH) if text.strip() else limit  # a search may skip many rows to fill a page
        while len(found) < limit:
            batch = _enqueues(store, first, last, cursor, size)
            for enqueue, row in _visits(store, batch):
                if matches(row, text):
                    found.append((enqueue["occurred_at"], enqueue["log_rowid"], row))
            if len(batch) < size:
                break
            cursor = _further(cursor, batch[-1]["occurred_at"], batch[-1]["log_rowid"])
        return found[:limit]
    return read


def queued_calls_page(store, start: datetime, end: datetime, text: str = "", cursor: Cursor | None = None,
                      size: int = PAGE_SIZE) -> Page:
    """One page of the calls that entered a queue in [start, end) and match the search, newest first."""
    return page_of(_calls_reader(store, start, end, text), cursor, size)


def queued_calls(store, start: datetime, end: datetime, text: str = "") -> Iterator[dict]:
    """Every queued call of [start, end) matching the search, newest first, read a page at a time."""
    read = _calls_reader(store, start, end, text)
    cursor = None
    while True:
        found = read(cursor, BATCH)
        yield from (row for _, _, row in found)
        if len(found) < BATCH:
            return
        cursor = Cursor(OLDER, *found[-1][:2])


# -- ended conferences ----------------------------------------------------------------------------

_ENDED_SELECT = _CONFERENCE_SELECT + "WHERE c.status = 'completed'"


def _conferences_reader(store, start: datetime, end: datetime, text: str) -> Reader:
    first, last = format_timestamp(start), format_timestamp(end)

    def read(cursor: Cursor | None, limit: int) -> list[tuple[str, Any, dict]]:
        found = []
        while len(found) < limit:
            terms, params = _bounds(first, last, cursor, "c.ended_at", "c.id")
            order = _order(cursor)
            rows = store._rows(f"{_ENDED_SELECT} AND {' AND '.join(terms)}"
                               f" ORDER BY c.ended_at {order}, c.id {order} LIMIT ?", [*params, BATCH])
            for row in rows:
                conference = conference_view(row)
                if matches({"name": conference.get("name"), "id": conference.get("id")}, text):
                    found.append((row["ended_at"], row["id"], conference))
            if len(rows) < BATCH:
                break
            cursor = _further(cursor, rows[-1]["ended_at"], rows[-1]["id"])
        return found[:limit]
    return read


def ended_conferences_page(store, start: datetime, end: datetime, text: str = "", cursor: Cursor | None = None,
                           size: int = PAGE_SIZE) -> Page:
    """One page of the conferences that ended in [start, end) and match the search (name or id), newest first."""
    return page_of(_conferences_reader(store, start, end, text), cursor, size)
