"""CONSOLE_REDIS_URL is checked when settings load, so a typo is named at start (never a bare ValueError
from deep inside redis-py), and a password in it is never echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.config import ConfigError, load_settings


@pytest.mark.parametrize("url, words", [
    ("localhost:6379", "expected redis://host:port/db"),
    ("http://redis:6379/0", "expected redis://host:port/db"),
    ("redis://127.0.0.1:notaport/0", "the port is not a number from 0 to 65535"),
    ("redis://127.0.0.1:99999/0", "the port is not a number from 0 to 65535"),
    ("redis:///0", "no host"),
    ("redis://127.0.0.1:6379/zero", "the database must be a number"),
    ("unix://", "needs the socket's path"),
])
def test_a_url_redis_cannot_open_is_refused_naming_the_setting(url, words):
    with pytest.raises(ConfigError, match="^CONSOLE_REDIS_URL: ") as refused:
        load_settings({"CONSOLE_REDIS_URL": url})
    assert words in str(refused.value)


@pytest.mark.parametrize("url", ["", "redis://127.0.0.1:6379/0", "rediss://cache.internal:6380", "redis://:pw@h:1/2",
                                 "unix:///run/redis/redis.sock"])
def test_urls_redis_opens_are_kept_as_given(url):
    assert load_settings({"CONSOLE_REDIS_URL": url})["CONSOLE_REDIS_URL"] == url


def test_a_password_in_a_refused_url_is_not_repeated():
    with pytest.raises(ConfigError) as refused:
        load_settings({"CONSOLE_REDIS_URL": "redis://:hunter2@redis:port/0"})
    assert "hunter2" not in str(refused.value) and ":***@" in str(refused.value)


def test_serve_with_a_bad_url_stops_with_the_reason_and_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "console", "serve", "--port", "0"], capture_output=True, text=True,
                          timeout=60, check=False, cwd=tmp_path,
                          env={**os.environ, "CONSOLE_REDIS_URL": "localhost:6379",
                               "CONSOLE_DATABASE": str(tmp_path / "c.db"), "CONSOLE_SECRET_KEY": "x" * 32,
                               "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode != 0
    assert "CONSOLE_REDIS_URL: expected redis://host:port/db" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
