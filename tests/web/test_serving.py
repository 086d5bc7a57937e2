"""`supervisor-console serve` against clients that are slow, greedy or gone (127.0.0.1 only).

Each test starts a real `serve` process (gunicorn with the console's worker) with small limits,
does its harm with bare sockets, bounded in count and time, and stops everything it started.
"""

from __future__ import annotations

import base64
import os
import socket
import time

import pytest
import requests

from console.web.worker import PAGES, SOCKETS, WEBHOOKS, read_head, request_is_whole
from tests.serve_process import READER, Served
from tests.signed_webhooks import envelope
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

LIMITS = {
    "CONSOLE_REQUEST_READ_SECONDS": "2",
    "CONSOLE_SEND_STALL_SECONDS": "1",
    "CONSOLE_WEBHOOK_THREADS": "2",
    "CONSOLE_MAX_SOCKETS": "4",
}


@pytest.fixture
def served(tmp_path, request):
    console = Served(tmp_path, **LIMITS, **getattr(request, "param", {}))
    try:
        yield console
    finally:
        console.stop()


def open_socket(port: int, *, receive_buffer: int | None = None) -> socket.socket:
    client = socket.socket()
    if receive_buffer:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    client.settimeout(5)
    client.connect(("127.0.0.1", port))
    return client


def websocket_handshake(port: int, watch: str = "dashboard", *, receive_buffer: int | None = None):
    """Open /live with a bare socket; return the socket and the status line of the answer."""
    client = open_socket(port, receive_buffer=receive_buffer)
    key = base64.b64encode(os.urandom(16)).decode()
    client.sendall((f"GET /live?watch={watch} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    f"X-Forwarded-User: {READER['X-Forwarded-User']}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = client.recv(4096)
        if not chunk:
            break
        answer += chunk
    return client, answer


def read_to_end(client: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout` passes)."""
    client.settimeout(timeout)
    received = b""
    try:
        while chunk := client.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def conference_created(number: int) -> dict:
    return envelope("conference.created", conference_id=f"conf-{number:05d}", call_control_id=f"v3:leg-{number}",
                    name=f"Serving test {number}")


def participant_joined(number: int) -> dict:
    return envelope("conference.participant.joined", conference_id="conf-00001", call_control_id=f"v3:caller-{number}")


@pytest.mark.parametrize(("request_bytes", "kind", "whole"), [
    (b"GET / HTTP/1.1\r\nHost: x\r\n", None, False),
    (b"GET /dashboard HTTP/1.1\r\nHost: x\r\n\r\n", PAGES, True),
    (b"POST /webhooks/telnyx HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}", WEBHOOKS, False),
    (b"POST /webhooks/telnyx?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", WEBHOOKS, True),
    (b"POST /prefix/webhooks/telnyx HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}", WEBHOOKS, True),
    (b"GET /live HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n", SOCKETS, True),
    (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", PAGES, False),
    (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", PAGES, True),
])
def test_the_loop_reads_a_request_until_it_is_whole_and_knows_where_it_goes(request_bytes, kind, whole):
    head = read_head(request_bytes)
    if kind is None:
        assert head is None
        return
    assert head.kind == kind
    assert request_is_whole(request_bytes, head) is whole


def test_slow_headers_hold_no_thread_and_get_408(served):
    """Forty clients sending headers a piece at a time: webhooks, pages and health still answer."""
    slow = []
    try:
        for number in range(40):
            client = open_socket(served.port)
            client.sendall(b"GET /dashboard HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + str(number).encode())
            slow.append(client)
        started = time.monotonic()
        answer = served.post_webhook(conference_created(1), timeout=3)
        assert answer.status_code == 200, answer.text
        page = requests.get(served.url + "/", headers=READER, timeout=3)
        assert page.status_code == 200 and "conf-00001" in page.text
        assert time.monotonic() - started < 3
        # Each slow client is answered 408 once its read deadline (2 s) passes.
        for client in slow:
            assert read_to_end(client, timeout=6).startswith(b"HTTP/1.1 408")
    finally:
        for client in slow:
            client.close()


def test_a_head_too_large_is_431_and_a_body_too_large_is_413(served):
    with open_socket(served.port) as client:
        client.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000)
        assert read_to_end(client, timeout=5).startswith(b"HTTP/1.1 431")
    with open_socket(served.port) as client:
        client.sendall(b"POST /webhooks/telnyx HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n{")
        assert read_to_end(client, timeout=5).startswith(b"HTTP/1.1 413")


def test_live_sockets_are_capped_and_one_more_gets_503_with_retry_after(served):
    held = []
    try:
        for _ in range(4):
            client, answer = websocket_handshake(served.port)
            assert answer.startswith(b"HTTP/1.1 101"), answer
            held.append(client)
        extra, answer = websocket_handshake(served.port)
        extra.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b"Retry-After: 5" in answer
        # Webhooks and pages have their own threads: the full socket pool takes none of theirs.
        assert served.post_webhook(conference_created(2), timeout=3).status_code == 200
        assert requests.get(served.url + "/", headers=READER, timeout=3).status_code == 200
    finally:
        for client in held:
            client.close()
    # Closed sockets free their places.
    def reopened():
        client, answer = websocket_handshake(served.port)
        client.close()
        return answer.startswith(b"HTTP/1.1 101")
    wait_for(reopened, timeout=10, interval=0.2, message="a freed socket place was not given back")


# No pings: the socket must be dropped by the send stall alone, not by an unanswered ping.
@pytest.mark.parametrize("served", [{"CONSOLE_WS_PING_SECONDS": "0"}], indirect=True)
def test_a_socket_whose_reader_never_reads_is_closed_after_the_send_stall(served):
    assert served.post_webhook(conference_created(1)).status_code == 200
    stuck, answer = websocket_handshake(served.port, "conference:conf-00001", receive_buffer=4096)
    try:
        assert answer.startswith(b"HTTP/1.1 101"), answer
        wait_for(lambda: served.live_sockets() >= 1, timeout=10, message="the socket never subscribed")
        # Flood the conference with participants the stuck page never reads, until its socket is dropped.
        sent = 0
        deadline = time.monotonic() + 60
        with requests.Session() as poster:
            while served.live_sockets() >= 1:
                assert time.monotonic() < deadline, f"the stuck socket was still open after {sent} webhooks"
                for _ in range(50):
                    sent += 1
                    answer = served.post_webhook(participant_joined(sent), timeout=5, session=poster)
                    assert answer.status_code == 200
        print(f"stuck socket dropped after {sent} webhooks")
        # Webhooks kept being answered throughout, and the page's thread is free again.
        assert served.post_webhook(conference_created(99_999), timeout=3).status_code == 200
    finally:
        stuck.close()
