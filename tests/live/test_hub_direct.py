"""The hub writes frames to a socket that keeps up, and leaves a slow one's backlog to its thread, in order."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from flask import Flask

from console.live.frames import Frame, close_frame, pong_frame
from console.live.hub import Hub
from console.live.subscription import Subscription


class _NoCatalogue:
    def accepts(self, watch):
        return True


@pytest.fixture
def pair():
    ours, browser = socket.socketpair()
    yield ours, browser
    ours.close()
    browser.close()


def _subscription(sock=None):
    subscription = Subscription(Hub(Flask("direct-test"), _NoCatalogue()), "dashboard", "", 8)
    if sock is not None:
        subscription.attach(sock, None)
    return subscription


def _read(browser, size, timeout=5.0):
    browser.settimeout(timeout)
    data = b""
    while len(data) < size:
        data += browser.recv(size - len(data))
    return data


def test_a_frame_for_a_socket_that_keeps_up_is_written_without_waking_its_thread(pair):
    ours, browser = pair
    subscription = _subscription(ours)
    frame = Frame(["<tr id='a'>1</tr>"])
    assert subscription.deliver(frame)
    assert _read(browser, len(frame.wire(None))) == frame.wire(None)
    assert subscription.direct_frames == 1
    assert subscription.pending() == 0 and subscription.next_frame(timeout=0) is None


def test_while_the_thread_writes_frames_queue_behind_it(pair):
    ours, _ = pair
    subscription = _subscription(ours)
    subscription.claim()  # the socket's thread is writing a heartbeat
    first, second = Frame(["<p id='one'>1</p>"]), Frame(["<p id='two'>2</p>"])
    assert subscription.deliver(first) and subscription.deliver(second)
    assert subscription.direct_frames == 0 and subscription.pending() == 2
    subscription.sent()
    third = Frame(["<p id='three'>3</p>"])
    assert subscription.deliver(third)  # the queue is not empty: it waits its turn too
    assert subscription.pending() == 3 and subscription.direct_frames == 0
    assert [subscription.next_frame(timeout=0) for _ in range(3)] == [first, second, third]


def test_what_a_slow_socket_cannot_take_is_finished_by_its_thread_in_order(pair):
    ours, browser = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    subscription = _subscription(ours)
    big = Frame(["<div id='big'>" + "x" * 2_000_000 + "</div>"])
    after = Frame(["<div id='after'>later</div>"])
    assert subscription.deliver(big)  # part written at once, the rest queued as bytes
    assert subscription.direct_frames == 1
    assert subscription.deliver(after)
    rest = subscription.next_frame(timeout=0)
    assert isinstance(rest, bytes) and 0 < len(rest) < len(big.wire(None))
    expected = big.wire(None) + after.wire(None)
    received = []
    reader = threading.Thread(target=lambda: received.append(_read(browser, len(expected), timeout=20)))
    reader.start()
    ours.sendall(rest)  # what the socket's thread does with it
    subscription.sent()
    ours.sendall(subscription.next_frame(timeout=0).wire(None))
    reader.join(timeout=30)
    assert received == [expected]


def test_the_thread_writes_a_half_written_frames_rest_before_anything_of_its_own(pair):
    """The thread found nothing, then the hub half-wrote a frame: the claim hands over the rest first."""
    ours, browser = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    subscription = _subscription(ours)
    assert subscription.next_frame(timeout=0) is None  # idle: the thread is about to send a heartbeat
    big = Frame(["<div id='big'>" + "y" * 2_000_000 + "</div>"])
    assert subscription.deliver(big) and subscription.direct_frames == 1
    backlog, over = subscription.claim()
    assert len(backlog) == 1 and not over, "the half-written frame's rest was not handed over"
    assert subscription.pending() == 0
    heartbeat = Frame(["<span id='live-heartbeat'></span>"]).wire(None)
    expected = big.wire(None) + heartbeat
    received = []
    reader = threading.Thread(target=lambda: received.append(_read(browser, len(expected), timeout=20)))
    reader.start()
    for item in backlog:
        ours.sendall(item)
    ours.sendall(heartbeat)
    subscription.sent()
    reader.join(timeout=30)
    assert received == [expected], "the heartbeat landed inside the frame"


def test_a_pong_waits_for_a_half_written_frame_then_goes_before_the_queued_frames(pair):
    ours, _ = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    subscription = _subscription(ours)
    big = Frame(["<div id='big'>" + "z" * 2_000_000 + "</div>"])
    assert subscription.deliver(big) and subscription.direct_frames == 1  # half written, the rest queued
    later = Frame(["<p id='later'>1</p>"])
    assert subscription.deliver(later)
    subscription.answer(pong_frame(b"are you there"))
    queued, over = subscription.claim()
    assert not over
    assert queued[0] == big.wire(None)[-len(queued[0]):], "the frame's rest must come first"
    assert queued[1:] == [pong_frame(b"are you there"), later.wire(None)]
    subscription.sent()


def test_a_pong_handed_over_is_never_written_by_the_readers_thread(pair):
    ours, browser = pair
    subscription = _subscription(ours)
    subscription.answer(pong_frame(b"x"))  # what the reader does with a ping: it only hands it over
    browser.setblocking(False)
    with pytest.raises(BlockingIOError):
        browser.recv(10)
    assert subscription.deliver(Frame(["<p>a</p>"]))
    assert subscription.direct_frames == 0, "the hub wrote past a pong waiting for the writer"
    queued, _ = subscription.claim()
    assert queued == [pong_frame(b"x"), Frame(["<p>a</p>"]).wire(None)]


def test_a_close_keeps_a_half_written_frames_rest_drops_the_backlog_and_comes_last(pair):
    ours, _ = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    subscription = _subscription(ours)
    big = Frame(["<div id='big'>" + "w" * 2_000_000 + "</div>"])
    assert subscription.deliver(big) and subscription.deliver(Frame(["<p>dropped</p>"]))
    subscription.close(4001, "Your session has ended: you signed out.")
    subscription.close(1012, "server restarting")  # the first close wins
    assert not subscription.deliver(Frame(["<p>too late</p>"]))
    queued, over = subscription.claim()
    assert over and len(queued) == 2
    assert queued[0] == big.wire(None)[-len(queued[0]):]
    assert queued[1] == close_frame(4001, "Your session has ended: you signed out.")
    assert subscription.close_claimed


def test_a_socket_that_is_gone_gets_no_close_frame(pair):
    ours, _ = pair
    subscription = _subscription(ours)
    subscription.close()
    assert subscription.claim() == ([], True) and not subscription.close_claimed


def test_a_closed_page_is_not_written_to(pair):
    ours, browser = pair
    subscription = _subscription(ours)
    subscription.close()
    assert not subscription.deliver(Frame(["<p>late</p>"]))
    browser.setblocking(False)
    with pytest.raises(BlockingIOError):
        browser.recv(10)


def test_a_socket_that_fails_is_let_go_and_its_thread_takes_over(pair):
    ours, _ = pair
    subscription = _subscription(ours)
    ours.close()
    first = Frame(["<p>a</p>"])
    assert subscription.deliver(first)  # queued for the thread, which finds the socket gone and ends the page
    assert subscription.direct_frames == 0 and subscription.pending() == 1
    assert subscription.next_frame(timeout=0) is first


class _RefusesFlags:
    """A socket that cannot send with flags, as a TLS socket cannot."""

    def send(self, data, flags=0):
        raise ValueError("non-zero flags not allowed in calls to send()")


def test_a_socket_that_cannot_send_without_blocking_leaves_every_frame_to_its_thread():
    subscription = _subscription(_RefusesFlags())
    for text in ("<p>a</p>", "<p>b</p>"):
        assert subscription.deliver(Frame([text]))
    assert subscription.pending() == 2 and subscription.direct_frames == 0


def test_tls_sockets_are_never_written_to_by_the_hub():
    subscription = _subscription()
    tls = ssl.SSLSocket.__new__(ssl.SSLSocket)  # only its type matters to attach()
    subscription.attach(tls, None)
    assert subscription.deliver(Frame(["<p>a</p>"]))
    assert subscription.pending() == 1


def test_without_a_socket_every_frame_goes_through_the_thread():
    subscription = _subscription()
    assert subscription.deliver(Frame(["<p>a</p>"]))
    assert subscription.pending() == 1 and subscription.direct_frames == 0
