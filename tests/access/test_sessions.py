"""Server-side sessions: an old cookie is refused once its session ends (sign-out, disable, new role or
password, on the web or the CLI), open sockets close within a second saying why, and the lifetime and
idle timeout run on a clock the tests move by hand."""

from __future__ import annotations

import io
import sqlite3
import struct
import time

import pytest
import requests
import websocket

from console import create_app
from console.access import session_cookie
from console.access.session_cookie import SESSION_COOKIE
from console.access.users import add_user, set_disabled
from console.cli import main as cli_main
from console.state import sessions
from console.web.server import BackgroundServer
from tests.signing_in import csrf_client, csrf_token_of, signed_in_client
from tests.waiting import wait_for

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another long password"
PEOPLE = {"vera": "viewer", "sam": "supervisor", "ada": "admin"}


class Clock:
    """A clock the tests move by hand (starting now, so rows the CLI ends on real time line up)."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(tmp_path, **settings):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "session-tests",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", "TELNYX_API_KEY": "unused", **settings})
    store = app.extensions["console.store"]
    for name, role in PEOPLE.items():
        add_user(store, name, role, PASSWORD)
    app.clock = app.extensions[session_cookie.EXTENSION].clock = Clock()
    return app


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.extensions["console.hub"].stop()


def cookie_of(client) -> str:
    return client.get_cookie(SESSION_COOKIE).value


def session_id_of(app, client) -> str:
    """The session id the client's signed cookie carries."""
    return app.session_interface.get_signing_serializer(app).loads(cookie_of(client))["session_id"]


def with_cookie(app, cookie: str):
    """A fresh client presenting a cookie copied from another (an attacker holding an old cookie)."""
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, cookie)
    return client


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def row(app, session_id: str):
    return sessions.find(app.extensions["console.store"], session_id)


# --- the cookie and the row ---------------------------------------------------------------------


def test_the_cookie_carries_only_a_session_id_that_the_database_does_not_hold(app, tmp_path):
    client = signed_in_client(app, "sam", PASSWORD)
    payload = app.session_interface.get_signing_serializer(app).loads(cookie_of(client))
    assert set(payload) <= {"session_id", "csrf", "_permanent"} and "user" not in payload
    session_id = payload["session_id"]
    assert len(session_id) >= 40
    with sqlite3.connect(tmp_path / "console.db") as db:
        stored = db.execute("SELECT id, user_name, ended_at FROM sessions").fetchall()
    assert [(name, ended) for _, name, ended in stored] == [("sam", None)]
    assert session_id not in stored[0][0]


def test_an_old_cookie_is_refused_after_logout(app):
    client = signed_in_client(app, "sam", PASSWORD)
    old, ended = cookie_of(client), session_id_of(app, client)
    assert signed_in(with_cookie(app, old))
    assert client.post("/logout").status_code == 303
    thief = with_cookie(app, old)
    answer = thief.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert thief.get("/", headers={"HX-Request": "true"}).status_code == 401
    assert row(app, ended).end_reason == session_cookie.SIGNED_OUT


def test_signing_in_again_in_the_same_browser_ends_the_previous_session(app):
    client = signed_in_client(app, "sam", PASSWORD)
    old, first = cookie_of(client), session_id_of(app, client)
    client.post("/login", data={"name": "vera", "password": PASSWORD})
    assert 'data-role="viewer"' in client.get("/").text
    assert not signed_in(with_cookie(app, old))
    assert row(app, first).end_reason == session_cookie.SIGNED_IN_AGAIN


def test_signing_out_ends_only_that_session(app):
    laptop, phone = signed_in_client(app, "sam", PASSWORD), signed_in_client(app, "sam", PASSWORD)
    laptop.post("/logout")
    assert not signed_in(laptop) and signed_in(phone)


def web_change(app, change: str) -> None:
    """Ada, an admin on another client, changes sam on the users page."""
    admin = signed_in_client(app, "ada", PASSWORD)
    token = csrf_token_of(admin.get("/users").text)
    path, form = {"disable": ("/users/sam/disable", {}), "role": ("/users/sam/role", {"role": "viewer"}),
                  "password": ("/users/sam/password", {"password": NEW_PASSWORD})}[change]
    assert admin.post(path, data={**form, "csrf_token": token}).status_code == 303
    assert signed_in(admin)  # ending sam's sessions leaves the admin's alone


@pytest.mark.parametrize(("change", "reason"), [("disable", session_cookie.DISABLED),
                                                ("role", session_cookie.ROLE_CHANGED),
                                                ("password", session_cookie.PASSWORD_CHANGED)])
def test_a_change_on_the_users_page_ends_every_session_of_that_user(app, change, reason):
    laptop, phone = signed_in_client(app, "sam", PASSWORD), signed_in_client(app, "sam", PASSWORD)
    vera, laptops = signed_in_client(app, "vera", PASSWORD), session_id_of(app, laptop)
    web_change(app, change)
    assert not signed_in(laptop) and not signed_in(phone)
    assert row(app, laptops).end_reason == reason
    assert signed_in(vera)


def test_a_new_password_works_and_the_old_one_does_not(app):
    web_change(app, "password")
    assert csrf_client(app).post("/login", data={"name": "sam", "password": PASSWORD}).status_code == 401
    assert signed_in(signed_in_client(app, "sam", NEW_PASSWORD))


def test_an_admin_cannot_reset_their_own_password_on_the_users_page(app):
    admin = signed_in_client(app, "ada", PASSWORD)
    answer = admin.post("/users/ada/password", data={"password": NEW_PASSWORD})
    assert answer.status_code == 422 and "ask another admin" in answer.text
    assert signed_in(admin)


def test_a_too_short_password_is_refused_and_ends_nothing(app):
    sam = signed_in_client(app, "sam", PASSWORD)
    admin = signed_in_client(app, "ada", PASSWORD)
    answer = admin.post("/users/sam/password", data={"password": "short"})
    assert answer.status_code == 422 and "at least 8 characters" in answer.text
    assert signed_in(sam)


def test_setting_the_same_role_again_ends_nothing(app):
    sam = signed_in_client(app, "sam", PASSWORD)
    admin = signed_in_client(app, "ada", PASSWORD)
    assert admin.post("/users/sam/role", data={"role": "supervisor"}).status_code == 303
    assert signed_in(sam)


@pytest.mark.parametrize(("argv", "stdin", "reason"), [
    (["user", "disable", "sam"], "", session_cookie.DISABLED),
    (["user", "set-role", "sam", "admin"], "", session_cookie.ROLE_CHANGED),
    (["user", "set-password", "sam", "--password-stdin"], f"{NEW_PASSWORD}\n", session_cookie.PASSWORD_CHANGED),
])
def test_the_cli_ends_the_sessions_of_the_user_it_changes(app, tmp_path, monkeypatch, argv, stdin, reason):
    sam, vera = signed_in_client(app, "sam", PASSWORD), signed_in_client(app, "vera", PASSWORD)
    sams = session_id_of(app, sam)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert cli_main([*argv, "--database", str(tmp_path / "console.db")]) == 0
    assert not signed_in(sam) and signed_in(vera)
    assert row(app, sams).end_reason == reason


def test_the_cli_refuses_a_short_new_password(app, tmp_path, monkeypatch, capsys):
    sam = signed_in_client(app, "sam", PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main(["user", "set-password", "sam", "--password-stdin", "--database", str(tmp_path / "console.db")]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert signed_in(sam)


def test_demo_mode_still_signs_visitors_in_and_signing_out_returns_to_the_demo_admin(tmp_path):
    app = make_app(tmp_path, CONSOLE_DEMO=True)
    try:
        visitor = app.test_client()
        assert 'data-role="admin"' in visitor.get("/").text
        sam = signed_in_client(app, "sam", PASSWORD)
        assert 'data-role="supervisor"' in sam.get("/").text
        sam.post("/logout")
        assert 'data-role="admin"' in sam.get("/").text and "demo-banner" in sam.get("/").text
    finally:
        app.extensions["console.hub"].stop()


# --- lifetime and idle timeout ------------------------------------------------------------------


def test_an_idle_session_ends_after_the_idle_timeout(tmp_path):
    app = make_app(tmp_path, CONSOLE_SESSION_IDLE_MINUTES=30)
    try:
        sam = signed_in_client(app, "sam", PASSWORD)
        sams = session_id_of(app, sam)
        for _ in range(4):  # used every 29 minutes, it lives on past two hours
            app.clock.advance(29 * 60)
            assert signed_in(sam)
        app.clock.advance(30 * 60)
        assert not signed_in(sam)
        assert row(app, sams).end_reason == "it went unused for 30 minutes"
    finally:
        app.extensions["console.hub"].stop()


def test_last_seen_is_written_now_and_then_not_on_every_request(tmp_path):
    app = make_app(tmp_path, CONSOLE_SESSION_IDLE_MINUTES=60)
    try:
        sam = signed_in_client(app, "sam", PASSWORD)
        sams = session_id_of(app, sam)
        started = row(app, sams).last_seen_at
        app.clock.advance(59)
        assert signed_in(sam) and signed_in(sam)
        assert row(app, sams).last_seen_at == started
        app.clock.advance(1)
        assert signed_in(sam)
        assert row(app, sams).last_seen_at == started + 60
    finally:
        app.extensions["console.hub"].stop()


def test_a_session_ends_at_its_lifetime_however_busy(tmp_path):
    app = make_app(tmp_path, CONSOLE_SESSION_HOURS=2, CONSOLE_SESSION_IDLE_MINUTES=0)
    try:
        sam = signed_in_client(app, "sam", PASSWORD)
        sams = session_id_of(app, sam)
        for _ in range(7):
            app.clock.advance(17 * 60)
            assert signed_in(sam)
        app.clock.advance(2 * 3600 - 7 * 17 * 60)
        assert not signed_in(sam)
        assert row(app, sams).end_reason == "it reached its 2-hour limit"
        assert signed_in(signed_in_client(app, "sam", PASSWORD))  # a fresh sign-in starts a fresh session
    finally:
        app.extensions["console.hub"].stop()


def test_the_idle_timeout_is_off_at_zero(tmp_path):
    app = make_app(tmp_path, CONSOLE_SESSION_IDLE_MINUTES=0)
    try:
        sam = signed_in_client(app, "sam", PASSWORD)
        app.clock.advance(11 * 3600)
        assert signed_in(sam)
    finally:
        app.extensions["console.hub"].stop()


def test_ended_sessions_are_forgotten_once_the_lifetime_has_passed(app):
    store = app.extensions["console.store"]
    sam = signed_in_client(app, "sam", PASSWORD)
    sams = session_id_of(app, sam)
    sam.post("/logout")
    app.clock.advance(13 * 3600)
    signed_in_client(app, "vera", PASSWORD)  # a new sign-in prunes
    assert sessions.open_count(store, "vera") == 1
    assert row(app, sams) is None
    assert not signed_in(sam)


# --- open sockets -------------------------------------------------------------------------------


@pytest.fixture
def served(app):
    server = BackgroundServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def http_session(server, name: str) -> requests.Session:
    http = requests.Session()
    token = csrf_token_of(http.get(f"{server.url}/login").text)
    http.post(f"{server.url}/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    return http


def open_socket(server, http: requests.Session):
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return websocket.create_connection(f"ws://127.0.0.1:{server.port}/live?watch=dashboard", timeout=5,
                                       header=[f"Cookie: {cookie}"], origin=server.url)


def close_of(sock, deadline: float) -> tuple[int, str]:
    """Read frames until the server's close frame; its code and reason."""
    while time.monotonic() < deadline:
        opcode, data = sock.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", data[:2])[0], data[2:].decode()
    raise AssertionError("the socket was not closed in time")


def test_a_disabled_users_open_socket_closes_within_a_second_saying_why(app, served):
    sock = open_socket(served, http_session(served, "sam"))
    bystander = open_socket(served, http_session(served, "vera"))
    try:
        assert sock.recv()  # the snapshot: the page is live
        bystander.recv()
        set_disabled(app.extensions["console.store"], "sam")
        disabled_at = time.monotonic()
        code, reason = close_of(sock, disabled_at + 5)
        assert time.monotonic() - disabled_at < 1.0
        assert (code, reason) == (4001, "Your session has ended: your account was disabled.")
        bystander.ping()
        assert bystander.connected
    finally:
        sock.close()
        bystander.close()


def test_signing_out_in_one_tab_closes_the_socket_of_another(app, served):
    http = http_session(served, "sam")
    sock = open_socket(served, http)
    try:
        sock.recv()
        token = csrf_token_of(http.get(f"{served.url}/login").text)
        http.post(f"{served.url}/logout", data={"csrf_token": token})
        assert close_of(sock, time.monotonic() + 2) == (4001, "Your session has ended: you signed out.")
    finally:
        sock.close()


def test_an_open_socket_keeps_an_otherwise_idle_session_in_use(tmp_path):
    app = make_app(tmp_path, CONSOLE_SESSION_IDLE_MINUTES=1)
    server = BackgroundServer(app).start()
    try:
        http = http_session(server, "sam")
        sock = open_socket(server, http)
        sock.recv()
        sam = with_cookie(app, http.cookies[SESSION_COOKIE])
        sams = session_id_of(app, sam)
        seen = row(app, sams).last_seen_at
        app.clock.advance(50)
        # The socket's own checks touch the session; nothing else uses it.
        wait_for(lambda: row(app, sams).last_seen_at == seen + 50, timeout=5, message="the socket touched the session")
        app.clock.advance(50)
        assert signed_in(sam)
        sock.close()
    finally:
        server.stop()
        app.extensions["console.hub"].stop()


def test_an_old_cookie_cannot_open_a_socket(app, served):
    http = http_session(served, "sam")
    cookie = dict(http.cookies)
    token = csrf_token_of(http.get(f"{served.url}/login").text)
    http.post(f"{served.url}/logout", data={"csrf_token": token})
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{served.port}/live?watch=dashboard", timeout=5,
                                    header=[f"Cookie: {SESSION_COOKIE}={cookie[SESSION_COOKIE]}"], origin=served.url)
    assert refused.value.status_code == 401


def test_a_single_sign_on_users_socket_closes_when_their_local_user_is_disabled(tmp_path):
    app = make_app(tmp_path, CONSOLE_TRUSTED_HEADER_AUTH=True, CONSOLE_TRUSTED_PROXIES="127.0.0.1/32")
    server = BackgroundServer(app).start()
    try:
        sock = websocket.create_connection(f"ws://127.0.0.1:{server.port}/live?watch=dashboard", timeout=5,
                                           header=["X-Forwarded-User: sam"], origin=server.url)
        sock.recv()
        set_disabled(app.extensions["console.store"], "sam")
        disabled_at = time.monotonic()
        assert close_of(sock, disabled_at + 5) == (4001, "Your session has ended: your account was disabled.")
        assert time.monotonic() - disabled_at < 1.0
        sock.close()
    finally:
        server.stop()
        app.extensions["console.hub"].stop()
