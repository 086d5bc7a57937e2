"""The README's demo command brings up a live console with conferences and queues, fast."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo_process():
    """`supervisor-console demo` as a user runs it; stopped by PID, killed if it will not stop."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "CONSOLE_"))}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        yield process, port, started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_demo_shows_live_conferences_and_queues_within_ten_seconds(demo_process, page):
    process, port, started = demo_process
    url = None
    while url is None:
        line = process.stdout.readline()
        assert line, f"demo exited early with code {process.poll()}"
        match = re.search(r"Supervisor console \(demo\): (\S+)", line)
        url = match.group(1) if match else None
    assert url == f"http://127.0.0.1:{port}/"
    page.goto(url)
    remaining_ms = lambda: max(500, int((10 - (time.monotonic() - started)) * 1000))
    expect(page.locator("#conference-rows tr").first).to_be_visible(timeout=remaining_ms())
    expect(page.locator("#queue-rows tr").first).to_be_visible(timeout=remaining_ms())
    assert process.poll() is None, "the demo stopped by itself"
