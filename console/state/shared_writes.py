"""Writes every instance must see the same: users, sessions, login-failure counters, the agent directory.

Each such write is a named operation on a database connection, registered here. `shared(store,
name, **args)` runs it: in the embedded mode, at once in one transaction of the store's own file;
in the distributed mode (when the store has a `relay`, console.cluster.mode), as an event on the
shared stream (`console.shared.<name>`, its arguments as the payload), which every instance's
follower applies in stream order, and the caller gets the result its own instance computed. So a
user disabled on one instance is disabled on all, a session ended on one is ended everywhere, and
guesses spread over instances count against one counter.

An operation must depend only on its arguments and the database (pass the clock's reading in),
so every instance computes the same result. One that raises changes nothing (a savepoint is rolled
back) and the caller gets the exception; the rest of the follower's batch is unaffected.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from console.telnyx.events import Event

log = logging.getLogger("console.store")

PREFIX = "console.shared."
_OPERATIONS: dict[str, Callable[..., Any]] = {}


class Failed:
    """An operation's exception, carried from the follower's transaction back to the caller."""

    def __init__(self, error: Exception):
        self.error = error


def operation(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register `function(connection, **args)` under its own name."""
    _OPERATIONS[function.__name__] = function
    return function


def is_shared(event: Event) -> bool:
    return event.event_type.startswith(PREFIX)


def apply(connection: sqlite3.Connection, event: Event) -> Any:
    """Run a shared write the stream brought, inside the open transaction; its result (or Failed)."""
    name = event.event_type[len(PREFIX):]
    function = _OPERATIONS.get(name)
    if function is None:
        log.warning("shared write %r is unknown to this version: skipped", name)
        return None
    connection.execute("SAVEPOINT shared_write")
    try:
        result = function(connection, **event.payload)
    except Exception as error:  # noqa: BLE001 - carried to the caller; the batch goes on
        connection.execute("ROLLBACK TO shared_write")
        connection.execute("RELEASE shared_write")
        return Failed(error)
    connection.execute("RELEASE shared_write")
    return result


def shared(store, operation_name: str, /, **args) -> Any:
    """Run the named operation where every instance sees it, and return its result (or raise its error)."""
    relay = getattr(store, "relay", None)
    if relay is None:
        with store._writing() as db:
            return _OPERATIONS[operation_name](db.conn, **args)
    result = relay(PREFIX + operation_name, args)
    if isinstance(result, Failed):
        raise result.error
    return result
