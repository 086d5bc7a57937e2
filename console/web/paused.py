"""The distributed mode's "data paused": what pages and actions do while this instance cannot follow Redis.

Pages keep being served from the instance's read model, with a banner saying its data is paused
(so the load balancer must not take the instance out: /readyz says not ready, /healthz stays up).
Commands are refused before anything reaches Telnyx, with the reason: their result could not be
recorded. Webhooks answer 503 on their own path (console.ingest.receive), so Telnyx retries them.
In the embedded mode there is no cluster and nothing here ever fires.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from markupsafe import Markup, escape

from console.ingest.group_commit import IngestUnavailable
from console.ingest.singletons import CLUSTER

PAUSED = ("This console cannot reach its shared event store (Redis): what you see stops at the moment it "
          "lost it, and commands are refused. It resumes by itself when Redis is back.")
REFUSED = ("The console cannot record commands right now: its shared event store (Redis) is unreachable. "
           "Nothing was sent to Telnyx; try again when the banner is gone.")
# Requests that may go on while paused: webhooks answer 503 themselves; signing in and out only touch sessions.
_ALWAYS = ("webhooks.", "auth.", "health.", "static")


def data_paused() -> str | None:
    """The banner's words while this instance cannot follow the stream, else None."""
    cluster = current_app.extensions.get(CLUSTER)
    if cluster is None or cluster.follower.connected:
        return None
    return PAUSED


def paused_slot(text: str | None, *, oob: bool = False) -> Markup:
    """Where every page shows the banner (empty while data flows); `oob` for a push to open pages."""
    swap = ' hx-swap-oob="true"' if oob else ""
    if text is None:
        return Markup(f'<div id="data-paused-slot"{swap}></div>')
    return Markup(f'<div id="data-paused-slot"{swap}><p class="access-banner data-paused" id="data-paused-banner" '
                  f'role="alert"><strong>Data paused.</strong> {escape(text)}</p></div>')


def _refuse_commands() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or (request.endpoint or "").startswith(_ALWAYS):
        return
    if data_paused() is not None:
        raise IngestUnavailable(REFUSED)


def init_app(app: Flask) -> None:
    """Refuse commands while paused, give templates the banner, and push it to open pages on each change."""
    app.before_request(_refuse_commands)
    app.jinja_env.globals["paused_slot"] = lambda: paused_slot(data_paused())
    cluster, hub = app.extensions.get(CLUSTER), app.extensions.get("console.hub")
    if cluster is not None and hub is not None:
        cluster.follower.on_connection = (
            lambda connected: hub.broadcast([str(paused_slot(None if connected else PAUSED, oob=True))]))
