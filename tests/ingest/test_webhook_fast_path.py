"""POST /webhooks/telnyx skips Flask's request machinery, and answers exactly as the Flask view would."""

from __future__ import annotations

import time

from console.ingest import receive
from console.telnyx import signing
from console.web.views.webhooks import WebhookFastPath
from tests.signed_webhooks import encode, envelope, post, post_signed, webhook_app


def _fast_path_of(app) -> WebhookFastPath:
    layer = app.wsgi_app
    while not isinstance(layer, WebhookFastPath):
        layer = layer.wsgi_app
    return layer


def _without_fast_path(app):
    """The same app with its webhook fast path taken out, so the Flask view answers."""
    fast = _fast_path_of(app)
    outer = app.wsgi_app
    if outer is fast:
        app.wsgi_app = fast.wsgi_app
    else:
        while outer.wsgi_app is not fast:
            outer = outer.wsgi_app
        outer.wsgi_app = fast.wsgi_app
        # TrustedProxies keeps a ProxyFix around the same inner app for trusted peers.
        if hasattr(outer, "behind_proxy"):
            outer.behind_proxy.app = fast.wsgi_app
    return app


def _requests(key):
    """(name, body, headers) of requests covering every answer the endpoint gives."""
    known = encode(envelope(event_id="11111111-0000-4000-8000-000000000001"))
    big = encode(envelope(label="x" * 5000))
    own = encode(envelope("console.note"))
    return [
        ("stored", known, signing.sign(known, key)),
        ("duplicate id", known, signing.sign(known, key, timestamp=int(time.time()) - 1)),
        ("replayed signature", known, None),
        ("bad signature", known, {**signing.sign(known, key), "Telnyx-Signature-Ed25519": "AAAA"}),
        ("no headers", known, {}),
        ("not json", b"{nope", signing.sign(b"{nope", key)),
        ("not an event", encode({"data": 3}), signing.sign(encode({"data": 3}), key)),
        ("too big", big, signing.sign(big, key)),
        ("console event", own, signing.sign(own, key)),
    ]


def _answers(app, key):
    client = app.test_client()
    answers, replay_headers = [], None
    for name, body, headers in _requests(key):
        if headers is None:
            headers = replay_headers
        elif name == "stored":
            replay_headers = headers
        response = post(client, body, headers)
        security = {k: v for k, v in response.headers.items() if k not in ("Content-Length", "Date", "Server")}
        answers.append((name, response.status_code, response.get_json(), security))
    return answers


def test_the_fast_path_answers_every_case_as_the_flask_view_does(tmp_path, key):
    fast = webhook_app(tmp_path / "fast.db", key, CONSOLE_WEBHOOK_MAX_BYTES=4096)
    slow = _without_fast_path(webhook_app(tmp_path / "slow.db", key, CONSOLE_WEBHOOK_MAX_BYTES=4096))
    fast_answers, slow_answers = _answers(fast, key), _answers(slow, key)
    assert fast_answers == slow_answers
    statuses = {name: status for name, status, _, _ in fast_answers}
    assert statuses == {"stored": 200, "duplicate id": 200, "replayed signature": 200, "bad signature": 400,
                        "no headers": 400, "not json": 400, "not an event": 400, "too big": 413,
                        "console event": 200}
    assert all(headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
               for _, _, _, headers in fast_answers)
    for app in (fast, slow):
        assert app.extensions["console.store"].event_count() == 1


def test_webhooks_do_not_reach_the_flask_view_but_other_methods_do(tmp_path, key):
    app = webhook_app(tmp_path / "console.db", key)

    def refuse():
        raise AssertionError("the Flask view was reached")

    app.view_functions["webhooks.receive"] = refuse
    client = app.test_client()
    body = encode(envelope())
    response = post_signed(client, key, body)
    assert response.status_code == 200 and response.get_json() == {"status": "stored"}
    other = client.get("/webhooks/telnyx")
    assert other.status_code == 405
    assert "Content-Security-Policy" in other.headers


def test_the_fast_path_counts_webhooks_in_the_metrics(tmp_path, key):
    app = webhook_app(tmp_path / "console.db", key)
    client = app.test_client()
    body = encode(envelope())
    post_signed(client, key, body)
    post(client, body, {})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'console_webhooks_total{event_type="conference.participant.joined",outcome="stored"} 1.0' in text
    assert 'console_webhooks_total{event_type="unparsed",outcome="rejected_400"} 1.0' in text


def test_an_unexpected_error_answers_500_in_json_and_the_next_webhook_is_stored(tmp_path, key, monkeypatch, caplog):
    app = webhook_app(tmp_path / "console.db", key)
    client = app.test_client()
    real = receive.parse_event
    monkeypatch.setattr(receive, "parse_event", lambda body: 1 / 0)
    failed = post_signed(client, key, encode(envelope()))
    assert failed.status_code == 500
    assert failed.get_json() == {"error": "the console could not handle this webhook"}
    assert "webhook not admitted: unexpected error" in caplog.text
    monkeypatch.setattr(receive, "parse_event", real)
    assert post_signed(client, key, encode(envelope())).get_json() == {"status": "stored"}
    assert app.extensions["console.store"].event_count() == 1
