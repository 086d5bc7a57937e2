"""Crash safety: a webhook is committed before its 200, so a console killed at any moment loses nothing.

The console runs as a real subprocess (tests/console_process.py) on a file database; the simulator
runs here with fast traffic and posts signed webhooks to it. The console is SIGKILLed mid-burst,
restarted on the same port and database, and the simulator's delivery retries bring what failed.
Afterwards the console shows what the simulator holds, and every event is in the log exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from console.simulator import Simulator
from console.state.store import Store, Writer
from console.telnyx import signing
from tests.ingest.test_end_to_end import console_view, simulator_view
from tests.signed_webhooks import encode, envelope, post, webhook_app
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ConsoleProcess:
    """A console subprocess on a fixed port and database file; killed by its own PID only."""

    def __init__(self, workdir: Path, settings: dict[str, str]):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **settings, "PYTHONPATH": str(ROOT)}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> ConsoleProcess:
        self.starts += 1
        log = (self.workdir / f"console-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.console_process", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.answers, timeout=20, interval=0.05, message=f"the console never came up: {self.output()}")
        return self

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the console exited: {self.output()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def events(self) -> int:
        """The event count the running console reports on /readyz."""
        return requests.get(f"{self.url}/readyz", timeout=5).json()["store"]["events"]

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed, the process is simply gone."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return (self.workdir / f"console-{self.starts}.log").read_text(errors="replace")[-3000:]


def console_settings(database: Path, sim: Simulator) -> dict[str, str]:
    return {
        "CONSOLE_DATABASE": str(database),
        "TELNYX_API_KEY": sim.api_key,
        "TELNYX_PUBLIC_KEY": sim.public_key,
        "TELNYX_BASE_URL": sim.base_url,
        "CONSOLE_SECRET_KEY": "crash-tests",
    }


@pytest.fixture
def busy_simulator():
    """Call-center traffic at 30 simulated seconds per real second, waiting for a webhook URL."""
    sim = Simulator(traffic=True, seed=23, speed=30.0)
    sim.start("127.0.0.1", 0)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.mark.slow
def test_sigkill_mid_burst_loses_nothing_and_applies_nothing_twice(tmp_path, busy_simulator):
    sim = busy_simulator
    database = tmp_path / "console.db"
    console = ConsoleProcess(tmp_path, console_settings(database, sim)).start()
    try:
        sim.delivery.set_url(f"{console.url}/webhooks/telnyx")
        for threshold in (40, 160):
            wait_for(lambda least=threshold: console.events() >= least, timeout=30, interval=0.05)
            console.kill()
            console.start()
        wait_for(lambda: sim.traffic.stats()["sim_seconds"] >= 240, timeout=60, interval=0.2)
        sim.traffic.stop()

        store = Store(str(database))

        def agree() -> bool:
            # The world's own timers can still emit an event after traffic stops, so the count is
            # compared inside the wait with the state: a lost event never converges, a late one does.
            if not sim.delivery.wait_idle(5):
                return False
            with sim.world.lock:
                truth = simulator_view(sim.world, details=False)
                counts = sim.delivery.stats()
            if counts["pending"]:
                return False
            return (truth == console_view(store, details=False)
                    and store.event_count() == counts["submitted"] - counts["dropped_no_url"])

        wait_for(agree, timeout=30, interval=0.3,
                 message="the console's state or event count differs from the simulator's")
        stats = sim.delivery.stats()
        assert stats["failed_attempts"] > 0, "no delivery was interrupted, so nothing was tested"
        assert stats["given_up"] == 0
        log = sqlite3.connect(database)
        try:
            # One statement reads one snapshot, so a late event cannot split the three counts.
            total, distinct, tally = log.execute(
                "SELECT count(*), count(DISTINCT id), (SELECT events FROM event_tally WHERE id = 1)"
                " FROM events").fetchone()
        finally:
            log.close()
        assert total == distinct == tally >= 160
        assert simulator_view(sim.world, details=False)["live_conferences"], "traffic built no conference"
        store.close()
    finally:
        sim.delivery.set_url(None)
        console.stop()


@pytest.mark.slow
def test_an_acknowledged_webhook_survives_an_immediate_sigkill(tmp_path):
    key = signing.generate_signing_key()
    settings = {"CONSOLE_DATABASE": str(tmp_path / "console.db"),
                "TELNYX_PUBLIC_KEY": signing.public_key_b64(key), "CONSOLE_SECRET_KEY": "crash-tests"}
    console = ConsoleProcess(tmp_path, settings).start()
    try:
        event_id = str(uuid.uuid4())
        body = encode(envelope(event_id=event_id))
        answer = requests.post(f"{console.url}/webhooks/telnyx", data=body, timeout=5,
                               headers={"Content-Type": "application/json", **signing.sign(body, key)})
        assert answer.json() == {"status": "stored"}
        console.kill()
        store = Store(settings["CONSOLE_DATABASE"])
        assert store.has_event(event_id)
        store.close()
        console.start()
        again = requests.post(f"{console.url}/webhooks/telnyx", data=body, timeout=5,
                              headers={"Content-Type": "application/json", **signing.sign(body, key)})
        assert again.json() == {"status": "duplicate"}
        assert console.events() == 1
    finally:
        console.stop()


def test_no_200_without_a_commit(tmp_path, monkeypatch):
    key = signing.generate_signing_key()
    app = webhook_app(tmp_path / "console.db", key)
    store = app.extensions["console.store"]
    client = app.test_client()
    body = encode(envelope())
    real_apply = Writer.apply

    def disk_full(writer, event):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Writer, "apply", disk_full)
    refused = post(client, body, signing.sign(body, key))
    assert refused.status_code == 503
    assert store.event_count() == 0
    # The signature was recorded in the same transaction, so it rolled back too: the retry is not a "replay".
    assert client.get("/readyz").get_json()["webhooks"]["last_received_at"] is None

    monkeypatch.setattr(Writer, "apply", real_apply)
    retried = post(client, body, signing.sign(body, key))
    assert retried.get_json() == {"status": "stored"}
    assert store.event_count() == 1
    assert json.loads(body)["data"]["id"] in [event.id for event in store.logged_events()]
