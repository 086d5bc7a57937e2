"""The benchmark's bare-socket clients: HTTP answers split right, WebSocket frames read right, pings answered."""

from __future__ import annotations

import socket
import struct
import threading
import zlib

import pytest

from console.bench.wire import (
    Closed,
    WebSocketReader,
    _Responses,
    encode_request,
    hammer,
)


def test_request_encoding_carries_length_headers_and_body():
    wire = encode_request("POST", "/webhooks/telnyx", b'{"a":1}', {"Telnyx-Timestamp": "5"}, "127.0.0.1:80")
    head, _, body = wire.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [b"POST /webhooks/telnyx HTTP/1.1", b"Host: 127.0.0.1:80", b"Content-Length: 7",
                                   b"Telnyx-Timestamp: 5"]
    assert body == b'{"a":1}'


def test_responses_are_split_across_reads_and_bodies_skipped():
    responses = _Responses()
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    second = b"HTTP/1.1 422 Unprocessable\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno"
    assert responses.feed(first[:20]) == []
    assert responses.feed(first[20:-1]) == []
    assert responses.feed(first[-1:] + second) == [(200, True), (422, False)]
    assert responses.buffer == b""


def _server(answer):
    """A one-connection HTTP server on 127.0.0.1 answering each request with `answer(request_number)`."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen = []

    def serve():
        connection, _ = listener.accept()
        buffer = b""
        with connection:
            while True:
                data = connection.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    if len(rest) < length:
                        break
                    seen.append(rest[:length])
                    buffer = rest[length:]
                    status, body = answer(len(seen))
                    connection.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, seen


def test_hammer_sends_every_request_once_and_counts_refusals():
    listener, thread, seen = _server(lambda n: (422, b"bad") if n % 5 == 0 else (200, b"{}"))
    port = listener.getsockname()[1]
    plan = [("POST", "/x", str(i).encode(), {}) for i in range(50)]
    try:
        result = hammer(port, plan, rate=None, threads=1, duration=10)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert sorted(int(body) for body in seen) == list(range(50))
    assert (result["ok"], result["failed"]) == (40, 10)
    assert sorted(result["sent_at"]) == list(range(50))


def _frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        return bytes([first, len(payload)]) + payload
    if len(payload) < 65536:
        return struct.pack("!BBH", first, 126, len(payload)) + payload
    return struct.pack("!BBQ", first, 127, len(payload)) + payload


def _reader_pair(answer_headers: bytes = b""):
    """A WebSocketReader connected to a server socket we write frames to by hand."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = {}

    def accept():
        connection, _ = listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += connection.recv(4096)
        accepted["request"] = request
        connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" + answer_headers + b"\r\n"
                           + _frame(1, b"hi"))
        accepted["connection"] = connection

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    reader = WebSocketReader(port, "/live?watch=dashboard", {"X-Forwarded-User": "bench"})
    thread.join(timeout=5)
    listener.close()
    return reader, accepted["connection"], accepted["request"]


def _read_until(reader, count):
    messages = []
    for _ in range(200):
        try:
            reader.sock.settimeout(5)
            data = reader.sock.recv(262144)
        finally:
            reader.sock.setblocking(False)
        if not data:
            raise Closed("closed")
        reader.buffer += data
        messages += reader._messages()
        if len(messages) >= count:
            return messages
    raise AssertionError("frames never completed")


def test_websocket_reader_reads_every_frame_size_fragments_and_answers_pings():
    reader, server, request = _reader_pair()
    try:
        assert b"GET /live?watch=dashboard HTTP/1.1" in request and b"X-Forwarded-User: bench" in request
        assert reader._messages() == ["hi"]  # sent with the handshake answer
        medium, large = "m" * 300, "L" * 70000
        server.sendall(_frame(9, b"beat") + _frame(1, medium.encode()) + _frame(1, large.encode())
                       + _frame(1, b"frag", fin=False) + _frame(0, b"mented"))
        assert _read_until(reader, 3) == [medium, large, "fragmented"]
        pong = server.recv(64)
        assert pong[0] == 0x8A and pong[1] == 0x80 | 4
        mask = pong[2:6]
        assert bytes(b ^ mask[i % 4] for i, b in enumerate(pong[6:10])) == b"beat"
        server.sendall(_frame(8, struct.pack("!H", 1012)))
        with pytest.raises(Closed):
            _read_until(reader, 1)
    finally:
        reader.close()
        server.close()


def test_websocket_reader_reports_a_refused_handshake():
    listener = socket.create_server(("127.0.0.1", 0))

    def refuse():
        connection, _ = listener.accept()
        connection.recv(4096)
        connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        connection.close()

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    try:
        with pytest.raises(Closed, match="403 Forbidden"):
            WebSocketReader(listener.getsockname()[1], "/live", {})
    finally:
        thread.join(timeout=5)
        listener.close()


def test_websocket_reader_offers_compression_and_inflates_messages_with_a_shared_window():
    reader, server, request = _reader_pair(b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    try:
        assert b"Sec-WebSocket-Extensions: permessage-deflate" in request
        assert reader.deflate and reader._messages() == ["hi"]  # uncompressed frames still read
        deflater = zlib.compressobj(wbits=-15)
        texts = ["<tr id='a'>" * 200, "<tr id='a'>" * 201]  # the second leans on the first's window
        for text in texts:
            data = deflater.compress(text.encode()) + deflater.flush(zlib.Z_SYNC_FLUSH)
            server.sendall(bytes([0xC1]) + _frame(1, data[:-4])[1:])  # FIN + RSV1, the tail dropped per RFC 7692
        assert _read_until(reader, 2) == texts
    finally:
        reader.close()
        server.close()
