"""Where events flow: every webhook and every console change passes through publish().

In-process by default: publish() applies the event to the store in one transaction and
hands the changed keys to whoever listens (the live hub). The store is reached only through
the EventLog seam (event_log.py), so a multi-instance deployment can swap in a shared stream
that each instance consumes into its own store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from flask import Flask, current_app

from console.ingest.event_log import EventLog
from console.telnyx.events import Event

log = logging.getLogger("console.bus")

Listener = Callable[[set[str], Event], None]


class EventBus:
    """Apply events to the store and notify listeners of the keys that changed."""

    def __init__(self, store: EventLog | None = None):
        self.store = store
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        # Optional timing hook `on_applied(event, seconds, keys)` (the metrics set it).
        self.on_applied: Callable[[Event, float, set[str]], None] | None = None

    def init_app(self, app: Flask, store: EventLog) -> None:
        """Bind to the app's store and register as the app's bus."""
        self.store = store
        app.extensions["console.bus"] = self

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(keys, event)` after each event that changed something."""
        with self._lock:
            self._listeners.append(listener)

    def publish(self, event: Event) -> set[str]:
        """Commit the event and return the keys it changed (empty for a duplicate)."""
        started = time.perf_counter()
        keys = self.store.apply(event)
        self.announce([event], keys, time.perf_counter() - started)
        return keys

    def announce(self, events: list[Event], keys: set[str], seconds: float) -> None:
        """Tell listeners about events one transaction committed (see group_commit.py for batches).

        Each event is announced in order; the transaction's changed keys ride with its last event
        and the others carry none, so the hub renders once and per-event listeners see every event.
        """
        if self.on_applied is not None:
            for event in events:
                self.on_applied(event, seconds / max(len(events), 1), keys)
        if not keys:
            return
        for index, event in enumerate(events):
            changed = keys if index == len(events) - 1 else set()
            for listener in list(self._listeners):
                try:
                    listener(changed, event)
                except Exception:  # a broken listener must not lose the committed event
                    log.exception("listener failed for event %s", event.id)

    def publish_many(self, events: Iterable[Event]) -> set[str]:
        """Publish several events in order; return the union of changed keys."""
        changed: set[str] = set()
        for event in events:
            changed |= self.publish(event)
        return changed


def get_bus() -> EventBus:
    """The current app's bus."""
    return current_app.extensions["console.bus"]
