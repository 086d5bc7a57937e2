"""The event log and the read model in SQLite: the only module that speaks SQL.

Every event is first inserted into ``events`` (unique by id, so a duplicate changes nothing), then
applied to the entity tables in the same transaction, following the ordering, tie and derivation
rules documented in projection.py. ``apply`` returns the keys whose rendering may have changed:
the entity's own key, plus a participant's conference, a queued call's queue and the waiting calls
behind it (their positions are derived), a call's participants and queued calls, a recording's
conference, and the old and new floor holders. Pages read plain dicts from the query methods;
tests compare stores with ``Store.state()``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import current_app
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from console.state.projection import (
    KEYS,
    UnusableEvent,
    Write,
    entity_key,
    merge,
    order_key,
    settle_participant,
    settle_queue_call,
    writes_for,
)
from console.telnyx.events import (
    CONSOLE,
    Event,
    format_timestamp,
    parse_event,
    parse_timestamp,
)

log = logging.getLogger("console.store")

_FLAGS = {
    "playing", "speaking", "muted", "on_hold", "end_conference_on_exit",
    "soft_end_conference_on_exit", "keep_after_hangup", "deleted",
}
_JSON = {"whisper_call_control_ids", "recording_urls", "public_recording_urls"}

migrations = Migrations("supervisor-console")


@migrations()
def create_event_log(db: Database) -> None:
    """The append-only log every table is built from."""
    db["events"].create(
        {"id": str, "event_type": str, "source": str, "occurred_at": str, "order_key": str,
         "received_at": str, "payload": str},
        pk="id", not_null={"event_type", "source", "order_key", "received_at", "payload"},
    )
    db["events"].create_index(["received_at"])


@migrations()
def create_read_model(db: Database) -> None:
    """Conferences, participants, calls, queues, queued calls and recordings."""
    db["conferences"].create(
        {"id": str, "name": str, "status": str, "created_at": str, "ended_at": str, "end_reason": str,
         "ended_by_call_control_id": str, "region": str, "connection_id": str, "expires_at": str,
         "creator_call_control_id": str, "floor_call_control_id": str, "floor_changed_at": str,
         "recording_state": str, "playing": int, "playback_media": str, "speaking": int,
         "beep_enabled": str, "max_participants": int, "_versions": str},
        pk="id",
    )
    db["participants"].create(
        {"conference_id": str, "call_control_id": str, "participant_id": str, "call_leg_id": str,
         "call_session_id": str, "status": str, "joined_at": str, "left_at": str, "muted": int,
         "on_hold": int, "label": str, "supervisor_role": str, "whisper_call_control_ids": str,
         "end_conference_on_exit": int, "soft_end_conference_on_exit": int, "playing": int,
         "playback_media": str, "speaking": int, "_reported_status": str, "_reported_at": str,
         "_versions": str},
        pk=("conference_id", "call_control_id"),
    )
    db["calls"].create(
        {"call_control_id": str, "call_leg_id": str, "call_session_id": str, "connection_id": str,
         "direction": str, "from_number": str, "to_number": str, "caller_id_name": str, "state": str,
         "start_time": str, "answered_at": str, "end_time": str, "hangup_cause": str,
         "hangup_source": str, "sip_hangup_cause": str, "client_state": str, "gather_digits": str,
         "gather_status": str, "gather_ended_at": str, "_versions": str},
        pk="call_control_id",
    )
    db["queues"].create(
        {"name": str, "id": str, "max_size": int, "average_wait_time_secs": float, "created_at": str,
         "deleted": int, "_versions": str},
        pk="name",
    )
    db["queue_calls"].create(
        {"queue_name": str, "call_control_id": str, "call_leg_id": str, "call_session_id": str,
         "status": str, "enqueued_at": str, "left_at": str, "entry_position": int, "last_position": int,
         "wait_time_secs": float, "leave_reason": str, "keep_after_hangup": int, "from_number": str,
         "to_number": str, "_reported_status": str, "_reported_at": str, "_reported_reason": str,
         "_reported_wait_time_secs": float, "_versions": str},
        pk=("queue_name", "call_control_id"),
    )
    db["recordings"].create(
        {"id": str, "conference_id": str, "call_control_id": str, "call_session_id": str, "format": str,
         "channels": str, "started_at": str, "ended_at": str, "recording_urls": str,
         "public_recording_urls": str, "_versions": str},
        pk="id",
    )
    db["conferences"].create_index(["status"])
    db["participants"].create_index(["conference_id", "status"])
    db["participants"].create_index(["call_control_id"])
    db["queue_calls"].create_index(["queue_name", "status", "enqueued_at"])
    db["queue_calls"].create_index(["call_control_id"])
    db["recordings"].create_index(["conference_id"])


@migrations()
def create_supervisors(db: Database) -> None:
    """Each supervisor's phone or SIP address and the call leg that is their supervisor line."""
    db["supervisors"].create(
        {"username": str, "display_name": str, "phone": str, "line_call_control_id": str, "line_source": str,
         "_versions": str},
        pk="username",
    )
    db["supervisors"].create_index(["line_call_control_id"])


# Audit entries travel the bus as console events but live in their own append-only table, not the
# read-model log: they describe who did what, and replaying the log must not depend on them.
AUDIT_EVENT = "console.audit.recorded"
AUDIT_COLUMNS = (
    "id", "at", "user_name", "role", "action", "endpoint", "method", "path", "conference_id", "call_control_id",
    "queue_name", "target_user", "parameters", "result", "status", "error", "client_address",
    "awaits_event_type", "awaits_field", "awaits_value",
)


@migrations()
def create_users_and_audit(db: Database) -> None:
    """Who may sign in (werkzeug password hashes), and the audit trail of what each of them did."""
    db["users"].create(
        {"name": str, "password_hash": str, "role": str, "phone": str, "disabled": int, "created_at": str,
         "updated_at": str},
        pk="name", not_null={"role"},
    )
    db["audit"].create(
        {column: int if column == "status" else str for column in AUDIT_COLUMNS}
        | {"confirmed_by": str, "confirmed_event_type": str, "confirmed_at": str},
        pk="id",
    )
    db["audit"].create_index(["at"])
    db["audit"].create_index(["user_name", "at"])
    db["audit"].create_index(["conference_id", "at"])
    db["audit"].create_index(["awaits_event_type", "confirmed_by"])


@migrations()
def add_performance_indices(db: Database) -> None:
    """Indices for queries that would otherwise scan a day's calls or ended conferences."""
    db["conferences"].create_index(["status", "ended_at"], if_not_exists=True)
    db["calls"].create_index(["state", "answered_at"], if_not_exists=True)


def _select(db: Database, sql: str, params: Iterable = ()) -> list[dict]:
    """Rows as dicts, straight from the connection (sqlite_utils' query() adds a savepoint per call)."""
    cursor = db.conn.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _visible(row: dict | None) -> dict | None:
    return None if row is None else {k: v for k, v in row.items() if not k.startswith("_")}


def _note_shift(shifted_queues: dict, queue_name: str, enqueued: list[str | None]) -> None:
    """Remember the earliest enqueue time from which a queue's positions may have moved."""
    since = None if None in enqueued else min(enqueued)
    if queue_name in shifted_queues:
        known = shifted_queues[queue_name]
        since = None if since is None or known is None else min(since, known)
    shifted_queues[queue_name] = since


_ABSENT = object()


class _Batch:
    """The rows one transaction touches: loaded once, merged, settled, then saved when changed."""

    def __init__(self, db: Database, columns: dict[str, list[str]]):
        self.db = db
        self.columns = columns
        self.rows: dict[tuple, dict] = {}
        self.stored: dict[tuple, dict | None] = {}
        self.stored_versions: dict[tuple, dict] = {}

    def _adopt(self, slot: tuple, found: dict | None) -> dict:
        self.stored[slot] = None if found is None else dict(found)
        if found is None:
            table, key = slot
            row = dict.fromkeys(self.columns[table]) | dict(zip(KEYS[table], key))
            row["_versions"] = {}
        else:
            row = dict(found)
            row["_versions"] = json.loads(found["_versions"] or "{}")
            self.stored_versions[slot] = dict(row["_versions"])
        self.rows[slot] = row
        return row

    def get(self, table: str, key: tuple, create: bool = True) -> dict | None:
        """The row for a key, loading it once; a new empty row when absent and `create`."""
        slot = (table, key)
        if slot not in self.rows:
            where = " AND ".join(f"[{column}] = ?" for column in KEYS[table])
            found = next(iter(_select(self.db, f"SELECT * FROM [{table}] WHERE {where}", key)), None)
            if found is None and not create:
                return None
            self._adopt(slot, found)
        return self.rows[slot]

    def load_where(self, table: str, column: str, value: str) -> list[tuple]:
        """Load every stored row with column = value; return the slots of all such rows held."""
        for found in _select(self.db, f"SELECT * FROM [{table}] WHERE [{column}] = ?", [value]):
            slot = (table, tuple(found[name] for name in KEYS[table]))
            if slot not in self.rows:
                self._adopt(slot, found)
        return [slot for slot, row in self.rows.items() if slot[0] == table and row[column] == value]

    def apply(self, event: Event, writes: list[Write]) -> None:
        version = order_key(event)
        for write in writes:
            merge(self.get(write.table, write.key), version, write)

    def _stored_form(self, slot: tuple) -> dict:
        row = self.rows[slot]
        return row | {"_versions": json.dumps(row["_versions"], sort_keys=True)}

    def _changed(self, slot: tuple) -> bool:
        before = self.stored[slot]
        if before is None:
            return True
        row = self.rows[slot]
        if any(before.get(column, _ABSENT) != value for column, value in row.items() if column != "_versions"):
            return True
        return self.stored_versions[slot] != row["_versions"]

    def _ending_moved(self, slot: tuple) -> bool:
        """Whether a conference's end (status, its version, ended_at) changed, so participants re-settle."""
        before, row = self.stored[slot], self.rows[slot]
        if before is None:
            return True
        before_version = json.loads(before["_versions"] or "{}").get("status")
        return (before["status"], before_version, before["ended_at"]) != (
            row["status"], row["_versions"].get("status"), row["ended_at"])

    def finish(self) -> set[str]:
        """Settle derived columns, save what changed, and return the change keys."""
        for (table, key) in list(self.rows):
            if table == "calls" and self._changed((table, key)):
                self.load_where("participants", "call_control_id", key[0])
                self.load_where("queue_calls", "call_control_id", key[0])
            elif table == "conferences" and self._ending_moved((table, key)):
                self.load_where("participants", "conference_id", key[0])
        for (table, key), row in list(self.rows.items()):
            if table == "participants":
                settle_participant(row, self.get("calls", (key[1],), False),
                                    self.get("conferences", (key[0],), False))
            elif table == "queue_calls":
                settle_queue_call(row, self.get("calls", (key[1],), False))
        keys: set[str] = set()
        shifted_queues: dict[str, str | None] = {}
        for slot in list(self.rows):
            if not self._changed(slot):
                continue
            self._save(slot)
            before, after = _visible(self.stored[slot]), _visible(self.rows[slot])
            if before != after:
                keys |= self._keys_for(slot, before or {}, after, shifted_queues)
        for queue_name, since in shifted_queues.items():
            keys |= self._waiting_after(queue_name, since)
        return keys

    def _save(self, slot: tuple) -> None:
        table, _ = slot
        columns = self.columns[table]
        stored = self._stored_form(slot)
        names = ", ".join(f"[{column}]" for column in columns)
        marks = ", ".join("?" for _ in columns)
        self.db.execute(f"INSERT OR REPLACE INTO [{table}] ({names}) VALUES ({marks})",
                        [stored[column] for column in columns])

    def _keys_for(self, slot: tuple, before: dict, after: dict, shifted_queues: dict) -> set[str]:
        """The row's own key plus the renderings that show it: parent, floor holders, dependents."""
        table, key = slot
        keys = {entity_key(table, key)}
        if table == "participants":
            keys.add(entity_key("conferences", (key[0],)))
        elif table == "recordings" and after["conference_id"]:
            keys.add(entity_key("conferences", (after["conference_id"],)))
        elif table == "queue_calls":
            keys.add(entity_key("queues", (key[0],)))
            if (before.get("status"), before.get("enqueued_at")) != (after["status"], after["enqueued_at"]):
                times = [after["enqueued_at"]] + ([before["enqueued_at"]] if before else [])
                _note_shift(shifted_queues, key[0], times)
        elif table == "calls":
            keys |= {entity_key(*other) for other, row in self.rows.items()
                     if other[0] in ("participants", "queue_calls") and row["call_control_id"] == key[0]}
        elif table == "conferences" and before.get("floor_call_control_id") != after["floor_call_control_id"]:
            for holder in (before.get("floor_call_control_id"), after["floor_call_control_id"]):
                if holder and self.get("participants", (key[0], holder), False) is not None:
                    keys.add(entity_key("participants", (key[0], holder)))
        return keys

    def _waiting_after(self, queue_name: str, since: str | None) -> set[str]:
        """Keys of waiting calls whose derived position may have moved."""
        sql = "SELECT call_control_id FROM queue_calls WHERE queue_name = ? AND status = 'waiting'"
        params = [queue_name]
        if since is not None:
            sql += " AND (enqueued_at IS NULL OR enqueued_at >= ?)"
            params.append(since)
        return {entity_key("queue_calls", (queue_name, row["call_control_id"])) for row in _select(self.db, sql, params)}


def _decode(row: dict) -> dict:
    """A stored row as pages see it: no bookkeeping columns, flags as bools, JSON parsed."""
    decoded = {}
    for column, value in row.items():
        if column.startswith("_"):
            continue
        if column in _FLAGS:
            value = bool(value)
        elif column in _JSON and value is not None:
            value = json.loads(value)
        decoded[column] = value
    return decoded


def _display_name(row: dict) -> str | None:
    """How a supervisor recognises a leg: its label, caller id name, number, or control id."""
    for column in ("label", "caller_id_name", "from_number", "call_control_id"):
        if row.get(column):
            return row[column]
    return None


_CONFERENCE_SELECT = """
SELECT c.*,
  (SELECT count(*) FROM participants p WHERE p.conference_id = c.id AND p.status = 'joined')
    AS participant_count,
  fp.label AS floor_label, fc.caller_id_name AS floor_caller_id_name,
  fc.from_number AS floor_from_number
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


_EARLIER_CONFIRMATION = """
SELECT id, event_type, received_at FROM events
WHERE event_type = ? AND received_at >= ? AND json_extract(payload, '$.' || ?) = ?
  AND id NOT IN (SELECT confirmed_by FROM audit WHERE confirmed_by IS NOT NULL)
ORDER BY received_at, rowid
LIMIT 1
"""


def _user_view(row: dict) -> dict:
    return dict(row) | {"disabled": bool(row["disabled"])}


def _audit_view(row: dict) -> dict:
    return dict(row) | {"parameters": json.loads(row["parameters"] or "{}")}


def _conference_view(row: dict) -> dict:
    """A conference row plus who holds the floor, in words, and plain recording flags."""
    conference = _decode(row)
    conference["floor_display_name"] = _display_name({
        "label": conference.pop("floor_label"), "caller_id_name": conference.pop("floor_caller_id_name"),
        "from_number": conference.pop("floor_from_number"),
        "call_control_id": conference["floor_call_control_id"]})
    conference["recording"] = conference["recording_state"] == "recording"
    conference["recording_paused"] = conference["recording_state"] == "paused"
    return conference


def _waiting_view(row: dict) -> dict:
    """A waiting call, its numbers taken from the call leg when the queue did not report them."""
    queued = _decode(row)
    call_from, call_to = queued.pop("call_from_number"), queued.pop("call_to_number")
    queued["from_number"] = queued["from_number"] or call_from
    queued["to_number"] = queued["to_number"] or call_to
    queued["display_name"] = _display_name(queued)
    return queued


class Writer:
    """Events applied inside one open transaction; `changed` holds their keys once it commits.

    `connection` is the transaction's sqlite3 connection, for tables kept beside the read model in
    the same file (the replay ledger), so their rows commit or roll back with the events.
    """

    def __init__(self, store: Store, db: Database):
        self._store = store
        self._db = db
        self.connection: sqlite3.Connection = db.conn
        self.batch = _Batch(db, store._schema(db))
        self.changed: set[str] = set()
        # Event types some audit entry still waits to be confirmed by: most webhooks confirm nothing,
        # so one query per transaction spares one per event.
        self._awaited: set[str] | None = None

    def _awaits(self, event_type: str) -> bool:
        if self._awaited is None:
            self._awaited = {row["awaits_event_type"] for row in _select(
                self._db, "SELECT DISTINCT awaits_event_type FROM audit"
                          " WHERE confirmed_by IS NULL AND awaits_event_type IS NOT NULL")}
        return event_type in self._awaited

    def apply(self, event: Event) -> bool:
        """Log and project one event; False when the log already held its id (nothing changes)."""
        store, db = self._store, self._db
        if event.event_type == AUDIT_EVENT:
            store._audit(db, event)
            self._awaited = None
            return True
        if not store._log(db, event):
            return False
        if self._awaits(event.event_type):
            store._confirm_audit(db, event)
        writes = store._project(event)
        if writes:
            self.batch.apply(event, writes)
        return True


class Store:
    """The event log and read model in one SQLite file, with a connection per thread."""

    def __init__(self, path: str, *, clock: Callable[[], datetime] | None = None):
        self.path = str(path)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._memory = self.path == ":memory:"
        self._local = threading.local()
        self._lock = threading.RLock()
        self._open_dbs: weakref.WeakSet[Database] = weakref.WeakSet()
        self._columns: dict[str, list[str]] | None = None
        self._shared: Database | None = None

    # --- connections --------------------------------------------------------------------------

    def _open(self) -> Database:
        """A new connection; it closes when its thread ends (the thread-local goes) or at close()."""
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db = Database(connection)
        if not self._memory:
            db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        self._open_dbs.add(db)
        return db

    def _db(self) -> Database:
        """This thread's connection (the one shared connection for an in-memory store)."""
        if self._memory:
            with self._lock:
                if self._shared is None:
                    self._shared = self._open()
                return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._open()
        return db

    @contextmanager
    def _reading(self) -> Iterator[Database]:
        """A connection for queries; an in-memory store serialises every use of its one connection."""
        if self._memory:
            with self._lock:
                yield self._db()
        else:
            yield self._db()

    @contextmanager
    def _writing(self) -> Iterator[Database]:
        """One immediate transaction; writers in this process queue on a lock, others on SQLite's."""
        with self._lock:
            db = self._db()
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.conn.execute("ROLLBACK")
                raise
            db.conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for db in list(self._open_dbs):
                db.close()
            self._open_dbs = weakref.WeakSet()
            self._local = threading.local()
            self._shared = None

    def migrate(self) -> None:
        """Apply pending schema migrations (safe to call at every start)."""
        with self._lock:
            db = self._db()
            migrations.apply(db)
            self._columns = {table: [column.name for column in db[table].columns] for table in KEYS}

    def _schema(self, db: Database) -> dict[str, list[str]]:
        if self._columns is None:
            with self._lock:
                if not db["events"].exists():
                    raise RuntimeError("the store has no tables yet: call Store.migrate() first")
                self._columns = {table: [column.name for column in db[table].columns] for table in KEYS}
        return self._columns

    # --- writing ------------------------------------------------------------------------------

    def apply(self, event: Event) -> set[str]:
        """Log the event and apply it in one transaction; return the keys that changed."""
        return self.apply_many([event])

    def apply_many(self, events: Iterable[Event]) -> set[str]:
        """Apply events in one transaction; return the union of changed keys."""
        with self.transaction() as writer:
            for event in events:
                writer.apply(event)
        return writer.changed

    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        """One write transaction for several events (and whatever else shares the file): see Writer."""
        with self._writing() as db:
            writer = Writer(self, db)
            yield writer
            writer.changed = writer.batch.finish()

    def _log(self, db: Database, event: Event) -> bool:
        """Insert into the event log; False when the id is already there."""
        moment = event.occurred_at
        cursor = db.execute(
            "INSERT OR IGNORE INTO events (id, event_type, source, occurred_at, order_key, received_at, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [event.id, event.event_type, event.source, format_timestamp(moment) if moment else None,
             order_key(event), format_timestamp(self._clock()), json.dumps(event.payload, default=str)],
        )
        return cursor.rowcount == 1

    def _audit(self, db: Database, event: Event) -> None:
        """Keep an audit entry once, and link it to a confirming webhook that arrived before it."""
        if event.source != CONSOLE:
            log.warning("event %s claims to be an audit entry but came from %s: ignored", event.id, event.source)
            return
        entry = event.payload
        row = {column: entry.get(column) for column in AUDIT_COLUMNS}
        row |= {"id": event.id, "at": row["at"] or format_timestamp(event.ordered_at or self._clock()),
                "parameters": json.dumps(entry.get("parameters") or {}, sort_keys=True, default=str)}
        marks = ", ".join("?" for _ in AUDIT_COLUMNS)
        cursor = db.execute(f"INSERT OR IGNORE INTO audit ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})",
                            [row[column] for column in AUDIT_COLUMNS])
        if cursor.rowcount != 1 or not row["awaits_event_type"]:
            return
        found = next(db.query(_EARLIER_CONFIRMATION, [row["awaits_event_type"], row["at"], row["awaits_field"],
                                                      row["awaits_value"]]), None)
        if found is not None:
            self._confirmed(db, event.id, found["id"], found["event_type"], found["received_at"])

    def _confirm_audit(self, db: Database, event: Event) -> None:
        """Link a webhook to the oldest audit entry still waiting for exactly this confirmation."""
        waiting = list(db.query(
            "SELECT id, awaits_field, awaits_value FROM audit WHERE awaits_event_type = ? AND confirmed_by IS NULL"
            " ORDER BY at, id", [event.event_type]))
        for entry in waiting:
            value = event.payload.get(entry["awaits_field"])
            if value is not None and str(value) == entry["awaits_value"]:
                self._confirmed(db, entry["id"], event.id, event.event_type, format_timestamp(self._clock()))
                return

    @staticmethod
    def _confirmed(db: Database, audit_id: str, event_id: str, event_type: str, received_at: str) -> None:
        db.execute("UPDATE audit SET confirmed_by = ?, confirmed_event_type = ?, confirmed_at = ? WHERE id = ?",
                   [event_id, event_type, received_at, audit_id])

    @staticmethod
    def _project(event: Event) -> list[Write]:
        """The event's writes; unknown or unusable events stay in the log and change nothing."""
        try:
            writes = writes_for(event)
        except UnusableEvent as exc:
            log.warning("event %s (%s) kept in the log, not applied: %s", event.id, event.event_type, exc)
            return []
        if writes is None:
            log.warning("event %s has unknown type %r: kept in the log, not applied", event.id, event.event_type)
            return []
        return writes

    # --- reading ------------------------------------------------------------------------------

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        with self._reading() as db:
            self._schema(db)
            return _select(db, sql, params)

    def live_conferences(self) -> list[dict]:
        """Conferences not yet ended, newest first, with head count, floor holder and recording flag."""
        sql = _CONFERENCE_SELECT + "WHERE c.status IN ('init', 'in_progress') ORDER BY c.created_at DESC, c.id"
        return [_conference_view(row) for row in self._rows(sql)]

    def ended_conferences(self, limit: int = 50) -> list[dict]:
        """The most recently ended conferences."""
        sql = _CONFERENCE_SELECT + "WHERE c.status = 'completed' ORDER BY c.ended_at DESC, c.id LIMIT ?"
        return [_conference_view(row) for row in self._rows(sql, [limit])]

    def conference(self, conference_id: str) -> dict | None:
        """One conference with the same extras as the live list, or None."""
        rows = self._rows(_CONFERENCE_SELECT + "WHERE c.id = ?", [conference_id])
        return _conference_view(rows[0]) if rows else None

    def participants(self, conference_id: str, include_left: bool = False) -> list[dict]:
        """A conference's participants in joining order, with their call's numbers and floor flag."""
        only_present = "" if include_left else "AND p.status IN ('joining', 'joined')"
        rows = self._rows(_PARTICIPANT_SELECT.format(only_present=only_present), [conference_id])
        participants = []
        for row in rows:
            participant = _decode(row)
            participant["has_floor"] = bool(participant["has_floor"])
            participant["display_name"] = _display_name(participant)
            participants.append(participant)
        return participants

    def _queues(self, name: str | None) -> list[dict]:
        only_queue = "" if name is None else "AND q.name = ?"
        params = [] if name is None else [name]
        queues = [_decode(row) for row in self._rows(_QUEUE_SELECT.format(only_queue=only_queue), params)]
        only_waiting = "" if name is None else "AND w.queue_name = ?"
        oldest: dict[str, list[dict]] = {}
        for row in self._rows(_WAITING_SELECT.format(only_queue=only_waiting), [*params, 3]):
            oldest.setdefault(row["queue_name"], []).append(_waiting_view(row))
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
        return [_waiting_view(row) for row in self._rows(sql, [name, 2**62])]

    def parked_calls(self) -> list[dict]:
        """Answered calls in no conference and no queue: the ones a supervisor can place somewhere."""
        rows = self._rows(_PARKED_SELECT)
        return [_decode(row) | {"display_name": _display_name(row)} for row in rows]

    def recordings(self, conference_id: str) -> list[dict]:
        """A conference's saved recordings, oldest first."""
        sql = "SELECT * FROM recordings WHERE conference_id = ? ORDER BY started_at, id"
        return [_decode(row) for row in self._rows(sql, [conference_id])]

    def call(self, call_control_id: str) -> dict | None:
        """One call leg, or None."""
        rows = self._rows("SELECT * FROM calls WHERE call_control_id = ?", [call_control_id])
        return _decode(rows[0]) if rows else None

    def supervisor(self, username: str) -> dict | None:
        """A supervisor's profile with their line's state and the conference it is in, or None."""
        rows = self._rows(_SUPERVISOR_SELECT, [username])
        return _decode(rows[0]) if rows else None

    def supervisor_lines(self) -> dict[str, str]:
        """Every supervisor line's call_control_id, mapped to its supervisor's username."""
        sql = "SELECT username, line_call_control_id FROM supervisors WHERE line_call_control_id IS NOT NULL"
        return {row["line_call_control_id"]: row["username"] for row in self._rows(sql)}

    # --- users and the audit trail -------------------------------------------------------------

    def user(self, name: str) -> dict | None:
        """One user by name (with the password hash), or None."""
        rows = self._rows("SELECT * FROM users WHERE name = ?", [name])
        return _user_view(rows[0]) if rows else None

    def users(self) -> list[dict]:
        """Every user, by name."""
        return [_user_view(row) for row in self._rows("SELECT * FROM users ORDER BY name")]

    def save_user(self, user: dict) -> None:
        """Create or update a user by name; created_at is kept from the first save."""
        now = format_timestamp(self._clock())
        values = [user["name"], user.get("password_hash"), user["role"], user.get("phone"),
                  int(bool(user.get("disabled"))), now, now]
        with self._writing() as db:
            db.execute(
                "INSERT INTO users (name, password_hash, role, phone, disabled, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                " password_hash = excluded.password_hash, role = excluded.role, phone = excluded.phone,"
                " disabled = excluded.disabled, updated_at = excluded.updated_at", values)

    def audit_entries(self, *, user_name: str | None = None, action: str | None = None,
                      conference_id: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, limit: int | None = 500) -> list[dict]:
        """Audit entries newest first, filtered by who, what, which conference and [since, until)."""
        clauses, params = [], []
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
        return [_audit_view(row) for row in self._rows(sql, params + ([limit] if limit else []))]

    def audit_choices(self) -> dict[str, list[str]]:
        """The users and actions the audit trail holds, for its filters."""
        return {column: [row[column] for row in self._rows(
                    f"SELECT DISTINCT {column} FROM audit WHERE {column} IS NOT NULL ORDER BY {column}")]
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
        """How many events the log holds."""
        return self._rows("SELECT count(*) AS n FROM events")[0]["n"]

    def last_event_received_at(self) -> datetime | None:
        """When the newest event was stored, or None for an empty log."""
        value = self._rows("SELECT max(received_at) AS at FROM events")[0]["at"]
        return parse_timestamp(value) if value else None

    def logged_events(self) -> list[Event]:
        """Every logged event in arrival order, as Events again (for replay into another store)."""
        return self._logged("SELECT * FROM events ORDER BY rowid")

    def _logged(self, sql: str, params: Iterable = ()) -> list[Event]:
        """Event-log rows turned back into Events."""
        events = []
        for row in self._rows(sql, params):
            data = {"id": row["id"], "event_type": row["event_type"], "payload": json.loads(row["payload"])}
            if row["occurred_at"]:
                data["occurred_at"] = row["occurred_at"]
            events.append(parse_event({"data": data}, source=row["source"]))
        return events

    def state(self) -> dict:
        """Every entity's visible columns, keyed by identity, so two stores compare with ==."""
        state: dict[str, dict] = {}
        for table, key_columns in KEYS.items():
            entities: dict = {}
            for row in self._rows(f"SELECT * FROM [{table}]"):
                holder = entities
                for column in key_columns[:-1]:
                    holder = holder.setdefault(row[column], {})
                holder[row[key_columns[-1]]] = _decode(row)
            state[table] = entities
        return state

    def logged_events_of_types(self, event_types: Iterable[str], since: datetime | None = None,
                               until: datetime | None = None) -> list[Event]:
        """Logged events of these types that happened in [since, until), oldest first (for KPIs and alerts)."""
        types = list(event_types)
        sql = f"SELECT * FROM events WHERE event_type IN ({','.join('?' * len(types))})"
        params: list = list(types)
        if since is not None:
            sql += " AND occurred_at >= ?"
            params.append(format_timestamp(since))
        if until is not None:
            sql += " AND occurred_at < ?"
            params.append(format_timestamp(until))
        return self._logged(sql + " ORDER BY occurred_at, rowid", params)

    def logged_events_about(self, call_control_id: str | None = None, conference_id: str | None = None) -> list[Event]:
        """Logged events naming this call leg or this conference, oldest first (for call timelines)."""
        clauses, params = [], []
        if call_control_id is not None:
            clauses.append("json_extract(payload, '$.call_control_id') = ?")
            params.append(call_control_id)
        if conference_id is not None:
            clauses.append("json_extract(payload, '$.conference_id') = ?")
            params.append(conference_id)
        if not clauses:
            return []
        return self._logged(f"SELECT * FROM events WHERE {' OR '.join(clauses)} ORDER BY order_key, rowid", params)


def get_store() -> Store:
    """The current app's store."""
    return current_app.extensions["console.store"]
