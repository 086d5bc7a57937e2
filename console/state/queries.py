"""What the pages ask the store: live and ended conferences, queues, calls, users, audit, the event log.

``Queries`` is mixed into ``Store``, so callers keep asking ``store.live_conferences()``; each
method runs its SELECT through the store's ``_rows`` (a reading connection, after the schema check)
and hands back plain dicts shaped by row_views.py, or Events read back from the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from console.state.event_rows import UNREADABLE, logged_event
from console.state.projection import KEYS
from console.state.row_views import (
    audit_view,
    conference_view,
    decode,
    display_name,
    user_view,
    waiting_view,
)
from console.state.schema import EVENT_CALL, EVENT_CONFERENCE
from console.telnyx.events import Event, format_timestamp, parse_timestamp

_CONFERENCE_SELECT = """
SELECT c.*,
  (SELECT count(*) FROM participants p WHERE p.conference_id = c.id AND p.status = 'joined')
    AS participant_count,
  fp.label AS floor_label, fc.caller_id_name AS floor_caller_id_name,
  fc.from_number AS floor_from_number,
  fp.on_hold AS floor_on_hold, fp.muted AS floor_muted, fp.status AS floor_status
FROM conferences c
LEFT JOIN participants fp ON fp.conference_id = c.id AND fp.call_control_id = c.floor_call_control_id
LEFT JOIN calls fc ON fc.call_control_id = c.floor_call_control_id
"""

_PARTICIPANT_SELECT = """
SELECT p.*, k.from_number, k.to_number, k.caller_id_name, k.direction, k.state AS call_state,
  (c.floor_call_control_id IS NOT NULL AND c.floor_call_control_id = p.call_control_id) AS has_floor
FROM participants p
LEFT JOIN calls k ON k.call_control_id = p.call_control_id
LEFT JOIN conferences c ON c.id = p.conference_id
WHERE p.conference_id = ? {only_present}
ORDER BY p.joined_at IS NULL, p.joined_at, p.call_control_id
"""

_QUEUE_SELECT = """
SELECT q.*, count(w.call_control_id) AS current_size, min(w.enqueued_at) AS oldest_enqueued_at
FROM queues q
LEFT JOIN queue_calls w ON w.queue_name = q.name AND w.status = 'waiting'
WHERE NOT coalesce(q.deleted, 0) {only_queue}
GROUP BY q.name
ORDER BY q.name
"""

_WAITING_SELECT = """
SELECT * FROM (
  SELECT w.*, k.from_number AS call_from_number, k.to_number AS call_to_number,
    k.caller_id_name AS caller_id_name,
    ROW_NUMBER() OVER (PARTITION BY w.queue_name
                       ORDER BY w.enqueued_at IS NULL, w.enqueued_at, w.call_control_id) AS position
  FROM queue_calls w
  LEFT JOIN calls k ON k.call_control_id = w.call_control_id
  WHERE w.status = 'waiting' {only_queue}
)
WHERE position <= ?
ORDER BY queue_name, position
"""

_PARKED_SELECT = """
SELECT k.* FROM calls k
WHERE k.state = 'answered'
  AND NOT EXISTS (SELECT 1 FROM participants p
                  WHERE p.call_control_id = k.call_control_id AND p.status IN ('joining', 'joined'))
  AND NOT EXISTS (SELECT 1 FROM queue_calls q WHERE q.call_control_id = k.call_control_id AND q.status = 'waiting')
ORDER BY k.answered_at IS NULL, k.answered_at, k.call_control_id
"""


_SUPERVISOR_SELECT = """
SELECT s.*, k.state AS line_state, k.direction AS line_direction, k.to_number AS line_to_number,
  k.start_time AS line_started_at, k.answered_at AS line_answered_at, k.end_time AS line_ended_at,
  k.hangup_cause AS line_hangup_cause,
  (SELECT p.conference_id FROM participants p
   WHERE p.call_control_id = s.line_call_control_id AND p.status IN ('joining', 'joined')
   ORDER BY p.joined_at DESC LIMIT 1) AS line_conference_id
FROM supervisors s
LEFT JOIN calls k ON k.call_control_id = s.line_call_control_id
WHERE s.username = ?
"""


class Queries:
    """The store's read methods; the store supplies ``_rows(sql, params)``."""

    _rows: Callable[..., list[dict]]

    def live_conferences(self) -> list[dict]:
        """Conferences not yet ended, newest first, with head count, floor holder and recording flag."""
        sql = _CONFERENCE_SELECT + "WHERE c.status IN ('init', 'in_progress') ORDER BY c.created_at DESC, c.id"
        return [conference_view(row) for row in self._rows(sql)]

    def newest_live_conferences(self, limit: int) -> list[dict]:
        """The newest `limit` live conferences, as live_conferences() lists them, read through an index."""
        sql = (_CONFERENCE_SELECT + "WHERE c.id IN (SELECT id FROM conferences WHERE status IN ('init', 'in_progress')"
               " ORDER BY created_at DESC, id LIMIT ?) ORDER BY c.created_at DESC, c.id")
        return [conference_view(row) for row in self._rows(sql, [limit])]

    def live_conference_summary(self) -> dict:
        """How many conferences are live, how many people are in them, and how many are being recorded."""
        row = self._rows(
            "SELECT count(*) AS conferences, coalesce(sum(recording_state = 'recording'), 0) AS recording,"
            " (SELECT count(*) FROM participants p JOIN conferences c ON c.id = p.conference_id"
            "  WHERE p.status = 'joined' AND c.status IN ('init', 'in_progress')) AS people"
            " FROM conferences WHERE status IN ('init', 'in_progress')")[0]
        return {"conferences": row["conferences"], "people": row["people"], "recording": row["recording"]}

    def ended_conferences(self, limit: int = 50) -> list[dict]:
        """The most recently ended conferences."""
        sql = _CONFERENCE_SELECT + "WHERE c.status = 'completed' ORDER BY c.ended_at DESC, c.id LIMIT ?"
        return [conference_view(row) for row in self._rows(sql, [limit])]

    def conference(self, conference_id: str) -> dict | None:
        """One conference with the same extras as the live list, or None."""
        rows = self._rows(_CONFERENCE_SELECT + "WHERE c.id = ?", [conference_id])
        return conference_view(rows[0]) if rows else None

    def participants(self, conference_id: str, include_left: bool = False) -> list[dict]:
        """A conference's participants in joining order, with their call's numbers and floor flag."""
        only_present = "" if include_left else "AND p.status IN ('joining', 'joined')"
        rows = self._rows(_PARTICIPANT_SELECT.format(only_present=only_present), [conference_id])
        participants = []
        for row in rows:
            participant = decode(row)
            participant["has_floor"] = bool(participant["has_floor"])
            participant["display_name"] = display_name(participant)
            participants.append(participant)
        return participants

    def _queues(self, name: str | None) -> list[dict]:
        only_queue = "" if name is None else "AND q.name = ?"
        params = [] if name is None else [name]
        queues = [decode(row) for row in self._rows(_QUEUE_SELECT.format(only_queue=only_queue), params)]
        only_waiting = "" if name is None else "AND w.queue_name = ?"
        oldest: dict[str, list[dict]] = {}
        for row in self._rows(_WAITING_SELECT.format(only_queue=only_waiting), [*params, 3]):
            oldest.setdefault(row["queue_name"], []).append(waiting_view(row))
        for queue in queues:
            queue["oldest_waiting"] = oldest.get(queue["name"], [])
        return queues

    def queues(self) -> list[dict]:
        """Every queue with its derived size, longest wait start and three oldest waiting callers."""
        return self._queues(None)

    def queue(self, name: str) -> dict | None:
        """One queue like queues() shows it, or None when unknown or deleted."""
        found = self._queues(name)
        return found[0] if found else None

    def queue_calls(self, name: str) -> list[dict]:
        """A queue's waiting calls in enqueue order, with their derived 1-based position."""
        sql = _WAITING_SELECT.format(only_queue="AND w.queue_name = ?")
        return [waiting_view(row) for row in self._rows(sql, [name, 2**62])]

    def parked_calls(self) -> list[dict]:
        """Answered calls in no conference and no queue: the ones a supervisor can place somewhere."""
        rows = self._rows(_PARKED_SELECT)
        return [decode(row) | {"display_name": display_name(row)} for row in rows]

    def recordings(self, conference_id: str) -> list[dict]:
        """A conference's saved recordings, oldest first."""
        sql = "SELECT * FROM recordings WHERE conference_id = ? ORDER BY started_at, id"
        return [decode(row) for row in self._rows(sql, [conference_id])]

    def call(self, call_control_id: str) -> dict | None:
        """One call leg, or None."""
        rows = self._rows("SELECT * FROM calls WHERE call_control_id = ?", [call_control_id])
        return decode(rows[0]) if rows else None

    def supervisor(self, username: str) -> dict | None:
        """A supervisor's profile with their line's state and the conference it is in, or None."""
        rows = self._rows(_SUPERVISOR_SELECT, [username])
        return decode(rows[0]) if rows else None

    def supervisor_lines(self) -> dict[str, str]:
        """Every supervisor line's call_control_id, mapped to its supervisor's username."""
        sql = "SELECT username, line_call_control_id FROM supervisors WHERE line_call_control_id IS NOT NULL"
        return {row["line_call_control_id"]: row["username"] for row in self._rows(sql)}

    # --- users and the audit trail -------------------------------------------------------------

    def user(self, name: str) -> dict | None:
        """One user by name (with the password hash), or None."""
        rows = self._rows("SELECT * FROM users WHERE name = ?", [name])
        return user_view(rows[0]) if rows else None

    def users(self) -> list[dict]:
        """Every user, by name."""
        return [user_view(row) for row in self._rows("SELECT * FROM users ORDER BY name")]

    def audit_entries(self, *, user_name: str | None = None, action: str | None = None,
                      conference_id: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, limit: int | None = 500,
                      before: tuple[str, str] | None = None) -> list[dict]:
        """Audit entries newest first, filtered by who, what, which conference and [since, until).

        `before` is an (at, id) the entries must come after, newest first: the next batch of an export.
        Without a limit every match is read at once; an export reads batches (see audit_batches).
        """
        clauses, params = [], []
        if before is not None:
            clauses.append("(at, id) < (?, ?)")
            params += list(before)
        for column, value in (("user_name", user_name), ("action", action), ("conference_id", conference_id)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("at >= ?")
            params.append(format_timestamp(since))
        if until is not None:
            clauses.append("at < ?")
            params.append(format_timestamp(until))
        sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += " ORDER BY at DESC, id DESC" + (" LIMIT ?" if limit else "")
        return [audit_view(row) for row in self._rows(sql, params + ([limit] if limit else []))]

    def audit_batches(self, size: int = 500, **filters) -> Iterator[list[dict]]:
        """Every audit entry matching the filters, newest first, read `size` at a time through the index on time."""
        before = None
        while True:
            batch = self.audit_entries(**filters, limit=size, before=before)
            if batch:
                yield batch
            if len(batch) < size:
                return
            before = (batch[-1]["at"], batch[-1]["id"])

    def audit_choices(self) -> dict[str, list[str]]:
        """The users and actions the audit trail holds, for its filters (one index step per distinct value)."""
        return {column: [row["value"] for row in self._rows(distinct_sql("audit", column))]
                for column in ("user_name", "action")}

    def call_states(self, call_control_ids: Iterable[str]) -> dict[str, str | None]:
        """Each known call leg's state, in one query (pages use it instead of a call() per row)."""
        wanted = list(dict.fromkeys(call_control_ids))
        states: dict[str, str | None] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            sql = f"SELECT call_control_id, state FROM calls WHERE call_control_id IN ({','.join('?' * len(chunk))})"
            states |= {row["call_control_id"]: row["state"] for row in self._rows(sql, chunk)}
        return states

    def has_event(self, event_id: str) -> bool:
        """Whether the event log already holds this id."""
        return bool(self._rows("SELECT 1 AS found FROM events WHERE id = ?", [event_id]))

    def event_count(self) -> int:
        """How many events the log holds (a tally SQLite keeps with each insert and delete)."""
        rows = self._rows("SELECT events AS n FROM event_tally WHERE id = 1")
        return rows[0]["n"] if rows else 0

    def alert_log_version(self) -> int:
        """A number that changes whenever an alert event enters or leaves the log (a trigger keeps it)."""
        rows = self._rows("SELECT version FROM alert_log_version WHERE id = 1")
        return rows[0]["version"] if rows else 0

    def last_event_received_at(self) -> datetime | None:
        """When the newest event was stored, or None for an empty log."""
        value = self._rows("SELECT max(received_at) AS at FROM events")[0]["at"]
        return parse_timestamp(value) if value else None

    def logged_events(self) -> list[Event]:
        """Every logged event in arrival order, as Events again (for replay into another store)."""
        return self._logged("SELECT * FROM events ORDER BY rowid")

    def _logged(self, sql: str, params: Iterable = (), *, keep_unreadable: bool = False) -> list[Event]:
        """Event-log rows turned back into Events; unreadable rows are logged, and kept as markers if asked."""
        events = [logged_event(row) for row in self._rows(sql, params)]
        return events if keep_unreadable else [event for event in events if event.event_type != UNREADABLE]

    def state(self) -> dict:
        """Every entity's visible columns, keyed by identity, so two stores compare with ==."""
        state: dict[str, dict] = {}
        for table, key_columns in KEYS.items():
            entities: dict = {}
            for row in self._rows(f"SELECT * FROM [{table}]"):
                holder = entities
                for column in key_columns[:-1]:
                    holder = holder.setdefault(row[column], {})
                holder[row[key_columns[-1]]] = decode(row)
            state[table] = entities
        return state

    def logged_events_of_types(self, event_types: Iterable[str], since: datetime | None = None,
                               until: datetime | None = None, *, keep_unreadable: bool = False) -> list[Event]:
        """Logged events of these types that happened in [since, until), oldest first (for KPIs and alerts).

        Rows that cannot be read are left out, or kept as UNREADABLE markers when a page lists them.
        """
        types = list(event_types)
        sql = f"SELECT * FROM events WHERE event_type IN ({','.join('?' * len(types))})"
        params: list = list(types)
        if since is not None:
            sql += " AND occurred_at >= ?"
            params.append(format_timestamp(since))
        if until is not None:
            sql += " AND occurred_at < ?"
            params.append(format_timestamp(until))
        return self._logged(sql + " ORDER BY occurred_at, rowid", params, keep_unreadable=keep_unreadable)

    def logged_events_about(self, call_control_id: str | None = None, conference_id: str | None = None) -> list[Event]:
        """Logged events naming this call leg or this conference, oldest first (for call timelines).

        A row SQLite cannot read as JSON (NaN, say) is matched by the text it was stored with, and
        comes back as an UNREADABLE marker, so the timeline can say an event there was unreadable.
        """
        calls = [call_control_id] if call_control_id is not None else []
        conferences = [conference_id] if conference_id is not None else []
        return self.logged_events_naming(calls, conferences)

    def logged_events_naming(self, call_control_ids: Iterable[str] = (), conference_ids: Iterable[str] = (), *,
                             event_types: Iterable[str] | None = None, in_arrival_order: bool = False) -> list[Event]:
        """Logged events naming any of these call legs or conferences, oldest first, unreadable rows as markers.

        Read through the indices on the id each payload names (schema.EVENT_CALL, EVENT_CONFERENCE);
        rows SQLite cannot read are indexed apart, under 0, and matched by their text. Oldest first
        means by when they happened, or by when they were logged if `in_arrival_order`. With
        `event_types`, only events of those types come back (and no unreadable rows).
        """
        clauses, params = [], []
        for expression, name, values in ((EVENT_CALL, "call_control_id", list(dict.fromkeys(call_control_ids))),
                                         (EVENT_CONFERENCE, "conference_id", list(dict.fromkeys(conference_ids)))):
            if not values:
                continue
            marks = ",".join("?" * len(values))
            texts = " OR ".join("instr(payload, ?) > 0" for _ in values)
            clauses.append(f"({expression} IN ({marks}, 0) AND ({expression} IN ({marks})"
                           f" OR (NOT json_valid(payload) AND ({texts}))))")
            # as the event log writes it: "name": "value"
            params += [*values, *values, *(json.dumps({name: value})[1:-1] for value in values)]
        if not clauses:
            return []
        where = f"({' OR '.join(clauses)})"
        if event_types is not None:
            types = list(event_types)
            # unary +: the type narrows what the id index found; SQLite must not walk the type index instead
            where += f" AND +event_type IN ({','.join('?' * len(types))})"
            params += types
        order = "rowid" if in_arrival_order else "order_key, rowid"
        sql = f"SELECT * FROM events WHERE {where} ORDER BY {order}"
        return self._logged(sql, params, keep_unreadable=event_types is None)


def distinct_sql(table: str, column: str, where: str = "", index: str | None = None) -> str:
    """The distinct non-null values of an indexed column, smallest first, one index step each.

    SQLite reads every row for SELECT DISTINCT; this walks the index from one value to the next
    instead, so its cost is the number of values, not of rows. `where` (an extra condition, which a
    partial index may require) is ANDed into each step, and `index` names the index to walk when
    SQLite would pick another. Rows come back as {"value": ...}.
    """
    extra = f" AND {where}" if where else ""
    source = f"{table} INDEXED BY {index}" if index else table
    return (f"WITH RECURSIVE seen(value) AS ("
            f"SELECT min({column}) FROM {source} WHERE {column} IS NOT NULL{extra}"
            f" UNION ALL SELECT (SELECT min({column}) FROM {source} WHERE {column} > seen.value{extra})"
            f" FROM seen WHERE seen.value IS NOT NULL)"
            f" SELECT value FROM seen WHERE value IS NOT NULL")
