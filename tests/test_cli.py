"""The command line: serve refuses to run without a way to verify webhooks."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import urllib.request

import pytest
import websocket

from console.telnyx import signing
from tests.waiting import wait_for


def run_cli(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "CONSOLE_"))}
    env["CONSOLE_DATABASE"] = str(tmp_path / "cli.db")
    return env


def test_serve_without_public_key_refuses_clearly(clean_env):
    result = run_cli("serve", "--port", "0", env={**clean_env, "CONSOLE_SECRET_KEY": "s" * 32})
    assert result.returncode == 2
    assert "TELNYX_PUBLIC_KEY is not set" in result.stderr
    assert "unverified webhooks" in result.stderr


def test_serve_without_secret_key_refuses_clearly(clean_env):
    result = run_cli("serve", "--port", "0", env={**clean_env, "TELNYX_PUBLIC_KEY": "A" * 43 + "="})
    assert result.returncode == 2
    assert "CONSOLE_SECRET_KEY is not set" in result.stderr


def test_bad_setting_value_names_the_variable(clean_env):
    result = run_cli("init-db", env={**clean_env, "CONSOLE_WEBHOOK_TOLERANCE": "soon"})
    assert result.returncode == 2
    assert "CONSOLE_WEBHOOK_TOLERANCE" in result.stderr


def test_init_db_creates_the_database(clean_env, tmp_path):
    result = run_cli("init-db", env=clean_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()


def test_flask_app_discovery_works(clean_env):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "console", "routes"],
        capture_output=True, text=True, timeout=60, env=clean_env,
    )
    assert result.returncode == 0, result.stderr
    assert "/webhooks/telnyx" in result.stdout


def test_stopping_serve_tells_open_pages_to_reconnect(clean_env, tmp_path):
    """SIGTERM to `serve` (gunicorn) closes live sockets with 1012 "service restarting", not a dropped line."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**clean_env, "CONSOLE_SECRET_KEY": "s" * 32,
           "TELNYX_PUBLIC_KEY": signing.public_key_b64(signing.generate_signing_key()),
           "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", "CONSOLE_TRUSTED_HEADER_AUTH": "true",
           "CONSOLE_TRUSTED_PROXIES": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "-m", "console", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(answers, timeout=30, message="serve never answered /healthz")
        sock = websocket.create_connection(f"ws://127.0.0.1:{port}/live?watch=dashboard", timeout=10,
                                           header=["X-Forwarded-User: night-shift"])
        assert sock.recv()  # the dashboard's snapshot
        server.send_signal(signal.SIGTERM)
        for _ in range(20):
            opcode, frame = sock.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                assert struct.unpack("!H", frame.data[:2])[0] == 1012
                break
        else:
            raise AssertionError("the server never closed the socket")
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
