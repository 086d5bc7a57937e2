"""Group commit: webhooks arriving together share one transaction, and each still answers only once stored."""

from __future__ import annotations

import threading

import pytest

from console.ingest.group_commit import get_ingest
from console.state.store import Writer
from console.telnyx import signing
from tests.signed_webhooks import encode, envelope, post, post_signed, webhook_app
from tests.waiting import wait_for


@pytest.fixture
def app(tmp_path, key):
    return webhook_app(tmp_path / "console.db", key)


def _ingest(app):
    with app.app_context():
        return get_ingest()


def _post_all(app, bodies_and_headers):
    """POST every (body, headers) from its own thread; return the answers in the same order."""
    answers = [None] * len(bodies_and_headers)

    def send(index, body, headers):
        answers[index] = post(app.test_client(), body, headers)

    threads = [threading.Thread(target=send, args=(i, body, headers))
               for i, (body, headers) in enumerate(bodies_and_headers)]
    for thread in threads:
        thread.start()
    return threads, answers


def _first_commit_stalled(app, key, ingest):
    """Post one webhook while the test holds the store's write lock; return once its commit waits on it."""
    body = encode(envelope(call_control_id="v3:leg-first"))
    threads, answers = _post_all(app, [(body, signing.sign(body, key))])
    wait_for(lambda: ingest._leading and not ingest._waiting, message="the first webhook committing")
    return threads, answers


def test_webhooks_that_wait_while_one_commits_share_the_next_transaction(app, key):
    store = app.extensions["console.store"]
    ingest = _ingest(app)
    bodies = [encode(envelope(call_control_id=f"v3:leg-{n}")) for n in range(11)]
    # Hold the store's write lock so the first webhook's commit waits, and the other eleven queue behind it.
    store._lock.acquire()
    try:
        first_threads, first = _first_commit_stalled(app, key, ingest)
        threads, answers = _post_all(app, [(body, signing.sign(body, key)) for body in bodies])
        wait_for(lambda: len(ingest._waiting) == 11, message="eleven webhooks waiting behind the first")
        assert all(answer is None for answer in first + answers)  # nobody is told "stored" before the commit
    finally:
        store._lock.release()
    for thread in first_threads + threads:
        thread.join(10)
    answers = first + answers
    assert [answer.get_json() for answer in answers] == [{"status": "stored"}] * 12
    assert ingest.batches == 2
    assert store.event_count() == 12
    with app.app_context():
        assert app.extensions["console.replay"].count() == 12


def test_copies_in_one_batch_are_stored_once(app, key):
    store = app.extensions["console.store"]
    ingest = _ingest(app)
    body = encode(envelope(event_id="evt-twice"))
    same_request = signing.sign(body, key)
    resigned = signing.sign(body, key, timestamp=int(same_request["telnyx-timestamp"]) - 1)
    store._lock.acquire()
    try:
        first_threads, first = _first_commit_stalled(app, key, ingest)
        threads, answers = _post_all(app, [(body, same_request), (body, same_request), (body, resigned)])
        wait_for(lambda: len(ingest._waiting) == 3, message="three copies waiting")
    finally:
        store._lock.release()
    for thread in first_threads + threads:
        thread.join(10)
    assert ingest.batches == 2
    outcomes = [answer.get_json()["status"] for answer in answers]
    assert sorted(outcomes) == ["duplicate", "duplicate", "stored"]
    assert store.event_count() == 2


def test_an_event_that_cannot_be_applied_fails_alone(app, key, monkeypatch):
    store = app.extensions["console.store"]
    ingest = _ingest(app)
    real_apply = Writer.apply

    def apply(writer, event):
        if event.id == "evt-poison":
            raise ValueError("a projection bug")
        return real_apply(writer, event)

    monkeypatch.setattr(Writer, "apply", apply)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    bodies = [encode(envelope(event_id=f"evt-{n}", call_control_id=f"v3:leg-{n}")) for n in range(3)]
    poison = encode(envelope(event_id="evt-poison"))
    store._lock.acquire()
    try:
        first_threads, first = _first_commit_stalled(app, key, ingest)
        threads, answers = _post_all(app, [(body, signing.sign(body, key))
                                           for body in [bodies[0], poison, *bodies[1:]]])
        wait_for(lambda: len(ingest._waiting) == 4, message="the batch with the poison waiting")
    finally:
        store._lock.release()
    for thread in first_threads + threads:
        thread.join(10)
    assert [answer.status_code for answer in first + answers] == [200, 200, 500, 200, 200]
    stored = {event.id for event in store.logged_events()}
    assert {"evt-0", "evt-1", "evt-2"} <= stored and "evt-poison" not in stored


def test_listeners_hear_every_new_event_in_order_and_the_keys_once(app, key):
    heard = []
    app.extensions["console.bus"].subscribe(lambda keys, event: heard.append((event.id, set(keys))))
    store = app.extensions["console.store"]
    ingest = _ingest(app)
    store._lock.acquire()
    try:
        first = encode(envelope(event_id="evt-a", call_control_id="v3:leg-a"))
        threads, answers = _post_all(app, [(first, signing.sign(first, key))])
        wait_for(lambda: ingest._leading and not ingest._waiting, message="the first webhook committing")
        later = [encode(envelope(event_id=f"evt-{n}", call_control_id=f"v3:leg-{n}")) for n in "bc"]
        more_threads, more = _post_all(app, [(body, signing.sign(body, key)) for body in later])
        wait_for(lambda: len(ingest._waiting) == 2, message="two webhooks waiting")
    finally:
        store._lock.release()
    for thread in threads + more_threads:
        thread.join(10)
    assert [event_id for event_id, _ in heard][0] == "evt-a"
    assert sorted(event_id for event_id, _ in heard[1:]) == ["evt-b", "evt-c"]
    first_keys, second, third = heard[0][1], heard[1][1], heard[2][1]
    assert any("v3:leg-a" in key_ for key_ in first_keys)
    assert second == set()  # the batch's keys ride with its last event
    assert any("v3:leg-b" in key_ for key_ in third) and any("v3:leg-c" in key_ for key_ in third)


def test_a_lone_webhook_commits_at_once(app, key):
    client = app.test_client()
    body = encode(envelope())
    assert post_signed(client, key, body).get_json() == {"status": "stored"}
    assert _ingest(app).batches == 1
    assert not _ingest(app)._leading
