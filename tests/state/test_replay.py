"""Replays: a request presented again (same timestamp and signature) or an event id seen again changes nothing.

The record of accepted signatures lives in the console's database (tables of its own, created by
a migration in console/replay.py), so it survives a restart; it forgets a signature once a
request carrying it would fail the timestamp check anyway, and never holds more than its capacity.
"""

from __future__ import annotations

import base64
import logging
import threading
import time

import pytest
import requests

from console.state.replay_ledger import SignatureLedger, signature_key
from console.telnyx import signing
from console.web.server import BackgroundServer
from tests.signed_webhooks import encode, envelope, post, post_signed, webhook_app
from tests.sim_fixtures import ManualClock


@pytest.fixture
def app(tmp_path, key):
    return webhook_app(tmp_path / "console.db", key)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["console.store"]


@pytest.fixture
def ledger(app):
    return app.extensions["console.replay"]


def test_an_event_id_seen_again_is_not_applied_twice(client, store, key):
    body = encode(envelope(event_id="evt-1"))
    assert post_signed(client, key, body, timestamp=int(time.time()) - 5).get_json() == {"status": "stored"}
    resent = post_signed(client, key, body)
    assert resent.status_code == 200
    assert resent.get_json() == {"status": "duplicate"}
    assert store.event_count() == 1


def test_the_same_signature_and_timestamp_again_is_a_duplicate(client, store, ledger, key, caplog):
    body = encode(envelope())
    headers = signing.sign(body, key)
    assert post(client, body, headers).get_json() == {"status": "stored"}
    with caplog.at_level(logging.INFO, logger="console.webhooks"):
        again = post(client, body, headers)
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate"}
    assert "replayed" in caplog.text
    assert store.event_count() == 1
    assert ledger.count() == 1


def test_a_replay_spelled_with_padding_whitespace_is_still_recognised(client, store, key, caplog):
    body = encode(envelope())
    headers = signing.sign(body, key)
    assert post(client, body, headers).status_code == 200
    respelled = {**headers, signing.SIGNATURE_HEADER: f"  {headers[signing.SIGNATURE_HEADER]} "}
    with caplog.at_level(logging.INFO, logger="console.webhooks"):
        assert post(client, body, respelled).get_json() == {"status": "duplicate"}
    assert "replayed" in caplog.text
    assert store.event_count() == 1


def test_the_seen_signatures_survive_a_restart(tmp_path, key, caplog):
    body = encode(envelope())
    headers = signing.sign(body, key)
    first = webhook_app(tmp_path / "console.db", key)
    assert post(first.test_client(), body, headers).get_json() == {"status": "stored"}
    first.extensions["console.store"].close()
    restarted = webhook_app(tmp_path / "console.db", key)
    with caplog.at_level(logging.INFO, logger="console.webhooks"):
        assert post(restarted.test_client(), body, headers).get_json() == {"status": "duplicate"}
    assert "replayed" in caplog.text
    assert restarted.extensions["console.store"].event_count() == 1


def test_a_replay_outside_the_tolerance_is_refused_as_stale(client, store, key):
    body = encode(envelope())
    headers = signing.sign(body, key, timestamp=int(time.time()) - 301)
    response = post(client, body, headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "timestamp too old"
    assert store.event_count() == 0


def test_a_refused_body_is_not_remembered(client, ledger, key):
    body = b'{"data": {"id": "no-type", "payload": {}}}'
    headers = signing.sign(body, key)
    assert post(client, body, headers).status_code == 400
    assert post(client, body, headers).status_code == 400
    assert ledger.count() == 0


def test_concurrent_copies_of_one_request_are_stored_exactly_once(app, store, key):
    server = BackgroundServer(app).start()
    body = encode(envelope())
    headers = {"Content-Type": "application/json", **signing.sign(body, key)}
    answers: list[str] = []
    gate = threading.Barrier(8)

    def deliver():
        gate.wait(timeout=5)
        response = requests.post(f"{server.url}/webhooks/telnyx", data=body, headers=headers, timeout=10)
        answers.append(response.json()["status"])

    try:
        senders = [threading.Thread(target=deliver) for _ in range(8)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=15)
    finally:
        server.stop()
    assert sorted(answers) == ["duplicate"] * 7 + ["stored"]
    assert store.event_count() == 1


def test_a_signature_expires_with_the_tolerance_window(tmp_path):
    clock = ManualClock()
    ledger = SignatureLedger(tmp_path / "ledger.db", tolerance=300, clock=clock).migrate()
    ledger.remember("sig-a", int(clock.now))
    clock.now += 299
    assert ledger.seen("sig-a")
    clock.now += 2
    assert not ledger.seen("sig-a")
    ledger.remember("sig-b", int(clock.now))
    assert ledger.count() == 1, "the expired signature is deleted on the next write"


def test_a_future_stamped_signature_is_kept_until_its_own_window_closes(tmp_path):
    clock = ManualClock()
    ledger = SignatureLedger(tmp_path / "ledger.db", tolerance=300, clock=clock).migrate()
    ledger.remember("sig-future", int(clock.now) + 250)
    clock.now += 500
    assert ledger.seen("sig-future")
    clock.now += 51
    assert not ledger.seen("sig-future")


def test_the_record_is_bounded_by_its_capacity_keeping_the_newest(tmp_path):
    clock = ManualClock()
    ledger = SignatureLedger(tmp_path / "ledger.db", tolerance=300, capacity=5, clock=clock).migrate()
    for second in range(20):
        ledger.remember(f"sig-{second}", int(clock.now) + second)
    assert ledger.count() == 5
    assert ledger.seen("sig-19")
    assert not ledger.seen("sig-0")


@pytest.mark.parametrize("path", [":memory:", "file"])
def test_ledger_works_in_memory_and_on_file(tmp_path, path):
    ledger = SignatureLedger(tmp_path / "ledger.db" if path == "file" else path, tolerance=300).migrate()
    ledger.migrate()
    assert ledger.last_webhook_at() is None
    ledger.remember("sig", int(time.time()))
    assert ledger.seen("sig")
    assert ledger.last_webhook_at() == pytest.approx(time.time(), abs=5)
    ledger.check_writable()


def test_signature_key_is_one_spelling_per_signature():
    raw = bytes(range(64))
    canonical = signature_key(base64.b64encode(raw).decode())
    assert signature_key(f" {canonical}\n") == canonical
