"""`supervisor-console demo` lists the simulated call center's agents in the directory from the start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

from console.agents.roles import AGENT, role_of
from console.simulator import Simulator
from console.state import agents as rows
from console.state.store import Store


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_demo_fills_the_directory_with_the_agents_its_traffic_dials(tmp_path):
    database = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "CONSOLE_"))}
    process = subprocess.Popen([sys.executable, "-m", "console", "demo", "--port", str(free_port()),
                                "--database", str(database)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        while not any("Supervisor console (demo)" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"demo exited early with code {process.poll()}: {''.join(lines)}"
            lines.append(line)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    store = Store(str(database))
    store.migrate()
    listed = rows.agents(store)
    # The same traffic the demo builds (seed 7): its agents, the first queue each serves, the address it dials.
    traffic = Simulator(seed=7, traffic=True).traffic
    assert [(agent["name"], agent["team"], agent["addresses"]) for agent in listed] == sorted(
        (agent.name, agent.queues[0], [agent.address]) for agent in traffic.agents)
    assert all(re.fullmatch(r"sip:[a-z]+@agents\.callcenter\.example", agent["addresses"][0]) for agent in listed)
    first = traffic.agents[0]
    leg = {"call_control_id": "leg", "direction": "outgoing", "from_number": "+18885550110", "to_number": first.address}
    assert role_of(leg, {}, lambda address: rows.agent_at(store, address)).kind == AGENT
    store.close()
