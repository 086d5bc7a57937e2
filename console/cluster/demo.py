"""`supervisor-console demo --instances N`: the distributed mode on one laptop, with a front to watch failover.

Everything a distributed console needs runs here as processes of its own, in one work folder:
a redis-server (a free port, append-only file, nothing evicted), N real `supervisor-console serve`
instances (free ports, their own SQLite read models, the same secret key, demo mode so a browser is
signed in as the demo admin) and a round-robin front (console.cluster.front) on the port the user
asked for. Kill one instance and a page open on the front reconnects through it to another.

Every child starts in a session of its own, so `stop()` ends each one's whole process group by
PID (gunicorn's master and worker alike): SIGTERM, then SIGKILL after a bound. The simulator is the
caller's (console.cli): this room must not import a tool, so it only receives the simulator's
TELNYX_* settings.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from console.cluster import redis_server
from console.cluster.front import Front

# Unlike the bench's throwaway server, the demo's keeps an append-only file: restart it and nothing is lost.
REDIS_ARGS = ("--save", "", "--appendonly", "yes", "--maxmemory-policy", "noeviction")
START_SECONDS = 90.0  # every instance answers /healthz within this (a loaded laptop imports slowly)
REDIS_START_SECONDS = 15.0
STOP_SECONDS = 10.0  # SIGTERM, then SIGKILL for whatever is still there
POLL_SECONDS = 0.1
WATCH_SECONDS = 0.5  # how soon the demo notices (and says) that an instance was killed
SERVE_THREADS = 8  # a laptop runs several instances: fewer page threads each than serve's default
DEMO_SETTINGS = {
    "CONSOLE_DEMO": "true",
    "CONSOLE_RECONCILE_INTERVAL": "10",
    "CONSOLE_REDIS_LEASE_MS": "2000",  # the singletons move to a survivor within two seconds
    "TELNYX_CALLER_ID": "+13125550100",
}


class DemoError(RuntimeError):
    """The demo cannot start; the message says why, for the command line."""


def find_redis_server() -> str:
    """The redis-server to run (console.cluster.redis_server); DemoError, saying how to get one, when none is there."""
    try:
        return redis_server.find_redis_server()
    except redis_server.RedisServerMissing as missing:
        raise DemoError(f"the multi-instance demo needs Redis: {missing}") from None


def one_connection_each() -> requests.Session:
    """An HTTP session that asks for a new connection per request (for the simulator's webhook delivery).

    The front hands out connections, not requests: webhooks sent over one kept-alive connection would
    all land on one instance. Closed after each one, they reach the instances in turn.
    """
    session = requests.Session()
    session.headers["Connection"] = "close"
    return session


def free_ports(count: int) -> list[int]:
    """`count` different ports nothing listens on right now (127.0.0.1): all probes are held open at once."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class Child:
    """One process the demo started, in a session (and process group) of its own."""

    name: str
    process: subprocess.Popen
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def signal_group(self, signum: int) -> None:
        """Signal the child's whole group (gunicorn's worker too); nothing happens when it is gone."""
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _spawn(name: str, command: list[str], folder: Path, url: str, env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> Child:
    """Start `command` in a new session, its output in folder/name.log."""
    log = folder / f"{name}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return Child(name, process, url, log)


def stop_children(children: list[Child], seconds: float = STOP_SECONDS) -> None:
    """SIGTERM every child's group, wait within `seconds`, then SIGKILL the groups of any left."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + seconds
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        child.signal_group(signal.SIGKILL)  # also a worker whose master is gone but which lingers
        try:
            child.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_until(children: list[Child], ready, seconds: float, what: str) -> None:
    """Poll `ready(child)` for each child until all are ready; DemoError when one exits or time runs out."""
    waiting = list(children)
    deadline = time.monotonic() + seconds
    while waiting:
        for child in list(waiting):
            if child.process.poll() is not None:
                raise DemoError(f"{child.name} exited with status {child.process.returncode}:\n{child.log_tail()}")
            if ready(child):
                waiting.remove(child)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(child.name for child in waiting)
            raise DemoError(f"{names} did not {what} within {seconds:g} s:\n{waiting[0].log_tail()}")
        if waiting:
            time.sleep(POLL_SECONDS)


class ClusterDemo:
    """Redis, the instances and the front of a running demo; `stop()` ends them all."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.redis: Child | None = None
        self.instances: list[Child] = []
        self.front: Front | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.front.url

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def summary(self) -> list[str]:
        """What the command prints once everything answers: where each part is, and how to watch a failover."""
        return [
            f"Redis: {self.redis_url} (pid {self.redis.pid}); logs and databases in {self.folder}",
            *(f"Instance {number}: {child.url}/ (pid {child.pid})" for number, child in enumerate(self.instances, 1)),
            f"Supervisor console (demo, {len(self.instances)} instances): {self.url}/",
            (f"Open the console URL in a browser; kill -9 {self.instances[0].pid} to watch the page carry on "
             "through another instance. Ctrl-C stops everything."),
        ]

    def watch(self, report: Callable[[str], None]) -> None:
        """Until stop(), call `report` with a line when an instance exits (someone killed it to see a failover)."""
        self._watcher = threading.Thread(target=self._watch, args=(report,), name="demo-watch", daemon=True)
        self._watcher.start()

    def _watch(self, report: Callable[[str], None]) -> None:
        running = dict(enumerate(self.instances, 1))
        while running and not self._stopping.wait(WATCH_SECONDS):
            for number, child in list(running.items()):
                if (status := child.process.poll()) is None:
                    continue
                del running[number]
                child.signal_group(signal.SIGKILL)  # its worker, should it outlive its master
                how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"status {status}"
                report(f"Instance {number} (pid {child.pid}) exited ({how}): the front sends everyone to the others.")

    def stop(self) -> None:
        """The front first (browsers see their sockets close), then the instances, then Redis; idempotent."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(STOP_SECONDS)
        if self.front is not None:
            self.front.stop()
        stop_children(self.instances)
        if self.redis is not None:
            stop_children([self.redis])


def _start_redis(demo: ClusterDemo, binary: str, port: int) -> None:
    command = redis_server.server_command(binary, port, str(demo.folder), *REDIS_ARGS)
    demo.redis = _spawn("redis", command, demo.folder, f"redis://127.0.0.1:{port}/0", cwd=demo.folder)
    _wait_until([demo.redis], lambda _child: redis_server.answers_ping(port), REDIS_START_SECONDS, "answer PING")


def _start_instances(demo: ClusterDemo, telnyx: Mapping[str, str], ports: list[int]) -> None:
    secret = secrets.token_urlsafe(32)  # one key for all: a cookie signed by one instance is good on every one
    for number, port in enumerate(ports, start=1):
        env = {**os.environ, **DEMO_SETTINGS, **telnyx, "CONSOLE_SECRET_KEY": secret,
               "CONSOLE_REDIS_URL": demo.redis_url,
               "CONSOLE_DATABASE": str(demo.folder / f"instance-{number}.db")}
        command = [sys.executable, "-m", "console", "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--threads", str(SERVE_THREADS)]
        demo.instances.append(_spawn(f"instance-{number}", command, demo.folder, f"http://127.0.0.1:{port}", env))
    _wait_until(demo.instances, lambda child: _healthy(child.url), START_SECONDS, "answer /healthz")


def start_cluster_demo(telnyx: Mapping[str, str], folder: Path, count: int, redis_server: str,
                       host: str = "127.0.0.1", port: int = 8000) -> ClusterDemo:
    """Start Redis, `count` instances with the simulator's `telnyx` settings, and the front on host:port.

    The front binds first, so a taken port fails before anything else starts. On any failure
    everything started so far is stopped again before the error is raised.
    """
    if count < 2:
        raise ValueError("a multi-instance demo needs at least two instances")
    demo = ClusterDemo(Path(folder))
    demo.folder.mkdir(parents=True, exist_ok=True)
    try:
        redis_port, *ports = free_ports(count + 1)
        demo.front = Front([("127.0.0.1", backend) for backend in ports], host=host, port=port).start()
    except OSError as error:
        raise DemoError(f"cannot listen on {host}:{port}: {error}") from error
    try:
        _start_redis(demo, redis_server, redis_port)
        _start_instances(demo, telnyx, ports)
    except BaseException:
        demo.stop()
        raise
    return demo
