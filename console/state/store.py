"""The event log and the read model in one SQLite file, and the one path by which events change them.

Every event is first inserted into ``events`` (unique by id, so a duplicate changes nothing), then
applied to the entity tables in the same transaction: event_writes.py says what it writes,
projection.py which writes win, batch.py loads, settles and saves the rows and names the keys whose
rendering may have changed, which ``apply`` returns. Audit entries (``AUDIT_EVENT``) go to their
own table and are linked to the webhook that confirms them. Pages read plain dicts through the
query methods (queries.py); tests compare stores with ``Store.state()``.
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

from console.state import kpi_facts, shared_writes
from console.state.batch import Batch, select_rows
from console.state.event_writes import UnusableEvent, writes_for
from console.state.projection import KEYS, Write, order_key
from console.state.queries import Queries, distinct_sql
from console.state.schema import AUDIT_COLUMNS, AUDIT_EVENT, migrations
from console.state.shared_writes import operation, shared
from console.telnyx.events import CONSOLE, Event, format_timestamp

log = logging.getLogger("console.store")

# Read by arrival time from the entry's moment on (the unary + keeps SQLite off the event-type index,
# which would read every event of the type ever logged), and skipping events that already confirm one.
_EARLIER_CONFIRMATION = """
SELECT id, event_type, received_at FROM events
WHERE +event_type = ? AND received_at >= ?
  AND CASE WHEN json_valid(payload) THEN json_extract(payload, '$.' || ?) END = ?
  AND NOT EXISTS (SELECT 1 FROM audit WHERE audit.confirmed_by = events.id)
ORDER BY received_at, rowid
LIMIT 1
"""
# The event types audit entries still wait for, read from the index of unconfirmed entries only (the
# index on all entries would step through every confirmed one of a type to find none waiting).
_AWAITED = distinct_sql("audit", "awaits_event_type", "confirmed_by IS NULL", index="audit_awaiting")


class Writer:
    """Events applied inside one open transaction; `changed` holds their keys once it commits.

    `connection` is the transaction's sqlite3 connection, for tables kept beside the read model in
    the same file (the replay ledger), so their rows commit or roll back with the events.
    """

    def __init__(self, store: Store, db: Database):
        self._store = store
        self._db = db
        self.connection: sqlite3.Connection = db.conn
        self.batch = Batch(db, store._schema(db))
        self.changed: set[str] = set()
        self.results: dict[str, object] = {}  # shared writes' results by event id (shared_writes.py)
        # Event types some audit entry still waits to be confirmed by: most webhooks confirm nothing,
        # so one query per transaction spares one per event.
        self._awaited: set[str] | None = None

    def _awaits(self, event_type: str) -> bool:
        if self._awaited is None:
            self._awaited = {row["value"] for row in select_rows(self._db, _AWAITED)}
        return event_type in self._awaited

    def apply(self, event: Event) -> bool:
        """Log and project one event; False when the log already held its id (nothing changes)."""
        store, db = self._store, self._db
        if shared_writes.is_shared(event):  # users, sessions, counters, the directory: applied, not logged
            self.results[event.id] = shared_writes.apply(self.connection, event)
            return True
        if event.event_type == AUDIT_EVENT:
            store._audit(db, event)
            self._awaited = None
            return True
        if not store._log(db, event):
            return False
        kpi_facts.record(self.connection, event)  # queue-figure facts, in the same transaction
        if self._awaits(event.event_type):
            store._confirm_audit(db, event)
        writes = store._project(event)
        if writes:
            self.batch.apply(event, writes)
        return True


class Store(Queries):
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
        # Distributed mode: runs shared writes through the stream (console.cluster.mode sets it).
        self.relay: Callable[[str, dict], object] | None = None

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

    # --- users and reading --------------------------------------------------------------------

    def save_user(self, user: dict) -> None:
        """Create or update a user by name; created_at is kept from the first save (a shared write)."""
        shared(self, "save_user", name=user["name"], password_hash=user.get("password_hash"), role=user["role"],
               phone=user.get("phone"), disabled=bool(user.get("disabled")), now=format_timestamp(self._clock()))

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        """Rows of one SELECT as dicts, on a reading connection (the query methods in queries.py use it)."""
        with self._reading() as db:
            self._schema(db)
            return select_rows(db, sql, params)


@operation
def save_user(connection, name: str, password_hash: str | None, role: str, phone: str | None, disabled: bool,
              now: str) -> None:
    connection.execute(
        "INSERT INTO users (name, password_hash, role, phone, disabled, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
        " password_hash = excluded.password_hash, role = excluded.role, phone = excluded.phone,"
        " disabled = excluded.disabled, updated_at = excluded.updated_at",
        [name, password_hash, role, phone, int(disabled), now, now])


def get_store() -> Store:
    """The current app's store."""
    return current_app.extensions["console.store"]
