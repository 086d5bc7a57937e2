"""Admitting one Telnyx webhook: verify its signature, read its event, commit it, say what to answer.

Nothing here is HTTP framing: the web room reads the body (None when it was too large), hands over
the headers, and turns the Admission into a response with its security headers and metrics. The
200 only comes once the event's transaction has committed, so a sender that sees it may forget the
event; a crash or a locked database leaves the sender retrying, and the event id makes the retry
harmless. A replay of a request already accepted (same signature) is answered "duplicate" without
touching the event log; so is a second copy of a known event id. Unverifiable requests get a 4xx
and store nothing; verified bodies that are not events get 400.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import NamedTuple

from console.ingest.group_commit import Ingest, IngestUnavailable
from console.state.replay_ledger import signature_key
from console.telnyx.events import EventParseError, parse_event
from console.telnyx.signing import SIGNATURE_HEADER, SignatureError, verify

# Admission outcomes are the webhook endpoint's story, so they are logged under its name.
log = logging.getLogger("console.webhooks")


class Admission(NamedTuple):
    """What to answer a webhook: its HTTP status, its JSON answer, and its event type once it parsed."""

    status: int
    answer: dict
    event_type: str | None


def admit(body: bytes | None, headers, config: Mapping, ingest: Ingest) -> Admission:
    """Verify, parse and commit one webhook, and say what to answer it.

    `body` is None when it was larger than the limit; `headers` is any case-insensitive mapping.
    """
    if body is None:
        return Admission(413, {"error": "body larger than the webhook limit"}, None)
    public_key = config.get("TELNYX_PUBLIC_KEY")
    if not public_key:
        log.error("webhook refused: TELNYX_PUBLIC_KEY is not configured")
        return Admission(400, {"error": "webhook verification is not configured"}, None)
    try:
        timestamp = verify(body, headers, public_key, tolerance=config["CONSOLE_WEBHOOK_TOLERANCE"])
    except SignatureError as exc:
        log.warning("webhook refused: %s", exc)
        return Admission(400, {"error": exc.reason}, None)
    try:
        event = parse_event(body)
    except EventParseError as exc:
        log.warning("webhook refused: %s", exc)
        return Admission(400, {"error": f"unreadable event: {exc}"}, None)
    signature = signature_key(headers[SIGNATURE_HEADER])
    try:
        outcome = ingest.submit(event, signature, timestamp)
    except sqlite3.Error:
        log.exception("webhook %r not stored: the database is unavailable", event.id[:80])
        return Admission(503, {"error": "the console cannot store events right now"}, event.event_type)
    except IngestUnavailable as exc:
        log.warning("webhook %r not stored: %s", event.id[:80], exc)
        return Admission(503, {"error": "the console cannot store events right now"}, event.event_type)
    return Admission(200, {"status": outcome}, event.event_type)
