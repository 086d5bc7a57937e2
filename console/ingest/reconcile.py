"""The reconciler: REST sync that heals what webhooks missed, and fills what they never carry.

At start, every interval, and soon after a nudge (a conference the console has never fetched),
it runs the REST comparison (comparison.py) and publishes each correction it finds. Events, not
direct writes: the store's ordering rules then decide, so a correction never rolls back a newer
webhook.

It never hammers Telnyx: the client already retries a 429 after the server's Retry-After; when a
pass still fails (rate limit, server error, unreachable), the reconciler pauses everything, nudges
included, for an exponentially growing time of at least the server's hint, and resets after a pass
that succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask

from console.ingest.bus import get_bus
from console.ingest.comparison import RestComparison
from console.ingest.singletons import fenced, healed, leads, must_heal
from console.state.store import get_store
from console.telnyx.client import get_telnyx
from console.telnyx.errors import (
    APIConnectionError,
    InternalServerError,
    RateLimitError,
    TelnyxError,
)
from console.telnyx.events import Event

log = logging.getLogger("console.reconcile")

MAX_BACKOFF = 600.0
HISTORY = 10


@dataclass
class ReconcileStatus:
    """What admins see: when it last ran, what it corrected, what went wrong, when it may run again."""

    runs: int = 0
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_corrections: int = 0
    total_corrections: int = 0
    last_error: str | None = None
    errors: int = 0
    consecutive_failures: int = 0
    running: bool = False
    backoff_until: float = 0.0
    recent: list[str] = field(default_factory=list)
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))

    def as_dict(self) -> dict:
        """The status as JSON-ready values (times in ISO 8601, the pause in seconds left)."""
        return {
            "runs": self.runs,
            "running": self.running,
            "last_started_at": _iso(self.last_started_at),
            "last_finished_at": _iso(self.last_finished_at),
            "last_corrections": self.last_corrections,
            "total_corrections": self.total_corrections,
            "errors": self.errors,
            "last_error": self.last_error,
            "consecutive_failures": self.consecutive_failures,
            "backoff_seconds": round(max(0.0, self.backoff_until - time.monotonic()), 3),
            "recent": list(self.recent),
            "history": [
                {**run, "started_at": _iso(run["started_at"]), "finished_at": _iso(run["finished_at"])}
                for run in self.history
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _pauses_everything(error: Exception) -> bool:
    """Failures that say "Telnyx is overloaded or away": stop asking for a while."""
    return isinstance(error, (RateLimitError, InternalServerError, APIConnectionError))


def _retry_after(error: Exception) -> float | None:
    """The server's Retry-After hint in seconds, when the error carries one."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        hint = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return hint if hint >= 0 else None


# How often an instance that does not lead looks again whether it now does.
FOLLOWER_PAUSE = 0.5


class Reconciler(RestComparison):
    """Run the REST comparison on a schedule and on nudges, publish its corrections, back off on failure."""

    def __init__(self, app: Flask, interval: float | None = None, *, backoff_base: float | None = None,
                 max_backoff: float = MAX_BACKOFF):
        super().__init__()
        self.app = app
        self.interval = interval or app.config["CONSOLE_RECONCILE_INTERVAL"]
        self.backoff_base = backoff_base if backoff_base is not None else min(self.interval, 60.0)
        self.max_backoff = max_backoff
        self.status = ReconcileStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self._next_full = 0.0

    # -- running -------------------------------------------------------------------------------

    def start(self) -> Reconciler:
        """Run once now and then every interval on a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the background loop (bounded wait)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def started(self) -> bool:
        """Whether the background loop is running."""
        return self._thread is not None and self._thread.is_alive()

    def describe(self) -> dict:
        """Status for /readyz: whether the loop runs, its interval, and the last runs."""
        return {"started": self.started, "interval": self.interval, **self.status.as_dict()}

    def nudge(self, conference_id: str) -> None:
        """Fetch this conference soon: it appeared with nothing but an id (no name, no labels)."""
        with self._pending_lock:
            self._pending.add(conference_id)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            pause = self.status.backoff_until - time.monotonic()
            if pause > 0:
                if self._stop.wait(pause):
                    return
                continue
            self._wake.clear()
            healing = must_heal(self.app)
            if not healing and not leads(self.app):  # another instance holds the leader lease: it reconciles
                if self._stop.wait(FOLLOWER_PAUSE):
                    return
                continue
            try:
                if healing:  # this read model rebuilt or joined late: one pass of its own (corrections are idempotent)
                    self.run_once()
                    healed(self.app)
                    self._next_full = time.monotonic() + self.interval
                    continue
                with fenced(self.app):
                    if time.monotonic() >= self._next_full:
                        self.run_once()
                        self._next_full = time.monotonic() + self.interval
                    else:
                        self.fetch_pending()
            except Exception as exc:  # the loop must outlive any one failed pass
                log.exception("reconcile pass crashed")
                self._failed(exc)
                self._next_full = time.monotonic() + self.interval
            self._wake.wait(max(0.0, self._next_full - time.monotonic()))

    def _failed(self, error: Exception) -> None:
        """Count a failed pass and pause: doubling each time, never shorter than the server asked."""
        status = self.status
        status.errors += 1
        status.consecutive_failures += 1
        if isinstance(error, RateLimitError):
            status.last_error = f"rate limited by Telnyx: {error}"
        else:
            status.last_error = f"{type(error).__name__}: {error}"
        delay = min(self.max_backoff, self.backoff_base * 2 ** (status.consecutive_failures - 1))
        hint = _retry_after(error)
        if hint is not None:
            delay = max(delay, min(hint, self.max_backoff))
        status.backoff_until = time.monotonic() + delay
        log.warning("reconcile failed (%s); pausing %.1f s", status.last_error, delay)

    def fetch_pending(self) -> int:
        """Fetch the conferences nudged since the last pass; returns corrections published."""
        with self._pending_lock:
            pending, self._pending = self._pending, set()
        if not pending:
            return 0
        with self._run_lock, self.app.app_context():
            store, client, bus = get_store(), get_telnyx(), get_bus()
            published = 0
            waiting = sorted(pending)
            while waiting:
                conference_id = waiting[0]
                try:
                    for correction in self._nudged(store, client, conference_id):
                        bus.publish(correction)
                        published += 1
                except TelnyxError as exc:
                    if _pauses_everything(exc):
                        with self._pending_lock:
                            self._pending.update(waiting)
                        self._failed(exc)
                        break
                    log.warning("fetching conference %s failed: %s", conference_id, exc)
                waiting.pop(0)
            return published

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One full comparison; returns the number of corrections published (even if it then failed)."""
        with self._run_lock, self.app.app_context():
            status = self.status
            status.running = True
            status.last_started_at = datetime.now(UTC)
            published: list[Event] = []
            error: TelnyxError | None = None
            try:
                store, client, bus = get_store(), get_telnyx(), get_bus()
                for pass_part in (self._conferences, self._queues):
                    for correction in pass_part(store, client):
                        bus.publish(correction)
                        published.append(correction)
            except TelnyxError as exc:
                error = exc
            finally:
                status.running = False
                status.runs += 1
                status.last_finished_at = datetime.now(UTC)
                status.last_corrections = len(published)
                status.total_corrections += len(published)
                status.recent = [f"{e.event_type} {_subject(e)}" for e in published[:20]]
                status.history.append({
                    "started_at": status.last_started_at, "finished_at": status.last_finished_at,
                    "corrections": len(published), "error": None if error is None else str(error),
                })
            if error is None:
                status.last_error = None
                status.consecutive_failures = 0
            else:
                self._failed(error)
            return len(published)


def _subject(event: Event) -> str:
    """A short label of what a correction is about, for the status page."""
    payload = event.payload
    return str(payload.get("id") or payload.get("call_control_id") or payload.get("queue_name") or payload.get("name"))


def start_reconciler(app: Flask) -> Reconciler:
    """Build the app's reconciler, keep it in app.extensions, nudge it on unnamed conferences, start it."""
    reconciler = Reconciler(app)
    app.extensions["console.reconciler"] = reconciler

    def on_change(keys, event):
        if event.event_type in ("conference.created", "conference.participant.joined"):
            conference_id = event.payload.get("conference_id")
            if isinstance(conference_id, str):
                reconciler.nudge(conference_id)

    with app.app_context():
        get_bus().subscribe(on_change)
    return reconciler.start()
