"""The live hub: coalesces changed keys for one tick, renders each changed atom once, fans out frames.

The bus calls `notify(keys)` after each committed event. The hub's thread waits one tick so a
burst of events for the same row becomes one render, asks its catalogue which UI atoms those keys
touch, renders each atom once, and gives every subscriber one frame holding the out-of-band
fragments for the atoms its page shows (a frame is a few WebSocket messages: see `messages`). A subscriber's outgoing queue is bounded: one that falls
behind is emptied and sent a fresh snapshot instead, so a stuck browser never grows memory.
"""

from __future__ import annotations

import logging
import queue
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from flask import current_app
from markupsafe import escape

from console.live.frames import Frame, frame_bytes
from console.live.ui import oob

log = logging.getLogger("console.hub")
# A send that returns at once instead of blocking, for one call (Linux, the BSDs, macOS).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", None)

# Close code telling browsers the server is restarting, so the htmx ws extension reconnects.
SERVICE_RESTART = 1012

_ROOT_TAG = re.compile(r"^\s*<([A-Za-z][A-Za-z0-9-]*)")
# The browser parses each message in one context chosen by its first element: a <tr> after a
# <div> is dropped, so table parts travel in messages of their own kind.
_PARSE_GROUP = {"tr": "rows", "tbody": "table-bodies", "thead": "table-bodies", "tfoot": "table-bodies",
                "td": "cells", "th": "cells", "caption": "table-bodies", "colgroup": "table-bodies"}


@dataclass(frozen=True)
class Piece:
    """One atom as rendered this tick: its element id, its HTML (None once it is gone) and its list.

    `limit` caps how many items of this kind a page's list holds: a new item beyond it is not added
    (the page says how many it leaves out), so a huge call center cannot flood a dashboard.
    """

    dom_id: str
    html: str | None
    container: str | None = None
    placement: str = "beforeend"
    wrapper: str = "div"
    order: tuple = ()
    limit: int | None = None

    # The three fragments a page can need, built once per tick however many pages get them.
    @cached_property
    def replacement(self) -> str:
        return str(oob(self.html)) if self.html is not None else ""

    @cached_property
    def addition(self) -> str:
        target = f"{self.placement}:#{self.container}"
        return f'<{self.wrapper} hx-swap-oob="{escape(target)}">{self.html}</{self.wrapper}>'

    @cached_property
    def deletion(self) -> str:
        return f'<div id="{escape(self.dom_id)}" hx-swap-oob="delete" data-gone="1"></div>'


class Catalogue(Protocol):
    """What the hub needs to know about the pages: which atoms keys touch, and how to render them."""

    def accepts(self, watch: str) -> bool: ...

    def atoms(self, keys: set[str]) -> Iterable[Hashable]: ...

    def topics(self, atom: Hashable) -> set[str]: ...

    def render(self, atom: Hashable) -> Piece: ...

    def snapshot(self, watch: str) -> tuple[list[str], set[str]]: ...


def messages(fragments: Iterable[str]) -> Frame:
    """Group OOB fragments into as few WebSocket messages as the browser's HTML parser allows.

    Order is kept within a group; fragments in different groups target different elements. The
    frame encodes itself for the wire once, however many pages it is sent to (ws_frames).
    """
    groups: dict[str, list[str]] = {}
    for fragment in fragments:
        if not fragment:
            continue
        root = _ROOT_TAG.match(fragment)
        group = _PARSE_GROUP.get(root.group(1).lower(), "flow") if root else "flow"
        groups.setdefault(group, []).append(fragment)
    return Frame("".join(parts) for parts in groups.values())


def fragment_for(piece: Piece, shown: set[str]) -> str:
    """The OOB fragment that brings one browser's copy of `piece` up to date, given what it shows."""
    present = piece.html is not None
    if piece.container is None:
        return piece.replacement
    if present and piece.dom_id in shown:
        return piece.replacement
    if present:
        if piece.limit is not None:
            kind = piece.dom_id.split("__", 1)[0] + "__"
            if sum(1 for held in shown if held.startswith(kind)) >= piece.limit:
                return ""
        shown.add(piece.dom_id)
        return piece.addition
    if piece.dom_id in shown:
        shown.discard(piece.dom_id)
        return piece.deletion
    return ""


def draw_changes(catalogue: Catalogue, keys: set[str], watched: set[str]) -> list[tuple[Hashable, Piece, set[str]]]:
    """Render each atom the keys touch that a watched page shows, once: (atom, piece, topics)."""
    drawn = []
    for atom in catalogue.atoms(keys):
        topics = catalogue.topics(atom)
        if not topics & watched:
            continue
        try:
            piece = catalogue.render(atom)
        except Exception:  # one broken atom must not hold back every other change
            log.exception("rendering %r failed", atom)
            continue
        drawn.append((atom, piece, topics))
    return drawn


class Subscription:
    """One open page: what it watches, which list items it shows, and its bounded outgoing queue.

    When the queue overflows, the backlog is dropped and the page is marked behind: nothing more
    is queued for it until its sender comes back for a frame, and then it gets a fresh snapshot.
    A stuck socket therefore costs neither memory nor repeated snapshot renders.
    """

    def __init__(self, hub: Hub, watch: str, root: str, limit: int):
        self.hub = hub
        self.watch = watch
        self.root = root
        self.shown: set[str] = set()
        self.limit = limit
        self.overflows = 0
        self.behind = False
        self.closed = False
        self.close_code: int | None = None
        self._resync_requested = False
        self._frames: deque[list[str]] = deque()
        self._lock = threading.Lock()
        # The socket's thread waits on this only when it found no frame; a frame, a close or a
        # resync puts one token in. A SimpleQueue waits in C, which matters with a hundred pages.
        self._bell: queue.SimpleQueue = queue.SimpleQueue()
        self._listening = False
        # Direct sending (see attach): the socket, its compression window, and whether the socket's
        # thread is writing a frame right now.
        self._socket = None
        self._window: int | None = None
        self._sending = False
        self.direct_frames = 0
        self.written_at = time.monotonic()

    def _ring(self) -> None:
        """Wake the socket's thread if it is waiting (call with the lock held; rings at most once per wait)."""
        if self._listening:
            self._listening = False
            self._bell.put(None)

    def deliver(self, frame: list[str]) -> bool:
        """Queue a frame (its messages) for the socket; False when it was dropped (closed or behind)."""
        if not frame:
            return True
        with self._lock:
            if self.closed or self.behind:
                return False
            if len(self._frames) >= self.limit:
                self._frames.clear()
                self.overflows += 1
                self.behind = True
                log.info("a %s page fell behind; it gets a fresh snapshot when it catches up", self.watch)
                return False
            if self._socket is not None and not self._frames and not self._sending and self._send_now(frame):
                return True
            self._frames.append(frame)
            self._ring()
            return True

    def attach(self, sock, window_bits: int | None) -> None:
        """Let the hub write frames to this socket itself while the socket keeps up.

        A hundred pages meant a hundred threads woken every tick just to write a frame each. With
        a socket attached, a frame that finds nothing queued and the socket's thread idle is
        written at once without blocking; only what the socket cannot take now (a slow browser)
        goes to the queue and the thread, which writes it blocking, in order, as before.
        """
        if _DONTWAIT is None or isinstance(sock, ssl.SSLSocket):
            return  # no per-call non-blocking send here (platform, or TLS): the thread writes everything
        with self._lock:
            self._socket, self._window = sock, window_bits

    def _send_now(self, frame) -> bool:
        """Write a frame without blocking (lock held); False when the socket took none of it."""
        data = frame_bytes(frame, self._window)
        try:
            sent = self._socket.send(data, _DONTWAIT)
        except BlockingIOError:
            return False
        except (OSError, ValueError):  # gone, or a socket that cannot send this way: its thread takes over
            self._socket = None
            return False
        self.direct_frames += 1
        self.written_at = time.monotonic()
        if sent < len(data):
            self._frames.append(data[sent:])  # the rest, as raw bytes, before anything newer
            self._ring()
        return True

    def resync(self, frame: list[str]) -> None:
        """Queue a snapshot frame, replacing any backlog, and start taking changes again."""
        with self._lock:
            if self.closed:
                return
            self._frames.clear()
            self._frames.append(frame)
            self.behind = False
            self._resync_requested = False
            self._ring()

    def next_frame(self, timeout: float | None = None) -> list[str] | None:
        """The next frame's messages, waiting up to `timeout` seconds (None when there is none yet)."""
        with self._lock:
            ask = self.behind and not self._frames and not self._resync_requested and not self.closed
            if ask:
                self._resync_requested = True
        if ask:
            self.hub.request_snapshot(self)
        with self._lock:
            if self._frames:
                return self._take()
            if self.closed:
                return None
            self._listening = True
        try:
            self._bell.get(timeout=timeout)
        except queue.Empty:
            pass
        with self._lock:
            self._listening = False
            return self._take() if self._frames else None

    def _take(self):
        """The oldest frame, which the socket's thread now writes (the hub waits for `sent`)."""
        self._sending = self._socket is not None
        return self._frames.popleft()

    def claim(self) -> list:
        """The socket's thread is about to write: the hub must not write meanwhile.

        Returns what was queued since the thread last looked, which it must write before anything
        of its own: the hub may have written part of a frame in between and queued the rest, and a
        heartbeat or a ping written before that rest would land inside the frame.
        """
        with self._lock:
            self._sending = True
            backlog = list(self._frames)
            self._frames.clear()
            return backlog

    def sent(self) -> None:
        """The socket's thread has written what it took or claimed: the hub may write directly again."""
        with self._lock:
            self._sending = False
            self.written_at = time.monotonic()

    def pending(self) -> int:
        """How many frames wait to be sent."""
        with self._lock:
            return len(self._frames)

    def close(self, code: int | None = None) -> None:
        """Stop accepting frames and wake the sender so it can end the socket."""
        with self._lock:
            self.closed = True
            self.close_code = code
            self._socket = None  # the server closes it once the socket's thread returns
            self._frames.clear()
            self._ring()


@dataclass
class HubStats:
    """Counters tests and the admin page read: ticks run, atoms rendered (the latest kept), frames, snapshots."""

    ticks: int = 0
    renders: int = 0
    frames: int = 0
    snapshots: int = 0
    rendered_atoms: deque = field(default_factory=lambda: deque(maxlen=512))


class Hub:
    """Subscribers, the coalescing tick, render-once fan-out; the thread starts on the first subscriber."""

    def __init__(self, app, catalogue: Catalogue, *, tick: float = 0.1, queue_limit: int = 32):
        self.app = app
        self.catalogue = catalogue
        self.tick = tick
        self.queue_limit = queue_limit
        self.stats = HubStats()
        self.metrics = None  # optional: tick / frame / render hooks (console.metrics.ConsoleMetrics)
        # Optional: draws changes in a child process (console.render_process), leaving this process's
        # interpreter to the webhooks; started with the hub's thread when the app asks for one.
        self.renderer = None
        # The HTML each list item or block was last pushed with: a render that comes out the same
        # (a key changed but nothing a page shows did) is not sent again.
        self._last_html: dict[tuple[str, str], str] = {}
        self._subscribers: set[Subscription] = set()
        self._pending_keys: set[str] = set()
        self._first_pending: float | None = None
        self._want_snapshot: set[Subscription] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, watch: str, root: str = "") -> Subscription:
        """Register a page watching `watch` (served under URL prefix `root`); its snapshot comes first."""
        if not self.catalogue.accepts(watch):
            raise ValueError(f"nothing to watch called {watch!r}")
        subscription = Subscription(self, watch, root, self.queue_limit)
        with self._wake:
            if self._stopping:
                raise RuntimeError("the live hub has stopped")
            self._subscribers.add(subscription)
            self._want_snapshot.add(subscription)
            self._start_thread()
            self._wake.notify()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a closed page."""
        subscription.close(subscription.close_code)
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
            subscription.close(SERVICE_RESTART)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        if self.renderer is None and self.app.config.get("CONSOLE_RENDER_PROCESS"):
            from console.live.render_process import start_render_process

            self.renderer = start_render_process(self.app)
        try:
            self._tick_until_stopped()
        finally:
            if self.renderer is not None:
                self.renderer.stop()
                self.renderer = None

    def _tick_until_stopped(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._want_snapshot and not self._pending_keys:
                    self._wake.wait()
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
            started = time.perf_counter()
            try:
                self.run_tick(keys, snapshots, subscribers)
            except Exception:  # a rendering bug must not kill live updates for everyone
                log.exception("live hub tick failed")
            if self.metrics is not None:
                self.metrics.tick(time.perf_counter() - started)

    def run_tick(self, keys: set[str], snapshots: Iterable[Subscription], subscribers: list[Subscription]) -> None:
        """Send due snapshots, then render each atom the keys touch once and fan the frames out."""
        self.stats.ticks += 1
        by_root: dict[str, list[Subscription]] = {}
        for subscription in subscribers:
            by_root.setdefault(subscription.root, []).append(subscription)
        due = set(snapshots)
        for root, group in by_root.items():
            with self._render_context(root):
                for subscription in group:
                    if subscription in due:
                        self._send_snapshot(subscription)
                if keys:
                    self._send_changes(keys, group)

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

    def _draw(self, keys: set[str], watched: set[str], root: str) -> list[tuple[Hashable, Piece, set[str]]]:
        """The changed atoms some page watches, drawn: in the render process when there is one."""
        started = time.perf_counter()
        if self.renderer is not None:
            try:
                drawn = self.renderer.draw(keys, watched, root)
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

    def _send_changes(self, keys: set[str], group: list[Subscription]) -> None:
        watched = {subscription.watch for subscription in group}
        root = group[0].root
        drawn = self._draw(keys, watched, root)
        if not drawn:
            return
        pieces = []
        for atom, piece, topics in drawn:
            self.stats.renders += 1
            self.stats.rendered_atoms.append(atom)
            last = (root, piece.dom_id)
            if piece.html is None:
                self._last_html.pop(last, None)
            elif self._last_html.get(last) == piece.html:
                continue
            else:
                self._last_html[last] = piece.html
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

    def _render_context(self, root: str):
        """A request context under the subscribers' URL prefix, so url_for in macros builds their links."""
        return self.app.test_request_context("/", base_url=f"http://live.invalid{root}")


def get_hub() -> Hub:
    """The current app's live hub."""
    return current_app.extensions["console.hub"]
