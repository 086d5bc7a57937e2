"""The queue-figure facts read back (kpi_facts.py writes them): every query a bounded index range.

Each read names a cut (the earliest moment whose events the figures may use), a period and the
legs to leave out: those with events on both sides of the cut, whose facts a replay from the cut
would change. The queues room replays those few from their own events (``leg_rows_between``).
Departures and handle times are read by time range, grouped per queue (and per interval when
asked); who is waiting or in a conference at a moment is read level by level (kpi_facts.py
``LEVEL_LIMITS``): an episode of level n open at ``at`` began within that level's limit before it.
All reads of one figure share a snapshot (``snapshot``), so a write between them cannot tear them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from console.state.kpi_facts import (
    ABANDONED,
    ANSWERED,
    LEVEL_LIMITS,
    OTHER,
    ROW_COLUMNS,
    TOP_LEVEL,
    KpiRow,
)

_LEVELS = tuple(enumerate(LEVEL_LIMITS, start=1))


@contextmanager
def snapshot(store) -> Iterator[sqlite3.Connection]:
    """A reading connection holding one read transaction, so several queries see the same commits."""
    with store._reading() as db:
        store._schema(db)
        connection = db.conn
        own = not connection.in_transaction
        if own:
            connection.execute("BEGIN")
        try:
            yield connection
        finally:
            if own:
                connection.execute("COMMIT")


def _excluded(ccids: Iterable[str]) -> str:
    return json.dumps(sorted(ccids))


def spanning_legs(connection: sqlite3.Connection, cut_us: int) -> list[str]:
    """Legs with KPI events before the cut and at or after it (first < cut <= last)."""
    parts, params = [], []
    for level, limit in _LEVELS:
        parts.append(f"SELECT ccid FROM kpi_legs WHERE level = {level} AND first_us >= ? AND first_us < ?"
                     " AND last_us >= ?")
        params += [cut_us - limit, cut_us, cut_us]
    # The long legs' own partial index, by when they last moved (the planner would take the other).
    parts.append(f"SELECT ccid FROM kpi_legs INDEXED BY kpi_legs_long WHERE level = {TOP_LEVEL} AND last_us >= ?"
                 " AND first_us < ?")
    params += [cut_us, cut_us]
    return [row[0] for row in connection.execute(" UNION ALL ".join(parts), params)]


def leg_rows_between(connection: sqlite3.Connection, ccids: Iterable[str], since_us: int,
                     until_us: int) -> dict[str, list[KpiRow]]:
    """Each leg's KPI events in [since, until), in fold order (one query for all of them)."""
    found: dict[str, list[KpiRow]] = {ccid: [] for ccid in ccids}
    sql = (f"SELECT {ROW_COLUMNS} FROM kpi_events WHERE ccid IN (SELECT value FROM json_each(?))"
           " AND at_us >= ? AND at_us < ? ORDER BY ccid, at_us, seq")
    for row in connection.execute(sql, [_excluded(found), since_us, until_us]):
        found[row[1]].append(KpiRow(*row))
    return found


def _bucket(step_us: int | None) -> str:
    return "0" if step_us is None else "(at_us - :start) / :step"


def _target_case(targets: Mapping[str, int], params: dict) -> str:
    """SQL for the queue's service-level target in seconds (per-queue ones first, else the default)."""
    branches = []
    for index, (queue, seconds) in enumerate(sorted(targets.items())):
        params[f"q{index}"], params[f"t{index}"] = queue, seconds
        branches.append(f"WHEN :q{index} THEN :t{index}")
    return f"(CASE queue {' '.join(branches)} ELSE :target END)" if branches else ":target"


def departure_totals(connection: sqlite3.Connection, start_us: int, end_us: int, *, target: int,
                     targets: Mapping[str, int], short_seconds: float, step_us: int | None = None) -> list[dict]:
    """Departures in [start, end) per (interval, queue): answered, in target, abandoned, short, other, waits."""
    params = {"start": start_us, "end": end_us, "step": step_us, "short": short_seconds, "target": target}
    limit = _target_case(targets, params)
    sql = f"""
    SELECT {_bucket(step_us)} AS bucket, queue,
      sum(outcome = '{ANSWERED}') AS answered,
      sum(outcome = '{ANSWERED}' AND wait <= {limit}) AS answered_in_target,
      total(CASE WHEN outcome = '{ANSWERED}' THEN wait END) AS answer_wait,
      sum(outcome = '{ABANDONED}' AND wait < :short) AS short_abandoned,
      sum(outcome = '{ABANDONED}' AND wait >= :short) AS abandoned,
      sum(outcome = '{ABANDONED}' AND wait >= :short AND wait > {limit}) AS abandoned_beyond_target,
      sum(outcome = '{OTHER}') AS left_otherwise
    FROM kpi_departures
    WHERE at_us >= :start AND at_us < :end
    GROUP BY bucket, queue
    """
    return _dicts(connection.execute(sql, params))


def handle_totals(connection: sqlite3.Connection, start_us: int, end_us: int, *,
                  step_us: int | None = None) -> list[dict]:
    """Answered callers who left their conference in [start, end), per (interval, queue): count, seconds."""
    sql = f"""
    SELECT {_bucket(step_us)} AS bucket, queue, count(*) AS handled, total(seconds) AS handle_seconds
    FROM kpi_handles
    WHERE at_us >= :start AND at_us < :end
    GROUP BY bucket, queue
    """
    return _dicts(connection.execute(sql, {"start": start_us, "end": end_us, "step": step_us}))


def bucket_versions(connection: sqlite3.Connection, start_us: int, end_us: int) -> dict[int, int]:
    """The version of every bucket starting in [start, end) that has ever held a departure or handle time."""
    return dict(connection.execute("SELECT start_us, version FROM kpi_buckets WHERE start_us >= ? AND start_us < ?",
                                   [start_us, end_us]))


def stored_facts(connection: sqlite3.Connection, ccids: Iterable[str], start_us: int,
                 end_us: int) -> tuple[list[tuple], list[tuple]]:
    """These legs' stored departures (at_us, queue, outcome, wait) and handles (at_us, queue, seconds) in [start, end)."""
    wanted = _excluded(ccids)
    departures = connection.execute(
        "SELECT at_us, queue, outcome, wait FROM kpi_departures WHERE ccid IN (SELECT value FROM json_each(?))"
        " AND at_us >= ? AND at_us < ?", [wanted, start_us, end_us]).fetchall()
    handles = connection.execute(
        "SELECT at_us, queue, seconds FROM kpi_handles WHERE ccid IN (SELECT value FROM json_each(?))"
        " AND at_us >= ? AND at_us < ?", [wanted, start_us, end_us]).fetchall()
    return departures, handles


def _open_at(table: str, columns: str, cut_us: int, at_us: int) -> tuple[str, list]:
    """SQL (and parameters) for the episodes of a table open at `at` that began at or after the cut."""
    parts, params = [], []
    for level, limit in _LEVELS:
        parts.append(f"SELECT {columns} FROM {table} WHERE level = {level} AND since_us >= ? AND since_us < ?"
                     " AND until_us >= ?")
        params += [max(cut_us, at_us - limit), at_us, at_us]
    parts.append(f"SELECT {columns} FROM {table} WHERE level = {TOP_LEVEL} AND since_us >= ? AND since_us < ?"
                 " AND (until_us IS NULL OR until_us >= ?)")
    params += [cut_us, at_us, at_us]
    return " UNION ALL ".join(parts), params


def waiting_at(connection: sqlite3.Connection, cut_us: int, at_us: int, excluded: Iterable[str] = ()) -> list[dict]:
    """Callers waiting at `at` (enqueued since the cut), per queue: how many, and the oldest enqueue."""
    episodes, params = _open_at("kpi_waits", "queue, since_us, ccid", cut_us, at_us)
    sql = (f"SELECT queue, count(*) AS waiting, min(since_us) AS oldest_us FROM ({episodes})"
           " WHERE ccid NOT IN (SELECT value FROM json_each(?)) GROUP BY queue")
    return _dicts(connection.execute(sql, [*params, _excluded(excluded)]))


def in_conferences_at(connection: sqlite3.Connection, cut_us: int, at_us: int,
                      excluded: Iterable[str] = ()) -> list[dict]:
    """Legs in a conference at `at` (joined since the cut), per queue they were last answered from (or None)."""
    episodes, params = _open_at("kpi_joins", "ccid", cut_us, at_us)
    sql = f"""
    SELECT (SELECT d.queue FROM kpi_departures d
            WHERE d.ccid = j.ccid AND d.outcome = '{ANSWERED}' AND d.at_us < ?
            ORDER BY d.at_us DESC, d.seq DESC LIMIT 1) AS queue, count(*) AS legs
    FROM ({episodes}) j
    WHERE j.ccid NOT IN (SELECT value FROM json_each(?))
    GROUP BY 1
    """
    return _dicts(connection.execute(sql, [at_us, *params, _excluded(excluded)]))


def first_enqueues(connection: sqlite3.Connection, cut_us: int) -> dict[str, int]:
    """Each queue's first enqueue at or after the cut (queues with none are left out)."""
    sql = ("SELECT q.name, (SELECT min(w.since_us) FROM kpi_waits w WHERE w.queue = q.name AND w.since_us >= ?)"
           " AS first_us FROM kpi_queues q")
    return {name: first for name, first in connection.execute(sql, [cut_us]) if first is not None}


def _dicts(cursor: sqlite3.Cursor) -> list[dict]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
