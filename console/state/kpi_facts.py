"""Queue-figure facts kept beside the event log, written in the same transaction as each event.

The queue figures (console/queues/kpis.py) are a left fold over the KPI events of each call leg
in time order: enqueued, dequeued, hung up, joined a conference, left it. Nothing in the fold
crosses from one leg to another, so each leg's events are replayed on their own whenever one of
them arrives (a handful, whatever the log's length), and what the replay found is stored as rows
the figures read by indexed ranges:

* ``kpi_events``: the few fields of every countable KPI event, in arrival order (``seq``; at an
  equal time the earlier arrival comes first, as the log's ``ORDER BY occurred_at, rowid``);
* ``kpi_departures``: each departure from a queue (answered, abandoned or other) with its wait;
* ``kpi_handles``: each answered caller leaving a conference, with the time spent in it;
* ``kpi_waits`` and ``kpi_joins``: episodes, a caller waiting in a queue and a leg sitting in a
  conference, from ``since_us`` until the event that ended them (NULL while open);
* ``kpi_legs``: each leg's first and last event time, so the legs whose replay a lookback cut
  would change are found by an index; ``kpi_queues``: every queue name an enqueue has used.

Times are integer microseconds since the epoch. An episode or leg carries a ``level`` by its
length (see ``LEVEL_LIMITS``): the ones open at a moment are then found by one bounded range per
level, however old the log. Pure replay functions plus the writes; the reads are kpi_reads.py, the
backfill of a log made before these tables kpi_backfill.py.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from console.state.outcomes import ABANDON_REASONS, ANSWERED_REASONS
from console.telnyx.events import Event, parse_timestamp

ENQUEUED, DEQUEUED, HANGUP, JOINED, LEFT = "enq", "deq", "hup", "join", "left"
KINDS = {"call.enqueued": ENQUEUED, "call.dequeued": DEQUEUED, "call.hangup": HANGUP,
         "conference.participant.joined": JOINED, "conference.participant.left": LEFT}
ANSWERED, ABANDONED, OTHER = "a", "x", "o"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
SECOND_US = 1_000_000
# Episode and leg lengths per level, in microseconds: level n holds lengths up to LEVEL_LIMITS[n - 1];
# the last level holds longer ones and the open ones. Each is four times the last, so the episodes
# a moment falls in are found by reading about four times as many as are open at once.
LEVEL_LIMITS = tuple(60 * SECOND_US * 4 ** n for n in range(6))
TOP_LEVEL = len(LEVEL_LIMITS) + 1
# Departures and handle times are also grouped in buckets of this length, each with the version
# (a kpi_events seq) at which its facts last changed, so sums over whole buckets can be kept.
BUCKET_US = 15 * 60 * SECOND_US


def to_us(moment: datetime) -> int:
    """A datetime as integer microseconds since the epoch (exact)."""
    return (moment - EPOCH) // MICRO


def from_us(value: int) -> datetime:
    """Integer microseconds since the epoch as an aware UTC datetime (exact)."""
    return EPOCH + timedelta(microseconds=value)


def level_of(since_us: int, until_us: int | None) -> int:
    """The level of an episode or leg by its length; open ones (no end yet) take the top level."""
    if until_us is None:
        return TOP_LEVEL
    length = until_us - since_us
    for index, limit in enumerate(LEVEL_LIMITS):
        if length <= limit:
            return index + 1
    return TOP_LEVEL


class KpiRow(NamedTuple):
    """One countable KPI event as the facts need it (a tuple: thousands are made per read)."""

    seq: int
    ccid: str
    kind: str
    at_us: int
    conference_id: str | None
    queue: str | None
    reason: str | None
    wait: float | None


def countable(payload: dict) -> bool:
    """Whether the figures can use an event: ids, queue and reason are text, a reported wait a number.

    The same rule as console/queues/kpis.py: an event of another shape stays in the log, out of the figures.
    """
    if not all(isinstance(payload.get(name), (str, type(None))) for name in
               ("call_control_id", "conference_id", "queue", "reason")):
        return False
    wait = payload.get("wait_time_secs")
    return wait is None or (isinstance(wait, (int, float)) and not isinstance(wait, bool) and math.isfinite(wait))


def kpi_fields(event: Event) -> tuple | None:
    """(ccid, kind, at_us, conference_id, queue, reason, wait) for a KPI event the figures can use, else None.

    Only events with an occurred_at count (the figures read the log by it) and with a call control id
    (the fold ignores the others).
    """
    kind = KINDS.get(event.event_type)
    if kind is None or event.occurred_at is None or not isinstance(event.payload, dict):
        return None
    payload = event.payload
    if not countable(payload) or not payload.get("call_control_id"):
        return None
    wait = payload.get("wait_time_secs")
    return (payload["call_control_id"], kind, to_us(event.occurred_at), payload.get("conference_id"),
            payload.get("queue"), payload.get("reason"), None if wait is None else float(wait))


# --- the fold --------------------------------------------------------------------------------


@dataclass
class Departure:
    at_us: int
    seq: int
    queue: str
    outcome: str
    wait: float


@dataclass
class Handle:
    at_us: int
    queue: str
    seconds: float


@dataclass
class Episode:
    """A caller waiting in a queue (key: the queue) or a leg in a conference (key: the conference id)."""

    key: str | None
    since_us: int
    until_us: int | None = None


@dataclass
class Replay:
    """What one leg's events, folded in order, amount to."""

    departures: list[Departure] = field(default_factory=list)
    handles: list[Handle] = field(default_factory=list)
    waits: list[Episode] = field(default_factory=list)
    joins: list[Episode] = field(default_factory=list)
    answered_from: str | None = None


def outcome_of(reason) -> str:
    if reason in ANSWERED_REASONS:
        return ANSWERED
    return ABANDONED if reason in ABANDON_REASONS else OTHER


def replay(rows: Iterable[KpiRow]) -> Replay:
    """Fold one leg's KPI events (already in (at_us, seq) order) as console.queues.kpis.compute does."""
    result = Replay()
    waiting: Episode | None = None
    hung_up = False
    joined: dict[str | None, Episode] = {}

    def leave(entry: Episode | None, row: KpiRow, reason) -> None:
        queue = entry.key if entry else row.queue
        if not queue:
            return
        if entry:
            entry.until_us = row.at_us
            wait = (row.at_us - entry.since_us) / SECOND_US
        else:
            wait = float(row.wait or 0)
        outcome = outcome_of(reason)
        if outcome == ANSWERED:
            result.answered_from = queue
        result.departures.append(Departure(row.at_us, row.seq, queue, outcome, wait))

    for row in rows:
        if row.kind == ENQUEUED and row.queue:
            if waiting is not None:
                waiting.until_us = row.at_us
            waiting = Episode(row.queue, row.at_us)
            result.waits.append(waiting)
        elif row.kind == DEQUEUED:
            if hung_up and waiting is None:
                continue
            entry, waiting = waiting, None
            leave(entry, row, row.reason)
        elif row.kind == HANGUP and waiting is not None:
            hung_up = True
            entry, waiting = waiting, None
            leave(entry, row, "hangup")
        elif row.kind == JOINED:
            if row.conference_id in joined:
                joined[row.conference_id].until_us = row.at_us
            joined[row.conference_id] = episode = Episode(row.conference_id, row.at_us)
            result.joins.append(episode)
        elif row.kind == LEFT:
            began = joined.pop(row.conference_id, None)
            if began is not None:
                began.until_us = row.at_us
            if began is not None and result.answered_from is not None:
                result.handles.append(Handle(row.at_us, result.answered_from,
                                             (row.at_us - began.since_us) / SECOND_US))
    return result


# --- writing ---------------------------------------------------------------------------------

ROW_COLUMNS = "seq, ccid, kind, at_us, conference_id, queue, reason, wait"
_LEG_ROWS = f"SELECT {ROW_COLUMNS} FROM kpi_events WHERE ccid = ? ORDER BY at_us, seq"


def record(connection: sqlite3.Connection, event: Event) -> None:
    """Keep a KPI event newly added to the log and rebuild its leg's facts (inside the caller's transaction)."""
    mark_answered_leg(connection, event)
    fields = kpi_fields(event)
    if fields is None:
        return
    seq = connection.execute("INSERT INTO kpi_events (ccid, kind, at_us, conference_id, queue, reason, wait)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)", fields).lastrowid
    if fields[1] == ENQUEUED and fields[4]:
        connection.execute("INSERT OR IGNORE INTO kpi_queues (name) VALUES (?)", [fields[4]])
    rebuild(connection, fields[0], seq)


def leg_rows(connection: sqlite3.Connection, ccid: str) -> list[KpiRow]:
    """A leg's KPI events in fold order."""
    return [KpiRow(*row) for row in connection.execute(_LEG_ROWS, [ccid])]


def fact_rows(ccid: str, result: Replay) -> dict[str, list[tuple]]:
    """The rows each fact table holds for one leg, as inserted (see _COLUMNS)."""
    return {
        "kpi_departures": [(ccid, d.seq, d.at_us, d.queue, d.outcome, d.wait) for d in result.departures],
        "kpi_handles": [(ccid, h.at_us, h.queue, h.seconds) for h in result.handles],
        "kpi_waits": [(ccid, e.key, e.since_us, e.until_us, level_of(e.since_us, e.until_us)) for e in result.waits],
        "kpi_joins": [(ccid, e.key, e.since_us, e.until_us, level_of(e.since_us, e.until_us)) for e in result.joins],
    }


_COLUMNS = {
    "kpi_departures": "ccid, seq, at_us, queue, outcome, wait",
    "kpi_handles": "ccid, at_us, queue, seconds",
    "kpi_waits": "ccid, queue, since_us, until_us, level",
    "kpi_joins": "ccid, conference_id, since_us, until_us, level",
}
# Where each summed table keeps its time, for the bucket versions (see bump_buckets).
_SUMMED_AT = {"kpi_departures": 2, "kpi_handles": 1}


def digest(rows: list[tuple]) -> str:
    """A short fingerprint of a leg's rows in one fact table (kept in kpi_legs.facts, one per table)."""
    return hashlib.blake2b(repr(rows).encode(), digest_size=8).hexdigest()


_NOTHING = digest([])


def rebuild(connection: sqlite3.Connection, ccid: str, version: int) -> None:
    """Make a leg's facts what its events now fold to, rewriting only the tables whose rows changed.

    The leg's row in kpi_legs holds a fingerprint of its rows in each table, so an event that
    changes nothing there (most do not) costs no read of them. A departure or handle time that
    comes or goes marks its time bucket changed (``version``: the newest kpi_events seq), so sums
    kept per bucket (console/queues/figure_sums.py) are read again.
    """
    rows = leg_rows(connection, ccid)
    held = connection.execute("SELECT facts FROM kpi_legs WHERE ccid = ?", [ccid]).fetchone()
    digests = held[0].split(",") if held else [_NOTHING] * len(_COLUMNS)
    moved: Counter = Counter()
    fresh_digests = []
    for (table, fresh), was in zip(fact_rows(ccid, replay(rows)).items(), digests):
        fresh_digests.append(now := digest(fresh))
        if now == was:
            continue
        if was != _NOTHING:
            if table in _SUMMED_AT:
                moved.update(row[_SUMMED_AT[table]] for row in connection.execute(
                    f"SELECT {_COLUMNS[table]} FROM {table} WHERE ccid = ?", [ccid]))
            connection.execute(f"DELETE FROM {table} WHERE ccid = ?", [ccid])
        insert_facts(connection, table, fresh)
        if table in _SUMMED_AT:
            moved.update(row[_SUMMED_AT[table]] for row in fresh)
    bump_buckets(connection, moved, version)
    first, last = rows[0].at_us, rows[-1].at_us
    connection.execute(
        "INSERT INTO kpi_legs (ccid, first_us, last_us, level, facts) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (ccid) DO UPDATE SET first_us = excluded.first_us, last_us = excluded.last_us,"
        " level = excluded.level, facts = excluded.facts",
        [ccid, first, last, level_of(first, last), ",".join(fresh_digests)])


def insert_facts(connection: sqlite3.Connection, table: str, rows: list[tuple]) -> None:
    columns = _COLUMNS[table]
    marks = ", ".join("?" for _ in columns.split(","))
    connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def bucket_of(at_us: int) -> int:
    """The start of the time bucket holding a moment (buckets of BUCKET_US from the epoch)."""
    return at_us - at_us % BUCKET_US


def bump_buckets(connection: sqlite3.Connection, moments: Iterable[int], version: int,
                 table: str = "kpi_buckets") -> None:
    """Mark the buckets holding these moments as changed at `version`."""
    connection.executemany(
        f"INSERT INTO {table} (start_us, version) VALUES (?, ?)"
        " ON CONFLICT (start_us) DO UPDATE SET version = excluded.version",
        [(start, version) for start in sorted({bucket_of(moment) for moment in moments})])


# --- the answered-leg buckets the agent figures keep sums by (agent_activity.py) ---------------

# The events that write a call leg's row (event_writes.py): its ends, direction, state, answer and end.
LEG_EVENT_TYPES = frozenset({"call.initiated", "call.answered", "call.hangup", "call.gather.ended",
                             "console.call.synced"})


def mark_answered_leg(connection: sqlite3.Connection, event: Event) -> None:
    """Mark the answered-leg buckets an event may change: where the leg's answer now sits, and its own if it answers.

    The row's stored answer time is read before this transaction saves it; an answer written earlier
    in the same transaction marked its own bucket when it came, so old and new are both marked.
    """
    if event.event_type not in LEG_EVENT_TYPES or not isinstance(event.payload, dict):
        return
    ccid = event.payload.get("call_control_id")
    if not isinstance(ccid, str) or not ccid:
        return
    moments = [to_us(parse_timestamp(value)) for (value,) in connection.execute(
        "SELECT answered_at FROM calls WHERE call_control_id = ? AND answered_at IS NOT NULL", [ccid])]
    if event.event_type == "call.answered" and event.ordered_at is not None:
        moments.append(to_us(event.ordered_at))
    if moments:
        version = connection.execute("SELECT max(rowid) FROM events").fetchone()[0] or 0
        bump_buckets(connection, moments, version, "answered_buckets")
