"""Signed webhook delivery: a worker thread POSTs each world event to the console, with chaos on request.

Telnyx signs ``timestamp|raw body`` with Ed25519, expects a 2xx answer and retries otherwise. The
worker does the same: each attempt's body is serialized once and signed afresh, and a failing event
is rescheduled with exponential backoff on a schedule of due times, so one broken event never holds
back the ones behind it. Every body carries ``meta: {attempt, delivered_to}`` beside the event, as
real deliveries do: Telnyx's "Receiving Webhooks" guide shows it on call-control webhooks although
the spec's conference and queue event schemas leave it out (observed, not in the schema). The chaos
knobs (drop, duplicate, reorder, delay) are read from the shared ``Chaos`` when an event is submitted,
with a seedable random generator so a test can predict exactly which events suffer.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field

import requests

from console.simulator.chaos import Chaos
from console.telnyx.signing import sign

log = logging.getLogger("console.simulator.delivery")

USER_AGENT = "telnyx-webhooks"
MAX_BACKOFF = 30.0
REORDER_HOLD_LIMIT = 2.0


@dataclass
class _Event:
    """One webhook body, shared by a duplicate so copies sent at the same attempt are byte-identical."""

    body: dict
    _sent_as: tuple | None = None
    _raw: bytes = b""

    def encoded(self, attempt: int, url: str) -> bytes:
        """The bytes for try number `attempt` (1 first) to `url`, serialized once per attempt and URL."""
        if self._sent_as != (attempt, url):
            document = {**self.body, "meta": {"attempt": attempt, "delivered_to": url}}
            self._raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self._sent_as = (attempt, url)
        return self._raw


@dataclass(order=True)
class _Attempt:
    """A scheduled POST of one event copy; ordered by due time, then by submission."""

    due: float
    seq: int
    event: _Event = field(compare=False)
    attempts: int = field(default=0, compare=False)  # failed tries so far; this POST is try attempts + 1


class WebhookDelivery:
    """Queue world events and POST them, signed, to the webhook URL from a background thread."""

    def __init__(
        self,
        url: str | None,
        signing_key,
        chaos: Chaos | None = None,
        *,
        rng: random.Random | None = None,
        max_attempts: int = 5,
        timeout: float = 5,
        backoff_base: float = 0.5,
        reorder_hold: float = REORDER_HOLD_LIMIT,
        session: requests.Session | None = None,
    ):
        self.url = url
        self.signing_key = signing_key
        self.chaos = chaos if chaos is not None else Chaos()
        self.max_attempts = max(1, int(max_attempts))
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.reorder_hold = reorder_hold
        self._rng = rng if rng is not None else random.Random()
        self._session = session
        self._owns_session = session is None
        self._seq = itertools.count()
        self._schedule: list[_Attempt] = []
        self._held: _Attempt | None = None
        self._held_until = 0.0
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._counts = dict.fromkeys(
            (
                "submitted",
                "delivered",
                "dropped",
                "dropped_no_url",
                "duplicated",
                "reordered",
                "failed_attempts",
                "given_up",
            ),
            0,
        )

    def set_url(self, url: str | None) -> None:
        """Point delivery at a (new) webhook URL; None stops delivering."""
        with self._cond:
            self.url = url
            self._cond.notify_all()

    def submit(self, body: dict) -> None:
        """Enqueue one event body (a world listener: called under the world lock, never blocks)."""
        with self._cond:
            self._counts["submitted"] += 1
            if self.url is None:
                self._counts["dropped_no_url"] += 1
                return
            # Always draw three numbers so one knob's rate never shifts another knob's choices.
            drop, duplicate, reorder = self._rng.random(), self._rng.random(), self._rng.random()
            if drop < self.chaos.drop:
                self._counts["dropped"] += 1
                return
            now = time.monotonic()
            due = now + max(0, self.chaos.delay_ms) / 1000.0
            event = _Event(body)
            copies = [self._attempt(event, due)]
            if duplicate < self.chaos.duplicate:
                self._counts["duplicated"] += 1
                copies.append(self._attempt(event, due))
            held, self._held = self._held, None
            if held is None and reorder < self.chaos.reorder:
                self._counts["reordered"] += 1
                self._held = copies.pop(0)
                self._held_until = now + self.reorder_hold
            for copy in copies:
                heapq.heappush(self._schedule, copy)
            if held is not None:
                # A held-back event goes out right after the event that overtook it.
                held.due = max(held.due, due)
                held.seq = next(self._seq)
                heapq.heappush(self._schedule, held)
            self._cond.notify_all()

    def _attempt(self, event: _Event, due: float) -> _Attempt:
        return _Attempt(due, next(self._seq), event)

    @property
    def pending(self) -> int:
        """Events scheduled, held back or being sent right now."""
        with self._cond:
            return self._pending()

    def _pending(self) -> int:
        return len(self._schedule) + self._in_flight + (1 if self._held is not None else 0)

    def stats(self) -> dict:
        """The delivery counters and settings, for tests and the /_sim/delivery debug route."""
        with self._cond:
            return {**self._counts, "pending": self._pending(), "url": self.url, "running": self.running}

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending (True) or `timeout` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending() == 0, timeout)

    def start(self) -> WebhookDelivery:
        """Start the worker thread (a no-op when it already runs)."""
        with self._cond:
            if self.running:
                return self
            self._stopping = False
            if self._session is None:
                self._session = requests.Session()
                self._owns_session = True
            self._thread = threading.Thread(target=self._run, name="sim-webhook-delivery", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the worker and join it within a bound; undelivered events are discarded. Idempotent."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout if timeout is not None else self.timeout + 2)
        with self._cond:
            self._schedule.clear()
            self._held = None
            self._thread = None
            session = self._session if self._owns_session else None
            if session is not None:
                self._session = None
        if session is not None:
            session.close()

    def _next_due(self) -> _Attempt | None:
        """Wait (holding the condition) for the next attempt that is due; None when stopping."""
        while not self._stopping:
            now = time.monotonic()
            if self._held is not None and now >= self._held_until:
                heapq.heappush(self._schedule, self._held)
                self._held = None
            if self._schedule and self._schedule[0].due <= now:
                self._in_flight += 1
                return heapq.heappop(self._schedule)
            deadlines = [attempt.due for attempt in self._schedule[:1]]
            if self._held is not None:
                deadlines.append(self._held_until)
            self._cond.wait(max(0.0, min(deadlines) - now) if deadlines else None)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                attempt = self._next_due()
                url, session = self.url, self._session
            if attempt is None:
                return
            delivered = url is not None and self._post(session, url, attempt)
            with self._cond:
                self._in_flight -= 1
                self._settle(attempt, url, delivered)
                self._cond.notify_all()

    def _post(self, session: requests.Session, url: str, attempt: _Attempt) -> bool:
        """POST one signed copy, numbered by its try; True on a 2xx answer."""
        raw = attempt.event.encoded(attempt.attempts + 1, url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **sign(raw, self.signing_key),
        }
        try:
            response = session.post(url, data=raw, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.info("webhook to %s failed: %s", url, exc)
            return False
        response.close()
        if 200 <= response.status_code < 300:
            return True
        log.info("webhook to %s answered %s", url, response.status_code)
        return False

    def _settle(self, attempt: _Attempt, url: str | None, delivered: bool) -> None:
        """Count the outcome and reschedule a failed attempt with exponential backoff."""
        if url is None:
            self._counts["dropped_no_url"] += 1
            return
        if delivered:
            self._counts["delivered"] += 1
            return
        self._counts["failed_attempts"] += 1
        attempt.attempts += 1
        if attempt.attempts >= self.max_attempts or self._stopping:
            self._counts["given_up"] += 1
            log.warning("webhook given up after %d attempts", attempt.attempts)
            return
        attempt.due = time.monotonic() + min(MAX_BACKOFF, self.backoff_base * 2 ** (attempt.attempts - 1))
        heapq.heappush(self._schedule, attempt)
