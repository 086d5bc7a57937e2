"""Subsystems built once per app and kept in app.extensions, each reached by one accessor."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from console.cluster.mode import init_cluster
from console.ingest.bus import EventBus
from console.live import ui
from console.live.hub import Hub
from console.live.shift import ShiftCatalogue
from console.state.store import Store
from console.telnyx.client import TelnyxClient
from console.web import metrics


def init_app(app: Flask, app_factory: Callable[[dict], Flask]) -> None:
    """Open the store, wire the bus to it, and build the Telnyx client and the live hub.

    `app_factory` is what built `app`: the hub's render process builds its own app with it.
    """
    store = Store(app.config["CONSOLE_DATABASE"])
    store.migrate()
    app.extensions["console.store"] = store
    if app.config.get("CONSOLE_REDIS_URL"):  # the distributed mode (redis is loaded only then)
        init_cluster(app, store)
    else:
        EventBus().init_app(app, store)
    app.extensions["console.telnyx"] = TelnyxClient(
        app.config.get("TELNYX_API_KEY"),
        app.config["TELNYX_BASE_URL"],
        timeout=app.config["CONSOLE_TELNYX_TIMEOUT"],
    )
    _init_live(app, app_factory)


def _init_live(app: Flask, app_factory: Callable[[dict], Flask]) -> None:
    """Template helpers and the drawing clock, and the live hub (its thread starts on first use).

    The /live WebSocket is a plain route (views/live.py) that agrees the handshake and serves the
    socket itself, one writer per socket (console.live.live_socket).
    """
    ui.init_app(app)
    tick = float(app.config.get("CONSOLE_HUB_TICK_MS") or 100) / 1000
    hub = Hub(app, ShiftCatalogue(), tick=tick, app_factory=app_factory)
    app.extensions["console.hub"] = hub
    app.extensions["console.bus"].subscribe(hub.notify)
    metrics.init_app(app)
