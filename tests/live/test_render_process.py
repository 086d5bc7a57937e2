"""CONSOLE_RENDER_PROCESS: a child process draws exactly what the hub would, and losing it loses nothing."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime

import pytest
import requests
import websocket

from console import create_app
from console.bench.traffic import Traffic
from console.live.pieces import draw_changes
from console.live.render_process import RenderFailed, RenderProcess
from console.live.ui import dom_id, draw_at
from console.telnyx import signing
from console.telnyx.events import parse_event
from console.web.server import BackgroundServer
from tests import event_factory as ev
from tests.live.test_live import CONFERENCE, LEG, now, receive_until
from tests.waiting import wait_for


def test_the_child_draws_what_this_process_would(tmp_path):
    settings = {"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "render-tests"}
    app = create_app(settings)
    store = app.extensions["console.store"]
    traffic = Traffic(conferences=3, queues=2, seed=3)
    keys = store.apply_many([parse_event(body) for body, _ in traffic.opening() + traffic.events(80)])
    watched = {"dashboard", "queue:bench-queue-000", "queue:bench-queue-001",
               *(f"conference:{conference['id']}" for conference in store.live_conferences())}
    here_app = create_app(settings)  # a fresh catalogue, as the child's is
    at = datetime.now(UTC)  # the hub's tick instant: both processes draw every timer as of it
    with here_app.test_request_context("/", base_url="http://live.invalid/console"):
        draw_at(at)
        here = draw_changes(here_app.extensions["console.hub"].catalogue, keys, watched)
    child = RenderProcess(app, create_app).start()
    try:
        there = child.draw(keys, watched, "/console", at)
    finally:
        child.stop()
    assert len(here) > 10
    assert any('class="timer' in (piece.html or "") for _, piece, _ in here)  # there are timers to agree on
    assert [(atom, piece.dom_id, piece.html, topics) for atom, piece, topics in there] == \
           [(atom, piece.dom_id, piece.html, topics) for atom, piece, topics in here]
    assert any('href="/console/conferences/' in (piece.html or "") for _, piece, _ in there)  # the URL prefix
    with pytest.raises(RenderFailed):
        child.draw(keys, watched, "", at)


@pytest.fixture
def console(tmp_path):
    key = signing.generate_signing_key()
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True,
                      "TELNYX_PUBLIC_KEY": signing.public_key_b64(key), "CONSOLE_RENDER_PROCESS": True})
    server = BackgroundServer(app).start()

    def post(body: dict):
        raw = json.dumps(body).encode()
        answer = requests.post(f"{server.url}/webhooks/telnyx", data=raw, timeout=10,
                               headers={"Content-Type": "application/json", **signing.sign(raw, key)})
        assert answer.status_code == 200, answer.text

    try:
        yield app, server, post
    finally:
        server.stop()
        app.extensions["console.hub"].stop()


def test_pages_keep_updating_when_the_render_process_dies(console):
    app, server, post = console
    hub = app.extensions["console.hub"]
    sock = websocket.create_connection(f"ws://127.0.0.1:{server.port}/live?watch=dashboard", timeout=20)
    try:
        sock.recv()
        renderer = wait_for(lambda: hub.renderer, timeout=30, message="the render process never started")
        post(ev.body("conference.created", now(-5), conference_id=CONFERENCE, **ev.leg_ids(LEG)))
        receive_until(sock, dom_id("conference", CONFERENCE))
        child = renderer.pid
        os.kill(child, signal.SIGKILL)
        second = "6e1d8b49-7a1f-4c54-b3e2-7b2b4a8f0c32"
        post(ev.body("conference.created", now(), conference_id=second, **ev.leg_ids("v3:leg:two")))
        frame = receive_until(sock, dom_id("conference", second))
        assert "hx-swap-oob" in frame
        assert hub.renderer is None  # the hub draws in its own process now
        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        draws = {where: float(line.split()[-1]) for line in metrics.splitlines() for where in ("process", "inline")
                 if line.startswith(f'console_hub_draw_seconds_count{{where="{where}"}}')}
        assert draws["process"] >= 1 and draws["inline"] >= 1  # drawn in the child, then here
    finally:
        sock.close()
    hub.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
