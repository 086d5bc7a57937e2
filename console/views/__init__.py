"""Blueprints, one concern each."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from .pages import pages
    from .webhooks import webhooks

    app.register_blueprint(webhooks)
    app.register_blueprint(pages)
