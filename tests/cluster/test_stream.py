"""The stream, its append script and one follower, against a real redis-server (no console process)."""

from __future__ import annotations

import threading

import pytest

from console.cluster.follower import START, Follower, read_position, why_rebuild
from console.cluster.lease import Lease
from console.cluster.stream import ClusterError, EventStream, StaleFence
from console.ingest.bus import EventBus
from console.state.store import Store
from tests.event_factory import at, conference_created, joined
from tests.waiting import wait_for


@pytest.fixture
def stream(redis_server):
    return EventStream(redis_server.client(), "test:", maxlen=1000)


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "instance.db"))
    store.migrate()
    yield store
    store.close()


def follow(stream, store) -> Follower:
    bus = EventBus()
    bus.store = store
    follower = Follower(stream, store, bus)
    follower.prepare()
    return follower


def test_an_id_is_stored_once_whichever_batch_or_writer_brings_it(stream, redis_server):
    first = conference_created("conf-1", "leg-1", at(0))
    other_writer = EventStream(redis_server.client(), "test:")
    assert [bool(answer) for answer in stream.append([first, first])] == [True, False]
    assert other_writer.append([first]) == [None]
    assert stream.bounds().length == 1
    entry = redis_server.client().xrange("test:events")[0][1]
    assert entry[b"id"] == first.id.encode()  # findable with XRANGE by the plain id field


def test_two_consoles_with_different_prefixes_share_a_redis_without_meeting(stream, redis_server):
    event = conference_created("conf-1", "leg-1", at(0))
    assert stream.append([event])[0]
    assert EventStream(redis_server.client(), "other:").append([event])[0], "the other console never saw it"


def test_a_stale_fencing_token_writes_nothing(stream, redis_server):
    client = redis_server.client()
    old = Lease(client, stream.lease_key, "old-leader", ttl_ms=200)
    token = old.try_acquire()
    epoch = stream.epoch()
    assert stream.append([conference_created("conf-1", "leg-1", at(0))], fence=(token, epoch))[0]
    client.delete(stream.lease_key)  # the lease lapsed while the old leader slept
    new = Lease(client, stream.lease_key, "new-leader", ttl_ms=5000)
    assert new.try_acquire() > token
    with pytest.raises(StaleFence):
        stream.append([conference_created("conf-2", "leg-2", at(1))], fence=(token, epoch))
    with pytest.raises(StaleFence):  # the right token from another epoch is refused too
        stream.append([conference_created("conf-3", "leg-3", at(1))], fence=(new.token, "an-older-epoch"))
    assert stream.bounds().length == 1
    assert stream.append([conference_created("conf-4", "leg-4", at(2))], fence=(new.token, epoch))[0]


def test_an_evicting_redis_is_refused_with_how_to_fix_it(stream, redis_server):
    redis_server.client().config_set("maxmemory-policy", "allkeys-lru")
    with pytest.raises(ClusterError, match="noeviction"):
        stream.check_policy()


def test_the_follower_applies_and_stores_its_position_in_one_transaction(stream, store):
    follower = follow(stream, store).start()
    try:
        entries = stream.append([conference_created("conf-1", "leg-1", at(0)), joined("conf-1", "leg-2", at(1))])
        keys = follower.wait_applied(entries[-1], timeout=10)
        assert keys is not None and any("conf-1" in key for key in keys)
        assert read_position(store) == (stream.epoch(), entries[-1])
        assert store.event_count() == 2
    finally:
        follower.stop()


def test_waiting_for_an_entry_from_another_thread_returns_once_applied(stream, store):
    follower = follow(stream, store)
    entry = stream.append([conference_created("conf-1", "leg-1", at(0))])[0]
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(follower.wait_applied(entry, timeout=10)))
    waiter.start()
    follower.start()
    try:
        waiter.join(15)
        assert answers and answers[0] is not None
    finally:
        follower.stop()


def test_a_restart_resumes_after_the_last_entry_applied(stream, store, tmp_path):
    follower = follow(stream, store).start()
    first = stream.append([conference_created("conf-1", "leg-1", at(0))])[0]
    follower.wait_applied(first, timeout=10)
    follower.stop()
    stream.append([joined("conf-1", "leg-2", at(1))])
    again = follow(stream, store)
    assert again.position == first and again.rebuilds == 0
    again.start()
    try:
        wait_for(lambda: store.event_count() == 2, timeout=10)
    finally:
        again.stop()


def test_a_position_trimmed_away_rebuilds_instead_of_leaving_a_gap(redis_server, store):
    stream = EventStream(redis_server.client(), "test:", maxlen=1)
    follower = follow(stream, store).start()
    entry = stream.append([conference_created("conf-0", "leg-0", at(0))])[0]
    follower.wait_applied(entry, timeout=10)
    follower.stop()
    client = redis_server.client()
    for n in range(1, 300):  # MAXLEN ~ trims whole nodes: enough entries that the first node goes
        stream.append([conference_created(f"conf-{n}", f"leg-{n}", at(n))])
    client.xtrim(stream.key, maxlen=10)
    assert stream.bounds().first > entry
    again = follow(stream, store)
    assert again.rebuilds == 1 and again.position == START
    assert store.event_count() == 0, "a rebuild starts from an empty read model"


def test_why_rebuild_names_each_case():
    assert why_rebuild((None, START), "e1", START, START, True) is None  # a new instance
    assert why_rebuild(("e1", "5-0"), "e1", "1-0", "9-0", True) is None
    assert "epoch" in why_rebuild(("e0", "5-0"), "e1", "1-0", "9-0", True)
    assert "lost tail" in why_rebuild(("e1", "12-0"), "e1", "1-0", "9-0", False)
    assert "trimmed" in why_rebuild(("e1", "5-0"), "e1", "7-0", "9-0", False)
    assert "lost" in why_rebuild(("e1", "5-0"), "e1", "1-0", "9-0", False)  # gone, though newer entries came
