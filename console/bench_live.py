"""Benchmark subscribers: K /live WebSockets in one process, timing every element id they are sent.

Each subscriber keeps what a browser would show for the list items of its page (rows and cards,
by element id, replaced, added or deleted as frames arrive), so the benchmark can compare the
final view with the page the server renders from its store. Only list items are compared: they
are what a missed or misordered frame would get wrong.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections import defaultdict

from .bench_server import READER_HEADERS

_ITEM = re.compile(r'<(tr|article)\s[^>]*?\bid="([^"]+)".*?</\1>', re.DOTALL)
_DELETED = re.compile(r'<div id="([^"]+)" hx-swap-oob="delete"')
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


class Subscriber:
    """One /live socket: counts messages and bytes, times element ids, keeps the list items it shows."""

    def __init__(self, base_ws_url: str, watch: str):
        self.url = f"{base_ws_url}/live?watch={watch}"
        self.watch = watch
        self.messages = 0
        self.bytes = 0
        self.first_at: float | None = None
        self.seen: dict[str, list[float]] = defaultdict(list)
        self.view: dict[str, str] = {}
        self.error: str | None = None
        self.stop = threading.Event()
        self.last_message_at = 0.0
        self.thread = threading.Thread(target=self._run, name=f"sub-{watch}", daemon=True)

    def _take(self, message: str, now: float) -> None:
        self.messages += 1
        self.bytes += len(message.encode())
        self.last_message_at = now
        for element in _ANY_ID.findall(message):
            if element.startswith(MARKED_KINDS):
                self.seen[element].append(now)
        if _CONTAINER.search(message):
            self.view.clear()
        self.view.update(items(message))
        for gone in _DELETED.findall(message):
            self.view.pop(gone, None)

    def _run(self) -> None:
        import simple_websocket

        try:
            socket = simple_websocket.Client.connect(self.url, headers=READER_HEADERS)
        except Exception as exc:  # noqa: BLE001  reported, not raised: one bad socket must not end the run
            self.error = f"connect failed: {exc}"
            return
        try:
            while not self.stop.is_set():
                try:
                    message = socket.receive(timeout=0.5)
                except simple_websocket.ConnectionClosed:
                    self.error = "closed by the server"
                    return
                if message is not None:
                    self._take(message if isinstance(message, str) else message.decode(), time.time())
        finally:
            socket.close()

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


def run_subscribers(connection, base_ws_url: str, watches: list[str]) -> None:
    """Subscriber process: connect every watch, then answer the parent's requests over `connection`."""
    subscribers = [Subscriber(base_ws_url, watch) for watch in watches]
    for subscriber in subscribers:
        subscriber.thread.start()
    while True:
        request = connection.recv()
        command = request[0]
        if command == "ready":
            connection.send(sum(1 for s in subscribers if s.messages > 0 or s.error))
        elif command == "counts":
            connection.send([(s.messages, s.bytes) for s in subscribers])
        elif command == "quiet":
            connection.send(max((s.last_message_at for s in subscribers), default=0.0))
        elif command == "latencies":
            markers = request[1]
            connection.send([s.latencies(markers) for s in subscribers])
        elif command == "views":
            connection.send([(s.watch, dict(s.view), s.error) for s in subscribers])
        elif command == "stop":
            for subscriber in subscribers:
                subscriber.stop.set()
            for subscriber in subscribers:
                subscriber.thread.join(timeout=5)
            connection.send("stopped")
            return
