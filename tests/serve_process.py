"""`supervisor-console serve` in a process of its own on a free port, with a webhook key, stopped by PID."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import requests

from console.telnyx import signing
from tests.signed_webhooks import encode
from tests.waiting import wait_for

READER = {"X-Forwarded-User": "serving-test"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen | None, *, group: bool = False, grace: float = 10) -> None:
    """Stop a process by PID: SIGCONT (a test may have paused it), SIGTERM, then SIGKILL if it is still
    there after `grace` seconds. With `group`, the signals go to its whole process group (a process
    started in its own session: gunicorn's master and workers). Safe to call on one already gone."""
    if process is None or process.poll() is not None:
        return
    send = os.killpg if group else os.kill
    send(process.pid, signal.SIGCONT)
    send(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        send(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def stop_group(process: subprocess.Popen | None) -> None:
    """Stop a process started in its own session, and everything in its group, within 15 s."""
    stop_process(process, group=True, grace=15)


class Served:
    """A `serve` process on a free port, with a webhook key, stopped by PID."""

    def __init__(self, tmp_path, *, threads: int = 4, **settings):
        self.key = signing.generate_signing_key()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.python = sys.executable
        self.env = env = {
            **os.environ,
            "CONSOLE_DATABASE": str(tmp_path / "serve.db"),
            "TELNYX_PUBLIC_KEY": signing.public_key_b64(self.key),
            "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
            "CONSOLE_SECRET_KEY": "serving-tests",
            "CONSOLE_TRUSTED_HEADER_AUTH": "true",
            "CONSOLE_TRUSTED_PROXIES": "127.0.0.1",
            "CONSOLE_RECONCILE_INTERVAL": "3600",
            **settings,
        }
        self.log = tmp_path / "serve.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console", "serve", "--port", str(self.port), "--threads", str(threads)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for(self._healthy, timeout=30, message="serve did not start")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def post_webhook(self, document, timeout: float = 5.0, session=requests) -> requests.Response:
        body = encode(document)
        headers = {"Content-Type": "application/json", **signing.sign(body, self.key)}
        return session.post(self.url + "/webhooks/telnyx", data=body, headers=headers, timeout=timeout)

    def live_sockets(self) -> float:
        metrics = requests.get(self.url + "/metrics", headers=READER, timeout=5).text
        found = re.search(r"^console_live_sockets(?:\{[^}]*\})? ([0-9.]+)$", metrics, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def stop(self) -> None:
        stop_group(self.process)
