"""The /live WebSocket on a real server: snapshot first, then OOB fragments after signed webhooks."""

from __future__ import annotations

import json
import re
import struct
from datetime import UTC, datetime, timedelta

import pytest
import requests
import websocket

from console import create_app
from console.live.hub import SERVICE_RESTART
from console.live.ui import dom_id
from console.telnyx import signing
from console.web.server import BackgroundServer
from tests import event_factory as ev
from tests.waiting import wait_for

CONFERENCE = "5d0c7a38-6f0e-4b43-a2d4-6a1a3f7e9b21"
LEG = "v3:leg:one"


@pytest.fixture
def signing_key():
    return signing.generate_signing_key()


@pytest.fixture
def console(tmp_path, signing_key):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True,
                      "TELNYX_PUBLIC_KEY": signing.public_key_b64(signing_key)})
    server = BackgroundServer(app).start()
    try:
        yield app, server
    finally:
        server.stop()
        app.extensions["console.hub"].stop()


@pytest.fixture
def connect(console):
    _, server = console
    sockets = []

    def connect(watch="dashboard"):
        sock = websocket.create_connection(f"ws://127.0.0.1:{server.port}/live?watch={watch}", timeout=5)
        sockets.append(sock)
        return sock

    yield connect
    for sock in sockets:
        sock.close()


@pytest.fixture
def post_webhook(console, signing_key):
    _, server = console

    def post(event_body: dict):
        raw = json.dumps(event_body).encode()
        response = requests.post(f"{server.url}/webhooks/telnyx", data=raw, timeout=5,
                                 headers={"Content-Type": "application/json", **signing.sign(raw, signing_key)})
        assert response.status_code == 200, response.text
        return response

    return post


def now(offset: float = 0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset)


def receive_until(sock, needle: str, limit: int = 20) -> str:
    """Frames until one contains `needle` (heartbeats and unrelated frames are skipped)."""
    for _ in range(limit):
        frame = sock.recv()
        if needle in frame:
            return frame
    raise AssertionError(f"no frame with {needle!r}")


def test_snapshot_then_a_new_conference_arrives_as_an_oob_row(connect, post_webhook):
    sock = connect("dashboard")
    first = sock.recv()
    assert dom_id("kpi", "waiting") in first and "<tbody" not in first  # table parts travel apart
    assert '<tbody hx-swap-oob="true" id="conference-rows" data-empty>' in sock.recv()
    post_webhook(ev.body("conference.created", now(), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    frame = receive_until(sock, dom_id("conference", CONFERENCE))
    assert f'<tbody hx-swap-oob="afterbegin:#conference-rows"><tr id="{dom_id("conference", CONFERENCE)}"' in frame
    assert "Conference 5d0c7a38…" in frame


def test_changed_rows_are_replaced_and_ended_ones_removed(connect, post_webhook):
    post_webhook(ev.body("conference.created", now(-5), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    sock = connect("dashboard")
    row_id = dom_id("conference", CONFERENCE)
    receive_until(sock, row_id)
    post_webhook(ev.body("conference.participant.joined", now(-4), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    frame = receive_until(sock, row_id)
    assert re.search(rf'<tr hx-swap-oob="true" id="{row_id}"', frame)
    post_webhook(ev.body("conference.ended", now(), conference_id=CONFERENCE, reason="all_left", **ev.leg_ids(LEG)))
    frame = receive_until(sock, row_id)
    assert f'<div id="{row_id}" hx-swap-oob="delete" data-gone="1"></div>' in frame


def test_a_conference_page_gets_participant_cards(connect, post_webhook):
    post_webhook(ev.body("conference.created", now(-5), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    sock = connect(f"conference:{CONFERENCE}")
    snapshot = sock.recv()
    assert dom_id("conference-header", CONFERENCE) in snapshot and 'id="participant-cards"' in snapshot
    post_webhook(ev.body("conference.participant.joined", now(), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    frame = receive_until(sock, dom_id("participant", CONFERENCE, LEG))
    assert '<div hx-swap-oob="beforeend:#participant-cards"><article id="' in frame


def test_pages_only_hear_about_what_they_show(connect, post_webhook):
    other = connect("queue:Support")
    other.recv()
    post_webhook(ev.body("conference.created", now(), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    post_webhook(ev.body("call.enqueued", now(), queue="Support", current_position=1, **ev.leg_ids("v3:caller")))
    frame = receive_until(other, dom_id("queued-call", "Support", "v3:caller"))
    assert dom_id("conference", CONFERENCE) not in frame


def test_closing_the_socket_unsubscribes(console, connect):
    app, _ = console
    hub = app.extensions["console.hub"]
    sock = connect("dashboard")
    sock.recv()
    assert hub.subscriber_count() == 1
    sock.close()
    wait_for(lambda: hub.subscriber_count() == 0, timeout=5)


def close_code(sock) -> int:
    """Read frames until the server's close frame; return its status code."""
    for _ in range(20):
        opcode, frame = sock.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0]
    raise AssertionError("the server never closed the socket")


def test_unknown_watch_is_refused(connect):
    assert close_code(connect("nothing")) == 1008


def test_stopping_the_hub_tells_browsers_to_reconnect(console, connect):
    app, _ = console
    sock = connect("dashboard")
    sock.recv()
    app.extensions["console.hub"].stop()
    assert close_code(sock) == SERVICE_RESTART


def test_the_ended_page_gains_conferences_as_they_end(connect, post_webhook):
    post_webhook(ev.body("conference.created", now(-60), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    sock = connect("ended")
    assert 'id="ended-rows"' in sock.recv()
    post_webhook(ev.body("conference.ended", now(), conference_id=CONFERENCE, reason="all_left", **ev.leg_ids(LEG)))
    frame = receive_until(sock, dom_id("ended", CONFERENCE))
    assert frame.startswith('<tbody hx-swap-oob="afterbegin:#ended-rows">') and "Everyone left" in frame


def test_conference_wide_playback_updates_the_media_state_line(connect, post_webhook):
    post_webhook(ev.body("conference.created", now(-5), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
    sock = connect(f"conference:{CONFERENCE}")
    sock.recv()
    post_webhook(ev.body("conference.playback.started", now(), conference_id=CONFERENCE, media_name="hold-music"))
    frame = receive_until(sock, dom_id("media-state", CONFERENCE))
    assert "Playing hold-music to everyone" in frame
