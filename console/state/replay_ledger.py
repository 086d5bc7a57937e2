"""Replayed webhooks: a bounded, time-expiring record of the signatures already accepted, in SQLite.

Ed25519 signatures are deterministic and verification binds one to exactly one ``timestamp|body``,
so a signature presented again is the same request again. The event id already keeps a replay from
being applied twice; this record answers it without consulting the event log, survives a restart
(it lives in the console's database file, in tables of its own, from a migration set of its own),
and tells readiness when the last verified webhook came in. A signature is kept only while a
request carrying it could still pass the timestamp check, and never more than ``capacity`` of them.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

EXTENSION = "console.replay"
DEFAULT_CAPACITY = 100_000
TRIM_EVERY = 256

migrations = Migrations("supervisor-console-replay")


@migrations()
def create_seen_signatures(db: Database) -> None:
    """Signatures of accepted webhooks, the time of the newest one, and the readiness write probe."""
    db["seen_signatures"].create({"signature": str, "timestamp": int, "received_at": float}, pk="signature")
    db["seen_signatures"].create_index(["timestamp"])
    db["webhook_activity"].create({"id": int, "last_received_at": float}, pk="id")
    db["write_probes"].create({"id": int, "probed_at": float}, pk="id")


def signature_key(signature_text: str) -> str:
    """One spelling per signature (decoded and re-encoded), so base64 variants of it still collide."""
    return base64.b64encode(base64.b64decode(signature_text.strip(), validate=True)).decode("ascii")


class SignatureLedger:
    """Signatures accepted within the timestamp tolerance, kept beside the read model."""

    def __init__(self, path: str, *, tolerance: int, capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], float] = time.time):
        self.path = str(path)
        self.tolerance = tolerance
        self.capacity = capacity
        self._clock = clock
        self._memory = self.path == ":memory:"
        self._local = threading.local()
        self._lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        self._inserts = 0

    def _connect(self, timeout: float = 30.0) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        # As for the store: with WAL, a commit survives a crash of the process without an fsync.
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (the one shared connection for an in-memory database)."""
        if self._memory:
            if self._shared is None:
                self._shared = self._connect()
            return self._shared
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for queries; an in-memory database serialises every use of its one connection."""
        if self._memory:
            with self._lock:
                yield self._connection()
        else:
            yield self._connection()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction, committed on success and rolled back on any failure."""
        with self._lock:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def migrate(self) -> SignatureLedger:
        """Create the ledger's tables when missing (safe at every start)."""
        with self._lock:
            migrations.apply(Database(self._connection()))
        return self

    def shares_file_with(self, path: str) -> bool:
        """Whether the ledger lives in this database file, so its rows can join that file's transactions."""
        return not self._memory and Path(self.path).resolve() == Path(str(path)).resolve()

    def seen(self, signature: str, connection: sqlite3.Connection | None = None) -> bool:
        """Whether this signature was accepted before and could still pass the timestamp check.

        Pass `connection` to read inside a transaction already open on the ledger's file.
        """
        cutoff = int(self._clock()) - self.tolerance
        query = "SELECT 1 FROM seen_signatures WHERE signature = ? AND timestamp >= ?"
        if connection is not None:
            return connection.execute(query, [signature, cutoff]).fetchone() is not None
        with self._reading() as own:
            return own.execute(query, [signature, cutoff]).fetchone() is not None

    def remember(self, signature: str, timestamp: int) -> None:
        """Record an accepted signature and the time it came, dropping ones too old to be replayed."""
        self.remember_many([(signature, timestamp)])

    def remember_many(self, accepted: list[tuple[str, int]], connection: sqlite3.Connection | None = None) -> None:
        """Record accepted (signature, timestamp) pairs; inside `connection`'s open transaction when given."""
        if not accepted:
            return
        if connection is not None:
            self._record(connection, accepted)
            return
        with self._writing() as own:
            self._record(own, accepted)

    def _record(self, connection: sqlite3.Connection, accepted: list[tuple[str, int]]) -> None:
        now = self._clock()
        connection.executemany(
            "INSERT OR IGNORE INTO seen_signatures (signature, timestamp, received_at) VALUES (?, ?, ?)",
            [(signature, int(timestamp), now) for signature, timestamp in accepted],
        )
        connection.execute("INSERT OR REPLACE INTO webhook_activity (id, last_received_at) VALUES (1, ?)", [now])
        connection.execute("DELETE FROM seen_signatures WHERE timestamp < ?", [int(now) - self.tolerance])
        before = self._inserts
        self._inserts += len(accepted)
        if self._inserts // TRIM_EVERY != before // TRIM_EVERY or self.capacity < TRIM_EVERY:
            self._trim(connection)

    def _trim(self, connection: sqlite3.Connection) -> None:
        """Keep at most `capacity` signatures, dropping the oldest timestamps first."""
        connection.execute(
            "DELETE FROM seen_signatures WHERE signature IN (SELECT signature FROM seen_signatures"
            " ORDER BY timestamp, received_at LIMIT max(0, (SELECT count(*) FROM seen_signatures) - ?))",
            [self.capacity],
        )

    def count(self) -> int:
        """How many signatures are held."""
        with self._reading() as connection:
            return connection.execute("SELECT count(*) FROM seen_signatures").fetchone()[0]

    def last_webhook_at(self) -> float | None:
        """Unix time the newest verified webhook arrived, or None when none ever did."""
        with self._reading() as connection:
            row = connection.execute("SELECT last_received_at FROM webhook_activity WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def check_writable(self, timeout: float = 1.0) -> None:
        """Commit one row to the database file on a fresh connection; raise sqlite3.Error when it cannot."""
        if self._memory:
            with self._writing() as connection:
                connection.execute("INSERT OR REPLACE INTO write_probes (id, probed_at) VALUES (1, ?)", [self._clock()])
            return
        # mode=rw: a probe must never create an empty database where the real one went missing.
        uri = Path(self.path).resolve().as_uri() + "?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT OR REPLACE INTO write_probes (id, probed_at) VALUES (1, ?)", [self._clock()])
            connection.execute("COMMIT")
        finally:
            connection.close()


def init_app(app: Flask) -> SignatureLedger:
    """Build and migrate the app's ledger on the console's database file, once per app."""
    ledger = app.extensions.get(EXTENSION)
    if ledger is None:
        ledger = SignatureLedger(app.config["CONSOLE_DATABASE"], tolerance=app.config["CONSOLE_WEBHOOK_TOLERANCE"])
        app.extensions[EXTENSION] = ledger.migrate()
    return ledger


def get_ledger() -> SignatureLedger:
    """The current app's signature ledger."""
    return current_app.extensions[EXTENSION]
