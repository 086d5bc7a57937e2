"""The reconciler: REST sync that heals what webhooks missed, and fills what they never carry.

Telnyx's `conference.created` has no conference name and participant webhooks carry no label, so
the console learns those over REST. At start, every interval, and soon after a nudge (a conference
the console has never fetched), it lists conferences, participants, queues and queued calls and
publishes a console event for each difference it finds. Events, not direct writes: the store's
ordering rules then decide, so a correction never rolls back a newer webhook.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import Flask

from .events import console_event
from .telnyx import NotFoundError, RateLimitError, TelnyxError

log = logging.getLogger("console.reconcile")

LIVE_STATUSES = ("init", "in_progress")


@dataclass
class ReconcileStatus:
    """What admins see: when it last ran, what it corrected, what went wrong."""

    runs: int = 0
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_corrections: int = 0
    total_corrections: int = 0
    last_error: str | None = None
    errors: int = 0
    running: bool = False
    backoff_until: float = 0.0
    recent: list[str] = field(default_factory=list)


def _differs(observed: dict, known: dict | None, fields: tuple[str, ...]) -> bool:
    """True when REST disagrees with the read model on any of `fields`."""
    if known is None:
        return True
    return any(observed.get(name) != known.get(name) for name in fields if name in observed)


class Reconciler:
    """Compare Telnyx's REST view with the read model and publish corrections as console events."""

    def __init__(self, app: Flask, interval: float | None = None):
        self.app = app
        self.interval = interval or app.config["CONSOLE_RECONCILE_INTERVAL"]
        self.status = ReconcileStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self._next_full = 0.0

    # -- running -------------------------------------------------------------------------------

    def start(self) -> "Reconciler":
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

    def nudge(self, conference_id: str) -> None:
        """Fetch this conference soon: it appeared with nothing but an id (no name, no labels)."""
        with self._pending_lock:
            self._pending.add(conference_id)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = max(0.0, self.status.backoff_until - time.monotonic())
            if wait and self._stop.wait(wait):
                return
            if time.monotonic() >= self._next_full:
                self.run_once()
                self._next_full = time.monotonic() + self.interval
            else:
                self.fetch_pending()
            self._wake.wait(max(0.0, self._next_full - time.monotonic()))
            self._wake.clear()

    def fetch_pending(self) -> int:
        """Fetch the conferences nudged since the last pass; returns corrections published."""
        with self._pending_lock:
            pending, self._pending = self._pending, set()
        if not pending:
            return 0
        with self._run_lock, self.app.app_context():
            from .bus import get_bus
            from .extensions import get_store, get_telnyx

            store, client, events = get_store(), get_telnyx(), []
            for conference_id in sorted(pending):
                try:
                    conference = client.retrieve_conference(conference_id)
                except NotFoundError:
                    continue
                except TelnyxError as exc:
                    log.warning("fetching conference %s failed: %s", conference_id, exc)
                    continue
                if _differs(conference, store.conference(conference_id), ("name", "status")):
                    events.append(console_event("console.conference.synced", conference))
                events += self._participants(store, client, conference_id, labels=True)
            bus = get_bus()
            for event in events:
                bus.publish(event)
            return len(events)

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One full comparison; returns the number of corrections published."""
        with self._run_lock, self.app.app_context():
            from .bus import get_bus
            from .extensions import get_store, get_telnyx

            self.status.running = True
            self.status.last_started_at = datetime.now(timezone.utc)
            corrections: list = []
            try:
                store, client = get_store(), get_telnyx()
                corrections += self._conferences(store, client)
                corrections += self._queues(store, client)
                bus = get_bus()
                for event in corrections:
                    bus.publish(event)
                self.status.last_error = None
            except RateLimitError as exc:
                self.status.errors += 1
                self.status.last_error = f"rate limited by Telnyx: {exc}"
                self.status.backoff_until = time.monotonic() + min(60.0, self.interval)
                log.warning("reconcile backed off: %s", exc)
            except TelnyxError as exc:
                self.status.errors += 1
                self.status.last_error = str(exc)
                log.warning("reconcile failed: %s", exc)
            finally:
                self.status.running = False
                self.status.runs += 1
                self.status.last_finished_at = datetime.now(timezone.utc)
                self.status.last_corrections = len(corrections)
                self.status.total_corrections += len(corrections)
                self.status.recent = [f"{e.event_type} {_subject(e)}" for e in corrections[:20]]
            return len(corrections)

    def _conferences(self, store, client) -> list:
        events = []
        live_rest = {}
        for status in LIVE_STATUSES:
            for conference in client.list_conferences(status=status):
                live_rest[conference["id"]] = conference
        for conference_id, conference in live_rest.items():
            if _differs(conference, store.conference(conference_id), ("name", "status")):
                events.append(console_event("console.conference.synced", conference))
            events += self._participants(store, client, conference_id)
        for known in store.live_conferences():
            if known["id"] in live_rest:
                continue
            try:
                conference = client.retrieve_conference(known["id"])
            except NotFoundError:
                conference = {"id": known["id"], "status": "completed"}
            if _differs(conference, known, ("name", "status", "end_reason")):
                events.append(console_event("console.conference.synced", conference))
            events += self._participants(store, client, known["id"], ended=conference.get("status") == "completed")
        return events

    def _participants(self, store, client, conference_id: str, ended: bool = False, labels: bool = False) -> list:
        events = []
        rest = {}
        if not ended:
            for participant in client.list_participants(conference_id):
                rest[participant["call_control_id"]] = participant
        known = {p["call_control_id"]: p for p in store.participants(conference_id, include_left=True)}
        if labels:
            self._fetch_labels(client, conference_id, rest, known)
        for ccid, participant in rest.items():
            if participant.get("status") == "left" and known.get(ccid, {}).get("status") in (None, "left"):
                continue
            if _differs(participant, known.get(ccid), ("status", "muted", "on_hold", "label")):
                events.append(
                    console_event("console.participant.synced", {**participant, "conference_id": conference_id})
                )
        for ccid, participant in known.items():
            if ccid not in rest and participant.get("status") != "left":
                events.append(
                    console_event(
                        "console.participant.synced",
                        {"conference_id": conference_id, "call_control_id": ccid, "status": "left"},
                    )
                )
        return events

    @staticmethod
    def _fetch_labels(client, conference_id: str, rest: dict, known: dict) -> None:
        """Labels are only in the single-participant shape: fetch them for joined legs that lack one."""
        for ccid, participant in rest.items():
            if participant.get("status") != "joined" or (known.get(ccid) or {}).get("label"):
                continue
            try:
                single = client.retrieve_participant(conference_id, participant["id"])
            except TelnyxError as exc:
                log.info("no label for participant %s: %s", ccid, exc)
                continue
            if single.get("label"):
                participant["label"] = single["label"]

    def _queues(self, store, client) -> list:
        events = []
        rest = {queue["name"]: queue for queue in client.list_queues()}
        known = {queue["name"]: queue for queue in store.queues()}
        for name, queue in rest.items():
            if _differs(queue, known.get(name), ("max_size", "average_wait_time_secs")):
                events.append(console_event("console.queue.synced", queue))
            events += self._queue_calls(store, client, name)
        for name in known:
            if name not in rest:
                events.append(console_event("console.queue.deleted", {"queue_name": name}))
        return events

    def _queue_calls(self, store, client, queue_name: str) -> list:
        events = []
        rest = {call["call_control_id"]: call for call in client.list_queue_calls(queue_name)}
        known = {call["call_control_id"]: call for call in store.queue_calls(queue_name)}
        for ccid, call in rest.items():
            if ccid not in known:
                events.append(console_event("console.queue_call.synced", {**call, "queue_name": queue_name}))
        for ccid in known:
            if ccid not in rest:
                events.append(
                    console_event("console.queue_call.synced", {"queue_name": queue_name, "call_control_id": ccid, "status": "left"})
                )
        return events


def _subject(event) -> str:
    """A short label of what a correction is about, for the status page."""
    payload = event.payload
    return str(payload.get("id") or payload.get("call_control_id") or payload.get("queue_name") or payload.get("name"))


def start_reconciler(app: Flask) -> Reconciler:
    """Build the app's reconciler, keep it in app.extensions, nudge it on unnamed conferences, start it."""
    from .bus import get_bus

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
