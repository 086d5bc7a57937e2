"""The simulator's webhook delivery: signed POSTs to a real receiver, retries, and every chaos knob."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

import pytest
from flask import Flask, request

from console.simulator.chaos import Chaos
from console.simulator.delivery import WebhookDelivery
from console.telnyx import signing
from console.web.server import BackgroundServer
from tests.waiting import wait_for

STALL_LIMIT = 10.0


@dataclass
class Received:
    """One webhook as the receiver saw it: path, headers (lower-cased), raw body, verdict, arrival."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    arrived: float

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A console stand-in: verifies each webhook's signature, records it, answers from a script."""

    def __init__(self, public_key: str):
        self.public_key = public_key
        self.requests: list[Received] = []
        self._statuses: deque[int] = deque()
        self._stall = False
        self._release = threading.Event()
        self._lock = threading.Lock()
        app = Flask(__name__)
        app.add_url_rule("/<path:path>", view_func=self._receive, methods=["POST"])
        self._server = BackgroundServer(app)

    @property
    def url(self) -> str:
        return self._server.url

    def answer(self, *statuses: int, stall: bool = False) -> None:
        """Answer the next webhooks with `statuses` in order (then 200), or hold every answer back."""
        with self._lock:
            self._statuses.extend(statuses)
            self._stall = stall

    def _receive(self, path: str):
        body = request.get_data()
        try:
            signing.verify(body, request.headers, self.public_key)
            verified = True
        except signing.SignatureError:
            verified = False
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            self.requests.append(Received(f"/{path}", headers, body, verified, time.monotonic()))
            status = self._statuses.popleft() if self._statuses else 200
            release = None if not self._stall else self._release
        if release is not None:
            release.wait(STALL_LIMIT)
        return {"status": "stored" if status == 200 else "refused"}, status

    def reset(self) -> None:
        """Forget what was received and answer 200 again, releasing any held answer."""
        with self._lock:
            self.requests = []
            self._statuses.clear()
            self._stall = False
            self._release.set()
            self._release = threading.Event()

    def start(self) -> Receiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.stop()


def event_body(number: int, event_type: str = "call.enqueued") -> dict:
    """A webhook body in the Telnyx envelope, numbered so order can be checked."""
    return {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": "2026-01-01T12:00:00.000000Z",
            "payload": {
                "call_control_id": f"v3:call-{number}",
                "call_leg_id": f"leg-{number}",
                "call_session_id": f"session-{number}",
                "connection_id": "1494404757140276705",
                "client_state": None,
                "queue": "Support",
                "current_position": number,
                "queue_avg_wait_time_secs": 30,
            },
        }
    }


def numbers(received) -> list[int]:
    """The event numbers the receiver got, in arrival order."""
    return [webhook.json["data"]["payload"]["current_position"] for webhook in received]


@pytest.fixture(scope="module")
def key():
    return signing.generate_signing_key()


@pytest.fixture(scope="module")
def receiver_server(key):
    server = Receiver(signing.public_key_b64(key)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.reset()
    yield receiver_server
    receiver_server.reset()


@pytest.fixture
def chaos():
    return Chaos()


@pytest.fixture
def make_delivery(receiver, key, chaos):
    """Build deliveries aimed at the receiver, and always stop them."""
    made = []

    def make(url="receiver", **options):
        options.setdefault("backoff_base", 0.02)
        target = f"{receiver.url}/webhooks/telnyx" if url == "receiver" else url
        delivery = WebhookDelivery(target, key, chaos, **options)
        made.append(delivery)
        return delivery

    yield make
    for delivery in made:
        delivery.stop()


def test_each_event_arrives_signed_as_json_with_telnyx_headers(receiver, key, make_delivery):
    delivery = make_delivery().start()
    bodies = [event_body(n) for n in (1, 2, 3)]
    for body in bodies:
        delivery.submit(body)

    wait_for(lambda: len(receiver.requests) == 3)
    public_key = signing.public_key_b64(key)
    for webhook, body in zip(receiver.requests, bodies):
        assert webhook.verified
        assert webhook.path == "/webhooks/telnyx"
        assert webhook.headers["content-type"] == "application/json"
        assert webhook.headers["user-agent"] == "telnyx-webhooks"
        assert abs(signing.verify(webhook.body, webhook.headers, public_key) - time.time()) < 5
        assert json.loads(webhook.body) == {**body, "meta": {"attempt": 1, "delivered_to": receiver.url + webhook.path}}
    assert delivery.wait_idle(2)
    stats = delivery.stats()
    assert (stats["submitted"], stats["delivered"], stats["pending"]) == (3, 3, 0)


def test_signature_does_not_verify_under_another_key(receiver, make_delivery):
    delivery = make_delivery().start()
    delivery.submit(event_body(1))

    wait_for(lambda: receiver.requests)
    stranger = signing.public_key_b64(signing.generate_signing_key())
    with pytest.raises(signing.SignatureMismatchError):
        signing.verify(receiver.requests[0].body, receiver.requests[0].headers, stranger)


def test_an_event_answered_500_twice_is_retried_until_accepted(receiver, key, make_delivery):
    receiver.answer(500, 500)
    delivery = make_delivery().start()
    delivery.submit(event_body(7))

    wait_for(lambda: delivery.stats()["delivered"] == 1)
    assert len(receiver.requests) == 3
    assert [webhook.json["meta"]["attempt"] for webhook in receiver.requests] == [1, 2, 3]
    assert len({json.dumps(webhook.json["data"]) for webhook in receiver.requests}) == 1, "the same event each try"
    assert all(webhook.verified for webhook in receiver.requests)
    stats = delivery.stats()
    assert (stats["failed_attempts"], stats["given_up"], stats["pending"]) == (2, 0, 0)


def test_a_failing_event_does_not_hold_back_the_next_one(receiver, make_delivery):
    receiver.answer(500)
    delivery = make_delivery(backoff_base=0.3).start()
    delivery.submit(event_body(1))
    wait_for(lambda: len(receiver.requests) == 1)
    delivery.submit(event_body(2))

    wait_for(lambda: delivery.stats()["delivered"] == 2)
    assert numbers(receiver.requests) == [1, 2, 1]


def test_every_delivery_carries_meta_beside_the_event(receiver, make_delivery):
    delivery = make_delivery().start()
    floor = {k: v for k, v in event_body(2, "conference.floor.changed")["data"].items() if k != "occurred_at"}
    delivery.submit(event_body(1))
    delivery.submit(floor)

    wait_for(lambda: len(receiver.requests) == 2)
    wrapped, unwrapped = (webhook.json for webhook in receiver.requests)
    target = f"{receiver.url}/webhooks/telnyx"
    assert set(wrapped) == {"data", "meta"} and wrapped["meta"] == {"attempt": 1, "delivered_to": target}
    assert unwrapped["meta"] == {"attempt": 1, "delivered_to": target}
    assert {k: v for k, v in unwrapped.items() if k != "meta"} == floor


def test_attempt_counts_each_try_of_one_event_and_each_is_signed(receiver, make_delivery):
    receiver.answer(500, 503, 502)
    delivery = make_delivery().start()
    delivery.submit(event_body(4))

    wait_for(lambda: delivery.stats()["delivered"] == 1)
    metas = [webhook.json["meta"] for webhook in receiver.requests]
    assert [meta["attempt"] for meta in metas] == [1, 2, 3, 4]
    assert {meta["delivered_to"] for meta in metas} == {f"{receiver.url}/webhooks/telnyx"}
    assert all(webhook.verified for webhook in receiver.requests), "each try is signed over its own bytes"


def test_delivered_to_names_the_url_each_try_went_to(receiver, make_delivery):
    receiver.answer(500)
    delivery = make_delivery().start()
    delivery.submit(event_body(5))
    wait_for(lambda: len(receiver.requests) == 1)
    delivery.set_url(f"{receiver.url}/failover")

    wait_for(lambda: delivery.stats()["delivered"] == 1)
    assert [(w.path, w.json["meta"]["delivered_to"], w.json["meta"]["attempt"]) for w in receiver.requests] == [
        ("/webhooks/telnyx", f"{receiver.url}/webhooks/telnyx", 1), ("/failover", f"{receiver.url}/failover", 2)]


def test_an_event_is_given_up_after_max_attempts(receiver, make_delivery):
    receiver.answer(503, 503, 503)
    delivery = make_delivery(max_attempts=3).start()
    delivery.submit(event_body(1))

    wait_for(lambda: delivery.stats()["given_up"] == 1)
    assert delivery.wait_idle(2)
    assert len(receiver.requests) == 3
    assert delivery.stats()["failed_attempts"] == 3


def test_an_unreachable_receiver_counts_failed_attempts(make_delivery):
    delivery = make_delivery(url="http://127.0.0.1:9/webhooks", max_attempts=2, timeout=1).start()
    delivery.submit(event_body(1))

    wait_for(lambda: delivery.stats()["given_up"] == 1)
    assert delivery.stats()["failed_attempts"] == 2


def test_without_a_url_events_are_counted_and_dropped_until_one_is_set(receiver, make_delivery):
    delivery = make_delivery(url=None).start()
    delivery.submit(event_body(1))
    assert delivery.stats()["dropped_no_url"] == 1
    assert delivery.pending == 0

    delivery.set_url(f"{receiver.url}/hook")
    delivery.submit(event_body(2))
    wait_for(lambda: receiver.requests)
    assert numbers(receiver.requests) == [2]
    assert receiver.requests[0].path == "/hook"


def test_drop_rate_one_delivers_nothing(receiver, chaos, make_delivery):
    chaos.update(drop=1.0)
    delivery = make_delivery().start()
    for n in range(5):
        delivery.submit(event_body(n))

    assert delivery.wait_idle(2)
    assert receiver.requests == []
    assert delivery.stats()["dropped"] == 5


def test_duplicate_rate_one_delivers_each_event_twice_identically(receiver, chaos, make_delivery):
    chaos.update(duplicate=1.0)
    delivery = make_delivery().start()
    for n in (1, 2, 3):
        delivery.submit(event_body(n))

    wait_for(lambda: len(receiver.requests) == 6)
    assert delivery.wait_idle(2)
    assert len(receiver.requests) == 6
    by_id: dict[str, list[bytes]] = {}
    for webhook in receiver.requests:
        by_id.setdefault(webhook.json["data"]["id"], []).append(webhook.body)
    assert len(by_id) == 3
    assert all(len(copies) == 2 and copies[0] == copies[1] for copies in by_id.values())
    assert {webhook.json["meta"]["attempt"] for webhook in receiver.requests} == {1}, "a duplicate is no retry"
    assert delivery.stats()["duplicated"] == 3


def test_reorder_delivers_a_held_event_after_the_next_one(receiver, chaos, make_delivery):
    chaos.update(reorder=1.0)
    delivery = make_delivery()
    for n in (1, 2, 3, 4):
        delivery.submit(event_body(n))
    delivery.start()

    wait_for(lambda: len(receiver.requests) == 4)
    assert numbers(receiver.requests) == [2, 1, 4, 3]
    assert delivery.stats()["reordered"] == 2


def test_a_held_event_is_released_even_when_no_event_follows(receiver, chaos, make_delivery):
    chaos.update(reorder=1.0)
    delivery = make_delivery(reorder_hold=0.3).start()
    delivery.submit(event_body(1))
    assert delivery.pending == 1

    wait_for(lambda: receiver.requests)
    assert numbers(receiver.requests) == [1]


def arrival_latency(delivery, receiver) -> float:
    """Seconds from submit until the receiver has the event."""
    already = len(receiver.requests)
    started = time.monotonic()
    delivery.submit(event_body(1))
    wait_for(lambda: len(receiver.requests) > already)
    return receiver.requests[already].arrived - started


def test_delay_ms_adds_latency(receiver, chaos, make_delivery):
    delivery = make_delivery().start()
    prompt = arrival_latency(delivery, receiver)
    chaos.update(delay_ms=400)
    delayed = arrival_latency(delivery, receiver)

    assert prompt < 0.4
    assert delayed >= 0.4


def run_seeded(receiver, key, chaos, seed: int, count: int):
    """Deliver `count` events with a seeded rng; return the counters and the order of arrival."""
    first = len(receiver.requests)
    delivery = WebhookDelivery(f"{receiver.url}/hook", key, chaos, rng=random.Random(seed))
    try:
        for n in range(count):
            delivery.submit(event_body(n))
        delivery.start()
        assert delivery.wait_idle(10)
        return delivery.stats(), numbers(receiver.requests[first:])
    finally:
        delivery.stop()


def test_partial_rates_on_a_seeded_rng_act_as_specified(receiver, key, chaos):
    chaos.update(drop=0.3, duplicate=0.3, reorder=0.3)
    count = 300
    stats, arrived = run_seeded(receiver, key, chaos, seed=42, count=count)

    draws = random.Random(42)
    rolls = [(draws.random(), draws.random(), draws.random()) for _ in range(count)]
    kept = [n for n, (drop, _, _) in enumerate(rolls) if drop >= 0.3]
    doubled = [n for n in kept if rolls[n][1] < 0.3]
    assert stats["dropped"] == count - len(kept)
    assert stats["duplicated"] == len(doubled)
    assert sorted(arrived) == sorted(kept + doubled)
    assert stats["delivered"] == len(kept) + len(doubled)
    for rate_count in (stats["dropped"], stats["duplicated"] / len(kept) * count):
        assert 0.2 * count < rate_count < 0.4 * count
    assert 0.1 * len(kept) < stats["reordered"] < 0.4 * len(kept)
    assert arrived != sorted(arrived), "some events arrived out of order"

    again, arrived_again = run_seeded(receiver, key, chaos, seed=42, count=count)
    assert again == stats
    assert arrived_again == arrived


def test_the_official_sdk_accepts_the_simulators_webhooks(receiver, key, make_delivery):
    import telnyx.lib  # noqa: F401  (patches webhooks.unwrap to verify Ed25519)
    from telnyx import Telnyx
    from telnyx.lib import WebhookVerificationError

    public_key = signing.public_key_b64(key)
    client = Telnyx(api_key="x", public_key=public_key)
    delivery = make_delivery().start()
    delivery.submit(event_body(3))

    wait_for(lambda: receiver.requests)
    webhook = receiver.requests[0]
    assert webhook.json["meta"]["attempt"] == 1
    event = client.webhooks.unwrap(webhook.body.decode("utf-8"), headers=webhook.headers, key=public_key)
    assert event.data.event_type == "call.enqueued"
    assert event.data.payload.queue == "Support"
    tampered = webhook.body.decode("utf-8").replace("Support", "Sales")
    with pytest.raises(WebhookVerificationError):
        client.webhooks.unwrap(tampered, headers=webhook.headers, key=public_key)


def test_stop_is_bounded_idempotent_and_leaves_no_thread(receiver, make_delivery):
    receiver.answer(stall=True)
    delivery = make_delivery(timeout=1).start()
    delivery.submit(event_body(1))
    wait_for(lambda: receiver.requests)

    started = time.monotonic()
    delivery.stop()
    delivery.stop()
    assert time.monotonic() - started < 4
    assert not delivery.running
    assert "sim-webhook-delivery" not in [thread.name for thread in threading.enumerate()]
