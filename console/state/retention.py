"""Pruning what retention lets go, a few hundred rows per transaction, and keeping the file from growing.

``prune`` yields after each committed batch, so the caller (console/queues/retention.py, which
decides the cuts and folds each day's figures first) can pause between batches and stop: every
batch is one short immediate transaction through the store's write lock, and a webhook waiting
for the lock is applied between two of them. Each batch finds its rows through an index (the log
by received_at, conferences by (status, ended_at), calls and queued calls by when they ended, the
queue-figure facts by call leg), so a batch costs what it deletes, however large the file.

What goes: events received before the cut; ended conferences with their participants and
recordings; queued calls that left, and calls that hung up, before the cut (unless something kept
still names them: a participant row, a queued call, a supervisor's line); the queue-figure facts
(kpi_facts.py) of call legs whose events all came before the cut; sessions past their life; spent
login-failure counters. The audit trail and the daily figures are never pruned.

The file: with ``auto_vacuum = INCREMENTAL`` the pages pruning frees are given back to the file
system by ``vacuum`` a chunk at a time; without it (a file made before this) they are reused by
new rows, so the file stops growing but does not shrink, until a one-time VACUUM switches it over.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from console.state.kpi_facts import BUCKET_US, TOP_LEVEL
from console.telnyx.events import format_timestamp, parse_timestamp

BATCH_ROWS = 250
AUTO_VACUUM = {0: "none", 1: "full", 2: "incremental"}


@dataclass(frozen=True)
class Cuts:
    """What is old enough to go: the log and read model before `log_before`, facts before `facts_before_us`.

    Sessions quiet since `sessions_before` and login-failure counters quiet since `failures_before`
    whose wait ended by `now` (epoch seconds, as those tables keep time) go too. A cut of None
    keeps that part.
    """

    log_before: datetime | None
    facts_before_us: int | None
    sessions_before: float
    failures_before: float
    now: float


# Each step deletes one batch inside the caller's transaction: (rows deleted, whether more may be left).
Step = Callable[[sqlite3.Connection, Cuts, int], tuple[int, bool]]


def _limited(connection: sqlite3.Connection, sql: str, params: list, batch: int) -> tuple[int, bool]:
    rows = connection.execute(sql, [*params, batch]).rowcount
    return rows, rows >= batch


def _conferences(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Ended conferences, each with its participants and recordings (about six rows a conference)."""
    if cuts.log_before is None:
        return 0, False
    limit = max(1, batch // 6)
    ids = [row[0] for row in connection.execute(
        "SELECT id FROM conferences WHERE status = 'completed' AND ended_at < ? ORDER BY ended_at LIMIT ?",
        [format_timestamp(cuts.log_before), limit])]
    if not ids:
        return 0, False
    wanted = "(SELECT value FROM json_each(?))"
    listed = json.dumps(ids)
    rows = connection.execute(f"DELETE FROM participants WHERE conference_id IN {wanted}", [listed]).rowcount
    rows += connection.execute(f"DELETE FROM recordings WHERE conference_id IN {wanted}", [listed]).rowcount
    rows += connection.execute(f"DELETE FROM conferences WHERE id IN {wanted}", [listed]).rowcount
    return rows, len(ids) >= limit


def _queued_calls(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Queued calls that left the queue before the cut, unless their caller is still in a conference."""
    if cuts.log_before is None:
        return 0, False
    return _limited(connection, """
        DELETE FROM queue_calls WHERE rowid IN (
          SELECT q.rowid FROM queue_calls q WHERE q.status = 'left' AND q.left_at < ?
            AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.call_control_id = q.call_control_id
                            AND p.status IN ('joining', 'joined'))
          ORDER BY q.left_at LIMIT ?)""", [format_timestamp(cuts.log_before)], batch)


def _calls(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Calls that hung up before the cut and that no participant, queued call or supervisor line still names."""
    if cuts.log_before is None:
        return 0, False
    return _limited(connection, """
        DELETE FROM calls WHERE rowid IN (
          SELECT k.rowid FROM calls k WHERE k.state = 'hangup' AND k.end_time < ?
            AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.call_control_id = k.call_control_id)
            AND NOT EXISTS (SELECT 1 FROM queue_calls q WHERE q.call_control_id = k.call_control_id)
            AND NOT EXISTS (SELECT 1 FROM supervisors s WHERE s.line_call_control_id = k.call_control_id)
          ORDER BY k.end_time LIMIT ?)""", [format_timestamp(cuts.log_before)], batch)


def _events(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Events received before the cut, oldest first (the tally table follows by its trigger)."""
    if cuts.log_before is None:
        return 0, False
    return _limited(connection, "DELETE FROM events WHERE rowid IN"
                                " (SELECT rowid FROM events WHERE received_at < ? ORDER BY received_at LIMIT ?)",
                    [format_timestamp(cuts.log_before)], batch)


# The queue-figure facts (kpi_facts.py) are kept per call leg: a leg goes whole, with every fact of
# its own, once its last KPI event is before the cut, found level by level as kpi_reads finds legs
# (by first event within a level, the longest and open ones by last event). A leg with events on
# both sides of the cut stays whole, so whatever a figure reads from the cut on is as it was.
_LEG_TABLES = ("kpi_events", "kpi_departures", "kpi_handles", "kpi_waits", "kpi_joins", "kpi_legs")
ROWS_PER_LEG = 10  # about: five events, a departure, a handle time, a wait, a conference and the leg


def _legs_before(connection: sqlite3.Connection, cut_us: int, limit: int) -> list[str]:
    found: list[str] = []
    for level in range(1, TOP_LEVEL):
        if len(found) >= limit:
            break
        found += [row[0] for row in connection.execute(
            "SELECT ccid FROM kpi_legs WHERE level = ? AND first_us < ? AND last_us < ? LIMIT ?",
            [level, cut_us, cut_us, limit - len(found)])]
    if len(found) < limit:
        found += [row[0] for row in connection.execute(
            f"SELECT ccid FROM kpi_legs INDEXED BY kpi_legs_long WHERE level = {TOP_LEVEL} AND last_us < ? LIMIT ?",
            [cut_us, limit - len(found)])]
    return found


def _facts(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Call legs whose KPI events all came before the facts' cut, each with all its facts."""
    if cuts.facts_before_us is None:
        return 0, False
    limit = max(1, batch // ROWS_PER_LEG)
    legs = _legs_before(connection, cuts.facts_before_us, limit)
    if not legs:
        return 0, False
    listed = json.dumps(legs)
    rows = sum(connection.execute(f"DELETE FROM {table} WHERE ccid IN (SELECT value FROM json_each(?))",
                                  [listed]).rowcount for table in _LEG_TABLES)
    return rows, len(legs) >= limit


def _bucket_step(table: str) -> Step:
    """The versions kept for 15-minute buckets wholly before the cut (no figure reads them again)."""
    def step(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
        if cuts.facts_before_us is None:
            return 0, False
        cut = cuts.facts_before_us - cuts.facts_before_us % BUCKET_US
        return _limited(connection, f"DELETE FROM {table} WHERE start_us IN"
                                    f" (SELECT start_us FROM {table} WHERE start_us < ? LIMIT ?)", [cut], batch)
    return step


def _sessions(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Sessions ended or quiet since before the cut (sign-in forgets the same ones: sessions.start)."""
    return _limited(connection, "DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions"
                                " WHERE coalesce(ended_at, last_seen_at) < ? LIMIT ?)", [cuts.sessions_before], batch)


def _login_failures(connection: sqlite3.Connection, cuts: Cuts, batch: int) -> tuple[int, bool]:
    """Counters quiet for longer than the failure window whose wait is over (login_failures.prune's rule)."""
    return _limited(connection, "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures"
                                " WHERE last_failed_at < ? AND blocked_until <= ? LIMIT ?)",
                    [cuts.failures_before, cuts.now], batch)


STEPS: tuple[tuple[str, Step], ...] = (
    ("conferences", _conferences),
    ("queue_calls", _queued_calls),
    ("calls", _calls),
    ("events", _events),
    ("kpi_legs", _facts),
    ("kpi_buckets", _bucket_step("kpi_buckets")),
    ("answered_buckets", _bucket_step("answered_buckets")),
    ("sessions", _sessions),
    ("login_failures", _login_failures),
)


def prune(store, cuts: Cuts, batch: int = BATCH_ROWS) -> Iterator[tuple[str, int]]:
    """Delete what the cuts let go, one batch per transaction; yield (what, rows) after each commit."""
    for name, step in STEPS:
        while True:
            with store._writing() as db:
                rows, more = step(db.conn, cuts, batch)
            if rows:
                yield name, rows
            if not more:
                break


# --- the file --------------------------------------------------------------------------------


def _pragma(store, name: str) -> int:
    with store._reading() as db:
        return db.conn.execute(f"PRAGMA {name}").fetchone()[0]


def file_figures(store) -> dict:
    """The database's size and free space in bytes (pages, as SQLite counts them) and its vacuum mode."""
    size = _pragma(store, "page_size")
    return {"bytes": _pragma(store, "page_count") * size, "free_bytes": _pragma(store, "freelist_count") * size,
            "auto_vacuum": AUTO_VACUUM.get(_pragma(store, "auto_vacuum"), "unknown")}


def vacuum(store, pages: int) -> int:
    """Give up to `pages` free pages back to the file system (incremental vacuum); return how many went."""
    with store._lock:
        before = _pragma(store, "freelist_count")
        if not before or _pragma(store, "auto_vacuum") != 2:
            return 0
        # executescript steps the pragma to its end (execute would free a single page) and commits it.
        store._db().conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
        return before - _pragma(store, "freelist_count")


def make_incremental(store, largest_bytes: int) -> str:
    """Switch the file to incremental vacuum with a one-time VACUUM, when it is small enough to do at start.

    Returns what happened: "incremental" (already so, or now), "memory" (nothing to do), "too large"
    (the caller says how to do it by hand) or "unchanged" (SQLite kept the old mode).
    """
    if store.path == ":memory:" or _pragma(store, "auto_vacuum") == 2:
        return "memory" if store.path == ":memory:" else "incremental"
    if os.path.getsize(store.path) > largest_bytes:
        return "too large"
    with store._lock:
        store._db().conn.executescript("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
    return "incremental" if _pragma(store, "auto_vacuum") == 2 else "unchanged"


def oldest_event_at(store) -> datetime | None:
    """When the oldest event still in the log was received (None for an empty log)."""
    value = store._rows("SELECT min(received_at) AS at FROM events")[0]["at"]
    return parse_timestamp(value) if value else None
