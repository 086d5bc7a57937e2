"""The benchmark's clients on bare sockets: an HTTP/1.1 poster and a WebSocket reader, one thread each.

The load generator shares the machine with the console it measures, so what it spends is taken
from the console. http.client with a thread per connection, and a WebSocket library with a thread
per socket, cost more CPU than the server work they measure and hand the GIL around hundreds of
times a second. These clients do the same on one selector loop: requests are encoded before the
clock starts, responses and frames are parsed with a handful of byte operations.

Only what the benchmark needs is spoken: keep-alive requests with Content-Length answers (no
chunked bodies), and unmasked server frames with pings answered. The reader offers
permessage-deflate as browsers do, so the console compresses for it as it would for them.
"""

from __future__ import annotations

import base64
import collections
import os
import selectors
import socket
import struct
import time
import zlib

from console.live.frames import frame_header

_HEADER_END = b"\r\n\r\n"


def encode_request(method: str, path: str, body: bytes | None, headers: dict, host: str) -> bytes:
    """One HTTP/1.1 request with its body, ready to send on a keep-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body or b'')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class _Responses:
    """Splits a connection's bytes into (status, keeps alive) answers, bodies skipped by Content-Length."""

    __slots__ = ("buffer",)

    def __init__(self):
        self.buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bool]]:
        self.buffer += data
        answers = []
        while True:
            end = self.buffer.find(_HEADER_END)
            if end < 0:
                return answers
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n")[1:]:
                if line.startswith("content-length:"):
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return answers
            self.buffer = self.buffer[end + 4 + length:]
            status = int(head[9:12])
            answers.append((status, "connection: close" not in head))


class _Connection:
    __slots__ = ("pending", "responses", "sock")

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.responses = _Responses()
        self.pending: int | None = None


def hammer(port: int, requests_: list[tuple[str, str, bytes | None, dict]], *, rate: float | None, threads: int,
           duration: float, drain: float = 30.0, on_send=None) -> dict:
    """Send requests over `threads` keep-alive connections, at `rate` per second (None: flat out).

    Each connection carries one request at a time. Sending stops after `duration` seconds or when
    the list is used up; answers still owed are awaited up to `drain` seconds more. Returns counts
    (a 2xx answer is ok), the elapsed time, each sent request's index with its wall-clock send time,
    the indices answered 2xx, and each answer's seconds from send to answer (`acks`). `on_send(index)`,
    if given, is called as each request goes out (the day phase moves its clock with it).
    """
    host = f"127.0.0.1:{port}"
    wire = [encode_request(method, path, body, headers, host) for method, path, body, headers in requests_]
    selector = selectors.DefaultSelector()
    idle: collections.deque[_Connection] = collections.deque()

    def connect() -> None:
        connection = _Connection(port)
        selector.register(connection.sock, selectors.EVENT_READ, connection)
        idle.append(connection)

    def drop(connection: _Connection) -> None:
        selector.unregister(connection.sock)
        connection.sock.close()

    for _ in range(threads):
        connect()
    ok = failed = cursor = busy = 0
    sent_at: dict[int, float] = {}
    accepted: list[int] = []
    acks: list[float] = []
    begin = time.perf_counter()
    deadline = begin + duration
    while True:
        now = time.perf_counter()
        sending = cursor < len(wire) and now < deadline
        while sending and idle and (rate is None or begin + cursor / rate <= now):
            connection = idle.popleft()
            sent_at[cursor] = time.time()
            if on_send is not None:
                on_send(cursor)
            try:
                connection.sock.sendall(wire[cursor])
                connection.pending = cursor
                busy += 1
            except OSError:
                failed += 1
                drop(connection)
                connect()
            cursor += 1
            sending = cursor < len(wire)
        if not sending and not busy:
            break
        if not sending and now > deadline + drain:
            failed += busy
            break
        wait = 0.05
        if sending and idle and rate is not None:
            wait = max(0.0, begin + cursor / rate - now)
        for key, _ in selector.select(wait):
            connection = key.data
            try:
                data = connection.sock.recv(65536)
            except OSError:
                data = b""
            answers = connection.responses.feed(data) if data else []
            if answers and connection.pending is not None:
                status, keep = answers[0]
                acks.append(time.time() - sent_at[connection.pending])
                if 200 <= status < 300:
                    ok += 1
                    accepted.append(connection.pending)
                else:
                    failed += 1
                connection.pending = None
                busy -= 1
                if keep:
                    idle.append(connection)
                    continue
            if not data or answers:
                if connection.pending is not None:
                    failed += 1
                    busy -= 1
                drop(connection)
                connect()
    elapsed = time.perf_counter() - begin
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    selector.close()
    return {"ok": ok, "failed": failed, "sent_at": sent_at, "elapsed": elapsed, "accepted": accepted, "acks": acks}


# -- WebSocket ------------------------------------------------------------------------------------


class Closed(Exception):
    """The server closed the WebSocket (or the connection dropped)."""


class WebSocketReader:
    """A client WebSocket that only reads: text messages out, pings answered, compression as browsers offer it."""

    def __init__(self, port: int, path: str, headers: dict, timeout: float = 30.0, deflate: bool = True,
                 receive_buffer: int | None = None):
        # A small receive buffer (set before connecting, so the window offered is small too) makes
        # a reader that never reads stall the server's writes soon, as a frozen browser tab would.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(("127.0.0.1", port))
        except OSError:
            self.sock.close()
            raise
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while _HEADER_END not in answer:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.sock.close()
                raise Closed("the server closed the connection during the handshake")
            answer += chunk
        head, _, self.buffer = answer.partition(_HEADER_END)
        if not head.startswith(b"HTTP/1.1 101"):
            status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            self.sock.close()
            raise Closed(f"handshake refused: {status_line}")
        self.sock.setblocking(False)
        self._parts: list[bytes] = []
        self.wire_bytes = len(self.buffer)  # what arrived after the handshake, compressed or not
        self._compressed = False
        extensions = [line.split(b":", 1)[1].decode().lower() for line in head.split(b"\r\n")[1:]
                      if line.lower().startswith(b"sec-websocket-extensions:")]
        self.deflate = any("permessage-deflate" in line for line in extensions)
        # Without server_no_context_takeover, one inflater carries its window from message to message.
        self._fresh_window = any("server_no_context_takeover" in line for line in extensions)
        self._inflater = zlib.decompressobj(-15)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[str]:
        """The text messages completed by what the socket has now (call when it is readable)."""
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return []
        except OSError as exc:
            raise Closed(str(exc)) from None
        if not data:
            raise Closed("closed by the server")
        self.wire_bytes += len(data)
        self.buffer += data
        return self._messages()

    def _messages(self) -> list[str]:
        messages = []
        buffer = self.buffer
        at = 0
        while len(buffer) - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length, start = second & 0x7F, at + 2
            if length == 126:
                if len(buffer) - at < 4:
                    break
                length, start = struct.unpack_from("!H", buffer, at + 2)[0], at + 4
            elif length == 127:
                if len(buffer) - at < 10:
                    break
                length, start = struct.unpack_from("!Q", buffer, at + 2)[0], at + 10
            if len(buffer) < start + length:
                break
            payload = buffer[start:start + length]
            at = start + length
            opcode = first & 0x0F
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                raise Closed("closed by the server")
            elif opcode in (0x0, 0x1, 0x2):
                if opcode:
                    self._compressed = self.deflate and bool(first & 0x40)
                self._parts.append(payload)
                if first & 0x80:
                    messages.append(self._message(b"".join(self._parts)))
                    self._parts = []
        self.buffer = buffer[at:]
        return messages

    def _message(self, data: bytes) -> str:
        if self._compressed:
            if self._fresh_window:
                self._inflater = zlib.decompressobj(-15)
            data = self._inflater.decompress(data + b"\x00\x00\xff\xff")
        return data.decode()

    def _send(self, opcode: int, payload: bytes) -> None:
        """One masked frame from client to server (pongs and the close), sent blocking."""
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.setblocking(True)
        try:
            self.sock.sendall(frame_header(0x80 | opcode, len(payload), masked=True) + mask + masked)
        finally:
            self.sock.setblocking(False)

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
