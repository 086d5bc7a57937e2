"""One browser's live socket after the handshake: a reader thread that only reads, and one writer.

The page's own thread (the request's) is the socket's writer. It writes the handshake's answer,
then drains the page's subscription (console.live.subscription): the hub's frames, the pongs the
reader hands over, its own pings and heartbeats, refusals of what the page sent, and the close
frame, last. The reader thread parses what the page sends (wsproto, console.live.handshake) and
hands everything that needs an answer to the subscription; it never writes. So no byte of a ping,
pong or close can land inside a frame another thread is writing.

A write that makes no progress for `stall_seconds` (CONSOLE_SEND_STALL_SECONDS) ends the socket:
a browser that stopped reading frees its thread and reconnects for a fresh snapshot.
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable

from wsproto.events import CloseConnection, Message, Ping, Pong

from console.live.frames import close_frame, frame_bytes, ping_frame, pong_frame
from console.live.handshake import Handshake
from console.live.subscription import Subscription

log = logging.getLogger("console.hub")

RECEIVE_BYTES = 16_384
MAX_MESSAGE_BYTES = 65_536  # a page sends no commands over the socket; a bigger message ends it (1009)
INBOX_LIMIT = 8  # messages waiting for the writer to look at; more are dropped
LINGER_SECONDS = 1.0  # after its close frame, how long the writer waits for the page's before hanging up
JOIN_SECONDS = 2.0
POLICY_VIOLATION = 1008  # what a page that stopped answering pings is closed with
MESSAGE_TOO_BIG = 1009
# Codes that only report what happened locally and must never be sent (RFC 6455 7.4.1).
_LOCAL_CODES = {1005, 1006, 1015}
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", None)


class SendStalled(OSError):
    """A write made no progress for the stall deadline: the browser stopped reading."""


class Reader:
    """Reads the page's frames in a thread of its own and hands what needs an answer to the writer."""

    def __init__(self, sock, handshake: Handshake, outbox: Subscription):
        self.sock = sock
        self.connection = handshake.connection
        self.outbox = outbox
        self.pong_received = True  # the writer clears it with each ping; a pong sets it
        self.inbox: deque = deque(maxlen=INBOX_LIMIT)
        self.done = threading.Event()
        self._parts: list = []
        self._size = 0
        self._thread = threading.Thread(target=self._run, name="live-reader", daemon=True)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                data = self.sock.recv(RECEIVE_BYTES)
                if not data or self._take(data):
                    break
        except OSError:
            pass  # a reset, or the socket shut by the writer
        except Exception:  # wsproto refusing what came after a close, or a bug: the page reconnects
            log.exception("reading a live page's socket failed")
        finally:
            self.outbox.close()  # gone (a no-op when the page was already closing)
            self.done.set()

    def _take(self, data: bytes) -> bool:
        """Feed bytes to wsproto and hand over what they hold; True once the page closed."""
        self.connection.receive_data(data)
        for event in self.connection.events():
            if isinstance(event, Ping):
                self.outbox.answer(pong_frame(event.payload))
            elif isinstance(event, Pong):
                self.pong_received = True
            elif isinstance(event, Message):
                if self._collect(event):
                    return True
            elif isinstance(event, CloseConnection):
                code = None if event.code in _LOCAL_CODES else int(event.code)
                self.outbox.close(code, answer=True)  # the writer answers with the same code
                return True
        return False

    def _collect(self, message: Message) -> bool:
        """Add a message's part; True when the whole is too big and the socket is being closed."""
        self._parts.append(message.data)
        self._size += len(message.data)
        if self._size > MAX_MESSAGE_BYTES:
            self.outbox.close(MESSAGE_TOO_BIG, "message too big")
            return True
        if message.message_finished:
            whole = type(message.data)().join(self._parts)
            self._parts, self._size = [], 0
            self.inbox.append(whole)
            self.outbox.wake()
        return False


class LiveSocket:
    """A page's socket once its handshake is agreed; the thread that calls `serve` or `refuse` writes."""

    def __init__(self, sock, handshake: Handshake, *, stall_seconds: float = 10.0):
        self.sock = sock
        self.handshake = handshake
        self.stall_seconds = stall_seconds
        self.reader: Reader | None = None
        self.close_sent = False

    # -- writing: only the thread that serves the page calls these ------------------------------

    def _write(self, data: bytes) -> None:
        """Write all of `data`, failing with SendStalled once it makes no progress for the stall deadline."""
        if _DONTWAIT is None or isinstance(self.sock, ssl.SSLSocket):
            self.sock.sendall(data)  # no per-call non-blocking send: the server's SO_SNDTIMEO bounds the stall
            return
        view = memoryview(data)
        selector = None
        try:
            while view:
                try:
                    view = view[self.sock.send(view, _DONTWAIT):]
                    continue
                except BlockingIOError:
                    pass
                if selector is None:  # only a socket that is full waits, and only then is a selector made
                    selector = selectors.DefaultSelector()
                    selector.register(self.sock, selectors.EVENT_WRITE)
                if not selector.select(self.stall_seconds):
                    raise SendStalled(f"no write progress in {self.stall_seconds} s")
        finally:
            if selector is not None:
                selector.close()

    def refuse(self, code: int, reason: str) -> None:
        """Accept the handshake and close at once with `code` and a reason the page shows (no reader)."""
        try:
            self._write(self.handshake.response + close_frame(code, reason))
            self.close_sent = True
        except OSError:
            return
        self._hang_up(None)

    def serve(self, subscription: Subscription, *, ping_every: float, check_every: float, heartbeat_every: float,
              check: Callable[[], tuple[int, str] | None], refuse: Callable[[object], str | None],
              heartbeat: Callable[[], list[str]]) -> None:
        """Write the page's socket until it closes, from this thread only.

        `check()` is asked every `check_every` seconds whether the page must close (code, reason);
        `refuse(message)` answers what the page sent (None: nothing); a page that has not answered
        a ping by the next (`ping_every`, 0 for none) is closed 1008; after `heartbeat_every` quiet
        seconds the page gets `heartbeat()`.
        """
        try:
            self._write(self.handshake.response)
        except OSError:
            subscription.close()
            return
        reader = self.reader = Reader(self.sock, self.handshake, subscription).start()
        subscription.attach(self.sock, self.handshake.window)
        clock = _Clock(ping_every, check_every, heartbeat_every)
        try:
            while True:
                subscription.wait(clock.wait)
                own = self._own(subscription, reader, clock, check, refuse, heartbeat)
                queued, over = subscription.claim()
                writing = queued if over else queued + own
                try:
                    for data in writing:
                        self._write(data)
                finally:
                    subscription.sent(wrote=bool(writing))
                if over:
                    self.close_sent = subscription.close_claimed
                    break
        except Exception as error:  # the browser went away, stopped reading (SendStalled), or a check failed
            if isinstance(error, SendStalled):
                log.info("a %s page stopped reading: its socket is closed", subscription.watch)
            elif not isinstance(error, OSError):
                log.exception("a %s page's writer failed: its socket is closed", subscription.watch)
            subscription.close()
            self.close_sent = False
        self._hang_up(reader)

    def _own(self, subscription: Subscription, reader: Reader, clock: _Clock, check, refuse, heartbeat) -> list[bytes]:
        """What the writer adds of its own now: refusals, a ping, a heartbeat (or a close, through the subscription)."""
        now = time.monotonic()
        own: list[bytes] = []
        if clock.due("check", now) and not subscription.closed and (verdict := check()) is not None:
            subscription.close(*verdict)
        refusals = [answer for message in _drain(reader.inbox) if (answer := refuse(message))]
        if refusals:
            own.append(frame_bytes(refusals, self.handshake.window))
        if clock.due("ping", now):
            if not reader.pong_received:  # the page never answered the last ping: it is gone
                subscription.close(POLICY_VIOLATION, "no answer to ping")
            reader.pong_received = False
            own.append(ping_frame())
        if now - subscription.written_at >= clock.heartbeat_every:
            own.append(frame_bytes(heartbeat(), self.handshake.window))
        return own

    # -- ending -----------------------------------------------------------------------------------

    def _hang_up(self, reader: Reader | None) -> None:
        """End the connection: after a close frame, give the page a moment to answer it, then shut the socket.

        Shutting it also tells the server (Werkzeug) that nothing more may be written after the close
        frame, and ends the reader's wait, which is joined so it never reads a socket the server reuses.
        """
        if self.close_sent:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if reader is not None:
                reader.done.wait(LINGER_SECONDS)
            else:
                self._drain_input(time.monotonic() + LINGER_SECONDS)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if reader is not None:
            reader.join(JOIN_SECONDS)

    def _drain_input(self, deadline: float) -> None:
        """Read (and drop) what the page sends until it closes its side or the deadline passes."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0 and selector.select(left):
                try:
                    if not self.sock.recv(RECEIVE_BYTES, _DONTWAIT or 0):
                        return
                except BlockingIOError:
                    continue
                except OSError:
                    return


class _Clock:
    """When the writer next checks the session and pings, and how long it may wait meanwhile."""

    def __init__(self, ping_every: float, check_every: float, heartbeat_every: float):
        self.every = {"check": check_every, "ping": ping_every}
        self.heartbeat_every = heartbeat_every
        self.wait = min(check_every, ping_every or check_every)
        now = time.monotonic()
        self._last = {"check": now, "ping": now}

    def due(self, what: str, now: float) -> bool:
        """Whether `what` is due now (and if so, it counts as done now); never for a period of 0."""
        every = self.every[what]
        if every <= 0 or now - self._last[what] < every:
            return False
        self._last[what] = now
        return True


def _drain(inbox: deque) -> list:
    taken = []
    while inbox:
        taken.append(inbox.popleft())
    return taken
