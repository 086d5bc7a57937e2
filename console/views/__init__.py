"""Blueprints, one concern each."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from .actions import actions
    from .audit import audit
    from .auth import auth
    from .breach import breach
    from .health import health
    from .history import history
    from .live import live
    from ..metrics import metrics_views
    from .pages import pages
    from .queue_actions import queue_actions
    from .supervise import supervise
    from .users import users
    from .wallboard import wallboard
    from .webhooks import webhooks

    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_blueprint(auth)
    app.register_blueprint(pages)
    app.register_blueprint(actions)
    app.register_blueprint(queue_actions)
    app.register_blueprint(live)
    app.register_blueprint(wallboard)
    app.register_blueprint(breach)
    app.register_blueprint(history)
    app.register_blueprint(supervise)
    app.register_blueprint(metrics_views)
    app.register_blueprint(audit)
    app.register_blueprint(users)
