"""POST /webhooks/telnyx: verify, parse, commit, then answer 200."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from ..bus import get_bus
from ..extensions import get_store
from ..events import EventParseError, parse_event
from ..signing import SignatureError, verify

log = logging.getLogger("console.webhooks")

webhooks = Blueprint("webhooks", __name__)


def _reject(status: int, reason: str):
    """A short JSON refusal; nothing is stored."""
    return jsonify({"error": reason}), status


def _read_body(limit: int) -> bytes | None:
    """Read the raw body, or None when it is larger than `limit` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


@webhooks.post("/webhooks/telnyx")
def receive():
    """Accept a Telnyx webhook only when its Ed25519 signature verifies."""
    config = current_app.config
    body = _read_body(config["CONSOLE_WEBHOOK_MAX_BYTES"])
    if body is None:
        return _reject(413, "body larger than the webhook limit")
    public_key = config.get("TELNYX_PUBLIC_KEY")
    if not public_key:
        log.error("webhook refused: TELNYX_PUBLIC_KEY is not configured")
        return _reject(400, "webhook verification is not configured")
    try:
        verify(body, request.headers, public_key, tolerance=config["CONSOLE_WEBHOOK_TOLERANCE"])
    except SignatureError as exc:
        log.warning("webhook refused: %s", exc)
        return _reject(400, exc.reason)
    try:
        event = parse_event(body)
    except EventParseError as exc:
        log.warning("webhook refused: %s", exc)
        return _reject(400, f"unreadable event: {exc}")
    if get_store().has_event(event.id):
        return jsonify({"status": "duplicate"}), 200
    get_bus().publish(event)
    return jsonify({"status": "stored"}), 200
