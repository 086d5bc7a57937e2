"""Benchmark subscribers: K /live WebSockets in one process, timing every element id they are sent.

Each subscriber keeps what a browser would show for the list items of its page (rows and cards,
by element id, replaced, added or deleted as frames arrive), so the benchmark can compare the
final view with the page the server renders from its store. Only list items are compared: they
are what a missed or misordered frame would get wrong.
"""

from __future__ import annotations

import bisect
import re
import selectors
import time
from collections import defaultdict

from console.bench.wire import Closed, WebSocketReader

# Readers sign in as a single sign-on proxy on this machine would (the bench's console believes it).
READER_HEADERS = {"X-Forwarded-User": "bench-reader"}


def reader_headers(name: str) -> dict:
    """Headers signing a page in as user `name`: each live socket is its own supervisor, as in a call
    center (one user holds only CONSOLE_MAX_SOCKETS_PER_USER live pages)."""
    return {"X-Forwarded-User": name}

_ITEM = re.compile(r'<(tr|article)\s[^>]*?\bid="([^"]+)".*?</\1>', re.DOTALL)
# An item's own removal (`<div id=X hx-swap-oob="delete">`) or a "newest N" list's (`hx-swap-oob="delete:#X"`).
_DELETED = re.compile(r'<div id="([^"]+)" hx-swap-oob="delete"|hx-swap-oob="delete:#([^"]+)"')
_ANY_ID = re.compile(r'\sid="([^"]+)"')
_TIMER = re.compile(r'<span class="timer[^"]*"[^>]*>[^<]*</span>')
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# Containers whose presence in a message means it is a snapshot that replaces the whole list.
CONTAINERS = ("conference-rows", "queue-rows", "participant-cards", "queued-call-rows")
_CONTAINER = re.compile(r'\sid="(' + "|".join(CONTAINERS) + r')"')
MARKED_KINDS = ("conference__", "conference-header__", "participant__", "queued-call__")


def visible_text(html: str) -> str:
    """An item's text as a reader sees it, without ticking timers (their first paint depends on the clock)."""
    html = _CSRF.sub("", _TIMER.sub("", html))
    return _SPACE.sub(" ", _TAG.sub(" ", html)).strip()


def items(html: str) -> dict[str, str]:
    """The list items (rows and cards) in a piece of HTML, by element id, as visible text."""
    return {match.group(2): visible_text(match.group(0)) for match in _ITEM.finditer(html)}


class _Parsed:
    """What one message means to a page: marked ids, whether it replaces the list, items, deletions."""

    __slots__ = ("deleted", "items", "marked", "replaces", "size")

    def __init__(self, message: str):
        self.size = len(message.encode())
        self.marked = [element for element in _ANY_ID.findall(message) if element.startswith(MARKED_KINDS)]
        self.replaces = _CONTAINER.search(message) is not None
        self.items = items(message)
        self.deleted = [own or listed for own, listed in _DELETED.findall(message)]


class Subscriber:
    """One /live socket: counts messages and bytes, times element ids, keeps the list items it shows."""

    def __init__(self, port: int, watch: str, deflate: bool = True, reader: str = "bench-reader"):
        self.port = port
        self.reader = reader
        self.deflate = deflate
        self.watch = watch
        self.messages = 0
        self.bytes = 0
        self.seen: dict[str, list[float]] = defaultdict(list)
        self.view: dict[str, str] = {}
        self.error: str | None = None
        self.last_message_at = 0.0
        self.socket: WebSocketReader | None = None

    def connect(self) -> WebSocketReader | None:
        try:
            self.socket = WebSocketReader(self.port, f"/live?watch={self.watch}", reader_headers(self.reader),
                                          deflate=self.deflate)
        except (OSError, Closed) as exc:
            self.error = f"connect failed: {exc}"
        return self.socket

    def take(self, message: str, parsed: _Parsed, now: float) -> None:
        self.messages += 1
        self.bytes += parsed.size
        self.last_message_at = now
        for element in parsed.marked:
            self.seen[element].append(now)
        if parsed.replaces:
            self.view.clear()
        self.view.update(parsed.items)
        for gone in parsed.deleted:
            self.view.pop(gone, None)

    def latencies(self, markers: list[tuple[float, list[str]]]) -> list[float]:
        """Seconds from each marked send to the first message after it carrying one of its ids."""
        found = []
        for sent, ids in markers:
            best = None
            for element in ids:
                times = self.seen.get(element)
                if not times:
                    continue
                at = bisect.bisect_left(times, sent)
                if at < len(times) and (best is None or times[at] < best):
                    best = times[at]
            if best is not None:
                found.append(best - sent)
        return found


class _Parses(dict):
    """Parsed messages by text: subscribers of the same page are sent the same frames, parsed once."""

    def parse(self, message: str) -> _Parsed:
        parsed = self.get(message)
        if parsed is None:
            if len(self) > 2000:
                self.clear()
            parsed = self[message] = _Parsed(message)
        return parsed


def run_subscribers(connection, port: int, watches: list[str], *, deflate: bool = True) -> None:
    """Subscriber process: connect every watch, read them all on one loop, answer the parent over `connection`."""
    subscribers = [Subscriber(port, watch, deflate, f"bench-reader-{n:03d}") for n, watch in enumerate(watches)]
    selector = selectors.DefaultSelector()
    selector.register(connection, selectors.EVENT_READ, None)
    for subscriber in subscribers:
        if subscriber.connect() is not None:
            selector.register(subscriber.socket, selectors.EVENT_READ, subscriber)
    parses = _Parses()
    while True:
        for key, _ in selector.select(1.0):
            subscriber = key.data
            if subscriber is not None:
                try:
                    messages = subscriber.socket.read()
                except Closed as exc:
                    subscriber.error = str(exc)
                    selector.unregister(subscriber.socket)
                    subscriber.socket.close()
                    continue
                now = time.time()
                for message in messages:
                    subscriber.take(message, parses.parse(message), now)
            elif _answer(connection, subscribers):
                selector.close()
                return


def _answer(connection, subscribers: list[Subscriber]) -> bool:
    """Answer one request from the parent; True when it asked to stop (every socket is closed then)."""
    request = connection.recv()
    command = request[0]
    if command == "ready":
        connection.send(sum(1 for s in subscribers if s.messages > 0 or s.error))
    elif command == "compressed":
        connection.send(sum(1 for s in subscribers if s.socket is not None and s.socket.deflate))
    elif command == "counts":
        connection.send([(s.messages, s.bytes, s.socket.wire_bytes if s.socket else 0) for s in subscribers])
    elif command == "quiet":
        connection.send(max((s.last_message_at for s in subscribers), default=0.0))
    elif command == "latencies":
        markers = request[1]
        connection.send([s.latencies(markers) for s in subscribers])
    elif command == "views":
        connection.send([(s.watch, dict(s.view), s.error) for s in subscribers])
    elif command == "stop":
        for subscriber in subscribers:
            if subscriber.socket is not None:
                subscriber.socket.close()
        connection.send("stopped")
        return True
    return False
