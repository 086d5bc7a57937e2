"""POST /webhooks/telnyx: signed events are committed; anything unverifiable is refused and not stored."""

from __future__ import annotations

import json
import uuid

import pytest

from console import create_app
from console.telnyx import signing


@pytest.fixture
def signing_key():
    return signing.generate_signing_key()


@pytest.fixture
def app(tmp_path, signing_key):
    return create_app(
        {
            "CONSOLE_DATABASE": str(tmp_path / "console.db"),
            "TELNYX_PUBLIC_KEY": signing.public_key_b64(signing_key),
            "CONSOLE_WEBHOOK_MAX_BYTES": 4096,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["console.store"]


def _event(event_type="conference.participant.joined", event_id=None, **payload):
    return {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": "2026-11-24T12:00:00.000000Z",
            "payload": {
                "call_control_id": "v3:leg-1",
                "conference_id": "3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11",
                "connection_id": "1494404757140276705",
                **payload,
            },
        }
    }


def post(client, key, body: bytes, headers=None):
    return client.post(
        "/webhooks/telnyx",
        data=body,
        headers={"Content-Type": "application/json", **(signing.sign(body, key) if headers is None else headers)},
    )


def test_signed_event_is_stored(client, store, signing_key):
    body = json.dumps(_event()).encode()
    response = post(client, signing_key, body)
    assert response.status_code == 200
    assert response.get_json() == {"status": "stored"}
    assert store.event_count() == 1
    conference = store.conference("3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11")
    assert conference is not None
    participants = store.participants("3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11")
    assert [p["call_control_id"] for p in participants] == ["v3:leg-1"]


def test_duplicate_answers_200_and_adds_no_row(client, store, signing_key):
    body = json.dumps(_event(event_id="f1d2d2f9-0000-4000-8000-000000000001")).encode()
    assert post(client, signing_key, body).status_code == 200
    again = post(client, signing_key, body)
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate"}
    assert store.event_count() == 1


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [
        ("tampered", "signature does not match"),
        ("unsigned", "missing signature header"),
        ("stale", "timestamp too old"),
        ("not-json", "unreadable event"),
        ("no-event-type", "unreadable event"),
    ],
)
def test_bad_webhook_answers_400_and_stores_nothing(client, store, signing_key, case, expected_reason):
    body = json.dumps(_event()).encode()
    headers = signing.sign(body, signing_key)
    if case == "tampered":
        body = body.replace(b"leg-1", b"leg-2")
    elif case == "unsigned":
        headers = {}
    elif case == "stale":
        headers = signing.sign(body, signing_key, timestamp=1_000_000_000)
    elif case == "not-json":
        body = b"this is not json"
        headers = signing.sign(body, signing_key)
    elif case == "no-event-type":
        body = json.dumps({"data": {"id": "x", "payload": {}}}).encode()
        headers = signing.sign(body, signing_key)
    response = post(client, signing_key, body, headers)
    assert response.status_code == 400
    assert expected_reason in response.get_json()["error"]
    assert store.event_count() == 0


def test_oversized_body_answers_413(client, store, signing_key):
    event = _event()
    event["data"]["payload"]["client_state"] = "A" * 5000
    body = json.dumps(event).encode()
    response = post(client, signing_key, body)
    assert response.status_code == 413
    assert store.event_count() == 0


def test_no_public_key_means_no_webhook_is_accepted(tmp_path, signing_key):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "c.db"), "TELNYX_PUBLIC_KEY": None})
    body = json.dumps(_event()).encode()
    response = post(app.test_client(), signing_key, body)
    assert response.status_code == 400
    assert app.extensions["console.store"].event_count() == 0


def test_webhook_from_unverified_key_is_refused(client, store):
    other = signing.generate_signing_key()
    body = json.dumps(_event()).encode()
    assert post(client, other, body).status_code == 400
    assert store.event_count() == 0
