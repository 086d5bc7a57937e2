"""The processes a benchmark run drives: the console under gunicorn, and helpers spoken to over pipes.

The instances phase adds a redis-server of its own (RedisProcess), for the consoles it runs in the
distributed mode.

Each is started for the run and stopped by PID; /proc tells what CPU and memory they used.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from console.cluster import redis_server

# Nothing on disk, and never an evicting policy: the console refuses to start on one.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def memory_kib(pid: int, field_name: str) -> int:
    """A /proc/<pid>/status memory figure (VmRSS, VmHWM) in KiB, 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ConsoleProcess:
    """The console under gunicorn, started as a subprocess and stopped by PID."""

    def __init__(self, workdir: str, public_key: str, threads: int, render_process: bool = True,
                 port: int | None = None, extra_args: list[str] | None = None, env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.database = os.path.join(workdir, "bench.db")  # a state built beforehand is served as it is
        self.log = open(os.path.join(workdir, "console.log"), "wb")  # noqa: SIM115  closed by stop()
        self.workers: list[int] = []
        command = [sys.executable, "-m", "console.bench.server", "--port", str(self.port),
                   "--database", self.database, "--public-key", public_key,
                   "--threads", str(threads), "--render-process" if render_process else "--no-render-process",
                   *(extra_args or [])]
        # `env` adds settings the server reads from the environment (the distributed mode's CONSOLE_REDIS_URL).
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **env} if env else None)
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_for(lambda: self.process.poll() is not None or _answers(f"{self.url}/healthz"), 60, "the console")
            if self.process.poll() is not None:
                raise RuntimeError("the console exited early")
            self.workers = wait_for(lambda: children(self.process.pid), 10, "gunicorn's worker")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; its log ends:\n{self.log_tail()}") from None

    def log_tail(self, size: int = 2000) -> str:
        """The end of the console's output, for error messages (the work folder is removed afterwards)."""
        with open(self.log.name, "rb") as log:
            return log.read()[-size:].decode(errors="replace")

    @property
    def pids(self) -> list[int]:
        """The server, its workers and anything they started (a render process), as of now."""
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            frontier += children(pid)
        return found

    def peak_rss_mib(self) -> float:
        return sum(memory_kib(pid, "VmHWM") for pid in self.pids) / 1024

    def stop(self) -> None:
        if self.log.closed:
            return
        started = [pid for pid in self.pids if pid != self.process.pid]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for pid in {*self.workers, *started}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


class Worker:
    """A helper process (poster or subscribers) spoken to over a pipe, stopped by PID."""

    def __init__(self, target, *args, **kwargs):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), kwargs=kwargs, daemon=True)
        self.process.start()

    def ask(self, *request, timeout: float = 600.0):
        self.send(*request)
        return self.receive(request[0], timeout)

    def send(self, *request) -> None:
        """Ask without waiting (the answer is taken by receive), so the parent can work meanwhile."""
        self.connection.send(request)

    def receive(self, what: str, timeout: float = 600.0):
        if not self.connection.poll(timeout):
            raise RuntimeError(f"no answer to {what!r} within {timeout} s")
        return self.connection.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.ask("stop", timeout=20)
            except (OSError, EOFError, RuntimeError):
                pass
            self.process.join(timeout=5)
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.join(timeout=5)


def find_redis_server() -> str:
    """The redis-server to run (console.cluster.redis_server); a clear exit, saying how to get one, when absent."""
    try:
        return redis_server.find_redis_server()
    except redis_server.RedisServerMissing as missing:
        raise SystemExit(str(missing)) from None


class RedisProcess:
    """A redis-server on a free 127.0.0.1 port in the run's folder, stopped by PID."""

    def __init__(self, folder: str):
        binary = find_redis_server()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = os.path.join(folder, "redis.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                redis_server.server_command(binary, self.port, folder, *redis_server.THROWAWAY), cwd=folder,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.process.poll() is not None or redis_server.answers_ping(self.port), 15, "redis-server")
            if self.process.poll() is not None:
                raise RuntimeError("redis-server exited early")
        except RuntimeError as exc:
            self.stop()
            with open(self.log_path, "rb") as log:
                raise RuntimeError(f"{exc}; its log ends:\n{log.read()[-2000:].decode(errors='replace')}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
