"""A round-robin TCP front for the multi-instance demo, so a page's failover can be watched on a laptop.

A real deployment puts a load balancer before its instances; the demo needs one too, with no other
service to install. This one reads no HTTP: each accepted connection is handed whole to the next
backend in turn, so WebSocket upgrades pass through untouched and a live page's socket lands on
whichever instance comes next. A backend that refuses the connection (it was killed) is skipped;
a client no backend answers is closed. When a backend dies mid-connection its client's connection
is closed, and the page's live socket reconnects through the front to another instance.

Threads, not a selector: one accepts (and picks the backend, so the order is exactly round-robin),
and two per connection pipe bytes, one each way. Enough for a demo's handful of browsers.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Sequence

log = logging.getLogger("console.cluster.front")

CHUNK = 64 * 1024
CONNECT_SECONDS = 2.0  # a backend that neither accepts nor refuses within this is skipped
ACCEPT_WAKE_SECONDS = 0.2  # how often the accepting thread looks whether stop() was called
JOIN_SECONDS = 5.0  # stop() waits at most this long for all the threads together


class _Pipe:
    """One client connection and its backend's: bytes copied both ways until either side is done."""

    def __init__(self, client: socket.socket, backend: socket.socket, name: str, on_done):
        self.client = client
        self.backend = backend
        self._on_done = on_done
        self._lock = threading.Lock()
        self._closed = False
        self._ended = 0
        self.threads = [
            threading.Thread(target=self._copy, args=(client, backend, False), name=f"{name}-up", daemon=True),
            threading.Thread(target=self._copy, args=(backend, client, True), name=f"{name}-down", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _copy(self, source: socket.socket, target: socket.socket, from_backend: bool) -> None:
        """Copy until the source ends; the backend ending (or any error) closes both sides."""
        failed = False
        try:
            while chunk := source.recv(CHUNK):
                target.sendall(chunk)
        except OSError:
            failed = True
        if failed or from_backend:
            self.close()  # a backend that closed or died: its client's connection ends with it
        else:
            self._half_close(target)  # the client sent all it will: the backend may still answer
        self._end()

    def _half_close(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()

    def _end(self) -> None:
        with self._lock:
            self._ended += 1
            finished = self._ended == len(self.threads)
        if finished:
            self.close()
            self._on_done(self)

    def close(self) -> None:
        """Close both sockets (shutdown first, which wakes a thread blocked reading them); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.backend):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already disconnected
            sock.close()


class Front:
    """Listen on host:port and hand each connection to the next of `backends` ((host, port) pairs) in turn."""

    def __init__(self, backends: Sequence[tuple[str, int]], host: str = "127.0.0.1", port: int = 0):
        if not backends:
            raise ValueError("a front needs at least one backend")
        self.backends = [tuple(backend) for backend in backends]
        self.host = host
        self.port = port
        self._next = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pipes: set[_Pipe] = set()
        self._numbers = itertools.count(1)

    @property
    def url(self) -> str:
        """The root URL browsers use (127.0.0.1 when listening on every address)."""
        reachable = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{reachable}:{self.port}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pipes)

    def start(self) -> Front:
        """Bind and listen (an OSError says the port is taken), then accept on a thread of its own."""
        listener = socket.create_server((self.host, self.port), backlog=128)
        listener.settimeout(ACCEPT_WAKE_SECONDS)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name=f"front-{self.port}", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every open connection, and join the threads within JOIN_SECONDS; idempotent."""
        self._stopping.set()
        deadline = time.monotonic() + JOIN_SECONDS
        if self._acceptor is not None:
            self._acceptor.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            pipes = list(self._pipes)
        for pipe in pipes:
            pipe.close()
        for thread in [thread for pipe in pipes for thread in pipe.threads]:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stopping.is_set():
                    log.exception("the front stopped accepting")
                return
            client.settimeout(None)
            backend = self._connect()
            if backend is None:
                log.warning("no backend answered: closing the client's connection")
                client.close()
                continue
            self._pipe(client, backend)

    def _connect(self) -> socket.socket | None:
        """A connection to the next backend that takes one, each tried at most once; None when none does."""
        with self._lock:
            start = self._next
        for offset in range(len(self.backends)):
            index = (start + offset) % len(self.backends)
            try:
                backend = socket.create_connection(self.backends[index], timeout=CONNECT_SECONDS)
            except OSError:
                continue  # refused (the instance was killed) or too slow: the next one
            backend.settimeout(None)
            with self._lock:
                self._next = index + 1  # the next connection goes to the backend after this one
            return backend
        return None

    def _pipe(self, client: socket.socket, backend: socket.socket) -> None:
        pipe = _Pipe(client, backend, f"front-{self.port}-{next(self._numbers)}", self._forget)
        with self._lock:
            if self._stopping.is_set():
                pipe.close()
                return
            self._pipes.add(pipe)
        pipe.start()

    def _forget(self, pipe: _Pipe) -> None:
        with self._lock:
            self._pipes.discard(pipe)
