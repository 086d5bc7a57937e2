"""Group commit for webhooks: verified events from many request threads share one transaction.

Each request thread verifies and parses its webhook on its own, then calls `submit`. The first
thread to find no batch in progress leads: it takes every event waiting (its own first), checks
them against the replay ledger and the event log, applies the new ones and records their
signatures in ONE transaction, announces the changed keys to the bus's listeners, wakes the
threads whose events it carried, and hands the lead to the oldest event still waiting. Under load,
one commit serves many webhooks; alone, a webhook commits at once. Every thread still answers only
after its own event has committed, so a 200 keeps meaning "stored".
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, current_app

from console.ingest.bus import EventBus
from console.ingest.event_log import EventLog
from console.telnyx.events import Event

# Admission outcomes are the webhook endpoint's story, so they are logged under its name.
log = logging.getLogger("console.webhooks")

EXTENSION = "console.ingest"
MAX_BATCH = 256
# Events Telnyx never sends: the console records these itself, so a webhook naming one is ignored.
CONSOLE_EVENT_PREFIX = "console."

STORED, DUPLICATE, IGNORED = "stored", "duplicate", "ignored"

_making = threading.Lock()


class IngestUnavailable(RuntimeError):
    """Where events are kept cannot take them now (the distributed mode's Redis): the sender retries."""


class _Doorbell:
    """A one-shot wake-up: a lock taken at birth, released by whoever wakes the waiter.

    threading.Event builds a Condition per webhook and walks it in Python on every set; a bare lock
    does the same job in C, which matters at a thousand webhooks a second.
    """

    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()

    def ring(self) -> None:
        if self._lock.locked():
            try:
                self._lock.release()
            except RuntimeError:  # rung twice at once: it is open either way
                pass

    def wait(self) -> None:
        """Block until rung (once: the doorbell is not reused after it woke its waiter)."""
        self._lock.acquire()


@dataclass
class _Waiting:
    """One submitted webhook: its event and signature, then its outcome (or the error that sank its batch)."""

    event: Event
    signature: str
    timestamp: int
    outcome: str | None = None
    error: BaseException | None = None
    leads: bool = False
    wake: _Doorbell = field(default_factory=_Doorbell)


class Ingest:
    """Commits verified webhooks in batches; `submit` returns "stored", "duplicate" or "ignored"."""

    def __init__(self, store: EventLog, ledger, bus: EventBus, *, max_batch: int = MAX_BATCH):
        self.store = store
        self.ledger = ledger
        self.bus = bus
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._leading = False
        self.batches = 0
        self._shared = ledger.shares_file_with(store.path)

    def submit(self, event: Event, signature: str, timestamp: int) -> str:
        """Commit one verified webhook (with whatever else is waiting) and return its outcome.

        Raises the database's error when the batch carrying it could not be committed.
        """
        mine = _Waiting(event, signature, timestamp)
        with self._lock:
            self._waiting.append(mine)
            if not self._leading:
                self._leading = mine.leads = True
        if not mine.leads:
            mine.wake.wait()
        if mine.leads and mine.outcome is None and mine.error is None:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.outcome

    def _lead(self) -> None:
        """Commit one batch (the leader's event first), wake its threads, then pass the lead on."""
        with self._lock:
            batch = self._waiting[:self.max_batch]
            del self._waiting[:self.max_batch]
        try:
            self._commit(batch)
        except Exception:
            # Nothing of the batch committed. One at a time, so an event that cannot be applied fails
            # alone and the others are stored; if the database itself is down, each sender retries.
            for waiting in batch:
                waiting.outcome = None
                try:
                    self._commit([waiting])
                except Exception as error:
                    waiting.outcome, waiting.error = None, error
        finally:
            with self._lock:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.leads = True
                    successor.wake.ring()
                else:
                    self._leading = False
            for waiting in batch:
                waiting.wake.ring()

    def _commit(self, batch: list[_Waiting]) -> None:
        started = time.perf_counter()
        items = [(waiting.event, waiting.signature, waiting.timestamp) for waiting in batch]
        outcomes, changed, fresh = commit_webhooks(self.store, self.ledger, items, shared=self._shared)
        for waiting, outcome in zip(batch, outcomes):
            waiting.outcome = outcome
        self.batches += 1
        self.bus.announce(fresh, changed, time.perf_counter() - started)


def commit_webhooks(store: EventLog, ledger, items: list[tuple[Event, str, int]], *,
                    shared: bool | None = None) -> tuple[list[str], set[str], list[Event]]:
    """Commit verified webhooks (event, signature, timestamp) in one transaction.

    Returns each one's outcome, the keys the transaction changed and the events new to the log.
    The ledger's rows join the transaction when it lives in the store's file.
    """
    outcomes: list[str] = []
    fresh: list[Event] = []
    accepted: list[tuple[str, int]] = []
    signatures: set[str] = set()
    if shared is None:
        shared = ledger.shares_file_with(store.path)
    with store.transaction() as writer:
        connection = writer.connection if shared else None
        for event, signature, timestamp in items:
            if signature in signatures or ledger.seen(signature, connection):
                log.info("webhook replayed (signature already accepted, timestamp %s): not applied", timestamp)
                outcomes.append(DUPLICATE)
                continue
            signatures.add(signature)
            accepted.append((signature, timestamp))
            if event.event_type.startswith(CONSOLE_EVENT_PREFIX):
                log.warning("webhook %r ignored: %r names one of the console's own events", event.id[:80],
                            event.event_type[:80])
                outcomes.append(IGNORED)
            elif writer.apply(event):
                outcomes.append(STORED)
                fresh.append(event)
            else:
                outcomes.append(DUPLICATE)
        if connection is not None:
            ledger.remember_many(accepted, connection)
    if not shared:
        try:
            ledger.remember_many(accepted)
        except Exception:  # the events are committed; their ids still guard against replays
            log.exception("could not record webhook signatures; the event ids still guard against replays")
    return outcomes, writer.changed, fresh


def get_ingest() -> Ingest:
    """The current app's ingest, made on first use from its store, replay ledger and bus."""
    app: Flask = current_app._get_current_object()
    ingest = app.extensions.get(EXTENSION)
    if ingest is None:
        with _making:
            ingest = app.extensions.get(EXTENSION)
            if ingest is None:
                ingest = app.extensions[EXTENSION] = Ingest(
                    app.extensions["console.store"], app.extensions["console.replay"], app.extensions["console.bus"])
    return ingest
