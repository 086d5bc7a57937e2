"""The leader lease against a real redis-server: one holder at a time, tokens that only grow, and a
leader paused past its lease (a real SIGSTOP) that knows, on waking, that it no longer leads.

Time passes for real here (leases of a fraction of a second to a few seconds), but nothing sleeps:
every wait is `wait_for` on what the test needs to see, with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from console.cluster.lease import Lease, LeaseKeeper, current_token
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "test:lease"


def race(leases: list[Lease]) -> dict[str, int | None]:
    """Every lease tries to take the key at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(leases))
    tokens: dict[str, int | None] = {}

    def contend(lease: Lease) -> None:
        barrier.wait(timeout=10)
        tokens[lease.identity] = lease.try_acquire()

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return tokens


def test_contenders_racing_for_a_free_lease_get_exactly_one_token(redis_server):
    for round_number in range(20):
        key = f"{KEY}:{round_number}"
        leases = [Lease(redis_server.client(), key, name, 5000) for name in ("a", "b", "c")]
        tokens = race(leases)
        winners = {name: token for name, token in tokens.items() if token is not None}
        assert len(tokens) == 3
        assert len(winners) == 1, tokens
        [(winner, token)] = winners.items()
        assert token == 1
        assert leases[0].holder() == winner
        assert current_token(redis_server.client(), key) == 1


def test_renewing_keeps_the_lease_and_its_token(redis_server):
    client = redis_server.client()
    first, second = Lease(client, KEY, "first", 1000), Lease(client, KEY, "second", 1000)
    token = first.try_acquire()
    assert token == 1

    wait_for(lambda: 0 < client.pttl(KEY) < 700, timeout=5, message="the lease's time never ran down")
    assert first.renew()
    assert client.pttl(KEY) > 900
    assert first.try_acquire() == token  # the holder taking it again renews the same tenure
    assert second.try_acquire() is None
    assert not second.renew()
    assert first.holder() == "first"
    assert current_token(client, KEY) == token


def test_releasing_frees_it_for_another_with_a_larger_token(redis_server):
    client = redis_server.client()
    first, second = Lease(client, KEY, "first", 10_000), Lease(client, KEY, "second", 10_000)
    old = first.try_acquire()
    assert second.try_acquire() is None

    first.release()
    assert first.holder() is None
    assert current_token(client, KEY) is None
    new = second.try_acquire()
    assert new is not None and new > old

    assert not first.renew()
    first.release()  # not its tenure any more: nothing happens
    assert second.holder() == "second"
    assert current_token(client, KEY) == new


def test_a_holder_that_stops_renewing_loses_it_after_the_lease_and_knows_it(redis_server):
    client = redis_server.client()
    changes: list[bool] = []
    stalled = LeaseKeeper(Lease(client, KEY, "stalled", 400), on_change=changes.append)
    successor = Lease(client, KEY, "successor", 10_000)

    assert stalled.tick()  # one round by hand, then no more: the holder has stopped renewing
    assert stalled.is_leader and changes == [True]
    old = stalled.lease.token

    new = wait_for(successor.try_acquire, timeout=5, message="the lease never expired")
    assert new > old
    assert not stalled.is_leader  # by time alone: no round has run since
    assert not stalled.lease.renew()
    assert not stalled.tick()
    assert changes == [True, False]
    assert current_token(client, KEY) == new


def test_the_keeper_holds_the_lease_across_many_lengths_and_hands_it_over_when_stopped(redis_server):
    client = redis_server.client()
    changes: list[bool] = []
    keeper = LeaseKeeper(Lease(client, KEY, "keeper", 900), on_change=changes.append).start()
    other = Lease(client, KEY, "other", 10_000)
    try:
        wait_for(lambda: keeper.is_leader, timeout=5, message="the keeper never took the free lease")
        until = time.monotonic() + 2.5

        def held_throughout() -> bool:
            assert other.try_acquire() is None, "the lease went to another while the keeper renewed it"
            assert keeper.is_leader
            return time.monotonic() > until

        wait_for(held_throughout, timeout=10, interval=0.05)
    finally:
        keeper.stop()
    assert not keeper.is_leader
    assert changes == [True, False]
    assert other.try_acquire() > keeper.lease.token  # released: no need to wait for it to expire


def test_a_redis_that_lost_its_data_starts_tokens_again_and_the_old_tenure_is_gone(redis_server):
    client = redis_server.client()
    lease = Lease(client, KEY, "holder", 10_000)
    for _ in range(3):
        lease.try_acquire()
        lease.release()
    assert lease.try_acquire() == 4

    redis_server.restart()  # no persistence: the lease, the counter and the script cache are gone

    assert not lease.renew()
    assert lease.try_acquire() == 1  # which is why the stream's epoch, not the token, detects a lost Redis


# A process holding the lease with a keeper, reporting each change on stdout; it ends when stdin closes.
HOLDER = """
import sys
import redis
from console.cluster.lease import Lease, LeaseKeeper
lease = Lease(redis.Redis.from_url(sys.argv[1], socket_timeout=5), sys.argv[2], "paused", 600)
def report(leading):
    print(f"leader={leading} token={lease.token}", flush=True)
keeper = LeaseKeeper(lease, on_change=report).start()
sys.stdin.read()
keeper.stop()
"""


def test_a_leader_paused_past_its_lease_knows_on_waking_that_it_lost(redis_server):
    client = redis_server.client()
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_server.url, KEY], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("leader=True") for line in lines), timeout=20,
                 message=f"the child never led: {lines}")
        paused_token = current_token(client, KEY)
        assert paused_token is not None

        os.kill(child.pid, signal.SIGSTOP)
        successor = Lease(client, KEY, "successor", 30_000)
        token = wait_for(successor.try_acquire, timeout=10, message="the paused child's lease never expired")
        assert token > paused_token
        os.kill(child.pid, signal.SIGCONT)

        wait_for(lambda: f"leader=False token={paused_token}\n" in lines, timeout=10,
                 message=f"the child never said it lost the lease: {lines}")
        assert successor.holder() == "successor"
        assert current_token(client, KEY) == token

        child.stdin.close()  # the child stops its keeper: its release must not free the successor's lease
        child.wait(timeout=10)
        assert successor.holder() == "successor"
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        reader.join(timeout=5)
        child.stdout.close()
