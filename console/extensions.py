"""Subsystems built once per app and kept in app.extensions, each reached by one accessor."""

from __future__ import annotations

from flask import Flask, current_app

from .bus import EventBus
from .store import Store
from .telnyx import TelnyxClient


def init_app(app: Flask) -> None:
    """Open the store, wire the bus to it, and build the Telnyx client."""
    store = Store(app.config["CONSOLE_DATABASE"])
    store.migrate()
    app.extensions["console.store"] = store
    EventBus().init_app(app, store)
    app.extensions["console.telnyx"] = TelnyxClient(
        app.config.get("TELNYX_API_KEY"),
        app.config["TELNYX_BASE_URL"],
        timeout=app.config["CONSOLE_TELNYX_TIMEOUT"],
    )


def get_store() -> Store:
    """The current app's store."""
    return current_app.extensions["console.store"]


def get_telnyx() -> TelnyxClient:
    """The current app's Telnyx client."""
    return current_app.extensions["console.telnyx"]
