"""Posting signed webhook bodies at a console app, for the reliability tests."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from console import create_app
from console.telnyx import signing

CONFERENCE_ID = "3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11"


def webhook_app(database: Path, key, **settings):
    """A console app that trusts `key`'s webhooks, on a file database, with no reconciler."""
    return create_app({
        "CONSOLE_DATABASE": str(database),
        "TELNYX_PUBLIC_KEY": signing.public_key_b64(key),
        "CONSOLE_SECRET_KEY": "reliability-tests",
        **settings,
    })


def envelope(event_type: str = "conference.participant.joined", event_id: str | None = None,
             occurred_at: str = "2026-11-24T12:00:00.000000Z", **payload) -> dict:
    """A Telnyx-shaped webhook body with a fresh id and a joined participant's payload by default."""
    return {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": occurred_at,
            "payload": {
                "call_control_id": "v3:leg-1",
                "conference_id": CONFERENCE_ID,
                "connection_id": "1494404757140276705",
                **payload,
            },
        }
    }


def encode(document) -> bytes:
    """JSON bytes as Telnyx sends them."""
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def post(client, body: bytes, headers: dict):
    """POST raw bytes with exactly these headers to the webhook endpoint."""
    return client.post("/webhooks/telnyx", data=body, headers={"Content-Type": "application/json", **headers})


def post_signed(client, key, body: bytes, *, timestamp: int | None = None):
    """POST bytes signed by `key` (now, or at `timestamp`)."""
    return post(client, body, signing.sign(body, key, timestamp=timestamp))
