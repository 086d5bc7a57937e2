"""What the agent board reads: every live call leg, who shares each leg's conference, and the day's answered legs.

Three queries for the whole board, however many agents there are, each on an index: live legs by
``calls(state, answered_at)``, the people in their conferences by ``participants(conference_id,
status)``, and the legs answered since a moment (today's) by the same calls index as a range. The
agents room (console/agents/board.py) decides whose each leg is and what state that makes. A day
of answered legs is mostly customers': ``answered_since`` keeps, per 15-minute bucket, only the rows
the board asks for (its agents'), and reads a bucket again only when the store marks it changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

from console.state import kpi_reads
from console.state.bucket_cache import VersionedBuckets, buckets_of
from console.state.kpi_facts import BUCKET_US, bucket_of, from_us, to_us
from console.state.row_views import decode, display_name
from console.telnyx.events import format_timestamp

# Calls not yet hung up: parked (ringing or just started), bridging (dialled out), answered.
LIVE_CALL_STATES = ("parked", "bridging", "answered")

LIVE_LEGS = f"""
SELECT k.call_control_id, k.direction, k.from_number, k.to_number, k.caller_id_name, k.state,
  k.start_time, k.answered_at, p.conference_id, p.joined_at, p.muted, p.on_hold, p.supervisor_role,
  p.label
FROM calls k
LEFT JOIN participants p ON p.call_control_id = k.call_control_id AND p.status IN ('joining', 'joined')
WHERE k.state IN ({", ".join(f"'{state}'" for state in LIVE_CALL_STATES)})
ORDER BY k.call_control_id, p.joined_at
"""

PRESENT = """
SELECT p.conference_id, p.call_control_id, p.label, p.supervisor_role, k.from_number, k.to_number,
  k.caller_id_name, k.direction, c.name AS conference_name,
  (SELECT q.queue_name FROM queue_calls q WHERE q.call_control_id = p.call_control_id
   ORDER BY q.enqueued_at DESC LIMIT 1) AS queue_name
FROM participants p
LEFT JOIN calls k ON k.call_control_id = p.call_control_id
LEFT JOIN conferences c ON c.id = p.conference_id
WHERE p.conference_id IN ({marks}) AND p.status IN ('joining', 'joined')
ORDER BY p.conference_id, p.joined_at, p.call_control_id
"""

# One row per pair of ends: an agent's legs share their ends (the support line and the agent), so a
# day of calls folds into a few rows per agent. Handle time: answer to hang-up, in seconds.
ANSWERED_SINCE = """
SELECT direction, from_number, to_number, count(*) AS calls,
  sum(max((julianday(end_time) - julianday(answered_at)) * 86400.0, 0)) AS handle_seconds,
  max(end_time) AS last_ended_at
FROM calls
WHERE state = 'hangup' AND answered_at >= ? AND end_time IS NOT NULL
GROUP BY direction, from_number, to_number
"""
# The same over [start, end): a bucket of answer times, or the ragged ends around the kept ones.
ANSWERED_BETWEEN = """
SELECT direction, from_number, to_number, count(*) AS calls,
  sum(max((julianday(end_time) - julianday(answered_at)) * 86400.0, 0)) AS handle_seconds,
  max(end_time) AS last_ended_at
FROM calls
WHERE state = 'hangup' AND answered_at >= ? AND answered_at < ? AND end_time IS NOT NULL
GROUP BY direction, from_number, to_number
"""
# After every timestamp the store writes (fixed width, so text order is time order).
_NEVER = "9999-12-31T23:59:59.999999Z"
_GROUP = ("direction", "from_number", "to_number")


def live_legs(store) -> list[dict]:
    """Every call leg not yet hung up, with the conference it is in (if any) and its settings there."""
    return [decode(row) for row in store._rows(LIVE_LEGS)]


def present_in(store, conference_ids) -> dict[str, list[dict]]:
    """Who is in each of these conferences now (with their numbers and the queue they came from)."""
    wanted = sorted(set(conference_ids))
    found: dict[str, list[dict]] = {conference_id: [] for conference_id in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in store._rows(PRESENT.format(marks=",".join("?" * len(chunk))), chunk):
            person = decode(row)
            person["display_name"] = display_name(person)
            found[person["conference_id"]].append(person)
    return found


def answered_since(store, since: datetime, *, keep: Callable[[dict], object] | None = None,
                   key: Hashable = None, now: datetime | None = None) -> list[dict]:
    """Legs answered at or after `since` and hung up, folded per (direction, from, to).

    With `keep` (which folded rows to return: an agent's, say) and `key` (what `keep` depends on,
    such as the directory), whole 15-minute buckets of answer times before `now` come from sums kept
    per store, read again only when the store marks the bucket changed (kpi_facts.mark_answered_leg);
    the rest is read from the calls table. Without them, every leg is read.
    """
    if keep is None:
        return [dict(row) for row in store._rows(ANSWERED_SINCE, [format_timestamp(since)])]
    since_us = to_us(since)
    first = -(-since_us // BUCKET_US) * BUCKET_US
    stop = bucket_of(to_us(now or datetime.now(UTC)))
    folded: dict[tuple, dict] = {}
    with kpi_reads.snapshot(store) as connection:
        if first < stop:
            pieces = [(since_us, first), (stop, None)]
            for rows in _whole_buckets(connection, buckets_of(store, "agent_rows"), keep, key, first, stop):
                _fold(folded, rows)
        else:
            pieces = [(since_us, None)]
        for start, end in pieces:
            if end is None or start < end:
                _fold(folded, [row for row in _between(connection, start, end) if keep(row)])
    return list(folded.values())


def _between(connection: sqlite3.Connection, start_us: int, end_us: int | None) -> list[dict]:
    end = _NEVER if end_us is None else format_timestamp(from_us(end_us))
    cursor = connection.execute(ANSWERED_BETWEEN, [format_timestamp(from_us(start_us)), end])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _fold(folded: dict[tuple, dict], rows: list[dict]) -> None:
    """Add folded rows to others of the same ends: calls and seconds summed, the latest end kept."""
    for row in rows:
        group = tuple(row[name] for name in _GROUP)
        held = folded.get(group)
        if held is None:
            folded[group] = dict(row)
            continue
        held["calls"] += row["calls"]
        held["handle_seconds"] = (held["handle_seconds"] or 0.0) + (row["handle_seconds"] or 0.0)
        held["last_ended_at"] = max(held["last_ended_at"], row["last_ended_at"])


def _whole_buckets(connection: sqlite3.Connection, cache: VersionedBuckets, keep, key, first: int,
                   stop: int) -> list[list[dict]]:
    """The kept rows of each bucket of answer times in [first, stop), from the cache while its version holds."""
    versions = dict(connection.execute(
        "SELECT start_us, version FROM answered_buckets WHERE start_us >= ? AND start_us < ?", [first, stop]))
    found = []
    for start, version in sorted(versions.items()):
        rows = cache.get((key, start), version)
        if rows is None:
            rows = [row for row in _between(connection, start, start + BUCKET_US) if keep(row)]
            cache.put((key, start), version, rows)
        found.append(rows)
    return found
