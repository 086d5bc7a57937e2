"""Finding and starting a local redis-server for the demo, the bench and the tests (never imports redis-py).

The distributed mode itself only ever connects to the Redis its CONSOLE_REDIS_URL names; these helpers
are for running one on this machine: where the binary is, the command line for a throwaway server on
127.0.0.1 that evicts nothing, and whether it answers yet.
"""

from __future__ import annotations

import os
import shutil
import socket

# No snapshots, no append-only file, nothing evicted (the console refuses an evicting Redis).
THROWAWAY = ("--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction")
FOLDERS = ("/usr/bin", "/usr/sbin")  # where distributions put redis-server when it is not on PATH
MISSING = ("redis-server not found: install it (Debian: apt-get install -y redis-server) "
           "or set REDIS_SERVER_PATH to the binary")


class RedisServerMissing(RuntimeError):
    """No runnable redis-server; the message says how to get one."""


def _runnable(path: str | None) -> bool:
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def find_redis_server() -> str:
    """REDIS_SERVER_PATH, else redis-server on PATH, else the usual folders; RedisServerMissing when absent."""
    configured = os.environ.get("REDIS_SERVER_PATH")
    if configured:
        if _runnable(configured):
            return configured
        raise RedisServerMissing(f"{MISSING} (REDIS_SERVER_PATH={configured!r} is not an executable file)")
    for candidate in (shutil.which("redis-server"), *(os.path.join(folder, "redis-server") for folder in FOLDERS)):
        if _runnable(candidate):
            return candidate
    raise RedisServerMissing(MISSING)


def server_command(binary: str, port: int, folder: str, *settings: str) -> list[str]:
    """A redis-server in the foreground on 127.0.0.1:`port`, its files in `folder`, logging to stdout."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--daemonize", "no",
            "--logfile", "", *settings]


def answers_ping(port: int) -> bool:
    """Whether a Redis answers PING on 127.0.0.1:`port` (an inline command: no client library needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(64).startswith(b"+PONG")
    except OSError:
        return False
