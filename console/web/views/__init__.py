"""Blueprints, one concern each; register_views attaches them all to an app."""

from __future__ import annotations

from flask import Flask

# Each view module is imported as a module, not `from ... import <blueprint>`: the blueprints share
# their modules' names and would otherwise shadow them as attributes of this package.
from console.web import metrics
from console.web.views import (
    actions,
    agent_board,
    agents,
    audit,
    auth,
    breach,
    health,
    history,
    live,
    pages,
    queue_actions,
    shift,
    supervise,
    users,
    wallboard,
    webhooks,
)


def register_views(app: Flask) -> None:
    """Attach every blueprint to the app."""
    app.register_blueprint(webhooks.webhooks)
    app.register_blueprint(health.health)
    app.register_blueprint(auth.auth)
    app.register_blueprint(pages.pages)
    app.register_blueprint(actions.actions)
    app.register_blueprint(queue_actions.queue_actions)
    app.register_blueprint(live.live)
    app.register_blueprint(wallboard.wallboard)
    app.register_blueprint(breach.breach)
    app.register_blueprint(history.history)
    app.register_blueprint(shift.shift)
    app.register_blueprint(supervise.supervise)
    app.register_blueprint(metrics.metrics_views)
    app.register_blueprint(audit.audit)
    app.register_blueprint(users.users)
    app.register_blueprint(agents.agents)
    app.register_blueprint(agent_board.agent_board)
