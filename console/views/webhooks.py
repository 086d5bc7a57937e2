"""POST /webhooks/telnyx: verify, parse, commit, then answer 200.

The 200 is only sent after the event's transaction has committed, so a sender that sees it may
forget the event; anything else (a crash, a locked database) leaves the sender retrying, and the
event id makes the retry harmless. Webhooks arriving together share one transaction (ingest.py).
A replay of a request already accepted (same signature) is answered "duplicate" without touching
the event log; so is a second copy of a known event id. Unverifiable requests get a 4xx and store
nothing; verified bodies that are not events get 400.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Blueprint, current_app, g, jsonify, request

from .. import replay
from ..events import EventParseError, parse_event
from ..ingest import get_ingest
from ..signing import SIGNATURE_HEADER, SignatureError, verify

log = logging.getLogger("console.webhooks")

webhooks = Blueprint("webhooks", __name__)


@webhooks.record_once
def _setup(state) -> None:
    """Open the replay ledger on the console's database when the blueprint joins an app."""
    replay.init_app(state.app)


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
        timestamp = verify(body, request.headers, public_key, tolerance=config["CONSOLE_WEBHOOK_TOLERANCE"])
    except SignatureError as exc:
        log.warning("webhook refused: %s", exc)
        return _reject(400, exc.reason)
    try:
        event = parse_event(body)
    except EventParseError as exc:
        log.warning("webhook refused: %s", exc)
        return _reject(400, f"unreadable event: {exc}")
    g.webhook_event_type = event.event_type  # for the webhook metrics
    signature = replay.signature_key(request.headers[SIGNATURE_HEADER])
    try:
        outcome = get_ingest().submit(event, signature, timestamp)
    except sqlite3.Error:
        log.exception("webhook %r not stored: the database is unavailable", event.id[:80])
        return _reject(503, "the console cannot store events right now")
    return jsonify({"status": outcome}), 200
