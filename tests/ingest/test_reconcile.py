"""The reconciler heals what dropped webhooks hid, stamps corrections so newer webhooks win, and backs off.

A console runs against the simulator (traffic off); the test changes the world while the
simulator drops every webhook, then one reconcile pass must bring the read model back in line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest
import requests

from console.ingest.reconcile import Reconciler
from console.telnyx.client import TelnyxClient
from tests.live_servers import (  # noqa: F401
    LiveConsole,
    console_config,
    quiet_console,
    simulator,
    simulator_clock,
)
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for


class CountingSession(requests.Session):
    """Remembers when each request to the simulator was sent, and can act after a chosen one answers."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[float, str, str]] = []
        self.after: tuple[str, Callable[[], None]] | None = None

    def request(self, method, url, *args, **kwargs):
        self.sent.append((time.monotonic(), method, url))
        response = super().request(method, url, *args, **kwargs)
        if self.after is not None and self.after[0] in url:
            _, act = self.after
            self.after = None
            act()
        return response


class Desk:
    """A console wired to the simulator, a Telnyx client that counts requests, and a reconciler."""

    def __init__(self, console: LiveConsole, sim):
        self.console, self.sim, self.world = console, sim, sim.world
        self.app = console.app
        self.store = self.app.extensions["console.store"]
        self.session = CountingSession()
        self.client_waits: list[float] = []
        self.app.extensions["console.telnyx"] = TelnyxClient(
            sim.api_key, sim.base_url, session=self.session, sleep=self.client_waits.append)
        self.reconciler = Reconciler(self.app, interval=3600)

    def drop_webhooks(self) -> None:
        self.sim.delivery.wait_idle(5)
        self.sim.chaos.update(drop=1.0)

    def settle(self) -> None:
        assert self.sim.delivery.wait_idle(5)

    def joined(self, conference_id: str) -> list[str]:
        return sorted(p["call_control_id"] for p in self.store.participants(conference_id))

    def waiting(self, queue: str) -> list[str]:
        return [c["call_control_id"] for c in self.store.queue_calls(queue)]

    def conference(self, name: str, *guests: str) -> tuple[str, list[str]]:
        """A live conference with a host and these guests, known to the console through webhooks."""
        host = answered_call(self.world, "+15550000001")
        conference_id = self.world.create_conference(host, name)["id"]
        legs = [host]
        for number in guests:
            leg = answered_call(self.world, number)
            self.world.conference_action(conference_id, "join", {"call_control_id": leg})
            legs.append(leg)
        wait_for(lambda: self.joined(conference_id) == sorted(legs), message="webhooks never built the conference")
        return conference_id, legs


@pytest.fixture
def desk(quiet_console, simulator):  # noqa: F811
    return Desk(quiet_console, simulator)


def test_conference_ended_while_its_webhooks_were_dropped_is_corrected(desk):
    conference_id, _ = desk.conference("sales", "+15550000002")
    desk.drop_webhooks()
    desk.world.conference_action(conference_id, "end", {})
    assert desk.sim.delivery.stats()["dropped"] > 0
    assert desk.store.conference(conference_id)["status"] == "in_progress"

    assert desk.reconciler.run_once() > 0
    conference = desk.store.conference(conference_id)
    assert conference["status"] == "completed"
    assert conference["end_reason"] == "ended_via_api"
    assert conference_id not in [c["id"] for c in desk.store.live_conferences()]
    assert desk.joined(conference_id) == []


def test_missing_participant_is_added_with_its_mute_and_hold(desk):
    conference_id, legs = desk.conference("support")
    desk.drop_webhooks()
    late = answered_call(desk.world, "+15550000003")
    desk.world.conference_action(conference_id, "join", {"call_control_id": late, "mute": True, "hold": True})
    assert late not in desk.joined(conference_id)

    desk.reconciler.run_once()
    assert desk.joined(conference_id) == sorted([*legs, late])
    added = next(p for p in desk.store.participants(conference_id) if p["call_control_id"] == late)
    assert (added["muted"], added["on_hold"]) == (True, True)


def test_extra_participant_is_removed(desk):
    conference_id, (host, agent) = desk.conference("billing", "+15550000004")
    desk.drop_webhooks()
    desk.world.conference_action(conference_id, "leave", {"call_control_id": agent})
    assert agent in desk.joined(conference_id)

    desk.reconciler.run_once()
    assert desk.joined(conference_id) == [host]
    assert desk.store.conference(conference_id)["status"] == "in_progress"


def test_queue_members_sizes_and_settings_are_corrected(desk):
    first, second = answered_call(desk.world, "+15550000011"), answered_call(desk.world, "+15550000012")
    desk.world.enqueue(first, "support")
    desk.world.enqueue(second, "support")
    wait_for(lambda: desk.waiting("support") == [first, second])
    desk.drop_webhooks()
    third = answered_call(desk.world, "+15550000013")
    desk.world.enqueue(third, "support")
    desk.world.leave_queue(first)
    desk.world.update_queue("support", 7)
    desk.world.create_queue("billing", max_size=3)
    assert desk.waiting("support") == [first, second]

    desk.reconciler.run_once()
    assert desk.waiting("support") == [second, third]
    queue = desk.store.queue("support")
    assert (queue["current_size"], queue["max_size"]) == (2, 7)
    assert [c["position"] for c in desk.store.queue_calls("support")] == [1, 2]
    assert desk.store.queue("billing")["max_size"] == 3


def test_callers_enqueued_in_one_millisecond_keep_telnyx_order_when_their_webhooks_were_dropped(desk):
    """REST's enqueued_at has milliseconds, webhooks' microseconds: Telnyx's queue_position decides."""
    callers = [answered_call(desk.world, f"+1555000005{n}") for n in range(4)]
    millisecond = math.floor(time.time() * 1000) / 1000 + 0.001
    real_clock = desk.world.clock
    try:
        desk.world.clock = lambda: millisecond + 0.0004
        desk.world.enqueue(callers[0], "support")
        wait_for(lambda: desk.waiting("support") == callers[:1])
        desk.drop_webhooks()
        for offset, caller in zip((0.0006, 0.0007, 0.0008), callers[1:], strict=True):
            desk.world.clock = lambda offset=offset: millisecond + offset
            desk.world.enqueue(caller, "support")
    finally:
        desk.world.clock = real_clock
    listed = desk.world.snapshot()["queue_calls"]["support"]
    assert len({call["enqueued_at"] for call in listed.values()}) == 1, "REST shows one millisecond for all four"

    desk.reconciler.run_once()
    assert desk.waiting("support") == callers
    assert [c["position"] for c in desk.store.queue_calls("support")] == [1, 2, 3, 4]
    assert desk.reconciler.run_once() == 0, "a healed order is corrected again"


def test_a_second_pass_over_a_healed_store_corrects_nothing(desk):
    desk.conference("quiet", "+15550000021")
    desk.reconciler.run_once()
    assert desk.reconciler.run_once() == 0
    assert desk.reconciler.status.last_corrections == 0


def test_a_correction_never_rolls_back_a_webhook_newer_than_its_rest_request(desk):
    """REST lists the agent as joined; the agent leaves (webhook applied) before the correction lands."""
    conference_id, (_, agent) = desk.conference("race", "+15550000031")
    desk.world.conference_action(conference_id, "mute", {"call_control_ids": [agent]})

    def agent_leaves():
        desk.world.conference_action(conference_id, "leave", {"call_control_id": agent})
        wait_for(lambda: agent not in desk.joined(conference_id))

    desk.session.after = ("/participants", agent_leaves)
    desk.reconciler.run_once()
    assert desk.reconciler.status.last_corrections >= 1, "the stale REST answer (muted, joined) was published"
    assert agent not in desk.joined(conference_id), "a stale REST view undid the newer leave"


def test_a_429_makes_the_pass_fail_cleanly_and_the_next_pass_heal(desk):
    conference_id, _ = desk.conference("limits", "+15550000041")
    desk.drop_webhooks()
    desk.world.conference_action(conference_id, "end", {})
    desk.sim.chaos.fail_next("429", 3)

    assert desk.reconciler.run_once() == 0
    status = desk.reconciler.status
    assert status.last_error.startswith("rate limited by Telnyx")
    assert (status.errors, status.consecutive_failures) == (1, 1)
    assert desk.client_waits == [1.0, 1.0], "the client waited the server's Retry-After before each retry"
    assert len(desk.session.sent) == 3
    assert status.as_dict()["backoff_seconds"] > 0
    assert desk.store.conference(conference_id)["status"] == "in_progress"

    assert desk.reconciler.run_once() > 0
    assert status.last_error is None and status.consecutive_failures == 0
    assert desk.store.conference(conference_id)["status"] == "completed"


def test_failures_double_the_pause_until_a_pass_succeeds(desk):
    reconciler = Reconciler(desk.app, interval=3600, backoff_base=1.0, max_backoff=3.0)
    pauses = []
    for _ in range(4):
        desk.sim.chaos.fail_next("500", 3)
        reconciler.run_once()
        pauses.append(reconciler.status.backoff_until - time.monotonic())
    for pause, expected in zip(pauses, (1.0, 2.0, 3.0, 3.0)):
        assert expected - 0.5 < pause <= expected, pauses
    assert reconciler.status.consecutive_failures == 4
    reconciler.run_once()
    assert reconciler.status.consecutive_failures == 0 and reconciler.status.last_error is None


def test_the_background_loop_waits_out_a_rate_limit_without_a_single_request(desk):
    conference_id, _ = desk.conference("patience", "+15550000051")
    desk.drop_webhooks()
    desk.world.conference_action(conference_id, "end", {})
    desk.sim.chaos.fail_next("429", 3)
    reconciler = Reconciler(desk.app, interval=0.2, backoff_base=0.5)
    reconciler.start()
    try:
        wait_for(lambda: reconciler.status.errors == 1, timeout=10)
        failed_at = time.monotonic()
        reconciler.nudge(conference_id)  # a nudge must not slip past the pause either
        wait_for(lambda: reconciler.status.runs >= 2 and reconciler.status.last_error is None, timeout=10)
    finally:
        reconciler.stop()
    failed, healed = list(reconciler.status.history)[:2]
    assert "429" in failed["error"] and healed["error"] is None
    gap = (healed["started_at"] - failed["finished_at"]).total_seconds()
    assert gap >= 1.0 - 0.05, "the pause honoured the server's Retry-After of 1 s, not the 0.2 s interval"
    quiet = [sent for sent in desk.session.sent if failed_at < sent[0] < failed_at + 0.9]
    assert quiet == [], f"requests were sent during the pause: {quiet}"
    assert desk.store.conference(conference_id)["status"] == "completed"


def test_the_loop_survives_a_pass_that_crashes(desk, monkeypatch):
    reconciler = Reconciler(desk.app, interval=0.1, backoff_base=0.1)
    calls = {"n": 0}
    real = reconciler._queues

    def flaky(store, client):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk on fire")
        return real(store, client)

    monkeypatch.setattr(reconciler, "_queues", flaky)
    reconciler.start()
    try:
        wait_for(lambda: calls["n"] >= 2 and reconciler.status.last_error is None, timeout=10)
    finally:
        reconciler.stop()
    assert reconciler.status.errors == 1
    assert not reconciler.started


def test_status_is_json_ready(desk):
    desk.reconciler.run_once()
    described = desk.reconciler.describe()
    assert described["started"] is False
    assert described["runs"] == 1
    assert described["history"][0]["finished_at"].endswith("+00:00")
    assert isinstance(described["recent"], list)


def test_nudged_conference_is_fetched_and_a_rate_limit_keeps_it_pending(desk):
    conference_id, legs = desk.conference("nudge", "+15550000061")
    desk.drop_webhooks()
    desk.world.conference_action(conference_id, "leave", {"call_control_id": legs[1]})
    desk.sim.chaos.fail_next("429", 3)
    desk.reconciler.nudge(conference_id)
    assert desk.reconciler.fetch_pending() == 0
    assert desk.reconciler.status.last_error.startswith("rate limited")
    assert desk.reconciler.fetch_pending() > 0, "the nudge was kept for after the pause"
    assert desk.joined(conference_id) == [legs[0]]


def test_labels_only_rest_knows_are_fetched_once_per_leg(desk):
    conference_id, (host,) = desk.conference("coaching")
    agent = answered_call(desk.world, "+15550000009")
    desk.world.conference_action(conference_id, "join", {"call_control_id": agent, "label": "Agent Alice"})
    wait_for(lambda: agent in desk.joined(conference_id), message="the agent's join never arrived")
    assert next(p for p in desk.store.participants(conference_id) if p["call_control_id"] == agent)["label"] is None

    desk.reconciler.run_once()
    labels = {p["call_control_id"]: p["label"] for p in desk.store.participants(conference_id)}
    assert labels == {host: None, agent: "Agent Alice"}

    def single_participant_gets():
        return sum(1 for _, method, url in desk.session.sent if method == "GET" and "/participants/" in url)

    asked = single_participant_gets()
    assert asked == 2  # one per joined leg, the unlabelled host included
    desk.reconciler.run_once()
    assert single_participant_gets() == asked, "a second pass asked again for labels it already knew"
