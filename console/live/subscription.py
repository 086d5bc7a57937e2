"""One open page as the hub sees it: what it watches, what it shows, and its bounded outgoing queue.

The hub delivers frames; the page's socket thread takes them (`next_frame`) and writes them. While
the socket keeps up, the hub writes a frame itself without blocking (`attach`), so a hundred pages
do not mean a hundred threads woken every tick. A page that falls behind loses its backlog and
gets a fresh snapshot when it catches up, so a stuck browser never grows memory.
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

from console.live.frames import frame_bytes

log = logging.getLogger("console.hub")
# A send that returns at once instead of blocking, for one call (Linux, the BSDs, macOS).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", None)


class SnapshotDesk(Protocol):
    """Who draws a fresh snapshot for a page that fell behind (the hub)."""

    def request_snapshot(self, subscription: Subscription) -> None: ...


class Subscription:
    """One open page: what it watches, which list items it shows, and its bounded outgoing queue.

    When the queue overflows, the backlog is dropped and the page is marked behind: nothing more
    is queued for it until its sender comes back for a frame, and then it gets a fresh snapshot.
    A stuck socket therefore costs neither memory nor repeated snapshot renders.
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
