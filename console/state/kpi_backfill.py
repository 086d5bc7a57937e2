"""The queue-figure facts (kpi_facts.py) filled from a log made before they existed: schema.py's migration.

Every logged KPI event is read once, in arrival order (so ``seq`` keeps the log's order), each
leg folded as ``kpi_facts.rebuild`` folds it, and every bucket that holds a departure, a handle
time or an answered leg is marked at the log's newest version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from console.state.event_rows import UNREADABLE, logged_event
from console.state.kpi_facts import (
    BUCKET_US,
    ENQUEUED,
    KINDS,
    ROW_COLUMNS,
    KpiRow,
    bump_buckets,
    digest,
    fact_rows,
    insert_facts,
    kpi_fields,
    level_of,
    replay,
    to_us,
)
from console.telnyx.events import parse_timestamp

_BACKFILL_TYPES = tuple(KINDS)
_BATCH = 5000


def _logged_kpi_fields(connection: sqlite3.Connection) -> Iterator[tuple]:
    """The KPI fields of every logged event, in arrival order (rows that cannot be read are left out)."""
    marks = ", ".join("?" for _ in _BACKFILL_TYPES)
    cursor = connection.execute(
        f"SELECT id, event_type, source, occurred_at, payload FROM events WHERE event_type IN ({marks})"
        " ORDER BY rowid", _BACKFILL_TYPES)
    names = [column[0] for column in cursor.description]
    for values in cursor:
        event = logged_event(dict(zip(names, values)))
        if event.event_type != UNREADABLE and (fields := kpi_fields(event)) is not None:
            yield fields


def backfill(connection: sqlite3.Connection) -> None:
    """Fill the fact tables from an existing event log (a database made before they existed)."""
    batch: list[tuple] = []
    for fields in _logged_kpi_fields(connection):
        batch.append(fields)
        if len(batch) >= _BATCH:
            _insert_rows(connection, batch)
            batch = []
    _insert_rows(connection, batch)
    leg: list[KpiRow] = []
    # Read while writing the other tables: the cursor walks kpi_events only, which nothing here changes.
    for row in (KpiRow(*values) for values in connection.execute(
            f"SELECT {ROW_COLUMNS} FROM kpi_events ORDER BY ccid, at_us, seq")):
        if leg and leg[0].ccid != row.ccid:
            _write_leg(connection, leg)
            leg = []
        leg.append(row)
    if leg:
        _write_leg(connection, leg)
    version = connection.execute("SELECT coalesce(max(seq), 0) FROM kpi_events").fetchone()[0]
    connection.execute(
        "INSERT INTO kpi_buckets (start_us, version) SELECT DISTINCT at_us - at_us % ?, ? FROM"
        " (SELECT at_us FROM kpi_departures UNION SELECT at_us FROM kpi_handles)", [BUCKET_US, version])


def _write_leg(connection: sqlite3.Connection, rows: list[KpiRow]) -> None:
    digests = []
    for table, fresh in fact_rows(rows[0].ccid, replay(rows)).items():
        insert_facts(connection, table, fresh)
        digests.append(digest(fresh))
    first, last = rows[0].at_us, rows[-1].at_us
    connection.execute("INSERT INTO kpi_legs (ccid, first_us, last_us, level, facts) VALUES (?, ?, ?, ?, ?)",
                       [rows[0].ccid, first, last, level_of(first, last), ",".join(digests)])


def _insert_rows(connection: sqlite3.Connection, batch: list[tuple]) -> None:
    connection.executemany("INSERT INTO kpi_events (ccid, kind, at_us, conference_id, queue, reason, wait)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
    connection.executemany("INSERT OR IGNORE INTO kpi_queues (name) VALUES (?)",
                           [(fields[4],) for fields in batch if fields[1] == ENQUEUED and fields[4]])


def backfill_answered(connection: sqlite3.Connection) -> None:
    """Mark every bucket an answered leg already sits in (a database made before the buckets)."""
    version = connection.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
    moments = [to_us(parse_timestamp(value)) for (value,) in connection.execute(
        "SELECT answered_at FROM calls WHERE answered_at IS NOT NULL")]
    bump_buckets(connection, moments, version, "answered_buckets")
