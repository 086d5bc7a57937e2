"""Simulator and console over real HTTP: after minutes of simulated traffic they agree."""

from __future__ import annotations

import pytest

from console.ingest.reconcile import Reconciler
from console.simulator import Simulator
from tests.live_servers import LiveConsole, console_config
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def simulator_view(world, *, details: bool) -> dict:
    """What a supervisor should see, read from the simulator's truth."""
    snapshot = world.snapshot()
    live = {cid: c for cid, c in snapshot["conferences"].items() if c["status"] != "completed"}
    view = {
        "live_conferences": sorted(live),
        "participants": {
            cid: sorted(
                (p["call_control_id"], p["muted"], p["on_hold"]) if details else p["call_control_id"]
                for p in snapshot["participants"][cid].values()
                if p["status"] == "joined"
            )
            for cid in live
        },
        "queued": {
            name: [c["call_control_id"] for c in sorted(calls.values(), key=lambda c: c["queue_position"])]
            for name, calls in snapshot["queue_calls"].items()
            if calls
        },
    }
    if details:
        view["names"] = {cid: c["name"] for cid, c in live.items()}
        view["queue_sizes"] = {name: q["current_size"] for name, q in snapshot["queues"].items()}
    return view


def console_view(store, *, details: bool) -> dict:
    """The same view, read from the console's read model."""
    live = {c["id"]: c for c in store.live_conferences()}
    view = {
        "live_conferences": sorted(live),
        "participants": {
            cid: sorted(
                (p["call_control_id"], bool(p["muted"]), bool(p["on_hold"])) if details else p["call_control_id"]
                for p in store.participants(cid)
                if p["status"] == "joined"
            )
            for cid in live
        },
        "queued": {
            q["name"]: [c["call_control_id"] for c in store.queue_calls(q["name"])]
            for q in store.queues()
            if q["current_size"]
        },
    }
    if details:
        view["names"] = {cid: c["name"] for cid, c in live.items()}
        view["queue_sizes"] = {q["name"]: q["current_size"] for q in store.queues()}
    return view


@pytest.fixture
def busy_simulator():
    """A simulator running the call-center scenario fast: 20 simulated seconds per real second."""
    sim = Simulator(traffic=True, seed=11, speed=20.0)
    sim.start("127.0.0.1", 0)
    try:
        yield sim
    finally:
        sim.stop()


def test_console_store_equals_simulator_world_after_traffic(tmp_path, busy_simulator):
    sim = busy_simulator
    console = LiveConsole(console_config(tmp_path / "console.db", sim), sim, reconcile=False).start()
    try:
        # About three simulated minutes of arrivals, abandons, answers, talk and hangups.
        wait_for(lambda: sim.traffic.stats()["sim_seconds"] >= 180, timeout=60, interval=0.2)
        stats = sim.traffic.stats()
        sim.traffic.stop()
        assert sim.delivery.wait_idle(20)
        store = console.app.extensions["console.store"]
        assert store.event_count() > 100

        # Webhooks alone carry membership: the same conferences, participants and waiting callers.
        def agree(details):
            with sim.world.lock:
                truth = simulator_view(sim.world, details=details)
            return truth == console_view(store, details=details)

        wait_for(lambda: sim.delivery.wait_idle(5) and agree(False), timeout=20, interval=0.2,
                 message=f"console differs from the simulator after traffic {stats}")
        assert simulator_view(sim.world, details=False)["live_conferences"], "traffic built no conference"

        # What webhooks never carry (names, mute, hold set by agents) arrives with one reconcile pass.
        Reconciler(console.app, interval=3600).run_once()
        wait_for(lambda: sim.delivery.wait_idle(5) and agree(True), timeout=20, interval=0.2,
                 message="names, mute and hold differ after a reconcile pass")
    finally:
        sim.delivery.set_url(None)
        console.stop()


def test_one_reconcile_pass_heals_dropped_duplicated_and_reordered_webhooks(tmp_path, busy_simulator):
    sim = busy_simulator
    sim.chaos.update(drop=0.2, duplicate=0.1, reorder=0.1)
    console = LiveConsole(console_config(tmp_path / "console.db", sim), sim, reconcile=False).start()
    try:
        # Five simulated minutes of traffic through the chaos knobs.
        wait_for(lambda: sim.traffic.stats()["sim_seconds"] >= 300, timeout=90, interval=0.2)
        sim.traffic.stop()
        assert sim.delivery.wait_idle(20)
        assert sim.delivery.stats()["dropped"] > 0
        store = console.app.extensions["console.store"]
        reconciler = Reconciler(console.app, interval=3600)

        differences: list = []

        def healed():
            sim.delivery.wait_idle(5)
            reconciler.run_once()
            with sim.world.lock:
                truth = simulator_view(sim.world, details=True)
            seen = console_view(store, details=True)
            differences[:] = [(key, truth[key], seen[key]) for key in truth if truth[key] != seen[key]]
            return not differences

        try:
            wait_for(healed, timeout=20, interval=0.5)
        except AssertionError:
            raise AssertionError(f"reconciliation did not converge: (what, simulator, console) {differences}") from None
        assert reconciler.status.total_corrections > 0
    finally:
        sim.delivery.set_url(None)
        console.stop()
