"""Shared fixtures: Chromium for Playwright, the simulator tests' hand-driven clock and event log, a webhook signing key."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from console.telnyx import signing
from tests.sim_fixtures import EventLog, ManualClock

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium (or CHROMIUM_PATH); fail loudly, never skip, when it is missing."""
    candidate = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if Path(candidate).exists() or shutil.which(candidate):
        return candidate
    pytest.fail(
        f"No Chromium at {candidate!r}. Install Debian's browser with "
        "`apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary). "
        "Playwright's own browser download does not work here.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch the system Chromium with flags that work as root on a closed network."""
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": BROWSER_FLAGS}


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go (ignored by git)."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def key():
    """A fresh Ed25519 key, as Telnyx signs webhooks with (modules that share one across tests define their own)."""
    return signing.generate_signing_key()


@pytest.fixture
def clock():
    """A clock for the simulated world that only moves when the test says so."""
    return ManualClock()


@pytest.fixture
def events():
    """Every webhook body a simulated world sends, in order."""
    return EventLog()
