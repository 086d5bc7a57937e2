"""One open page as the hub sees it: what it watches, what it shows, and the one queue its socket is written from.

Everything written on a page's socket passes through its subscription, in order: the hub's frames,
the answer to the page's pings (handed over by the socket's reader, which never writes), the
server's own pings and heartbeats, and the close frame, always last. One writer at a time holds the
socket (`claim` ... `sent`): the page's own thread, which drains the queue and blocks on a slow
browser. While the socket keeps up and nothing is queued, the hub may write a frame itself without
blocking, under the same lock (`attach`), so a hundred pages do not mean a hundred threads woken
every tick; what the socket cannot take at once is queued for the page's thread, which finishes it
before anything else. A page that falls behind loses its backlog and gets a fresh snapshot when it
catches up, so a stuck browser never grows memory.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections import deque
from typing import Protocol

from console.live.frames import close_frame, frame_bytes

log = logging.getLogger("console.hub")
# A send that returns at once instead of blocking, for one call (Linux, the BSDs, macOS).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", None)


class SnapshotDesk(Protocol):
    """Who draws a fresh snapshot for a page that fell behind (the hub)."""

    def request_snapshot(self, subscription: Subscription) -> None: ...


class Subscription:
    """One open page: what it watches, which list items it shows, and its bounded outgoing queue.

    Bounded: at most `limit` frames (an overflow drops them all and marks the page behind: nothing
    more is queued until its writer comes back, and then it gets a fresh snapshot), one pong (a
    newer ping replaces an unanswered one, as RFC 6455 5.5.3 allows), one close frame.
    """

    def __init__(self, hub: SnapshotDesk, watch: str, root: str, limit: int):
        self.hub = hub
        self.watch = watch
        self.user: str | None = None  # who opened the page, and in which session (for the per-page limits)
        self.session: str | None = None
        self.root = root
        self.shown: set[str] = set()
        self.limit = limit
        self.overflows = 0
        self.behind = False
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._resync_requested = False
        self._frames: deque = deque()
        self._rest: bytes | None = None  # the unwritten end of a frame the hub began: written before anything
        self._pong: bytes | None = None
        self._close: bytes | None = None
        self.close_claimed = False  # the close frame went to the writer
        self._lock = threading.Lock()
        # The writer waits on this only when it found nothing to write; anything queued, a close or
        # a resync puts one token in. A SimpleQueue waits in C, which matters with a hundred pages.
        self._bell: queue.SimpleQueue = queue.SimpleQueue()
        self._listening = False
        # Direct writing (see attach): the socket, its compression window, and whether a writer
        # holds the socket right now.
        self._socket = None
        self._window: int | None = None
        self._sending = False
        self.direct_frames = 0
        self.written_at = time.monotonic()

    def _ring(self) -> None:
        """Wake the writer if it is waiting (call with the lock held; rings at most once per wait)."""
        if self._listening:
            self._listening = False
            self._bell.put(None)

    # -- the hub's side -----------------------------------------------------------------------

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
            if self._idle() and self._send_now(frame):
                return True
            self._frames.append(frame)
            self._ring()
            return True

    def attach(self, sock, window_bits: int | None) -> None:
        """Let the hub write frames to this socket itself while it keeps up (never a TLS socket).

        A frame that finds nothing queued and no writer holding the socket is written at once
        without blocking; what the socket cannot take now (a slow browser) goes to the queue and
        the page's thread, which writes it blocking, in order, before anything newer.
        """
        with self._lock:
            self._window = window_bits
            if not self.closed and _DONTWAIT is not None and not isinstance(sock, ssl.SSLSocket):
                self._socket = sock

    @property
    def attached(self) -> bool:
        """Whether the hub may write this page's socket itself (see attach)."""
        with self._lock:
            return self._socket is not None

    def _idle(self) -> bool:
        """Whether the hub may write now (lock held): a socket, no writer on it, nothing queued before."""
        return (self._socket is not None and not self._sending and not self._frames and self._rest is None
                and self._pong is None)

    def _send_now(self, frame) -> bool:
        """Write a frame without blocking (lock held); False when the socket took none of it."""
        data = frame_bytes(frame, self._window)
        try:
            sent = self._socket.send(data, _DONTWAIT)
        except BlockingIOError:
            return False
        except (OSError, ValueError):  # gone, or a socket that cannot send this way: the page's thread takes over
            self._socket = None
            return False
        self.direct_frames += 1
        self.written_at = time.monotonic()
        if sent < len(data):
            self._rest = data[sent:]
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

    def pending(self) -> int:
        """How many frames wait to be sent (a half-written one's rest counts as one)."""
        with self._lock:
            return len(self._frames) + (self._rest is not None)

    # -- the reader's side: it hands over, never writes ----------------------------------------

    def answer(self, pong: bytes) -> None:
        """Queue the answer to the page's ping (replacing one not yet written)."""
        with self._lock:
            if not self.closed:
                self._pong = pong
                self._ring()

    def wake(self) -> None:
        """Wake the writer (the page sent a message it should look at)."""
        with self._lock:
            self._ring()

    def close(self, code: int | None = None, reason: str = "", *, answer: bool = False) -> None:
        """Stop taking frames and have the writer end the socket with a close frame (`code`, `reason`).

        No code means the socket is gone or stuck: nothing more is written. `answer` sends a close
        frame even so: the reply to a page's close that carried no code. The first close wins.
        """
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.close_code, self.close_reason = code, reason
            if code is not None or answer:
                self._close = close_frame(code, reason)
            self._socket = None  # no more direct writes: the close frame must come last
            self._frames.clear()
            self._pong = None
            self._ring()

    # -- the writer's side --------------------------------------------------------------------

    def wait(self, timeout: float | None) -> None:
        """Wait up to `timeout` seconds for something to write; a page that fell behind asks for a snapshot."""
        with self._lock:
            ask = self.behind and not self._frames and not self._resync_requested and not self.closed
            if ask:
                self._resync_requested = True
        if ask:
            self.hub.request_snapshot(self)
        with self._lock:
            if self._frames or self._rest is not None or self._pong is not None or self.closed:
                return
            self._listening = True
        try:
            self._bell.get(timeout=timeout)
        except queue.Empty:
            pass
        with self._lock:
            self._listening = False

    def next_frame(self, timeout: float | None = None):
        """The oldest queued frame (a half-written one's rest first), waiting up to `timeout`; None if none.

        For a page without a socket (tests, the hub's own checks); a socket's writer uses `claim`.
        """
        self.wait(timeout)
        with self._lock:
            if self._rest is not None:
                rest, self._rest = self._rest, None
                return rest
            return self._frames.popleft() if self._frames else None

    def claim(self) -> tuple[list[bytes], bool]:
        """Hold the socket and take everything queued, as bytes in writing order; and whether the page is over.

        The order: the rest of a frame the hub half wrote (nothing may land inside it), the pong,
        the frames, then the close frame. The hub writes nothing until `sent`. Once the page is
        over (closed), anything the writer adds of its own must not be written.
        """
        with self._lock:
            self._sending = True
            head = [data for data in (self._rest, self._pong) if data is not None]
            frames, close = list(self._frames), self._close
            self._rest = self._pong = self._close = None
            self._frames.clear()
            self.close_claimed |= close is not None
            over, window = self.closed, self._window
        # Encoded outside the lock (a frame is compressed once, by whoever needs it first): the hub
        # may queue meanwhile, but it writes nothing while the writer holds the socket.
        return head + [frame_bytes(frame, window) for frame in frames] + ([close] if close else []), over

    def sent(self, wrote: bool = True) -> None:
        """The writer is done with what it claimed (`wrote`: it wrote something): the hub may write again."""
        with self._lock:
            self._sending = False
            if wrote:
                self.written_at = time.monotonic()
