"""Departures and handle times summed per queue over periods: whole buckets kept, ragged ends read.

A day's departures are thousands of rows; summing them again for every wallboard draw and every
alert round would cost what the day holds. The facts are grouped in buckets (kpi_facts.BUCKET_US,
15 minutes from the epoch), and the store keeps a version per bucket that changes whenever one
of its facts does, in the same transaction. So the sums of a whole bucket, once read under some
KPI settings, are kept here in memory (bounded, least recently used dropped) and read again only
when the bucket's version moves: a late event, or the bucket still filling. The ends of a period
that do not fill a bucket are summed from the facts directly.

A sum is a list of ``FIELDS`` per queue; ``add_departure`` counts one departure the way the SQL in
kpi_reads.departure_totals does (and kpis.compute), so the queues room can add and take away legs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from console.queues.kpis import KpiSettings
from console.state import kpi_reads
from console.state.bucket_cache import VersionedBuckets, buckets_of
from console.state.kpi_facts import ANSWERED, BUCKET_US, OTHER

FIELDS = ("answered", "answered_in_target", "answer_wait", "short_abandoned", "abandoned",
          "abandoned_beyond_target", "left_otherwise", "handled", "handle_seconds")
_INDEX = {name: index for index, name in enumerate(FIELDS)}
Sums = dict[str, list]


def empty() -> list:
    return [0, 0, 0.0, 0, 0, 0, 0, 0, 0.0]


def add_departure(sums: Sums, settings: KpiSettings, queue: str, outcome: str, wait: float, sign: int = 1) -> None:
    """Count (or, with sign -1, uncount) one departure from a queue."""
    row = sums.setdefault(queue, empty())
    target = settings.target_for(queue).seconds
    if outcome == ANSWERED:
        row[0] += sign
        row[1] += sign * (wait <= target)
        row[2] += sign * wait
    elif outcome == OTHER:
        row[6] += sign
    elif wait < settings.short_abandon_seconds:
        row[3] += sign
    else:
        row[4] += sign
        row[5] += sign * (wait > target)


def add_handle(sums: Sums, queue: str, seconds: float, sign: int = 1) -> None:
    row = sums.setdefault(queue, empty())
    row[7] += sign
    row[8] += sign * seconds


def merge(into: Sums, other: Sums) -> None:
    for queue, values in other.items():
        row = into.setdefault(queue, empty())
        for index, value in enumerate(values):
            row[index] += value


def _settings_key(settings: KpiSettings) -> tuple:
    return (settings.target.seconds, tuple(sorted((queue, target.seconds) for queue, target in
                                                  settings.queue_targets.items())),
            settings.short_abandon_seconds)


def _read(connection: sqlite3.Connection, settings: KpiSettings, start_us: int, end_us: int,
          step_us: int | None = None) -> dict[int, Sums]:
    """Sums straight from the facts in [start, end), per interval of `step_us` (bucket 0 when None)."""
    targets = {queue: target.seconds for queue, target in settings.queue_targets.items()}
    found: dict[int, Sums] = {}
    for row in kpi_reads.departure_totals(connection, start_us, end_us, target=settings.target.seconds,
                                          targets=targets, short_seconds=settings.short_abandon_seconds,
                                          step_us=step_us):
        values = found.setdefault(row["bucket"], {}).setdefault(row["queue"], empty())
        for name in FIELDS[:7]:
            values[_INDEX[name]] += row[name]
    for row in kpi_reads.handle_totals(connection, start_us, end_us, step_us=step_us):
        values = found.setdefault(row["bucket"], {}).setdefault(row["queue"], empty())
        values[7] += row["handled"]
        values[8] += row["handle_seconds"]
    return found


def _whole_buckets(connection: sqlite3.Connection, cache: VersionedBuckets, settings: KpiSettings,
                   first: int, stop: int) -> dict[int, Sums]:
    """Sums of each bucket starting in [first, stop): kept ones whose version still holds, the rest read."""
    key = _settings_key(settings)
    versions = kpi_reads.bucket_versions(connection, first, stop)
    found: dict[int, Sums] = {}
    stale = []
    for start in sorted(versions):
        kept = cache.get((key, start), versions[start])
        if kept is None:
            stale.append(start)
        else:
            found[start] = kept
    for run_start, run_stop in _runs(stale):
        read = _read(connection, settings, run_start, run_stop, BUCKET_US)
        for start in range(run_start, run_stop, BUCKET_US):
            if start in versions:
                found[start] = read.get((start - run_start) // BUCKET_US, {})
                cache.put((key, start), versions[start], found[start])
    return found


def _runs(starts: list[int]) -> list[tuple[int, int]]:
    """Consecutive bucket starts folded into [first, last + bucket) ranges."""
    runs: list[list[int]] = []
    for start in starts:
        if runs and runs[-1][1] == start:
            runs[-1][1] = start + BUCKET_US
        else:
            runs.append([start, start + BUCKET_US])
    return [(first, stop) for first, stop in runs]


def period_sums(connection: sqlite3.Connection, store, settings: KpiSettings,
                periods: list[tuple[int, int]]) -> list[Sums]:
    """The sums of each period [start, end) (microseconds), every leg included."""
    result: list[Sums] = [{} for _ in periods]
    ragged: list[tuple[int, int, int]] = []  # (period, start, end) of what no whole bucket covers
    for index, (start, end) in enumerate(periods):
        first = -(-start // BUCKET_US) * BUCKET_US
        stop = end - end % BUCKET_US
        if first >= stop:
            ragged.append((index, start, end))
            continue
        ragged += [(index, start, first), (index, stop, end)]
        for sums in _whole_buckets(connection, buckets_of(store, "queue_sums"), settings, first, stop).values():
            merge(result[index], sums)
    _ragged(connection, settings, [piece for piece in ragged if piece[1] < piece[2]], result)
    return result


def _ragged(connection: sqlite3.Connection, settings: KpiSettings, pieces: list[tuple[int, int, int]],
            result: list[Sums]) -> None:
    """Sum the pieces no whole bucket covers: consecutive equal pieces (intervals) in one grouped read."""
    if not pieces:
        return
    if _evenly_spaced(pieces):
        first, step = pieces[0][1], pieces[0][2] - pieces[0][1]
        read = _read(connection, settings, first, pieces[-1][2], step)
        for number, (index, _start, _end) in enumerate(pieces):
            merge(result[index], read.get(number, {}))
        return
    for index, start, end in pieces:
        merge(result[index], _read(connection, settings, start, end).get(0, {}))


def _evenly_spaced(pieces: list[tuple[int, int, int]]) -> bool:
    """Whether the pieces are consecutive periods' whole spans, end to end, of one length (the last may be shorter)."""
    if len(pieces) < 3:
        return False
    index, first, step = pieces[0][0], pieces[0][1], pieces[0][2] - pieces[0][1]
    for number, (at, start, end) in enumerate(pieces):
        if at != index + number or start != first + number * step:
            return False
        if end != start + step and number != len(pieces) - 1:
            return False
    return step > 0


def subtract(sums: Sums, settings: KpiSettings, departures: Iterable[tuple], handles: Iterable[tuple]) -> None:
    """Take stored facts (as kpi_reads.stored_facts gives them) out of one period's sums."""
    for _at, queue, outcome, wait in departures:
        add_departure(sums, settings, queue, outcome, wait, -1)
    for _at, queue, seconds in handles:
        add_handle(sums, queue, seconds, -1)
