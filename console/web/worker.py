"""gunicorn's gthread worker, made so that no client can stop the console by being slow.

gthread hands a connection to a thread as soon as its first byte arrives, and that thread then
blocks until the request is whole: eighty clients sending their headers a byte at a time held every
thread, webhooks included. Here the worker's event loop reads each request itself, without a
thread, until its head and body are in (or its read deadline passes: 408), and only then hands it
to a thread pool chosen by what it is:

- ``POST …/webhooks/telnyx``: a pool of its own (``CONSOLE_WEBHOOK_THREADS``), so webhooks never
  wait behind pages or live sockets;
- a WebSocket upgrade: the live pool, one thread per open page, at most ``CONSOLE_MAX_SOCKETS``
  (one more is answered 503 with Retry-After, straight from the loop);
- everything else, pages and actions: the ``--threads`` pool.

Every connection handed on also gets a send deadline (``CONSOLE_SEND_STALL_SECONDS``): a write that
makes no progress for that long fails, so a browser that stopped reading frees its thread, and its
page reconnects for a fresh snapshot.

This leans on gunicorn 27's ``ThreadWorker`` (``TConn``, ``enqueue_req``, ``finish_request``,
``murder_pending``): pyproject pins gunicorn below 28, and tests/web/test_serving.py covers it.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

PAGES, WEBHOOKS, SOCKETS = "pages", "webhooks", "sockets"
WEBHOOK_PATH = b"/webhooks/telnyx"
HEAD_LIMIT = 64 * 1024  # bytes of request line and headers; more is answered 431
READ_SIZE = 64 * 1024
SOCKETS_BUSY_RETRY_SECONDS = 5

_REASONS = {408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class ServingLimits:
    """How much of each kind of work one serving process takes on, and how long a client may stall."""

    page_threads: int
    webhook_threads: int
    max_sockets: int
    read_seconds: float
    send_stall_seconds: float
    body_limit: int

    @classmethod
    def from_config(cls, config: Mapping, *, page_threads: int) -> ServingLimits:
        """The limits from the app's settings (defaults where the app has none, e.g. a bare WSGI app)."""
        webhook_max = int(config.get("CONSOLE_WEBHOOK_MAX_BYTES") or 1_048_576)
        return cls(
            page_threads=page_threads,
            webhook_threads=int(config.get("CONSOLE_WEBHOOK_THREADS") or 8),
            max_sockets=int(config.get("CONSOLE_MAX_SOCKETS") or 400),
            read_seconds=float(config.get("CONSOLE_REQUEST_READ_SECONDS") or 10),
            send_stall_seconds=float(config.get("CONSOLE_SEND_STALL_SECONDS") or 10),
            # Room for the webhook endpoint to answer an oversized webhook with its own 413.
            body_limit=max(webhook_max, 1_048_576) + 65_536,
        )


@dataclass
class Arrival:
    """A request the event loop is still reading: its connection, what came so far, and its deadline."""

    conn: Any  # gunicorn's TConn
    deadline: float
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class Head:
    """What the loop needs from a request head to know when the request is whole and where it goes."""

    end: int  # offset of the body's first byte
    kind: str
    content_length: int | None
    chunked: bool


def read_head(data: bytes | bytearray) -> Head | None:
    """The request head in `data`, or None while it is incomplete (the full parse is gunicorn's)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(data[:end]).split(b"\r\n")
    request_line = lines[0].split(b" ")
    method = request_line[0].upper() if request_line else b""
    target = request_line[1] if len(request_line) > 1 else b""
    length: int | None = None
    chunked = upgrade = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length" and value.isdigit() and len(value) <= 18:
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"upgrade" and b"websocket" in value.lower():
            upgrade = True
    path = target.split(b"?", 1)[0]
    if upgrade:
        kind = SOCKETS
    elif method == b"POST" and path.endswith(WEBHOOK_PATH):
        kind = WEBHOOKS
    else:
        kind = PAGES
    return Head(end=end + 4, kind=kind, content_length=length, chunked=chunked)


def request_is_whole(data: bytes | bytearray, head: Head) -> bool:
    """Whether the body has arrived too (a chunked one once its last chunk has)."""
    if head.chunked:
        return data.endswith(b"0\r\n\r\n") and len(data) > head.end
    return len(data) - head.end >= (head.content_length or 0)


def plain_answer(status: int, text: str, extra: dict[str, str] | None = None) -> bytes:
    """A short HTTP/1.1 answer that closes the connection, written by the loop without a thread."""
    body = (text + "\n").encode("utf-8")
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)),
               "Connection": "close", **(extra or {})}
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def stall_deadline(sock: socket.socket, seconds: float) -> None:
    """Make a blocking send on `sock` fail once it has made no progress for `seconds` (SO_SNDTIMEO)."""
    whole = int(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", whole, int((seconds - whole) * 1e6)))


class ConsoleWorker(ThreadWorker):
    """gthread with requests read by the event loop, a pool per kind of request, and send deadlines."""

    def run(self):
        self.limits = ServingLimits.from_config(getattr(self.wsgi, "config", {}), page_threads=self.cfg.threads)
        self.pools = {
            PAGES: self.tpool,
            WEBHOOKS: ThreadPoolExecutor(self.limits.webhook_threads, thread_name_prefix="webhook"),
            SOCKETS: ThreadPoolExecutor(self.limits.max_sockets, thread_name_prefix="live"),
        }
        self.arrivals: dict[Any, Arrival] = {}
        self.open_sockets = 0
        try:
            super().run()
        finally:
            for pool in self.pools.values():
                pool.shutdown(wait=False)

    def handle_exit(self, sig, frame):
        hub = getattr(self.wsgi, "extensions", {}).get("console.hub")
        if hub is not None:
            # Not in the signal handler itself: the hub takes locks. Open pages hear "service
            # restarting" (1012) at once and reconnect to whichever worker comes next.
            threading.Thread(target=hub.stop, name="hub-stop", daemon=True).start()
        super().handle_exit(sig, frame)

    def enqueue_req(self, conn):
        """Read the connection's next request in the loop instead of giving it a thread now."""
        if self.cfg.is_ssl:  # TLS is terminated by the proxy in front; gunicorn's own path stays as it was
            return super().enqueue_req(conn)
        held = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        arrival = Arrival(conn, time.monotonic() + self.limits.read_seconds, bytearray(held))
        if held and self._settle(arrival):
            return
        conn.sock.setblocking(False)
        self.arrivals[conn] = arrival
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, arrival))

    def _on_readable(self, arrival: Arrival, sock) -> None:
        try:
            chunk = sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was whole
            self._forget(arrival)
            self._close(arrival.conn)
            return
        arrival.data += chunk
        self._forget(arrival)  # off the poller before it is handed on or closed
        if not self._settle(arrival):
            self.arrivals[arrival.conn] = arrival
            self.poller.register(sock, selectors.EVENT_READ, partial(self._on_readable, arrival))

    def _settle(self, arrival: Arrival) -> bool:
        """Hand the request on, or refuse it, once that can be decided; False while more must arrive."""
        head = read_head(arrival.data)
        if head is None:
            if len(arrival.data) > HEAD_LIMIT:
                self._refuse(arrival.conn, 431, "The request's headers are too large.")
                return True
            return False
        if (head.content_length or 0) > self.limits.body_limit:
            self._refuse(arrival.conn, 413, f"The request body is larger than {self.limits.body_limit} bytes.")
            return True
        if not request_is_whole(arrival.data, head):
            if len(arrival.data) - head.end > self.limits.body_limit:
                self._refuse(arrival.conn, 413, f"The request body is larger than {self.limits.body_limit} bytes.")
                return True
            return False
        self._dispatch(arrival, head.kind)
        return True

    def _dispatch(self, arrival: Arrival, kind: str) -> None:
        conn = arrival.conn
        if kind == SOCKETS and self.open_sockets >= self.limits.max_sockets:
            self._refuse(conn, 503, "This console has as many live pages open as it serves; try again shortly.",
                         {"Retry-After": str(SOCKETS_BUSY_RETRY_SECONDS)})
            return
        conn.sock.setblocking(True)
        stall_deadline(conn.sock, self.limits.send_stall_seconds)
        conn.init()
        conn.parser.unreader.unread(bytes(arrival.data))
        conn.data_ready = True
        if kind == SOCKETS:
            self.open_sockets += 1
        future = self.pools[kind].submit(self.handle, conn)
        future.add_done_callback(lambda done: self.method_queue.defer(self._finished, conn, done, kind))

    def _finished(self, conn, future, kind: str) -> None:
        if kind == SOCKETS:
            self.open_sockets -= 1
        self.finish_request(conn, future)

    def _forget(self, arrival: Arrival) -> None:
        if self.arrivals.pop(arrival.conn, None) is not None:
            try:
                self.poller.unregister(arrival.conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _refuse(self, conn, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        """Answer from the loop without blocking (best effort) and close the connection."""
        try:
            conn.sock.setblocking(False)
            conn.sock.send(plain_answer(status, text, extra))
        except OSError:
            pass
        self._close(conn)

    def _close(self, conn) -> None:
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Also close requests that did not arrive whole by their read deadline (408)."""
        super().murder_pending()
        now = time.monotonic()
        for arrival in [a for a in self.arrivals.values() if a.deadline <= now]:
            self._forget(arrival)
            self._refuse(arrival.conn, 408, "The request did not arrive in time.")

    def open_arrivals(self) -> int:
        """How many requests the loop is reading now (for tests and metrics)."""
        return len(self.arrivals)
