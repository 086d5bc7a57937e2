"""A real redis-server for the distributed mode's tests: Debian's binary, on a free 127.0.0.1 port, in a temp dir.

The distributed mode leans on what only the real server does: Lua scripts that run whole, keys that
expire by themselves, streams that trim, a restart without persistence that forgets everything, an
evicting memory policy that drops keys. A fake would test our idea of Redis rather than Redis, so
every test of that mode starts one of these. It binds 127.0.0.1 only, on a port of its own (never
6379, so a system redis is never used by mistake), keeps nothing on disk unless a test asks, and is
stopped by its own PID.

`redis_server_fixture(*args)` makes a fixture: tests/cluster/conftest.py has the default one, and a
module that needs other settings (`--maxmemory-policy allkeys-lru`, `--appendonly yes`) makes its
own. Without the binary the fixture fails with install instructions: it never skips.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from console.cluster import redis_server
from tests.serve_process import free_port, stop_process
from tests.waiting import wait_for

DEFAULT_ARGS = redis_server.THROWAWAY
START_ATTEMPTS = 3  # a free port can be taken by someone else between our probe and the server's bind


def require_redis_server() -> str:
    """The redis-server binary to run; fail the test (never skip) with how to install it."""
    try:
        return redis_server.find_redis_server()
    except redis_server.RedisServerMissing as missing:
        pytest.fail(str(missing), pytrace=False)


class PortTaken(RuntimeError):
    """The server could not bind the port it was given."""


class ServerExited(AssertionError):
    """The server ended before it answered (its log says why)."""


class RedisServer:
    """One redis-server process in `directory`: started on a free port, restartable on the same port and directory."""

    def __init__(self, directory: Path, *args: str, binary: str | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.args = (*DEFAULT_ARGS, *args)  # later settings win, so `args` may override a default
        self.binary = binary or require_redis_server()
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = self.directory / "redis.log"
        self._log_start = 0
        self._clients: list[redis.Redis] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The running server's PID (None while it is stopped)."""
        return self.process.pid if self.process is not None else None

    def start(self) -> RedisServer:
        """Start the server (on a free port the first time, the same one after) and wait until it answers PING."""
        if self.port:
            self._start_on(self.port)
            return self
        for attempt in range(START_ATTEMPTS):
            self.port = free_port()
            try:
                self._start_on(self.port)
            except PortTaken:
                if attempt == START_ATTEMPTS - 1:
                    raise
            else:
                return self
        return self

    def stop(self) -> None:
        """SIGTERM by PID (with SIGCONT, in case a test paused it), then SIGKILL if it lingers; safe to repeat."""
        process, self.process = self.process, None
        stop_process(process)

    def kill(self) -> None:
        """SIGKILL by PID: a crash, with nothing written out."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def restart(self, while_down: Callable[[], object] | None = None) -> RedisServer:
        """Stop, run `while_down()` (change the world meanwhile), and start again on the same port and directory."""
        self.stop()
        if while_down is not None:
            while_down()
        return self.start()

    def client(self, **options) -> redis.Redis:
        """A redis-py client for this server (closed when the fixture ends); `options` go to redis.Redis."""
        client = redis.Redis.from_url(self.url, **{"socket_timeout": 5, "socket_connect_timeout": 3, **options})
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        """Close every client `client()` made."""
        while self._clients:
            self._clients.pop().close()

    def log_tail(self, size: int = 3000) -> str:
        """The end of the server's own log (every start appends to it)."""
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return ""

    def _said_this_start(self) -> str:
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def _start_on(self, port: int) -> None:
        command = redis_server.server_command(self.binary, port, str(self.directory), *self.args)
        with self.log_path.open("ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(command, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        try:
            wait_for(self._answers, timeout=15, interval=0.02, message=f"redis-server never answered PING on port {port}")
        except BaseException as error:
            self.stop()
            if type(error) is AssertionError:  # the deadline passed: say what the server said meanwhile
                raise AssertionError(f"{error}: {self._said_this_start()[-3000:]}") from None
            raise

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            said = self._said_this_start()
            if "Address already in use" in said:
                raise PortTaken(said)
            raise ServerExited(f"redis-server exited with status {self.process.returncode}: {said[-3000:]}")
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1) as probe:
                # The answer must come from this process, not from another server that holds the port.
                return probe.ping() and probe.info("server")["process_id"] == self.process.pid
        except redis.RedisError:  # not listening yet, or still loading its data after a restart
            return False


def redis_server_fixture(*args: str, scope: str = "function") -> Callable:
    """A pytest fixture yielding a started RedisServer with `args` beyond the defaults, stopped after the test."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory) -> Iterator[RedisServer]:
        server = RedisServer(tmp_path_factory.mktemp("redis"), *args).start()
        try:
            yield server
        finally:
            server.stop()
            server.close_clients()

    return fixture
