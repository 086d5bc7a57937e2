"""Helpers for the simulator's own tests: a hand-driven clock, an event log, answered legs, and a
REST app served on a free local port for as long as a ``with`` block lasts."""

from __future__ import annotations

import contextlib
import random
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from console.simulator.app import release_held_requests
from console.simulator.world import World

START = 1_767_225_600.0


class ManualClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: float = START):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def listening_world(clock, events, seed: int) -> World:
    """A world on the hand-driven clock, seeded, whose every webhook body goes to `events`."""
    world = World(clock=clock, rng=random.Random(seed))
    world.subscribe(events)
    return world


class EventLog:
    """A world listener that keeps every webhook body, with helpers to look them up."""

    def __init__(self):
        self.bodies: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> None:
        with self._lock:
            self.bodies.append(body)

    @staticmethod
    def event(body: dict) -> dict:
        """The event object, whether the body wraps it in ``data`` or not (floor.changed)."""
        return body.get("data", body)

    def types(self) -> list[str]:
        with self._lock:
            return [self.event(b)["event_type"] for b in self.bodies]

    def of(self, event_type: str) -> list[dict]:
        """Every body of one event type, in order."""
        with self._lock:
            return [b for b in self.bodies if self.event(b)["event_type"] == event_type]

    def payloads(self, event_type: str) -> list[dict]:
        return [self.event(b)["payload"] for b in self.of(event_type)]

    def clear(self) -> None:
        with self._lock:
            self.bodies.clear()


def answered_call(world, from_: str = "+15550001111", to: str = "+15559990000", name: str | None = None) -> str:
    """An incoming leg (shown as `name`, else its number) that has been answered; returns its call_control_id."""
    call = world.incoming_call(from_, to, caller_id_name=name)
    world.answer_call(call["call_control_id"])
    return call["call_control_id"]


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log lines."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def serving(app):
    """Serve ``app`` threaded on 127.0.0.1 at a free port; yield its root URL; always shut it down."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="simulator-rest",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        release_held_requests(app)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
