"""The bundled Telnyx simulator: REST API, signed webhooks, chaos and call-center traffic in one object.

``Simulator`` wires the pieces together: a ``World`` (the state machine), ``Chaos`` (faults on
request), ``WebhookDelivery`` (subscribed to the world, posting signed events to the console), the
Flask REST app serving ``/v2`` and ``/_sim``, and optionally ``Traffic`` running the demo's day
(``rush.DEMO_DAY``). ``start()`` serves it all on a free port from background threads; ``stop()``
takes every one of them down again.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time

import requests
from flask import Blueprint, jsonify, request

from console.simulator.app import create_rest_app, release_held_requests
from console.simulator.chaos import Chaos
from console.simulator.delivery import WebhookDelivery
from console.simulator.rush import DEMO_DAY, DEMO_WARM_START
from console.simulator.traffic import Traffic
from console.simulator.world import World, WorldError
from console.telnyx.signing import (
    generate_signing_key,
    load_signing_key,
    public_key_b64,
    signing_key_seed,
)
from console.web.server import BackgroundServer

log = logging.getLogger("console.simulator")

__all__ = ["Chaos", "Simulator", "Traffic", "WebhookDelivery", "World", "WorldError", "main_simulate"]

TICK_SECONDS = 0.1
WARM_START = DEMO_WARM_START
JOIN_LIMIT = 5.0


def _debug_routes(simulator: Simulator) -> Blueprint:
    """``/_sim/delivery`` (counters, and POST ``{"url": ...}`` to aim webhooks) and ``/_sim/traffic``."""
    routes = Blueprint("simulator_delivery", __name__)

    @routes.get("/delivery")
    def delivery_stats():
        return jsonify(simulator.delivery.stats())

    @routes.post("/delivery")
    def aim_delivery():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not (body.get("url") is None or isinstance(body.get("url"), str)):
            return jsonify({"error": 'send {"url": "<webhook url>"} or {"url": null}'}), 400
        simulator.delivery.set_url(body.get("url") or None)
        return jsonify(simulator.delivery.stats())

    @routes.get("/traffic")
    def traffic_stats():
        return jsonify(simulator.traffic.stats() if simulator.traffic else {"enabled": False})

    return routes


class Simulator:
    """A Telnyx stand-in serving REST on a free port and posting signed webhooks to ``webhook_url``."""

    def __init__(
        self,
        *,
        api_key: str | None = "sim-key",
        signing_key=None,
        webhook_url: str | None = None,
        seed: int = 0,
        speed: float = 1.0,
        traffic: bool = True,
        chaos: Chaos | None = None,
        clock=time.time,
        delivery_session: requests.Session | None = None,
    ):
        """`delivery_session`: the HTTP session webhooks are posted with (default: one of the delivery's own;
        a multi-instance demo passes one that opens a connection per webhook, so they spread out)."""
        self.api_key = api_key or None
        self.generated_signing_key = signing_key is None
        self.signing_key = generate_signing_key() if signing_key is None else signing_key
        self.public_key = public_key_b64(self.signing_key)
        self.chaos = chaos if chaos is not None else Chaos()
        self.world = World(clock=clock, rng=random.Random(seed))
        self.delivery = WebhookDelivery(
            webhook_url, self.signing_key, self.chaos, rng=random.Random(f"{seed}:delivery"), session=delivery_session
        )
        self.world.subscribe(self.delivery.submit)
        self.app = create_rest_app(self.world, self.chaos, api_key=self.api_key)
        self.app.register_blueprint(_debug_routes(self), url_prefix="/_sim")
        # The demo's working day: staffed for its base load, with a rush on one queue now and then.
        self.traffic = Traffic(self.world, seed=f"{seed}:traffic", speed=speed, **DEMO_DAY) if traffic else None
        self.root_url: str | None = None
        self.base_url: str | None = None
        self._server: BackgroundServer | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the REST app, start delivery, the world's timers and traffic; return the /v2 base URL."""
        if self._server is not None:
            return self.base_url
        self._server = BackgroundServer(self.app, host=host, port=port)
        reachable = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.root_url = f"http://{reachable}:{self._server.port}"
        self.base_url = f"{self.root_url}/v2"
        self.world.recording_base_url = self.root_url
        self._server.start()
        self.delivery.start()
        self._stopping.clear()
        self._ticker = threading.Thread(target=self._tick, name="sim-world-ticker", daemon=True)
        self._ticker.start()
        if self.traffic is not None:
            # The first calls wait (briefly) for a webhook URL, so a console started next sees them.
            self.traffic.start(warm=WARM_START, when=lambda: self.delivery.url is not None)
        return self.base_url

    def _tick(self) -> None:
        """Advance the world's timers (dial answers, queue timeouts, playback ends) about ten times a second."""
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self.world.tick()
            except Exception:
                log.exception("world tick failed; the timers carry on")

    def stop(self) -> None:
        """Stop traffic, timers, the server and delivery, joining each thread within a bound."""
        if self.traffic is not None:
            self.traffic.stop(JOIN_LIMIT)
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(JOIN_LIMIT)
            self._ticker = None
        if self._server is not None:
            release_held_requests(self.app)
            self._server.stop()
            self._server = None
        self.delivery.stop()


def main_simulate(
    host: str,
    port: int,
    webhook_url: str | None,
    api_key: str | None,
    signing_key_b64: str | None,
    seed: int,
    speed: float,
    traffic: bool,
) -> None:
    """Run a simulator in the foreground until Ctrl-C or SIGTERM (the ``simulate`` command)."""
    key = load_signing_key(signing_key_b64) if signing_key_b64 else None
    simulator = Simulator(
        api_key=api_key, signing_key=key, webhook_url=webhook_url, seed=seed, speed=speed, traffic=traffic
    )
    base_url = simulator.start(host=host, port=port)
    print(f"Simulated Telnyx API: {base_url}", flush=True)
    print(f"TELNYX_PUBLIC_KEY={simulator.public_key}", flush=True)
    if simulator.generated_signing_key:
        print(f"Signing key seed (reuse with --signing-key): {signing_key_seed(simulator.signing_key)}", flush=True)
    if webhook_url:
        print(f"Posting signed webhooks to {webhook_url}", flush=True)
    else:
        print(f"No --webhook-url: events are not delivered until one is POSTed to {simulator.root_url}/_sim/delivery",
              flush=True)
    print("Ctrl-C stops the simulator.", flush=True)
    try:
        _wait_for_signal()
    finally:
        simulator.stop()


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (handlers are only installed from the main thread)."""
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
