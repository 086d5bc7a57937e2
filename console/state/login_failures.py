"""Failed sign-ins counted per account name and per client address, in the console's database.

A row is one counter: its kind (``account`` or ``address``), its key (the normalised name or the
address), how many failures it holds, when the latest came, and until when a sign-in under it must
wait. An attempt is counted *before* its password is checked, in the same immediate transaction
that looked for a wait in force, so parallel guesses cannot all slip in ahead of the first
failure being written; a right password then takes its count back (`forgive`). What each count
costs in waiting is the caller's policy (``wait_after``); this module only stores and reads.
Counters quiet for longer than the window are forgotten, and pruned as attempts come in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from console.state.shared_writes import operation, shared

ACCOUNT = "account"
ADDRESS = "address"
KINDS = (ACCOUNT, ADDRESS)


@dataclass(frozen=True)
class Count:
    """One counter as it stands: how many failures, and until when a sign-in under it must wait."""

    kind: str
    key: str
    failures: int
    blocked_until: float
    before_until: float = 0.0  # the wait it had before this attempt was counted (for `forgive`)


def _row(connection: sqlite3.Connection, kind: str, key: str) -> tuple[int, float, float] | None:
    return connection.execute("SELECT failures, last_failed_at, blocked_until FROM login_failures"
                              " WHERE kind = ? AND key = ?", [kind, key]).fetchone()


def _block_in_force(connection: sqlite3.Connection, keys: Iterable[tuple[str, str]], now: float) -> Count | None:
    """The counter among `keys` whose wait lasts longest past `now`, or None when none is waiting."""
    longest = None
    for kind, key in keys:
        row = _row(connection, kind, key)
        if row is not None and row[2] > now and (longest is None or row[2] > longest.blocked_until):
            longest = Count(kind, key, row[0], row[2])
    return longest


def blocked(store, keys: Iterable[tuple[str, str]], now: float) -> Count | None:
    """The longest wait in force for any of these (kind, key) counters at `now`, or None."""
    with store._reading() as db:
        return _block_in_force(db.conn, keys, now)


# Waits are sent to the shared write as a table of this many counts per kind (the last one holds after).
TABLE_LENGTH = 64


def count_attempt(store, keys: Iterable[tuple[str, str]], now: float, *, window: float,
                  wait_after: Callable[[str, int], float]) -> tuple[Count | None, list[Count]]:
    """In one transaction: the wait in force (then nothing is counted), else every counter's new count.

    A counter quiet for more than `window` seconds starts again from one; `wait_after(kind,
    failures)` says how many seconds a counter that now holds `failures` must wait (read for up to
    TABLE_LENGTH failures; more wait as long as that many). A shared write: in the distributed mode,
    guesses spread over instances count against the same counters.
    """
    keys = [(kind, key) for kind, key in keys if kind in KINDS]
    waits = {kind: [wait_after(kind, failures) for failures in range(1, TABLE_LENGTH + 1)]
             for kind in {kind for kind, _ in keys}}
    return shared(store, "count_login_attempt", keys=[list(pair) for pair in keys], now=now, window=window,
                  waits=waits)


@operation
def count_login_attempt(connection: sqlite3.Connection, keys: list, now: float, window: float,
                        waits: dict) -> tuple[Count | None, list[Count]]:
    keys = [(kind, key) for kind, key in keys]
    waiting = _block_in_force(connection, keys, now)
    if waiting is not None:
        return waiting, []
    counted = []
    for kind, key in keys:
        row = _row(connection, kind, key)
        fresh = row is None or now - row[1] > window
        failures = 1 if fresh else row[0] + 1
        before = 0.0 if row is None else row[2]
        table = waits[kind]
        until = now + max(0.0, table[min(failures, len(table)) - 1])
        connection.execute(
            "INSERT INTO login_failures (kind, key, failures, last_failed_at, blocked_until) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(kind, key) DO UPDATE SET failures = excluded.failures,"
            " last_failed_at = excluded.last_failed_at, blocked_until = excluded.blocked_until",
            [kind, key, failures, now, until])
        counted.append(Count(kind, key, failures, until, before))
    prune(connection, now, window)
    return None, counted


def forgive(store, counted: Iterable[Count]) -> None:
    """A right password: forget its account's failures, and take its attempt back from the address's count.

    The address keeps the wait it had before, unless another attempt changed it meanwhile.
    """
    shared(store, "forgive_login", counted=[[count.kind, count.key, count.blocked_until, count.before_until]
                                            for count in counted])


@operation
def forgive_login(connection: sqlite3.Connection, counted: list) -> None:
    for kind, key, blocked_until, before_until in counted:
        if kind == ACCOUNT:
            connection.execute("DELETE FROM login_failures WHERE kind = ? AND key = ?", [kind, key])
            continue
        connection.execute(
            "UPDATE login_failures SET failures = max(failures - 1, 0),"
            " blocked_until = CASE WHEN blocked_until = ? THEN ? ELSE blocked_until END"
            " WHERE kind = ? AND key = ?", [blocked_until, before_until, kind, key])
        connection.execute("DELETE FROM login_failures WHERE kind = ? AND key = ? AND failures = 0", [kind, key])


def prune(connection: sqlite3.Connection, now: float, window: float) -> int:
    """Drop counters quiet for longer than the window whose wait is over; return how many went."""
    cursor = connection.execute("DELETE FROM login_failures WHERE last_failed_at < ? AND blocked_until <= ?",
                                [now - window, now])
    return cursor.rowcount


def counters(store) -> list[Count]:
    """Every counter held, by kind and key (for the operator and the tests)."""
    with store._reading() as db:
        rows = db.conn.execute("SELECT kind, key, failures, blocked_until FROM login_failures ORDER BY kind, key")
        return [Count(kind, key, failures, until) for kind, key, failures, until in rows.fetchall()]
