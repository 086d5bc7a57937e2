"""Two or three real `serve` processes on one real redis-server: one order of events, whatever dies.

Each test starts its own redis-server (tests/redis_server.py) and its own instances, and stops all
of them by PID. Webhooks are posted as Telnyx would: signed, retried to another instance when one
does not answer 2xx.
"""

from __future__ import annotations

import itertools
import uuid

import pytest
import requests
import websocket

from console.simulator import Simulator
from console.state.store import Store
from console.telnyx import signing
from tests.cluster.instances import Instance
from tests.event_factory import at, conference_created, joined
from tests.ingest.test_end_to_end import console_view, simulator_view
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path, redis_server):
    key = signing.generate_signing_key()
    made: list[Instance] = []

    def make(name: str, *, start: bool = True, **settings) -> Instance:
        instance = Instance(tmp_path, name, redis_server.url, key, **settings)
        made.append(instance)
        return instance.start() if start else instance

    yield make
    for instance in made:
        instance.stop()


def conference(n: int) -> list[dict]:
    """The webhooks of one conference with two participants (distinct ids each time it is called)."""
    conference_id, first, second = f"conf-{n}-{uuid.uuid4().hex[:6]}", f"leg-a-{n}", f"leg-b-{n}"
    return [conference_created(conference_id, first, at(n)).raw,
            joined(conference_id, first, at(n + 0.1)).raw,
            joined(conference_id, second, at(n + 0.2)).raw]


def deliver(instances: list[Instance], documents: list[dict], *, attempts: int = 200) -> dict[str, int]:
    """Post each webhook round-robin, retrying on the next instance until one answers 2xx (as Telnyx retries)."""
    outcomes: dict[str, int] = {}
    turn = itertools.cycle(instances)
    for document in documents:
        for _ in range(attempts):
            instance = next(turn)
            try:
                answer = instance.post(document, timeout=3)
            except requests.RequestException:
                continue
            if answer.status_code == 200:
                status = answer.json()["status"]
                outcomes[status] = outcomes.get(status, 0) + 1
                break
        else:
            raise AssertionError(f"no instance accepted {document['data']['id']}")
    return outcomes


def until_frame(page, text: str, frames: int = 200) -> bool:
    """Read the live socket's frames until one holds `text` (False after `frames` or its timeout)."""
    for _ in range(frames):
        try:
            frame = page.recv()
        except websocket.WebSocketTimeoutException:
            return False
        if text in frame:
            return True
    return False


def caught_up(instances: list[Instance], events: int) -> bool:
    return all(instance.counts() == (events, events) for instance in instances)


def test_a_webhook_to_one_instance_shows_on_a_page_served_by_another(cluster):
    a, b = cluster("a"), cluster("b")
    created = conference(1)
    assert deliver([a], created) == {"stored": 3}
    conference_id = created[0]["data"]["payload"]["conference_id"]
    wait_for(lambda: conference_id in b.page("/").text, timeout=15,
             message="the conference posted to A never appeared on B's dashboard")
    assert a.state() == b.state()


def test_the_same_webhook_delivered_to_two_instances_is_stored_once(cluster):
    a, b = cluster("a"), cluster("b")
    document = conference(2)[0]
    first, second = a.post(document), b.post(document)
    assert sorted([first.json()["status"], second.json()["status"]]) == ["duplicate", "stored"]
    wait_for(lambda: caught_up([a, b], 1), timeout=15, message="the instances did not settle on one event")
    readiness = a.ready()
    assert readiness["status"] == "ready" and readiness["cluster"]["follower"]["connected"]


def test_an_instance_killed_mid_burst_catches_up_and_nothing_is_lost_or_doubled(cluster):
    a, b = cluster("a"), cluster("b")
    documents = [document for n in range(40) for document in conference(100 + n)]
    deliver([a, b], documents[:30])
    a.kill()
    outcomes = deliver([a, b], documents[30:90])  # A is down: every one of these lands on B
    a.start()
    outcomes_after = deliver([a, b], documents[90:])
    assert sum(outcomes.values()) == 60 and sum(outcomes_after.values()) == len(documents) - 90
    wait_for(lambda: caught_up([a, b], len(documents)), timeout=30,
             message=f"counts {a.counts()} and {b.counts()} against {len(documents)} posted")
    assert a.state() == b.state()


def test_an_instance_joining_late_equals_the_others(cluster):
    a, b = cluster("a"), cluster("b")
    documents = [document for n in range(10) for document in conference(200 + n)]
    deliver([a, b], documents)
    c = cluster("c")
    wait_for(lambda: caught_up([a, b, c], len(documents)), timeout=30, message="the late instance never caught up")
    assert a.state() == b.state() == c.state()


def test_redis_losing_its_data_makes_every_instance_rebuild(cluster, redis_server):
    a, b = cluster("a"), cluster("b")
    deliver([a, b], [document for n in range(5) for document in conference(300 + n)])
    wait_for(lambda: caught_up([a, b], 15), timeout=15)
    redis_server.client().flushall()
    wait_for(lambda: all(instance.ready()["cluster"]["follower"]["rebuilds"] >= 1 for instance in (a, b)),
             timeout=20, message="an instance kept a position from a Redis that lost its data")
    after = [document for n in range(4) for document in conference(400 + n)]
    deliver([a, b], after)
    wait_for(lambda: caught_up([a, b], len(after)), timeout=20,
             message=f"after the flush: {a.counts()} and {b.counts()} against {len(after)}")
    assert a.state() == b.state()


def test_an_evicting_redis_is_refused_at_start_with_the_reason(tmp_path, redis_server):
    redis_server.client().config_set("maxmemory-policy", "allkeys-lru")
    instance = Instance(tmp_path, "a", redis_server.url, signing.generate_signing_key())
    process = instance.launch()
    try:
        code = process.wait(timeout=30)
    finally:
        instance.stop()
    assert code != 0
    assert "maxmemory-policy" in instance.output() and "noeviction" in instance.output()


def test_redis_down_answers_503_pauses_pages_refuses_commands_then_resumes_with_nothing_lost(tmp_path, durable_redis):
    key = signing.generate_signing_key()
    a = Instance(tmp_path, "a", durable_redis.url, key).start()
    b = Instance(tmp_path, "b", durable_redis.url, key).start()
    try:
        documents = [document for n in range(10) for document in conference(500 + n)]
        deliver([a, b], documents[:6])
        live = websocket.create_connection(f"ws://127.0.0.1:{a.port}/live?watch=dashboard", timeout=10,
                                           header=["X-Forwarded-User: night-shift"])
        assert live.recv()  # the dashboard's snapshot, drawn while data flowed
        durable_redis.stop()
        assert a.post(documents[6]).status_code == 503  # Telnyx retries it
        assert until_frame(live, 'id="data-paused-banner"'), "the open page was never told its data is paused"
        wait_for(lambda: a.ready_status() == 503, timeout=15, message="/readyz stayed ready without Redis")
        page = a.page("/")
        assert page.status_code == 200 and "Data paused." in page.text, "the dashboard did not say its data is paused"
        refused = a.command("/conferences/conf-x/mute", {"call_control_id": "leg-x"})
        assert refused.status_code == 503 and "Nothing was sent to Telnyx" in refused.text
        durable_redis.restart()  # appendfsync always: everything acknowledged is still there
        assert until_frame(live, '<div id="data-paused-slot" hx-swap-oob="true"></div>'), "the banner stayed"
        live.close()
        deliver([a, b], documents[6:])
        wait_for(lambda: caught_up([a, b], len(documents)), timeout=30,
                 message=f"after Redis came back: {a.counts()} and {b.counts()} against {len(documents)}")
        assert a.ready()["status"] == "ready" and "Data paused." not in a.page("/").text
        assert a.ready()["cluster"]["follower"]["rebuilds"] == 0, "a Redis that kept its data caused a rebuild"
        assert a.state() == b.state()
    finally:
        a.stop()
        b.stop()


def leader(instances: list[Instance]) -> Instance | None:
    leading = [instance for instance in instances if instance.ready()["cluster"]["leader"]]
    return leading[0] if len(leading) == 1 else None


def test_when_the_leader_dies_another_takes_the_singletons_within_the_lease(cluster):
    a, b = cluster("a"), cluster("b")
    first = wait_for(lambda: leader([a, b]), timeout=15, message="no single leader emerged")
    other = b if first is a else a

    def attempts(instance: Instance) -> int:  # Telnyx is unreachable here: every pass the reconciler tries fails
        status = instance.ready()["reconciler"]
        return status["runs"] + status["errors"]

    wait_for(lambda: attempts(first) > 0, timeout=15, message="the leader never reconciled")
    assert attempts(other) == 0, "an instance that does not lead reconciled"
    first.kill()
    wait_for(lambda: other.ready()["cluster"]["leader"], timeout=1.5 * 3 + 5,
             message="no instance took the lease after its holder died")
    assert other.ready()["cluster"]["lease_holder"] == other.ready()["cluster"]["instance"]
    wait_for(lambda: attempts(other) > 0, timeout=15, message="the new leader never took over the reconciler")


def test_a_leader_paused_past_its_lease_wakes_as_a_follower(cluster):
    a, b = cluster("a"), cluster("b")
    first = wait_for(lambda: leader([a, b]), timeout=15, message="no single leader emerged")
    other = b if first is a else a
    first.pause()
    try:
        wait_for(lambda: other.ready()["cluster"]["leader"], timeout=15, message="the lease never moved")
    finally:
        first.resume()
    report = first.ready()["cluster"]
    assert not report["leader"], "the woken leader still believed it leads"
    assert report["lease_holder"] == other.ready()["cluster"]["instance"]


def test_an_instance_joining_after_the_stream_was_trimmed_heals_from_telnyx_and_equals_the_truth(tmp_path,
                                                                                                 redis_server):
    simulator = Simulator(traffic=True, seed=7, speed=20.0)
    simulator.start("127.0.0.1", 0)
    telnyx = {"TELNYX_API_KEY": simulator.api_key, "TELNYX_BASE_URL": simulator.base_url,
              "TELNYX_CONNECTION_ID": simulator.world.connection_id}
    a = Instance(tmp_path, "a", redis_server.url, simulator.signing_key, **telnyx).start()
    late = Instance(tmp_path, "late", redis_server.url, simulator.signing_key, **telnyx)
    try:
        simulator.delivery.set_url(f"{a.url}/webhooks/telnyx")
        wait_for(lambda: simulator.traffic.stats()["sim_seconds"] >= 150, timeout=60, interval=0.2)
        simulator.traffic.stop()
        assert simulator.delivery.wait_idle(20)
        with simulator.world.lock:
            truth = simulator_view(simulator.world, details=False)
        assert truth["live_conferences"], "the traffic built no conference"
        redis_server.client().xtrim("console:events", maxlen=5, approximate=False)  # most of the day is gone
        late.start()

        def equal() -> bool:
            store = Store(str(late.database))
            try:
                return console_view(store, details=False) == truth
            finally:
                store.close()

        wait_for(equal, timeout=30, interval=0.3, message="the late instance never healed what the trim took")
        assert late.ready()["reconciler"]["runs"] >= 1
    finally:
        simulator.delivery.set_url(None)
        a.stop()
        late.stop()
        simulator.stop()


def metric(instance: Instance, name: str) -> str:
    text = instance.page("/metrics").text
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


def test_metrics_report_the_stream_the_lease_and_dedupe_hits(cluster):
    a, b = cluster("a"), cluster("b")
    document = conference(600)[0]
    a.post(document)
    b.post(document)
    wait_for(lambda: caught_up([a, b], 1), timeout=15)
    assert metric(a, "console_stream_lag_entries") == "console_stream_lag_entries 0.0"
    assert metric(a, "console_stream_connected") == "console_stream_connected 1.0"
    hits = [metric(instance, "console_stream_dedupe_hits_total") for instance in (a, b)]
    assert sorted(hits) == ["console_stream_dedupe_hits_total 0.0", "console_stream_dedupe_hits_total 1.0"], hits
    holder = wait_for(lambda: leader([a, b]), timeout=15)
    name = holder.ready()["cluster"]["instance"]
    assert f'console_lease_holder{{holder="{name}"}} 1.0' in metric(b, "console_lease_holder")


def test_a_killed_stream_connection_is_taken_up_again_and_nothing_is_missed(cluster, redis_server):
    a, b = cluster("a"), cluster("b")
    deliver([a], conference(700))
    wait_for(lambda: caught_up([a, b], 3), timeout=15)
    client = redis_server.client()
    killed = client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 2, "no instance connection was killed"
    deliver([a], conference(701))  # the webhook path reconnects at once; B's follower must too
    wait_for(lambda: caught_up([a, b], 6), timeout=20, message=f"after CLIENT KILL: {a.counts()}, {b.counts()}")
    assert b.ready()["status"] == "ready"


def test_a_stream_connection_that_cannot_come_back_fails_readyz_until_it_does(cluster, redis_server):
    """CLIENT KILL is taken up again at once, so to see /readyz while the reader is down, Redis refuses
    new connections for a while (a password set after the instances connected: connections already
    open stay signed in, a new one is refused) and every instance connection is killed."""
    a, b = cluster("a"), cluster("b")
    deliver([a], conference(710))
    wait_for(lambda: caught_up([a, b], 3), timeout=15)
    client = redis_server.client()
    client.config_set("requirepass", "locked-out-for-this-test")
    try:
        assert client.client_kill_filter(_type="normal", skipme=True) >= 2, "no instance connection was killed"
        wait_for(lambda: b.ready_status() == 503, timeout=15, message="/readyz stayed ready with its reader down")
        assert b.ready()["cluster"]["follower"]["connected"] is False
        assert a.post(conference(711)[0]).status_code == 503  # the webhook cannot reach the stream either
    finally:
        client.config_set("requirepass", "")
    wait_for(lambda: b.ready_status() == 200, timeout=20, message="/readyz never came back after Redis let it in")
    deliver([a, b], conference(711))
    wait_for(lambda: caught_up([a, b], 6), timeout=20, message=f"after the lock-out: {a.counts()}, {b.counts()}")
