"""The example nginx front (deploy/nginx-supervisor-console.conf) run as it is, in front of `serve`.

Only the two addresses in the file change (nginx's port and the console's). nginx comes from
Debian (`apt-get install nginx-light`; .ci/run installs it when missing).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from console.telnyx import signing
from tests.serve_process import Served, free_port
from tests.signed_webhooks import encode, envelope
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-supervisor-console.conf"
NGINX = os.environ.get("NGINX_PATH") or shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "front-door-password"


def nginx_config(prefix: Path, nginx_port: int, console_port: int) -> Path:
    """A whole nginx.conf around the example server block, everything under `prefix`."""
    block = EXAMPLE.read_text(encoding="utf-8")
    assert "listen 8080;" in block and "server 127.0.0.1:8000;" in block
    block = block.replace("listen 8080;", f"listen 127.0.0.1:{nginx_port};")
    block = block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{console_port};")
    for folder in ("logs", "body", "proxy"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(f"""
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
{block}
}}
""", encoding="utf-8")
    return config


@pytest.fixture
def front(tmp_path):
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: run `apt-get install -y nginx-light` (or set NGINX_PATH) "
                    "to test the example front.")
    console = Served(tmp_path, CONSOLE_TRUSTED_HEADER_AUTH="true", CONSOLE_TRUSTED_PROXIES="127.0.0.1")
    subprocess.run([console.python, "-m", "console", "user", "add", "ada", "--role", "supervisor",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=console.env, check=True,
                   capture_output=True)
    port = free_port()
    config = nginx_config(tmp_path / "nginx", port, console.port)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path / "nginx"), "-c", str(config)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def up():
            assert nginx.poll() is None, (tmp_path / "nginx" / "logs" / "error.log").read_text()
            try:
                return requests.get(url + "/healthz", timeout=1).ok
            except requests.RequestException:
                return False
        wait_for(up, timeout=15, message="nginx did not start")
        yield console, url
    finally:
        if nginx.poll() is None:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(timeout=10)
        console.stop()


def test_a_user_header_from_a_browser_never_passes_the_front(front):
    _, url = front
    answer = requests.get(url + "/", headers={"X-Forwarded-User": "ada"}, allow_redirects=False, timeout=5)
    assert answer.status_code in (302, 303, 401)
    assert "login" in answer.headers.get("Location", "") or answer.status_code == 401


def test_webhooks_pages_and_the_live_socket_pass_the_front(front):
    console, url = front
    body = encode(envelope("conference.created", conference_id="conf-front", call_control_id="v3:front"))
    answer = requests.post(url + "/webhooks/telnyx", data=body,
                           headers={"Content-Type": "application/json", **signing.sign(body, console.key)}, timeout=5)
    assert answer.status_code == 200, answer.text

    session = requests.Session()
    login = session.get(url + "/login", timeout=5)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    signed_in = session.post(url + "/login", data={"name": "ada", "password": PASSWORD, "csrf_token": token},
                             timeout=5)
    assert signed_in.status_code == 200 and "conf-front" in signed_in.text

    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        key = base64.b64encode(os.urandom(16)).decode()
        client.sendall((f"GET /live?watch=dashboard HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                        f"Cookie: {cookie}\r\n\r\n").encode())
        received = b""
        while b"conf-front" not in received:
            chunk = client.recv(65536)
            assert chunk, f"the socket closed before the snapshot: {received[:300]!r}"
            received += chunk
        assert received.startswith(b"HTTP/1.1 101")


def test_a_slow_client_is_cut_off_by_the_front_not_the_console(front):
    _, url = front
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
        slow.sendall(b"POST /webhooks/telnyx HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        # nginx buffers the body: the console has not been asked anything, so its pages answer at once.
        assert requests.get(url + "/healthz", timeout=2).ok
