"""Blueprints, one concern each."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from .actions import actions
    from .health import health
    from .live import live
    from .pages import pages
    from .queue_actions import queue_actions
    from .webhooks import webhooks

    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_blueprint(pages)
    app.register_blueprint(actions)
    app.register_blueprint(queue_actions)
    app.register_blueprint(live)
