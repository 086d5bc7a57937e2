"""POST /webhooks/telnyx: the HTTP face of admitting a webhook (ingest/receive.py decides the answer).

This module reads the body within its size limit, hands it with the headers to `admit`, and turns
the Admission into a JSON response with the console's security headers and webhook metrics. The
200 is only sent after the event's transaction has committed; webhooks arriving together share one
transaction (ingest/group_commit.py).

Requests reach `admit` through WebhookFastPath, a WSGI layer in front of Flask: at a thousand
webhooks a second, Flask's request machinery cost a quarter of admitting one. The Flask view gives
the same answers.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_content_length, get_host, get_input_stream

from console.access.embedding import security_headers
from console.ingest.group_commit import get_ingest
from console.ingest.receive import admit
from console.state import replay_ledger as replay
from console.web.metrics import webhook_outcome

log = logging.getLogger("console.webhooks")

webhooks = Blueprint("webhooks", __name__)
PATH = "/webhooks/telnyx"


@webhooks.record_once
def _setup(state) -> None:
    """Open the replay ledger on the console's database, and serve the path directly, when the blueprint joins an app."""
    replay.init_app(state.app)
    state.app.wsgi_app = WebhookFastPath(state.app, state.app.wsgi_app)


def read_body(stream, declared: int | None, limit: int) -> bytes | None:
    """Read the raw body, or None when it is larger than `limit` bytes."""
    if declared is not None and declared > limit:
        return None
    body = stream.read(limit + 1)
    return None if len(body) > limit else body


@webhooks.post(PATH)
def receive():
    """Accept a Telnyx webhook only when its Ed25519 signature verifies.

    In an app made by create_app, WebhookFastPath answers these requests before Flask sees them.
    The view names the endpoint (permissions, url_for, 405 for other methods) and answers the same
    way wherever that layer is taken out, as the parity test does.
    """
    config = current_app.config
    body = read_body(request.stream, request.content_length, config["CONSOLE_WEBHOOK_MAX_BYTES"])
    status, answer, g.webhook_event_type = admit(body, request.headers, config, get_ingest())
    return jsonify(answer), status


class WebhookFastPath:
    """WSGI middleware: POST /webhooks/telnyx is admitted without Flask's request machinery.

    At a thousand webhooks a second, Flask's request context, session, hooks and response object
    cost about a quarter of what admitting a webhook costs. The answer is the view's: the same
    `admit`, the same JSON, the same security headers and webhook metrics. Every other request
    goes on to the app.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        app = self.app
        config = app.config
        with app.app_context():
            try:
                body = read_body(get_input_stream(environ, max_content_length=None), get_content_length(environ),
                                 config["CONSOLE_WEBHOOK_MAX_BYTES"])
                status, answer, event_type = admit(body, EnvironHeaders(environ), config, get_ingest())
            except Exception:  # a bug here must answer like any other failed request, not crash the worker
                log.exception("webhook not admitted: unexpected error")
                status, answer, event_type = 500, {"error": "the console could not handle this webhook"}, None
            metrics = app.extensions.get("console.metrics")
            if metrics is not None:
                metrics.webhook(event_type, webhook_outcome(status, answer))
            payload = (json.dumps(answer, separators=(",", ":")) + "\n").encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                       *security_headers(config, get_host(environ))]
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
        return [payload]
