"""Live servers for integration and browser tests: a simulator (traffic off) and a console wired to it.

Use with `from tests.live_servers import *` (or list it in `pytest_plugins`). Every server binds
127.0.0.1 on a free port from a daemon thread and is stopped when the test ends.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from console import create_app
from console.ingest.reconcile import start_reconciler
from console.simulator import Simulator
from console.web.server import BackgroundServer

__all__ = ["LiveConsole", "console_app", "console_overrides", "console_server", "live_console", "quiet_console", "simulator",
           "simulator_clock"]


class LiveConsole:
    """A console app on a file database, served in the background; restartable on the same port."""

    def __init__(self, config: dict, simulator: Simulator | None = None, *, reconcile: bool = True):
        self.config = config
        self.simulator = simulator
        self.reconcile = reconcile
        self.app = None
        self.server: BackgroundServer | None = None
        self.port = 0
        self._reconciler = None

    @property
    def url(self) -> str:
        """The root URL the console answers on."""
        return self.server.url

    def start(self) -> LiveConsole:
        """Build a fresh app (as a restarted process would) and serve it, on the last port if it had one."""
        self.app = create_app(self.config)
        self.server = BackgroundServer(self.app, "127.0.0.1", self.port).start()
        self.port = self.server.port
        if self.simulator is not None:
            self.simulator.delivery.set_url(f"{self.url}/webhooks/telnyx")
        if self.reconcile and self.simulator is not None:
            self._reconciler = start_reconciler(self.app)
        return self

    def stop(self) -> None:
        """Stop serving and close live sockets the way a stopping process does (browsers reconnect)."""
        if self.server is None:
            return
        self.server.stop()
        self.app.extensions["console.hub"].stop()
        if self._reconciler is not None:
            self._reconciler.stop()
            self._reconciler = None
        self.app.extensions["console.store"].close()
        self.server = None

    def restart(self, while_down=None) -> LiveConsole:
        """Stop, run `while_down()` (change the world meanwhile), and start again on the same port."""
        self.stop()
        if while_down is not None:
            while_down()
        return self.start()


@pytest.fixture
def simulator_clock():
    """The simulated world's clock; a test module overrides this fixture to run the world in the past."""
    return time.time


@pytest.fixture
def simulator(simulator_clock):
    """The Telnyx simulator with no background traffic; tests drive `simulator.world` directly."""
    sim = Simulator(traffic=False, clock=simulator_clock)
    sim.start("127.0.0.1", 0)
    try:
        yield sim
    finally:
        sim.stop()


def console_config(database: Path, simulator: Simulator) -> dict:
    """Settings for a console that talks to, and is told about events by, this simulator."""
    return {
        "CONSOLE_DATABASE": str(database),
        "TELNYX_API_KEY": simulator.api_key,
        "TELNYX_PUBLIC_KEY": simulator.public_key,
        "TELNYX_BASE_URL": simulator.base_url,
        "TELNYX_CONNECTION_ID": simulator.world.connection_id,
        "CONSOLE_SECRET_KEY": "live-server-tests",
        "CONSOLE_DEMO": True,  # signed in as the demo admin; tests of roles and sign-in turn this off
    }


@pytest.fixture
def console_overrides() -> dict:
    """Extra console settings; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def live_console(tmp_path, simulator, console_overrides):
    """A running console on a file database, receiving the simulator's signed webhooks."""
    config = {**console_config(tmp_path / "console.db", simulator), **console_overrides}
    console = LiveConsole(config, simulator).start()
    try:
        yield console
    finally:
        simulator.delivery.set_url(None)
        console.stop()


@pytest.fixture
def quiet_console(tmp_path, simulator):
    """A running console without the reconciler: only the code under test talks to Telnyx, so
    faults injected for a command are not spent by a background sync."""
    console = LiveConsole(console_config(tmp_path / "console.db", simulator), simulator, reconcile=False).start()
    try:
        yield console
    finally:
        simulator.delivery.set_url(None)
        console.stop()


@pytest.fixture
def console_app(live_console):
    """The running console's Flask app."""
    return live_console.app


@pytest.fixture
def console_server(live_console):
    """The running console's BackgroundServer (`.url`, `.port`)."""
    return live_console.server
