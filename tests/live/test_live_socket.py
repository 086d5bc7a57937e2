"""One writer per live socket: the page's thread writes everything, pongs and closes included; the reader only reads.

Each test serves one socket of a socket pair with console.live.live_socket, and talks to it with a
wsproto client on the other end, which rejects any frame that is not whole and well formed.
"""

from __future__ import annotations

import socket
import threading

import pytest
from wsproto.events import CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import PerMessageDeflate

from console.live.frames import Frame
from console.live.handshake import accept
from console.live.live_socket import LiveSocket
from console.live.subscription import Subscription
from tests.live.test_handshake import agreed, client_headers
from tests.waiting import wait_for

WRITER = "page-writer"


class RecordingSocket(socket.socket):
    """A socket that notes the name of every thread that writes to it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writers: set[str] = set()

    def send(self, data, flags=0):
        self.writers.add(threading.current_thread().name)
        return super().send(data, flags)

    def sendall(self, data, flags=0):
        self.writers.add(threading.current_thread().name)
        return super().sendall(data, flags)


class _Desk:
    def __init__(self):
        self.snapshots = 0

    def request_snapshot(self, subscription):
        self.snapshots += 1


class Page:
    """A wsproto client on one end of a socket pair; a LiveSocket served from a thread on the other."""

    def __init__(self, *, deflate=False, stall_seconds=5.0, ping_every=0.0, check=lambda: None,
                 refuse=lambda message: None, receive_buffer=None, heartbeat_every=3600):
        ours, theirs = socket.socketpair()
        if receive_buffer:
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, receive_buffer)
        self.sock = RecordingSocket(ours.family, ours.type, fileno=ours.detach())
        self.client_sock = theirs
        self.client, headers = client_headers([PerMessageDeflate()] if deflate else [])
        self.handshake = accept(headers)
        self.subscription = Subscription(_Desk(), "dashboard", "", 8)
        self.live = LiveSocket(self.sock, self.handshake, stall_seconds=stall_seconds)
        options = {"ping_every": ping_every, "check_every": 0.05, "heartbeat_every": heartbeat_every, "check": check,
                   "refuse": refuse, "heartbeat": lambda: ["<span id='live-heartbeat'></span>"]}
        self.thread = threading.Thread(target=self.live.serve, args=(self.subscription,), kwargs=options,
                                       name=WRITER, daemon=True)
        self.thread.start()
        self.client_sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.client_sock.recv(1)  # byte by byte: nothing after the answer is taken here
        agreed(self.client, answer)

    def send(self, event) -> None:
        self.client_sock.sendall(self.client.send(event))

    def events(self, until, limit=10_000):
        """Events from the server until `until(event)` is true for one (returned with those before it)."""
        seen = []
        for _ in range(limit):
            # Events parsed from bytes already received come first: returning mid-batch leaves the
            # rest in the client's buffer, and waiting on the socket for them would wait forever.
            for event in self.client.events():
                seen.append(event)
                if until(event):
                    return seen
            data = self.client_sock.recv(65536)
            self.client.receive_data(data or None)
            if not data:
                for event in self.client.events():
                    seen.append(event)
                    if until(event):
                        return seen
                break
        raise AssertionError(f"the server never sent what was awaited; got {seen[-5:]!r}")

    def close(self):
        self.client_sock.close()
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def pages():
    made = []

    def make(**options):
        page = Page(**options)
        made.append(page)
        return page

    yield make
    for page in made:
        page.close()


def test_a_client_ping_gets_its_pong_from_the_writer_thread_never_the_reader(pages):
    page = pages()
    page.send(Ping(b"are you there"))
    pong = page.events(lambda event: isinstance(event, Pong))[-1]
    assert pong.payload == b"are you there"
    assert page.sock.writers == {WRITER}, f"written by {page.sock.writers}"


def test_a_pong_waits_behind_a_frame_being_written_and_never_splits_it(pages):
    page = pages(deflate=True, receive_buffer=4096)
    # Until the writer attaches the socket, the hub only queues, and a pong may then rightly go
    # first: the frame must be half written by "the hub" for this test to mean anything.
    wait_for(lambda: page.subscription.attached, timeout=10, message="the writer never attached the socket")
    big = Frame(['<div id="big">' + "".join(f"{n:08x}" for n in range(40_000)) + "</div>"])
    assert page.subscription.deliver(big)  # written by "the hub" (this thread), partly: the rest is queued
    assert page.subscription.direct_frames == 1, "the hub did not begin the frame"
    page.send(Ping(b"mid-frame"))
    seen = {"text": False, "pong": False}

    def both(event) -> bool:
        seen["text"] |= isinstance(event, TextMessage) and event.message_finished
        seen["pong"] |= isinstance(event, Pong)
        return seen["text"] and seen["pong"]

    events = page.events(both)
    text = "".join(event.data for event in events if isinstance(event, TextMessage))
    assert text == big[0], "the frame arrived damaged"
    assert [event.payload for event in events if isinstance(event, Pong)] == [b"mid-frame"]
    finished = next(n for n, event in enumerate(events) if isinstance(event, TextMessage) and event.message_finished)
    assert isinstance(events[-1], Pong) and len(events) - 1 > finished, "the pong went inside the frame"
    assert page.sock.writers <= {WRITER, threading.current_thread().name}


def test_a_close_from_the_page_is_answered_with_its_code_then_the_writer_ends(pages):
    page = pages()
    page.send(CloseConnection(1001, "tab closed"))
    close = page.events(lambda event: isinstance(event, CloseConnection))[-1]
    assert close.code == 1001
    page.thread.join(5)
    assert not page.thread.is_alive() and page.subscription.closed
    assert page.sock.writers == {WRITER}


def test_an_ended_session_closes_with_its_code_and_the_reason_the_page_shows(pages):
    ended = threading.Event()
    page = pages(check=lambda: (4001, "Your session has ended: you signed out.") if ended.is_set() else None)
    assert page.subscription.deliver(Frame(["<p id='a'>live</p>"]))
    page.events(lambda event: isinstance(event, TextMessage))
    ended.set()
    close = page.events(lambda event: isinstance(event, CloseConnection))[-1]
    assert (close.code, close.reason) == (4001, "Your session has ended: you signed out.")
    page.send(close.response())
    page.thread.join(5)
    assert not page.thread.is_alive()
    assert not page.subscription.deliver(Frame(["<p>late</p>"]))


def test_messages_from_the_page_are_answered_by_the_writer(pages):
    page = pages(refuse=lambda message: f'<p id="refused">{len(message)}</p>')
    page.send(TextMessage('{"action": "mute"}'))
    reply = page.events(lambda event: isinstance(event, TextMessage) and event.message_finished)[-1]
    assert reply.data == '<p id="refused">18</p>'
    assert page.sock.writers == {WRITER}


def test_a_message_too_big_closes_the_socket_1009(pages):
    page = pages(refuse=lambda message: "<p>no</p>")
    page.send(TextMessage("x" * 70_000))
    close = page.events(lambda event: isinstance(event, CloseConnection))[-1]
    assert close.code == 1009


def test_a_page_that_stops_answering_pings_is_closed_1008(pages):
    page = pages(ping_every=0.1)
    pings = page.events(lambda event: isinstance(event, Ping))
    page.send(pings[-1].response())
    close = page.events(lambda event: isinstance(event, CloseConnection))[-1]  # the next ping goes unanswered
    assert (close.code, close.reason) == (1008, "no answer to ping")


def test_a_page_that_never_reads_is_let_go_after_the_send_stall(pages):
    page = pages(stall_seconds=0.3, receive_buffer=4096)
    frame = Frame(['<div id="flood">' + "q" * 100_000 + "</div>"])
    delivered = 0
    while page.thread.is_alive() and delivered < 200:  # the queue holds 8: the writer soon blocks on a full socket
        page.subscription.deliver(frame)
        delivered += 1
        wait_for(lambda: page.subscription.pending() < 8 or not page.thread.is_alive(), timeout=10)
    wait_for(lambda: not page.thread.is_alive(), timeout=10, message="a stuck page kept its writer")
    assert page.subscription.closed and page.subscription.close_code is None
    assert not page.live.close_sent, "nothing can be written to a socket that stopped taking bytes"


def test_a_quiet_page_gets_a_heartbeat_and_the_hubs_frames_reset_its_clock(pages):
    page = pages(heartbeat_every=0.3, deflate=True)
    beat = page.events(lambda event: isinstance(event, TextMessage) and event.message_finished)[-1]
    assert beat.data == "<span id='live-heartbeat'></span>"
    assert page.subscription.deliver(Frame(["<p id='news'>1</p>"]))
    news = page.events(lambda event: isinstance(event, TextMessage) and event.message_finished)[-1]
    assert news.data == "<p id='news'>1</p>"
