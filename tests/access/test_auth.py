"""Users, roles and the permission table: a viewer watches, a supervisor acts, an admin also manages."""

from __future__ import annotations

import io
import json
import time

import pytest
import requests
import websocket

from console import create_app
from console.access.auth import MANAGE_QUEUES, MANAGE_USERS, PUBLIC, permission_for
from console.access.users import add_user, set_disabled, set_role
from console.cli import main as cli_main
from console.ingest.bus import get_bus
from console.telnyx.events import console_event
from console.web.server import BackgroundServer
from tests.routes import post_routes
from tests.signing_in import csrf_client, csrf_token_of, signed_in_client

PASSWORD = "correct horse battery"
PEOPLE = {"vera": "viewer", "sam": "supervisor", "ada": "admin"}
SIGN_IN = {"auth.login", "auth.logout"}
# The only POST routes a viewer may use: signing in and out, and the webhook (its signature is its check).
VIEWER_MAY_POST = SIGN_IN | {"webhooks.receive"}
REFUSED_TO_VIEWERS = [(endpoint, url) for endpoint, url in post_routes() if endpoint not in VIEWER_MAY_POST]
ADMIN_ONLY = [(endpoint, url) for endpoint, url in post_routes()
              if permission_for(endpoint) in (MANAGE_QUEUES, MANAGE_USERS)]


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "auth-tests",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", "TELNYX_API_KEY": "unused"})
    store = app.extensions["console.store"]
    for name, role in PEOPLE.items():
        add_user(store, name, role, PASSWORD)
    yield app
    app.extensions["console.hub"].stop()


def as_user(app, name):
    return signed_in_client(app, name, PASSWORD)


# --- the permission table -----------------------------------------------------------------------


def test_every_route_has_a_permission_entry(app):
    missing = [rule.endpoint for rule in app.url_map.iter_rules() if permission_for(rule.endpoint) is None]
    assert missing == []


def test_every_post_route_has_a_permission_entry():
    endpoints = {endpoint for endpoint, _ in post_routes()}
    assert {"actions.audience", "queue_actions.create_queue", "users.add"} <= endpoints
    assert all(permission_for(endpoint) is not None for endpoint in endpoints)
    assert {endpoint for endpoint in endpoints if permission_for(endpoint) == PUBLIC} == VIEWER_MAY_POST


def test_a_route_without_an_entry_is_refused_even_to_an_admin(app):
    ran = []
    app.add_url_rule("/brand-new", "brand_new", lambda: ran.append(1) or "done", methods=["GET", "POST"])
    admin = as_user(app, "ada")
    assert admin.get("/brand-new").status_code == 403
    assert admin.post("/brand-new").status_code == 403
    assert ran == []


# --- what each role may do ----------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "url"), REFUSED_TO_VIEWERS, ids=[url for _, url in REFUSED_TO_VIEWERS])
def test_a_viewer_is_refused_every_action(app, endpoint, url):
    viewer = as_user(app, "vera")
    answer = viewer.post(url, data={"target": "all", "step": "confirm"})
    assert answer.status_code == 403, (endpoint, answer.status_code)
    assert "a viewer" in answer.get_data(as_text=True)


def test_a_viewers_refusal_is_inline_for_htmx_and_a_page_otherwise(app):
    viewer = as_user(app, "vera")
    url = "/conferences/c1/mute"
    inline = viewer.post(url, data={"target": "all"}, headers={"HX-Request": "true", "HX-Target": "audience-control__c1"})
    assert inline.status_code == 403
    assert "<html" not in inline.text and 'class="notice notice-error"' in inline.text
    assert inline.headers["HX-Retarget"] == "#audience-control__c1 [data-control-status]"
    page = viewer.post(url, data={"target": "all"})
    assert page.status_code == 403 and "<html" in page.text and "Not allowed" in page.text


@pytest.mark.parametrize(("endpoint", "url"), ADMIN_ONLY, ids=[url for _, url in ADMIN_ONLY])
def test_queue_and_user_management_are_for_admins_only(app, endpoint, url):
    supervisor = as_user(app, "sam")
    answer = supervisor.post(url, data={"queue_name": "vip", "max_size": "3", "role": "viewer", "step": "confirm"})
    assert answer.status_code == 403
    assert "Only an admin" in answer.text


def test_a_supervisor_may_use_the_controls(app):
    answer = as_user(app, "sam").post("/conferences/c1/dtmf", data={"digits": ""}, headers={"HX-Request": "true"})
    assert answer.status_code == 422, "the form was checked, so the permission check let the supervisor through"


def test_the_users_page_is_for_admins(app):
    assert as_user(app, "ada").get("/users").status_code == 200
    assert as_user(app, "sam").get("/users").status_code == 403


def test_an_admin_adds_a_user_who_can_then_sign_in(app):
    admin = as_user(app, "ada")
    answer = admin.post("/users", data={"user_name": "tom", "role": "supervisor", "password": "long enough pw"})
    assert answer.status_code == 303
    assert "Added tom as supervisor" in admin.get("/users").text
    assert 'data-role="supervisor"' in signed_in_client(app, "tom", "long enough pw").get("/").text


def test_an_admin_cannot_lock_themselves_out(app):
    admin = as_user(app, "ada")
    assert admin.post("/users/ada/role", data={"role": "viewer"}).status_code == 422
    assert admin.post("/users/ada/disable").status_code == 422
    assert app.extensions["console.store"].user("ada")["role"] == "admin"


# --- signing in and out -------------------------------------------------------------------------


def test_signed_out_pages_send_you_to_the_login_page_and_back(app):
    client = csrf_client(app)
    answer = client.get("/queues/Sales?x=1")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")
    login = client.get(answer.headers["Location"]).text
    client.post("/login", data={"name": "sam", "password": PASSWORD, "next": "/queues/Sales?x=1",
                                "csrf_token": csrf_token_of(login)})
    assert client.get("/").status_code == 200


def test_signed_out_htmx_requests_are_told_where_to_sign_in(app):
    answer = csrf_client(app).get("/", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/login?next=")


def test_a_wrong_password_does_not_sign_you_in(app):
    client = csrf_client(app)
    answer = client.post("/login", data={"name": "sam", "password": "wrong password"})
    assert answer.status_code == 401
    assert "do not match" in answer.text
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_after_signing_in_you_only_go_back_inside_the_console(app, target):
    client = csrf_client(app)
    answer = client.post("/login", data={"name": "sam", "password": PASSWORD, "next": target})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_logout_ends_the_session(app):
    client = as_user(app, "sam")
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 303
    assert client.get("/").status_code == 302


def test_disabling_a_user_ends_their_open_session_at_once(app):
    client = as_user(app, "sam")
    set_disabled(app.extensions["console.store"], "sam")
    assert client.get("/").status_code == 302
    refused = csrf_client(app).post("/login", data={"name": "sam", "password": PASSWORD})
    assert refused.status_code == 401


def test_a_new_role_ends_the_session_and_applies_from_the_next_sign_in(app):
    client = as_user(app, "sam")
    assert client.post("/conferences/c1/dtmf", data={"digits": ""}).status_code == 422
    set_role(app.extensions["console.store"], "sam", "viewer")
    assert client.post("/conferences/c1/dtmf", data={"digits": ""}).status_code == 303  # to the login page
    assert as_user(app, "sam").post("/conferences/c1/dtmf", data={"digits": ""}).status_code == 403


def test_passwords_are_stored_as_hashes(app):
    stored = app.extensions["console.store"].user("sam")["password_hash"]
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_demo_mode_signs_everyone_in_as_a_demo_admin_and_says_so(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "demo.db"), "CONSOLE_DEMO": True})
    try:
        page = app.test_client().get("/").text
        assert 'id="demo-banner"' in page and "signed in as a demo admin" in page
        assert 'data-role="admin"' in page
    finally:
        app.extensions["console.hub"].stop()


def test_a_viewers_page_says_read_only_and_marks_the_body(app):
    page = as_user(app, "vera").get("/").text
    assert 'id="read-only-banner"' in page and "Read-only" in page
    assert "data-read-only" in page
    assert "data-read-only" not in as_user(app, "sam").get("/").text


# --- the command line ---------------------------------------------------------------------------


def test_cli_adds_a_user_changes_their_role_and_disables_them(tmp_path, monkeypatch, capsys):
    database = str(tmp_path / "cli.db")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert cli_main(["user", "add", "lee", "--role", "supervisor", "--password-stdin", "--phone", "+1 312 555 0123",
                     "--database", database]) == 0
    assert cli_main(["user", "set-role", "lee", "admin", "--database", database]) == 0
    assert cli_main(["user", "disable", "lee", "--database", database]) == 0
    app = create_app({"CONSOLE_DATABASE": database})
    try:
        lee = app.extensions["console.store"].user("lee")
        assert (lee["role"], lee["disabled"], lee["phone"]) == ("admin", True, "+13125550123")
        assert cli_main(["user", "enable", "lee", "--database", database]) == 0
        client = signed_in_client(app, "lee", "a long password")
        assert "admin" in client.get("/").text
    finally:
        app.extensions["console.hub"].stop()
    assert "lee: admin, enabled" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "says"), [
    (["user", "add", "x", "--role", "viewer", "--password-stdin"], "at least 8 characters"),
    (["user", "set-role", "nobody", "admin"], "no user called 'nobody'"),
    (["user", "add", "bad name", "--role", "viewer", "--password-stdin"], "user name"),
])
def test_cli_refuses_bad_user_changes(tmp_path, monkeypatch, capsys, argv, says):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main([*argv, "--database", str(tmp_path / "cli.db")]) == 2
    assert says in capsys.readouterr().err


# --- the live socket ----------------------------------------------------------------------------


@pytest.fixture
def served(app):
    server = BackgroundServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def session_cookie(server, name: str) -> str:
    """Sign in over HTTP and return the Cookie header the browser would send."""
    http = requests.Session()
    token = csrf_token_of(http.get(f"{server.url}/login").text)
    http.post(f"{server.url}/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in http.cookies)


def open_socket(server, cookie: str | None, origin: str | None = None):
    headers = [f"Cookie: {cookie}"] if cookie else []
    return websocket.create_connection(f"ws://127.0.0.1:{server.port}/live?watch=dashboard", timeout=5,
                                       header=headers, origin=origin or server.url)


def frames_until(sock, wanted: str, timeout: float = 5.0) -> list[str]:
    """Every frame received up to and including the first one containing `wanted`."""
    frames, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sock.recv()
        frames.append(frame)
        if wanted in frame:
            return frames
    raise AssertionError(f"no frame with {wanted!r} in {timeout} s")


def test_a_viewers_commands_over_the_live_socket_are_refused(app, served):
    sock = open_socket(served, session_cookie(served, "vera"))
    try:
        sock.send(json.dumps({"action": "mute", "HEADERS": {"HX-Request": "true"}}))
        refusal = frames_until(sock, "read-only-banner")[-1]
        assert "refused that command" in refusal and 'hx-swap-oob="true"' in refusal
    finally:
        sock.close()


def test_a_supervisors_socket_messages_are_not_refused(app, served):
    sock = open_socket(served, session_cookie(served, "sam"))
    try:
        sock.send(json.dumps({"action": "mute"}))
        with app.app_context():
            get_bus().publish(console_event("console.queue.synced", {"name": "Signal", "max_size": 5}))
        frames = frames_until(sock, "Signal")
        assert not any("read-only-banner" in frame for frame in frames)
    finally:
        sock.close()


@pytest.mark.parametrize(("who", "origin", "status"), [(None, None, 401), ("vera", "http://evil.example", 403)])
def test_the_live_socket_needs_a_user_and_the_consoles_own_page(app, served, who, origin, status):
    cookie = session_cookie(served, who) if who else None
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        open_socket(served, cookie, origin)
    assert refused.value.status_code == status
