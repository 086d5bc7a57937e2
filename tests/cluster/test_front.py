"""The demo's round-robin TCP front: the order it hands connections out, dead backends skipped, bytes intact, stop().

The backends are tiny TCP servers: each greets a connection with its name, reads until the client
has sent everything, then answers the SHA-256 of what it read and the bytes reversed, and closes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

from console.cluster.front import Front
from tests.serve_process import free_port
from tests.waiting import wait_for

ACCEPT_WAKE = 0.1
READ_TIMEOUT = 10


class Backend:
    """A named TCP server on a free 127.0.0.1 port with a thread per connection; stop() closes everything."""

    def __init__(self, name: str):
        self.name = name.encode()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(ACCEPT_WAKE)
        self.address = self.listener.getsockname()
        self.stopping = threading.Event()
        self.connections: list[socket.socket] = []
        self.ended = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            with self.lock:
                self.connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.sendall(self.name + b"\n")
            received = read_all(conn)
            conn.sendall(hashlib.sha256(received).digest() + received[::-1])
        except OSError:
            pass  # the front closed the connection: counted below all the same
        finally:
            with self.lock:
                self.ended += 1
            conn.close()

    def drop_connections(self) -> None:
        """Close every open connection from this side: what an instance that dies does."""
        with self.lock:
            connections, self.connections = self.connections, []
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.drop_connections()
        for thread in self.threads:
            thread.join(5)
        self.listener.close()


def read_all(conn: socket.socket) -> bytes:
    """Everything until the other side ends (an abrupt reset counts as the end)."""
    parts = []
    try:
        while chunk := conn.recv(65536):
            parts.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(parts)


def read_line(conn: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        line += chunk
    return line.strip()


def connect(front: Front) -> socket.socket:
    return socket.create_connection(("127.0.0.1", front.port), timeout=READ_TIMEOUT)


def greeting(front: Front) -> bytes:
    """The name of the backend a new connection through the front reached (b"" when it was closed)."""
    with connect(front) as conn:
        return read_line(conn)


@pytest.fixture
def backends():
    started: list[Backend] = []

    def make(*names: str) -> list[Backend]:
        started.extend(Backend(name) for name in names)
        return started[-len(names):]

    yield make
    for backend in started:
        backend.stop()


@pytest.fixture
def fronts():
    started: list[Front] = []

    def make(addresses) -> Front:
        started.append(Front(addresses).start())
        return started[-1]

    yield make
    for front in started:
        front.stop()


def test_connections_go_to_each_backend_in_turn(backends, fronts):
    one, two = backends("one", "two")
    front = fronts([one.address, two.address])
    assert [greeting(front) for _ in range(5)] == [b"one", b"two", b"one", b"two", b"one"]
    assert front.url == f"http://127.0.0.1:{front.port}"


def test_a_backend_that_refuses_is_skipped_and_the_turn_moves_past_it(backends, fronts):
    one, three = backends("one", "three")
    dead = ("127.0.0.1", free_port())  # nothing listens there: connections are refused
    front = fronts([one.address, dead, three.address])
    assert [greeting(front) for _ in range(4)] == [b"one", b"three", b"one", b"three"]


def test_a_client_no_backend_answers_is_closed(fronts):
    front = fronts([("127.0.0.1", free_port()), ("127.0.0.1", free_port())])
    assert greeting(front) == b""
    wait_for(lambda: front.open_connections == 0, timeout=5, message="a pipe stayed open")


def test_bytes_pass_both_ways_intact_with_a_large_payload(backends, fronts):
    [one] = backends("one")
    front = fronts([one.address])
    payload = os.urandom(6 * 1024 * 1024 + 17)
    with connect(front) as conn:
        assert read_line(conn) == b"one"
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)  # the client is done sending; the answer must still come back
        answer = read_all(conn)
    assert answer[:32] == hashlib.sha256(payload).digest()
    assert answer[32:] == payload[::-1]
    wait_for(lambda: front.open_connections == 0, timeout=5, message="the pipe stayed open after both sides ended")


def test_a_backend_that_dies_mid_connection_closes_its_client(backends, fronts):
    one, two = backends("one", "two")
    front = fronts([one.address, two.address])
    with connect(front) as conn:
        assert read_line(conn) == b"one"
        one.drop_connections()
        assert read_all(conn) == b""
    wait_for(lambda: front.open_connections == 0, timeout=5, message="the dead backend's pipe stayed open")
    assert greeting(front) == b"two"


def test_stop_closes_open_connections_and_the_listener(backends, fronts):
    [one] = backends("one")
    front = fronts([one.address])
    clients = [connect(front) for _ in range(3)]
    try:
        assert [read_line(conn) for conn in clients] == [b"one"] * 3
        assert front.open_connections == 3
        front.stop()
        assert front.open_connections == 0
        assert [read_all(conn) for conn in clients] == [b""] * 3
        wait_for(lambda: one.ended == 3, timeout=5, message="the backend's side of a pipe stayed open")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", front.port), timeout=READ_TIMEOUT).close()
    finally:
        for conn in clients:
            conn.close()
