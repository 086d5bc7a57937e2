"""What must be one thing across instances: users, sessions, login counters, the supervisor-line dial.

Real `serve` processes on a real redis-server; users are made with the real CLI in the distributed mode.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading

import pytest
import requests

from console.simulator import Simulator
from console.telnyx import signing
from tests.cluster.instances import ADMIN, ROOT, Instance
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery staple"


def cli(instance: Instance, *arguments: str, stdin: str = "") -> subprocess.CompletedProcess:
    """`supervisor-console <arguments>` with the instance's settings (so, through Redis)."""
    return subprocess.run([sys.executable, "-m", "console", *arguments], cwd=ROOT, env=instance.env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def try_password(instance: Instance, name: str, password: str, browser=None) -> requests.Response:
    """The login form posted as a browser would (its CSRF token first)."""
    browser = browser or requests.Session()
    login = browser.get(f"{instance.url}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    return browser.post(f"{instance.url}/login", data={"name": name, "password": password, "csrf_token": token},
                        allow_redirects=False, timeout=10)


def signed_in(instance: Instance, name: str, password: str) -> requests.Session:
    browser = requests.Session()
    answer = try_password(instance, name, password, browser)
    assert answer.status_code == 303, answer.text[-500:]
    return browser


def shows_signed_in(browser: requests.Session, instance: Instance, name: str) -> bool:
    page = browser.get(f"{instance.url}/", timeout=10)
    return page.status_code == 200 and re.search(rf'class="user-name"[^>]*>\s*{name}\b', page.text) is not None


@pytest.fixture
def pair(tmp_path, redis_server):
    key = signing.generate_signing_key()
    settings = {"CONSOLE_TRUSTED_HEADER_AUTH": "false"}
    a = Instance(tmp_path, "a", redis_server.url, key, **settings).start()
    b = Instance(tmp_path, "b", redis_server.url, key, **settings).start()
    yield a, b
    a.stop()
    b.stop()


def test_a_user_made_by_the_cli_signs_in_on_one_instance_and_is_stopped_on_both_when_disabled(pair):
    a, b = pair
    made = cli(a, "user", "add", "carol", "--role", "supervisor", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    browser = signed_in(a, "carol", PASSWORD)
    assert shows_signed_in(browser, a, "carol")
    assert shows_signed_in(browser, b, "carol"), "a session started on A was unknown to B"
    disabled = cli(b, "user", "disable", "carol")
    assert disabled.returncode == 0, disabled.stderr
    assert not shows_signed_in(browser, a, "carol"), "A still let a disabled user in"
    assert not shows_signed_in(browser, b, "carol")
    for instance in (a, b):
        assert try_password(instance, "carol", PASSWORD).status_code != 303, "a disabled user signed in again"


def test_a_sign_out_on_one_instance_ends_the_session_on_the_other(pair):
    a, b = pair
    assert cli(a, "user", "add", "dave", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    browser = signed_in(b, "dave", PASSWORD)
    page = browser.get(f"{a.url}/", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert browser.post(f"{a.url}/logout", data={"csrf_token": token}, allow_redirects=False,
                        timeout=10).status_code in (302, 303)
    assert not shows_signed_in(browser, b, "dave"), "the session signed out on A still worked on B"


def test_wrong_passwords_spread_over_instances_count_against_one_counter(pair):
    a, b = pair
    assert cli(a, "user", "add", "erin", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    for instance in (a, b, a, b):
        assert try_password(instance, "erin", "wrong").status_code != 303

    def failures(instance: Instance) -> int:
        connection = sqlite3.connect(f"file:{instance.database}?mode=ro", uri=True, timeout=10)
        try:
            row = connection.execute("SELECT failures FROM login_failures WHERE kind = 'account' AND key = 'erin'")
            found = row.fetchone()
        finally:
            connection.close()
        return found[0] if found else 0

    wait_for(lambda: failures(a) == failures(b) == 4, timeout=10,
             message=f"counted {failures(a)} on A and {failures(b)} on B of 4 wrong passwords")


def test_two_clicks_on_two_instances_at_once_dial_the_supervisor_line_once(tmp_path, redis_server):
    simulator = Simulator(traffic=False)
    simulator.start("127.0.0.1", 0)
    dials = []
    simulator.world.subscribe(lambda body: dials.append(body) if body["data"]["event_type"] == "call.initiated"
                              else None)
    key = signing.generate_signing_key()
    telnyx = {"TELNYX_API_KEY": simulator.api_key, "TELNYX_BASE_URL": simulator.base_url,
              "TELNYX_CONNECTION_ID": simulator.world.connection_id, "TELNYX_CALLER_ID": "+13125550100"}
    a = Instance(tmp_path, "a", redis_server.url, key, **telnyx).start()
    b = Instance(tmp_path, "b", redis_server.url, key, **telnyx).start()
    try:
        answers: list[requests.Response] = []
        start = threading.Barrier(2)

        def click(instance: Instance) -> None:
            session = requests.Session()
            page = session.get(f"{instance.url}/", headers=ADMIN, timeout=10)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            start.wait(10)
            answers.append(session.post(f"{instance.url}/supervisor/line/connect",
                                        data={"phone": "+13125550111", "csrf_token": token},
                                        headers={**ADMIN, "HX-Request": "true"}, timeout=30))

        clicks = [threading.Thread(target=click, args=(instance,)) for instance in (a, b)]
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join(60)
        assert len(answers) == 2
        assert len(dials) == 1, f"the supervisor's phone was dialled {len(dials)} times"
        assert any("already calling" in answer.text for answer in answers), [answer.text[-300:] for answer in answers]
    finally:
        a.stop()
        b.stop()
        simulator.stop()
