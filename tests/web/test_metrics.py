"""/metrics: Prometheus text with webhook, apply, hub, socket, Telnyx and reconciler figures."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, jsonify
from prometheus_client.parser import text_string_to_metric_families

from console.live.subscription import Subscription
from console.telnyx import signing
from console.telnyx.errors import NotFoundError
from console.telnyx.events import console_event
from console.web.metrics import endpoint_of
from console.web.server import BackgroundServer
from tests.signed_webhooks import encode, envelope, post, post_signed, webhook_app


def samples(client) -> dict:
    """Every sample of /metrics as {(name, frozenset(labels)): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_webhooks_are_counted_by_type_and_outcome(tmp_path):
    key = signing.generate_signing_key()
    app = webhook_app(tmp_path / "console.db", key)
    client = app.test_client()
    body = encode(envelope("conference.participant.joined"))
    assert post_signed(client, key, body).status_code == 200
    assert post_signed(client, key, encode(envelope("call.hangup"))).status_code == 200
    assert post(client, body, {"telnyx-timestamp": "1", "telnyx-signature-ed25519": "AAAA"}).status_code == 400
    found = samples(client)
    assert value(found, "console_webhooks_total", event_type="conference.participant.joined", outcome="stored") == 1
    assert value(found, "console_webhooks_total", event_type="call.hangup", outcome="stored") == 1
    assert value(found, "console_webhooks_total", event_type="unparsed", outcome="rejected_400") == 1
    assert value(found, "console_store_apply_seconds_count", source="telnyx") == 2


def test_unknown_event_types_do_not_grow_the_label_set(tmp_path):
    key = signing.generate_signing_key()
    app = webhook_app(tmp_path / "console.db", key)
    client = app.test_client()
    post_signed(client, key, encode(envelope("made.up.type")))
    found = samples(client)
    assert value(found, "console_webhooks_total", event_type="other", outcome="stored") == 1
    assert not any(dict(labels).get("event_type") == "made.up.type" for _, labels in found)


def test_hub_ticks_frames_and_sockets_are_measured(tmp_path):
    key = signing.generate_signing_key()
    app = webhook_app(tmp_path / "console.db", key, CONSOLE_HUB_TICK_MS=10)
    hub = app.extensions["console.hub"]
    client = app.test_client()
    subscription: Subscription = hub.subscribe("dashboard")
    try:
        assert value(samples(client), "console_live_sockets") == 1
        snapshot = subscription.next_frame(timeout=5)
        assert snapshot
        post_signed(client, key, encode(envelope("conference.created", conference_id="conf-metrics",
                                                 name="Metrics", call_control_id="v3:host")))
        changes = subscription.next_frame(timeout=5)
        assert changes and any("conf-metrics" in message for message in changes)
        found = samples(client)
        assert value(found, "console_hub_tick_seconds_count") >= 2
        assert value(found, "console_hub_frame_bytes_count", kind="snapshot") == 1
        assert value(found, "console_hub_frame_bytes_count", kind="changes") >= 1
        assert value(found, "console_hub_frame_bytes_sum", kind="changes") >= sum(len(m) for m in changes)
        assert value(found, "console_hub_renders_total") >= 1
        # No socket attached here, so every frame went through the (page thread's) queue.
        assert value(found, "console_hub_frames_total", path="queued") >= 2
        assert value(found, "console_hub_draw_seconds_count", where="inline") >= 1
    finally:
        hub.unsubscribe(subscription)
        hub.stop()
    assert value(samples(client), "console_live_sockets") == 0


def test_reconciler_corrections_are_counted(tmp_path):
    key = signing.generate_signing_key()
    app = webhook_app(tmp_path / "console.db", key)
    bus = app.extensions["console.bus"]
    correction = console_event("console.conference.synced", {"id": "conf-1", "name": "Sales", "status": "in_progress",
                                                             "created_at": "2026-11-24T12:00:00Z"})
    assert bus.publish(correction)
    assert not bus.publish(correction)
    found = samples(app.test_client())
    assert value(found, "console_reconciler_corrections_total", kind="conference") == 1


def test_telnyx_requests_are_counted_by_endpoint_and_status(tmp_path):
    fake = Flask("fake-telnyx")

    @fake.post("/v2/conferences/<conference_id>/actions/mute")
    def mute(conference_id):
        return jsonify({"data": {"result": "ok"}})

    @fake.get("/v2/queues/<name>")
    def queue(name):
        return jsonify({"errors": [{"code": "10005", "title": "Resource not found"}]}), 404

    server = BackgroundServer(fake).start()
    try:
        key = signing.generate_signing_key()
        app = webhook_app(tmp_path / "console.db", key, TELNYX_BASE_URL=f"{server.url}/v2", TELNYX_API_KEY="k")
        client = app.extensions["console.telnyx"]
        client.mute("conf-9", call_control_ids=["v3:a"])
        with pytest.raises(NotFoundError):
            client.retrieve_queue("support")
        found = samples(app.test_client())
    finally:
        server.stop()
    assert value(found, "console_telnyx_requests_total", method="POST",
                 endpoint="/conferences/{id}/actions/mute", status="200") == 1
    assert value(found, "console_telnyx_requests_total", method="GET", endpoint="/queues/{id}", status="404") >= 1


def test_endpoint_labels_hide_ids_and_names():
    assert endpoint_of("https://api.telnyx.com/v2/queues/support/calls/v3:abc", "/v2") == "/queues/{id}/calls/{id}"
    assert endpoint_of("http://127.0.0.1:9/v2/conferences", "/v2") == "/conferences"


def test_metrics_over_http_from_a_served_console(tmp_path):
    app = webhook_app(tmp_path / "console.db", signing.generate_signing_key())
    server = BackgroundServer(app).start()
    try:
        text = requests.get(f"{server.url}/metrics", timeout=5).text
    finally:
        server.stop()
    assert "# TYPE console_webhooks_total counter" in text
    assert "console_live_sockets 0.0" in text
