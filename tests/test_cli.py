"""The command line: serve refuses to run without a way to verify webhooks."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

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
