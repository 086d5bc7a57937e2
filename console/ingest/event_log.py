"""The ingest room's one seam to state: append these events, tell me what changed.

The bus and the group commit speak only this interface; console.state.store.Store satisfies it
today, and a store fed from Redis Streams would implement it a second time without touching ingest.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from console.telnyx.events import Event


@runtime_checkable
class EventLogTransaction(Protocol):
    """Events appended inside one open transaction; ``changed`` holds their keys once it commits."""

    # The transaction's own database connection, so the replay ledger's rows commit with the events.
    connection: Any
    changed: set[str]

    def apply(self, event: Event) -> bool:
        """Append one event; False when the log already held its id (nothing changes)."""
        ...


@runtime_checkable
class EventLog(Protocol):
    """Where committed events live: append them, learn which keys of the read model changed."""

    # Where the log is kept, so the replay ledger can tell whether it shares the log's file.
    path: str

    def apply(self, event: Event) -> set[str]:
        """Append one event in its own transaction; return the keys that changed."""
        ...

    def transaction(self) -> AbstractContextManager[EventLogTransaction]:
        """One transaction for several events (and whatever else shares its connection)."""
        ...
