"""`supervisor-console demo --instances 2` as a user runs it: kill one instance and the console carries on.

The demo runs as a subprocess in a session of its own; its stdout is read on a thread (so a
deadline holds and the pipe never fills). From what it prints the test learns the front's URL and
each instance's URL and PID, checks the front serves the dashboard and live sockets, that webhooks
reach both instances, then kills one with SIGKILL as the printed hint says, and checks the front
and the survivor carry on. Finally it stops the demo's process group and checks that nothing the
demo started is left.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket
from playwright.sync_api import expect

from tests.redis_server import require_redis_server
from tests.serve_process import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
START_SECONDS = 150  # two gunicorn instances importing the app on a loaded two-core machine
FRONT = re.compile(r"^Supervisor console \(demo, 2 instances\): (\S+)/$")
INSTANCE = re.compile(r"^Instance (\d+): (\S+)/ \(pid (\d+)\)$")
REDIS = re.compile(r"^Redis: \S+ \(pid (\d+)\)")
HINT = re.compile(r"kill -9 (\d+) to watch the page carry on")


class Output:
    """The demo's stdout, line by line, read on a thread of its own."""

    def __init__(self, process: subprocess.Popen):
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, pattern: re.Pattern, seconds: float) -> re.Match:
        """Read lines until one matches `pattern` within `seconds` (every earlier line is kept in `seen`)."""
        deadline = time.monotonic() + seconds
        while True:
            for line in self.seen:
                if match := pattern.search(line):
                    return match
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern.pattern!r} within {seconds} s:\n"
                                     + "\n".join(self.seen)) from None
            if line is None:
                raise AssertionError("the demo ended early:\n" + "\n".join(self.seen))
            self.seen.append(line)


def group_alive(pgid: int) -> bool:
    """Whether any process (a zombie not yet reaped included) is left in the process group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def ready(url: str) -> dict:
    return requests.get(f"{url}/readyz", timeout=5).json()


def events(url: str) -> int:
    return ready(url)["store"]["events"]


def webhooks_received(url: str) -> float:
    """This instance's own count of webhooks it answered (console_webhooks_total, every type and outcome)."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("console_webhooks_total{"))


def dashboard(front: str) -> bool:
    answer = requests.get(f"{front}/", timeout=10)  # a fresh connection each time: the next instance in turn
    return answer.status_code == 200 and 'id="conference-rows"' in answer.text


def live_snapshot(front: str) -> bool:
    """A live socket through the front, as the page opens it, gets the dashboard's snapshot."""
    sock = websocket.create_connection(f"{front.replace('http', 'ws', 1)}/live?watch=dashboard", timeout=10)
    try:
        return bool(sock.recv())
    finally:
        sock.close()


def grows(read, seconds: float = 30, by: float = 1, message: str = "") -> None:
    """`read()` rises by at least `by` within `seconds`."""
    start = read()
    wait_for(lambda: read() >= start + by, timeout=seconds, interval=0.2, message=message)


@pytest.fixture
def demo(tmp_path):
    """The demo process (its own session), its output, and the PIDs it printed; every group killed at the end."""
    require_redis_server()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TELNYX_", "CONSOLE_"))}
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))  # the demo's work folder lands under tmp_path
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "demo", "--instances", "2", "--port", str(free_port()), "--speed", "5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = Output(process)
    started: list[int] = []
    try:
        yield process, output, started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the demo stops what it started
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for pgid in started:  # a safety net for a demo that could not stop them
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)


def learn(output: Output, started: list[int]) -> tuple[str, dict[int, tuple[str, int]]]:
    """The front's URL and {number: (url, pid)} of the instances, from what the demo printed; PIDs noted for cleanup."""
    front = output.until(FRONT, START_SECONDS).group(1)
    instances = {int(number): (url, int(pid)) for number, url, pid in
                 (INSTANCE.search(line).groups() for line in output.seen if INSTANCE.search(line))}
    started.extend([int(output.until(REDIS, 1).group(1)), *(pid for _url, pid in instances.values())])
    assert sorted(instances) == [1, 2]
    assert int(output.until(HINT, 5).group(1)) == instances[1][1]
    return front, instances


def test_killing_one_instance_leaves_the_console_running_through_the_front(demo):
    process, output, started = demo
    front, instances = learn(output, started)
    (doomed_url, doomed), (survivor_url, _survivor) = instances[1], instances[2]

    # Before: the front serves pages and live sockets, and webhooks land on both instances.
    assert all(dashboard(front) for _ in range(4))
    assert all(live_snapshot(front) for _ in range(2))
    for url in (doomed_url, survivor_url):
        grows(lambda url=url: webhooks_received(url), message=f"no webhooks reached {url}")
        grows(lambda url=url: events(url), message=f"the event log on {url} stopped growing")

    # kill -9 as the demo says: the master only; its worker follows, and the demo says so.
    os.kill(doomed, signal.SIGKILL)
    output.until(re.compile(rf"^Instance 1 \(pid {doomed}\) exited \(killed by SIGKILL\)"), 15)
    wait_for(lambda: not group_alive(doomed), timeout=20, interval=0.1, message="the killed instance's worker lingers")

    # After: every new connection through the front reaches the survivor, which keeps up with the traffic.
    assert all(dashboard(front) for _ in range(4))
    assert all(live_snapshot(front) for _ in range(4))
    grows(lambda: webhooks_received(survivor_url), by=5, message="webhooks stopped reaching the survivor")
    grows(lambda: events(survivor_url), by=5, message="the survivor's event log stopped growing")
    assert process.poll() is None, "the demo stopped by itself"

    # Stopping the demo's own process group (the command line alone) stops everything it started.
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=60) == 0, "\n".join(output.seen)
    left = [pid for pid in started if group_alive(pid)]
    assert left == [], f"still running after the demo stopped: {left}"


def live_sockets(url: str) -> float:
    """The live sockets this instance holds open (console_live_sockets)."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("console_live_sockets "))


@pytest.mark.browser
def test_an_open_page_carries_on_through_another_instance_when_its_own_is_killed(demo, page):
    _process, output, started = demo
    front, instances = learn(output, started)
    page.goto(f"{front}/")
    expect(page.locator("#conference-rows tr").first).to_be_visible(timeout=30_000)
    holding = wait_for(lambda: [number for number, (url, _pid) in instances.items() if live_sockets(url) >= 1],
                       timeout=20, interval=0.2, message="no instance holds the page's live socket")
    assert len(holding) == 1
    [other] = set(instances) - set(holding)
    os.kill(instances[holding[0]][1], signal.SIGKILL)
    wait_for(lambda: live_sockets(instances[other][0]) >= 1, timeout=60, interval=0.2,
             message="the page never reconnected through the front to the other instance")
    rows = page.locator("#conference-rows").inner_html()
    wait_for(lambda: page.locator("#conference-rows").inner_html() != rows, timeout=30, interval=0.2,
             message="the page stopped changing after it reconnected")


def test_without_redis_server_the_demo_says_how_to_install_it(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TELNYX_", "CONSOLE_"))}
    env.update(PYTHONPATH=str(ROOT), REDIS_SERVER_PATH=str(tmp_path / "no-redis-server-here"))
    result = subprocess.run([sys.executable, "-m", "console", "demo", "--instances", "2", "--port", str(free_port())],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert ("the multi-instance demo needs Redis: redis-server not found: install it "
            "(Debian: apt-get install -y redis-server) or set REDIS_SERVER_PATH to the binary "
            f"(REDIS_SERVER_PATH={str(tmp_path / 'no-redis-server-here')!r} is not an executable file)") in result.stderr
    assert result.stdout == ""
