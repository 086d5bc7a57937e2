"""Blueprints, one concern each."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from console.live.catalogue import live
    from console.web.metrics import metrics_views
    from console.web.views.actions import actions
    from console.web.views.audit import audit
    from console.web.views.auth import auth
    from console.web.views.breach import breach
    from console.web.views.health import health
    from console.web.views.history import history
    from console.web.views.pages import pages
    from console.web.views.queue_actions import queue_actions
    from console.web.views.supervise import supervise
    from console.web.views.users import users
    from console.web.views.wallboard import wallboard
    from console.web.views.webhooks import webhooks

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
