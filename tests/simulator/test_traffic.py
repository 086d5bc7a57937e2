"""The call-center scenario and the Simulator wrapper: a lively, consistent, deterministic world."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests

from console.simulator import Simulator
from console.simulator.traffic import Traffic
from console.simulator.world import World
from console.telnyx import signing
from tests.simulator.test_simulator_delivery import Receiver
from tests.waiting import wait_for

START = 1_767_225_600.0


class FakeClock:
    """World time that only moves when the test says so."""

    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Scenario:
    """A seeded world and traffic stepped by hand, one simulated second at a time, with every event kept."""

    def __init__(self, seed: int, **options):
        self.clock = FakeClock()
        self.world = World(clock=self.clock, rng=random.Random(seed))
        self.events: list[dict] = []
        self.world.subscribe(lambda body: self.events.append(body.get("data", body)))
        self.traffic = Traffic(self.world, seed=seed, **options)

    def run(self, seconds: int) -> Scenario:
        for _ in range(seconds):
            self.clock.now += 1
            self.world.tick()
            self.traffic.step(1)
        return self

    def of_type(self, event_type: str) -> list[dict]:
        return [event["payload"] for event in self.events if event["event_type"] == event_type]

    def legs(self) -> dict[str, dict]:
        """Every leg's call.initiated payload, by call control id."""
        return {payload["call_control_id"]: payload for payload in self.of_type("call.initiated")}

    def live_conferences(self) -> list[tuple[dict, list[dict]]]:
        snapshot = self.world.snapshot()
        return [
            (conference, [p for p in snapshot["participants"][conference_id].values() if p["status"] == "joined"])
            for conference_id, conference in snapshot["conferences"].items()
            if conference["status"] == "in_progress"
        ]


BUSY = {"arrival_per_minute": 10, "patience_secs": (20.0, 150.0)}


@pytest.fixture(scope="module")
def busy_day():
    return Scenario(seed=11, **BUSY).run(300)


def test_conferences_pair_a_customer_with_a_named_agent(busy_day):
    legs = busy_day.legs()
    conferences = busy_day.live_conferences()

    assert conferences, "some conversations are in progress"
    agent_names = {agent.name for agent in busy_day.traffic.agents}
    for conference, present in conferences:
        assert len(present) == 2
        customer, agent = sorted((legs[p["call_control_id"]] for p in present), key=lambda leg: leg["direction"])
        assert customer["direction"] == "incoming" and customer["to"] in busy_day.traffic.numbers.values()
        assert customer["from"].startswith("+1") and len(customer["from"]) == 12
        assert agent["direction"] == "outgoing" and agent["to"].startswith("sip:")
        queue, agent_name, number = conference["name"].split(" · ")
        assert queue in busy_day.traffic.queues
        assert agent_name in agent_names and agent["to"].startswith(f"sip:{agent_name.lower()}@")
        assert number == customer["from"]


def test_callers_wait_in_consistent_queue_positions(busy_day):
    snapshot = busy_day.world.snapshot()
    waiting = 0
    for name, queued in snapshot["queue_calls"].items():
        line = sorted(queued.values(), key=lambda call: call["queue_position"])
        assert [call["queue_position"] for call in line] == list(range(1, len(line) + 1))
        assert [call["enqueued_at"] for call in line] == sorted(call["enqueued_at"] for call in line)
        assert all(call["is_alive"] for call in line)
        assert snapshot["queues"][name]["current_size"] == len(line)
        waiting += len(line)
    assert waiting > 0, "some callers are waiting"
    assert busy_day.traffic.stats()["waiting"] == waiting


def test_some_callers_abandon_and_answered_ones_leave_the_queue_bridged(busy_day):
    reasons = Counter(payload["reason"] for payload in busy_day.of_type("call.dequeued"))
    stats = busy_day.traffic.stats()

    assert reasons["hangup"] == stats["abandoned"] > 0
    assert reasons["bridged"] == stats["answered"] > 0
    assert stats["completed"] > 0
    assert len(busy_day.of_type("conference.ended")) == stats["completed"]
    assert all(payload["reason"] == "all_left" for payload in busy_day.of_type("conference.ended"))


def test_the_floor_changes_between_customer_and_agent(busy_day):
    floors = busy_day.of_type("conference.floor.changed")
    by_conference: dict[str, set[str]] = {}
    for payload in floors:
        by_conference.setdefault(payload["conference_id"], set()).add(payload["call_control_id"])
    assert floors
    assert any(len(speakers) == 2 for speakers in by_conference.values())


def test_the_same_seed_gives_the_same_world():
    first = Scenario(seed=5, **BUSY).run(180)
    second = Scenario(seed=5, **BUSY).run(180)
    other = Scenario(seed=6, **BUSY).run(180)

    assert first.world.snapshot() == second.world.snapshot()
    assert first.events == second.events
    assert first.world.snapshot() != other.world.snapshot()


def test_warm_start_fills_the_room_at_once():
    scenario = Scenario(seed=2)
    scenario.traffic.warm_start(n_conferences=3, n_waiting=4)

    assert len(scenario.live_conferences()) == 3
    assert all(len(present) == 2 for _, present in scenario.live_conferences())
    assert sum(len(calls) for calls in scenario.world.snapshot()["queue_calls"].values()) == 4
    scenario.run(5)
    assert len(scenario.live_conferences()) == 3, "the other agents are still in wrap-up"


def test_concurrent_calls_stay_bounded():
    scenario = Scenario(seed=4, arrival_per_minute=60, max_calls=8)
    most = 0
    for _ in range(120):
        scenario.run(1)
        alive = sum(1 for call in scenario.world.snapshot()["calls"].values() if call["is_alive"])
        most = max(most, alive)
    assert 6 <= most <= 8
    assert scenario.traffic.stats()["busy"] > 0


def test_the_console_ending_calls_under_the_scenario_does_not_stop_it():
    scenario = Scenario(seed=9, **BUSY)
    scenario.traffic.warm_start(3, 4)
    for conference, _ in scenario.live_conferences():
        scenario.world.conference_action(conference["id"], "end", {})
    for queued in scenario.world.snapshot()["queue_calls"].values():
        for call_control_id in queued:
            scenario.world.hangup(call_control_id)

    scenario.run(240)
    assert scenario.traffic.stats()["answered"] > 3
    assert scenario.live_conferences()


# -- the Simulator wrapper ------------------------------------------------------------------


def thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_a_started_and_stopped_simulator_leaves_no_threads():
    before = set(threading.enumerate())
    simulator = Simulator(seed=3, speed=20, traffic=True)
    simulator.start()
    try:
        assert {"sim-traffic", "sim-world-ticker", "sim-webhook-delivery"} <= thread_names()
        answer = requests.get(f"{simulator.base_url}/queues", headers={"Authorization": "Bearer sim-key"}, timeout=5)
        assert answer.status_code == 200
    finally:
        simulator.stop()
    simulator.stop()
    wait_for(lambda: set(threading.enumerate()) <= before, message="simulator threads outlived stop()")


@pytest.fixture
def console_stand_in():
    key = signing.generate_signing_key()
    receiver = Receiver(signing.public_key_b64(key)).start()
    try:
        yield receiver, key
    finally:
        receiver.stop()


def test_the_simulator_posts_signed_traffic_and_serves_it_over_rest(console_stand_in):
    receiver, key = console_stand_in
    simulator = Simulator(signing_key=key, webhook_url=f"{receiver.url}/webhooks/telnyx", seed=8, speed=20)
    try:
        base_url = simulator.start()
        assert base_url == f"{simulator.root_url}/v2"
        assert simulator.world.recording_base_url == simulator.root_url

        def types():
            return {webhook.json.get("data", webhook.json)["event_type"] for webhook in receiver.requests}

        wait_for(lambda: {"call.initiated", "call.enqueued", "conference.created", "call.dequeued"} <= types())
        assert all(webhook.verified for webhook in receiver.requests)
        auth = {"Authorization": "Bearer sim-key"}
        conferences = requests.get(f"{base_url}/conferences", headers=auth, timeout=5).json()["data"]
        assert any(" · " in conference["name"] for conference in conferences)
        assert requests.get(f"{base_url}/conferences", timeout=5).status_code == 401
        counters = requests.get(f"{simulator.root_url}/_sim/delivery", timeout=5).json()
        assert counters["delivered"] > 0 and counters["dropped_no_url"] == 0
        assert requests.get(f"{simulator.root_url}/_sim/traffic", timeout=5).json()["answered"] >= 3
    finally:
        simulator.stop()


def test_delivery_can_be_aimed_after_start(console_stand_in):
    receiver, key = console_stand_in
    simulator = Simulator(signing_key=key, seed=1, traffic=False)
    try:
        simulator.start()
        simulator.world.incoming_call("+14155550123", "+18885550110")
        assert requests.get(f"{simulator.root_url}/_sim/delivery", timeout=5).json()["dropped_no_url"] == 1

        aimed = requests.post(f"{simulator.root_url}/_sim/delivery", json={"url": f"{receiver.url}/hook"}, timeout=5)
        assert aimed.status_code == 200
        simulator.world.incoming_call("+14155550124", "+18885550110")
        wait_for(lambda: receiver.requests)
        assert receiver.requests[0].json["data"]["payload"]["from"] == "+14155550124"
        refused = requests.post(f"{simulator.root_url}/_sim/delivery", json={"url": 7}, timeout=5)
        assert refused.status_code == 400
    finally:
        simulator.stop()


def test_main_simulate_prints_its_keys_and_stops_on_sigterm(tmp_path):
    root = Path(__file__).resolve().parents[2]
    script = (
        "from console.simulator import main_simulate; "
        "main_simulate('127.0.0.1', 0, None, 'k', None, 1, 20.0, True)"
    )
    errors = (tmp_path / "stderr.txt").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, stderr=errors, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = lines[0].split(": ", 1)[1].strip()
        public_key = lines[1].strip().removeprefix("TELNYX_PUBLIC_KEY=")
        seed = lines[2].rsplit(": ", 1)[1].strip()
        assert signing.public_key_b64(signing.load_signing_key(seed)) == public_key
        queues = requests.get(f"{base_url}/queues", headers={"Authorization": "Bearer k"}, timeout=5)
        assert queues.status_code == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait(5)
        process.stdout.close()
        errors.close()
