"""Several real `supervisor-console serve` processes on one Redis, each with its own database, stopped by PID."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import requests

from console.telnyx import signing
from tests.serve_process import free_port, stop_group
from tests.signed_webhooks import encode
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
READER = {"X-Forwarded-User": "cluster-test"}
ADMIN = {"X-Forwarded-User": "cluster-admin", "X-Forwarded-Groups": "admins"}


class Instance:
    """One `serve` process of a distributed console: its own port, log and SQLite read model."""

    def __init__(self, workdir: Path, name: str, redis_url: str, key, **settings):
        self.name = name
        self.key = key
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database = self.workdir / "console.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CONSOLE_DATABASE": str(self.database),
            "CONSOLE_REDIS_URL": redis_url,
            "CONSOLE_REDIS_LEASE_MS": "1500",
            "TELNYX_PUBLIC_KEY": signing.public_key_b64(key),
            "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
            "CONSOLE_SECRET_KEY": "cluster-tests",
            "CONSOLE_TRUSTED_HEADER_AUTH": "true",
            "CONSOLE_TRUSTED_PROXIES": "127.0.0.1",
            "CONSOLE_GROUP_ROLES": "admins=admin",
            "CONSOLE_RECONCILE_INTERVAL": "3600",
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    # -- the process ----------------------------------------------------------------------------

    def launch(self) -> subprocess.Popen:
        """Start `serve` without waiting for it (for tests of refusals)."""
        self.starts += 1
        log = (self.workdir / f"serve-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "console", "serve", "--port", str(self.port), "--threads", "8"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self.process

    def start(self) -> Instance:
        self.launch()
        wait_for(self.answers, timeout=40, interval=0.1, message=f"{self.name} never came up: {self.output()}")
        return self

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.output()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def output(self) -> str:
        logs = sorted(self.workdir.glob("serve-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def kill(self) -> None:
        """SIGKILL to the whole process group (gunicorn's master and worker): nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        stop_group(self.process)

    # -- talking to it ----------------------------------------------------------------------------

    def post(self, document: dict, timeout: float = 5.0) -> requests.Response:
        body = encode(document)
        headers = {"Content-Type": "application/json", **signing.sign(body, self.key)}
        return requests.post(f"{self.url}/webhooks/telnyx", data=body, headers=headers, timeout=timeout)

    def ready(self) -> dict:
        return requests.get(f"{self.url}/readyz", timeout=5).json()

    def ready_status(self) -> int:
        try:
            return requests.get(f"{self.url}/readyz", timeout=5).status_code
        except requests.RequestException:
            return 0

    def page(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=READER, timeout=10)

    def command(self, path: str, data: dict | None = None) -> requests.Response:
        """POST a control as an admin's htmx request would (a page first, for the session's CSRF token)."""
        session = requests.Session()
        page = session.get(f"{self.url}/", headers=ADMIN, timeout=10)
        token = re.search(r'data-csrf="([^"]+)"|&#34;X-CSRF-Token&#34;: &#34;([^&]+)&#34;|"X-CSRF-Token": "([^"]+)"',
                          page.text)
        assert token, "no CSRF token on the page"
        headers = {**ADMIN, "HX-Request": "true", "X-CSRF-Token": next(filter(None, token.groups()))}
        return session.post(f"{self.url}{path}", data=data or {}, headers=headers, timeout=10)

    def counts(self) -> tuple[int, int]:
        """(events, distinct ids) in this instance's own log, read from its file."""
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
        finally:
            connection.close()

    def state(self) -> dict:
        """The read model as Store.state() gives it (what the pages are drawn from)."""
        from console.state.store import Store

        store = Store(str(self.database))
        try:
            return store.state()
        finally:
            store.close()
