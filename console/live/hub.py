"""The live hub: coalesces changed keys for one tick, renders each changed atom once, fans out frames.

The bus calls `notify(keys)` after each committed event. The hub's thread waits one tick so a
burst of events for the same row becomes one render, asks its catalogue which UI atoms those keys
touch, renders each atom once (console.live.pieces), and gives every subscriber one frame holding
the out-of-band fragments for the atoms its page shows. Each subscriber's queue is bounded
(console.live.subscription). A tick draws every timer as of one instant, read from the app's
clock, and sends that instant to the render process when one draws for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app

from console.live.pieces import Catalogue, Piece, draw_changes, fragment_for, messages
from console.live.render_process import start_render_process
from console.live.subscription import Subscription
from console.live.ui import clock_of, draw_at

log = logging.getLogger("console.hub")

# Close code telling browsers the server is restarting, so the htmx ws extension reconnects.
SERVICE_RESTART = 1012
# How often the hub forgets the last HTML of items no open page can show any more, and the most it
# keeps whatever the pages (past that, it forgets everything: a repeat is sent again, nothing lost).
FORGET_SECONDS = 1.0
MAX_PUSHED = 20_000
# With pages open and nothing happening, the hub asks this often whether time alone changed what they
# show (console.live.shift: a new KPI day redraws every queue's figures with no event to say so).
IDLE_CHECK_SECONDS = 1.0


class PageLimit(Exception):
    """A page refused because its session or its user already has as many live pages open as allowed."""


@dataclass
class HubStats:
    """Counters tests and the admin page read: ticks run, atoms rendered (the latest kept), frames, snapshots."""

    ticks: int = 0
    renders: int = 0
    frames: int = 0
    snapshots: int = 0
    rendered_atoms: deque = field(default_factory=lambda: deque(maxlen=512))


class Hub:
    """Subscribers, the coalescing tick, render-once fan-out; the thread starts on the first subscriber.

    `app_factory` builds the render process's own app from the settings (a top-level function, so
    it can be sent to a fresh interpreter); without one the hub always draws in this process.
    """

    def __init__(self, app: Flask, catalogue: Catalogue, *, tick: float = 0.1, queue_limit: int = 32,
                 app_factory: Callable[[dict], Flask] | None = None):
        self.app = app
        self.app_factory = app_factory
        self.catalogue = catalogue
        self.tick = tick
        self.queue_limit = queue_limit
        self.stats = HubStats()
        self.metrics = None  # optional: tick / frame / render hooks (console.web.metrics.ConsoleMetrics)
        # Optional: draws changes in a child process (console.live.render_process), leaving this process's
        # interpreter to the webhooks; started with the hub's thread when the app asks for one.
        self.renderer = None
        # The HTML each list item or block was last pushed with, per URL prefix: a render that comes
        # out the same (a key changed but nothing a page shows did) is not sent again. Kept only
        # while a page there can show the item (see _forget_unseen): (html, topics, is a list item).
        self._last_html: dict[tuple[str, str], tuple[str, frozenset[str], bool]] = {}
        self.forget_every = FORGET_SECONDS
        self.idle_check = IDLE_CHECK_SECONDS
        self._forget_due = 0.0
        self._subscribers: set[Subscription] = set()
        self._pending_keys: set[str] = set()
        self._first_pending: float | None = None
        self._want_snapshot: set[Subscription] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, watch: str, root: str = "", *, user: str | None = None, session: str | None = None,
                  per_user: int = 0, per_session: int = 0) -> Subscription:
        """Register a page watching `watch` (served under URL prefix `root`); its snapshot comes first.

        A page is refused with PageLimit when its session (`per_session`) or its user (`per_user`)
        already has that many pages open here; 0, or no session or user, means no limit.
        """
        if not self.catalogue.accepts(watch):
            raise ValueError(f"nothing to watch called {watch!r}")
        subscription = Subscription(self, watch, root, self.queue_limit)
        subscription.user, subscription.session = user, session
        with self._wake:
            if self._stopping:
                raise RuntimeError("the live hub has stopped")
            self._check_limits(user, session, per_user, per_session)
            self._subscribers.add(subscription)
            self._want_snapshot.add(subscription)
            self._start_thread()
            self._wake.notify()
        return subscription

    def _check_limits(self, user: str | None, session: str | None, per_user: int, per_session: int) -> None:
        """Raise PageLimit when the session or the user already has its most pages open (lock held)."""
        # A page that is closing (its socket saying goodbye) no longer counts.
        if session and per_session and sum(s.session == session and not s.closed
                                           for s in self._subscribers) >= per_session:
            raise PageLimit(f"This browser already has {per_session} live pages open: close one and this page "
                            "reconnects by itself.")
        if user and per_user and sum(s.user == user and not s.closed for s in self._subscribers) >= per_user:
            raise PageLimit(f"{user} already has {per_user} live pages open: close one and this page reconnects "
                            "by itself.")

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a closed page."""
        subscription.close()
        with self._wake:
            self._subscribers.discard(subscription)
            self._want_snapshot.discard(subscription)

    def subscriber_count(self) -> int:
        """How many pages are connected."""
        with self._wake:
            return len(self._subscribers)

    def request_snapshot(self, subscription: Subscription) -> None:
        """Send this subscriber a full snapshot at the next tick (it fell behind or just connected)."""
        with self._wake:
            if subscription in self._subscribers:
                self._want_snapshot.add(subscription)
                self._wake.notify()

    def broadcast(self, messages: list[str]) -> int:
        """Send every open page the same frame now (a page-wide notice, e.g. data paused); how many took it."""
        with self._wake:
            subscribers = list(self._subscribers)
        return sum(subscriber.deliver(messages) for subscriber in subscribers)

    # -- events -------------------------------------------------------------------------------

    def notify(self, keys: Iterable[str], event=None) -> None:
        """Bus listener: remember changed keys for the next tick (cheap; never renders here)."""
        keys = set(keys)
        if not keys:
            return
        with self._wake:
            if not self._subscribers:
                return
            if self._first_pending is None:
                self._first_pending = time.monotonic()
            idle = not self._pending_keys
            self._pending_keys |= keys
            if idle:  # a hub already holding keys renders these with them: waking it again only costs
                self._wake.notify()

    # -- lifecycle ----------------------------------------------------------------------------

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close every subscriber as 'service restarting' (browsers reconnect) and end the thread."""
        with self._wake:
            self._stopping = True
            subscribers = list(self._subscribers)
            self._subscribers.clear()
            self._want_snapshot.clear()
            self._wake.notify_all()
        for subscription in subscribers:
            subscription.close(SERVICE_RESTART, "server restarting")
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        if self.renderer is None and self.app.config.get("CONSOLE_RENDER_PROCESS"):
            if self.app_factory is None:
                log.warning("no app factory to build a render process with; the hub renders in this process")
            else:
                self.renderer = start_render_process(self.app, self.app_factory)
        try:
            self._tick_until_stopped()
        finally:
            if self.renderer is not None:
                self.renderer.stop()
                self.renderer = None

    def _tick_until_stopped(self) -> None:
        while True:
            if self._idle_wait():
                self.notify(self._due_keys())
                continue
            with self._wake:
                if self._stopping:
                    return
                due = (self._first_pending or time.monotonic()) + self.tick
                wait = due - time.monotonic()
                if self._pending_keys and wait > 0 and not self._want_snapshot:
                    # Coalesce: let the burst finish before rendering (woken early only to stop).
                    self._wake.wait(wait)
                    if self._stopping:
                        return
                    if time.monotonic() < due:
                        continue
                keys, self._pending_keys, self._first_pending = self._pending_keys, set(), None
                snapshots, self._want_snapshot = self._want_snapshot, set()
                subscribers = list(self._subscribers)
            keys |= self._due_keys()
            started = time.perf_counter()
            try:
                self.run_tick(keys, snapshots, subscribers)
            except Exception:  # a rendering bug must not kill live updates for everyone
                log.exception("live hub tick failed")
            if self.metrics is not None:
                self.metrics.tick(time.perf_counter() - started)

    def _idle_wait(self) -> bool:
        """Wait for work; True when a quiet while passed instead, with pages open (time may have changed one)."""
        with self._wake:
            while not self._stopping and not self._want_snapshot and not self._pending_keys:
                if not self._wake.wait(self.idle_check) and self._subscribers:
                    return True
            return False

    def _due_keys(self) -> set[str]:
        """What time alone has changed (a new KPI day, say), as change keys; the catalogue knows.

        Asked on every tick and, when idle, every `idle_check`: a queue no event touches must turn
        over at midnight whether other queues keep the hub busy or nothing happens at all. The
        catalogue's answer costs a comparison until the period moves.
        """
        due = getattr(self.catalogue, "due_keys", None)
        if due is None:
            return set()
        try:
            with self.app.app_context():
                return set(due(clock_of(self.app)()))
        except Exception:  # a bad look at the clock must not stop live updates
            log.exception("live hub: asking what time changed failed")
            return set()

    def run_tick(self, keys: set[str], snapshots: Iterable[Subscription], subscribers: list[Subscription]) -> None:
        """Send due snapshots, then render each atom the keys touch once and fan the frames out.

        Everything this tick draws shows the time as of one instant, here and in the render process.
        """
        self.stats.ticks += 1
        at = clock_of(self.app)()
        by_root: dict[str, list[Subscription]] = {}
        for subscription in subscribers:
            by_root.setdefault(subscription.root, []).append(subscription)
        due = set(snapshots)
        for root, group in by_root.items():
            with self._render_context(root):
                draw_at(at)
                for subscription in group:
                    if subscription in due:
                        self._send_snapshot(subscription)
                if keys:
                    self._send_changes(keys, group, at)
        now = time.monotonic()
        if now >= self._forget_due or len(self._last_html) > MAX_PUSHED:
            self._forget_due = now + self.forget_every
            self._forget_unseen(by_root)

    def _forget_unseen(self, by_root: dict[str, list[Subscription]]) -> None:
        """Forget the last HTML of items no open page can show: not watched, or a list item none holds.

        An ended conference's rows leave every page, so their HTML goes too; a page opened later
        gets a snapshot, and a render equal to a forgotten one is simply sent again.
        """
        watched = {root: {s.watch for s in group} for root, group in by_root.items()}
        shown = {root: set().union(*(s.shown for s in group)) for root, group in by_root.items()}
        for key, (_, topics, listed) in list(self._last_html.items()):
            root, item = key
            if not topics & watched.get(root, set()) or (listed and item not in shown[root]):
                del self._last_html[key]
        if len(self._last_html) > MAX_PUSHED:
            self._last_html.clear()

    def _send_snapshot(self, subscription: Subscription) -> None:
        try:
            fragments, shown = self.catalogue.snapshot(subscription.watch)
        except Exception:  # the page keeps what it shows and still gets later changes
            log.exception("rendering the %s snapshot failed", subscription.watch)
            return
        subscription.shown = set(shown)
        self.stats.snapshots += 1
        frame = messages(fragments)
        subscription.resync(frame)
        self.stats.frames += 1
        if self.metrics is not None:
            self.metrics.frame("snapshot", frame)

    def _draw(self, keys: set[str], watched: set[str], root: str,
              at: datetime) -> list[tuple[Hashable, Piece, set[str]]]:
        """The changed atoms some page watches, drawn as of `at`: in the render process when there is one."""
        started = time.perf_counter()
        if self.renderer is not None:
            try:
                drawn = self.renderer.draw(keys, watched, root, at)
            except Exception:  # the process died or answered nonsense: draw here from now on
                log.exception("the render process failed; the hub renders in this process from now on")
                self.renderer.stop()
                self.renderer = None
            else:
                if self.metrics is not None:
                    self.metrics.drawn(time.perf_counter() - started, "process")
                return drawn
        drawn = draw_changes(self.catalogue, keys, watched)
        if self.metrics is not None:
            self.metrics.drawn(time.perf_counter() - started, "inline")
        return drawn

    def _send_changes(self, keys: set[str], group: list[Subscription], at: datetime) -> None:
        watched = {subscription.watch for subscription in group}
        root = group[0].root
        drawn = self._draw(keys, watched, root, at)
        if not drawn:
            return
        pieces = []
        for atom, piece, topics in drawn:
            self.stats.renders += 1
            self.stats.rendered_atoms.append(atom)
            last = (root, piece.dom_id)
            if piece.html is None:
                self._last_html.pop(last, None)
            elif (pushed := self._last_html.get(last)) is not None and pushed[0] == piece.html:
                continue
            else:
                self._last_html[last] = (piece.html, frozenset(topics), piece.container is not None)
            pieces.append((piece, topics))
        if self.metrics is not None:
            self.metrics.rendered(len(drawn))
        pieces.sort(key=lambda item: (item[0].order, item[0].dom_id))
        per_watch = {watch: [piece for piece, topics in pieces if watch in topics] for watch in watched}
        # Pages showing the same items get the same frame: group it into messages once.
        frames: dict[tuple, list[str]] = {}
        for subscription in group:
            fragments = tuple(fragment_for(piece, subscription.shown) for piece in per_watch[subscription.watch])
            frame = frames.get(fragments)
            if frame is None:
                frame = frames[fragments] = messages(fragments)
            written = subscription.direct_frames
            if frame and subscription.deliver(frame):
                self.stats.frames += 1
                if self.metrics is not None:
                    self.metrics.frame("changes", frame, direct=subscription.direct_frames > written)
        for piece, _ in pieces:  # a drawing the catalogue keeps must not keep this tick's fragments too
            piece.forget_fragments()

    def _render_context(self, root: str):
        """A request context under the subscribers' URL prefix, so url_for in macros builds their links."""
        return self.app.test_request_context("/", base_url=f"http://live.invalid{root}")


def get_hub() -> Hub:
    """The current app's live hub."""
    return current_app.extensions["console.hub"]
