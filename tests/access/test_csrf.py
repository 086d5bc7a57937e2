"""CSRF tokens on every state-changing request, and the session cookie's flags."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from console import create_app
from console.access.users import add_user
from console.telnyx import signing
from console.telnyx.events import parse_event
from tests import event_factory as ev
from tests.signed_webhooks import encode, envelope, post_signed
from tests.signing_in import csrf_client, csrf_token_of, signed_in_client

PASSWORD = "correct horse battery"


@pytest.fixture
def signing_key():
    return signing.generate_signing_key()


def make_app(tmp_path, **settings):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "csrf-tests",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", **settings})
    add_user(app.extensions["console.store"], "sam", "supervisor", PASSWORD)
    return app


@pytest.fixture
def app(tmp_path, signing_key):
    app = make_app(tmp_path, TELNYX_PUBLIC_KEY=signing.public_key_b64(signing_key))
    yield app
    app.extensions["console.hub"].stop()


@pytest.fixture
def supervisor(app):
    return signed_in_client(app, "sam", PASSWORD)


def without_token(client):
    client.environ_base.pop("HTTP_X_CSRF_TOKEN", None)
    return client


DTMF = ("/conferences/c1/dtmf", {"digits": ""})  # an invalid form: 422 once past the CSRF check


def test_a_post_without_the_token_is_refused(supervisor):
    path, form = DTMF
    answer = without_token(supervisor).post(path, data=form, headers={"HX-Request": "true"})
    assert answer.status_code == 403
    assert "security token" in answer.text


def test_a_post_with_another_sessions_token_is_refused(app, supervisor):
    stranger = csrf_client(app).environ_base["HTTP_X_CSRF_TOKEN"]
    path, form = DTMF
    answer = supervisor.post(path, data=form, headers={"X-CSRF-Token": stranger})
    assert answer.status_code == 403


def test_the_token_counts_in_the_header_htmx_sends(supervisor):
    path, form = DTMF
    assert supervisor.post(path, data=form, headers={"HX-Request": "true"}).status_code == 422


def test_the_token_counts_in_a_plain_forms_hidden_field(supervisor):
    token = supervisor.environ_base["HTTP_X_CSRF_TOKEN"]
    path, form = DTMF
    assert without_token(supervisor).post(path, data={**form, "csrf_token": token}).status_code == 422


def test_signing_in_and_out_need_the_token(app, supervisor):
    login = without_token(csrf_client(app)).post("/login", data={"name": "sam", "password": PASSWORD})
    assert login.status_code == 403
    assert without_token(supervisor).post("/logout").status_code == 403
    assert supervisor.get("/").status_code == 200, "a forged logout must not sign anyone out"


def test_signing_in_starts_a_new_session_with_a_new_token(app):
    client = csrf_client(app)
    before = client.environ_base["HTTP_X_CSRF_TOKEN"]
    client.post("/login", data={"name": "sam", "password": PASSWORD})
    after = csrf_token_of(client.get("/login").text)
    assert after != before
    assert client.post(DTMF[0], data=DTMF[1]).status_code == 403, "the old token died with the old session"


def test_the_signed_webhook_needs_no_token(app, signing_key):
    answer = post_signed(app.test_client(), signing_key, encode(envelope()))
    assert answer.status_code == 200


def test_every_page_hands_htmx_the_token_on_body(supervisor):
    token = supervisor.environ_base["HTTP_X_CSRF_TOKEN"]
    for path in ("/", "/ended"):
        body = re.search(r"<body[^>]*>", supervisor.get(path).text, re.DOTALL).group(0)
        assert f"hx-headers='{{\"X-CSRF-Token\": \"{token}\"}}'" in body


# --- the session cookie -------------------------------------------------------------------------


def session_cookie_header(app, base_url: str) -> str:
    client = app.test_client()
    client.get("/login", base_url=base_url)
    answer = client.post("/login", base_url=base_url,
                         data={"name": "sam", "password": PASSWORD,
                               "csrf_token": csrf_token_of(client.get("/login", base_url=base_url).text)})
    cookies = [value for name, value in answer.headers if name == "Set-Cookie"]
    assert cookies, answer.status_code
    return cookies[-1]


@pytest.mark.parametrize(("settings", "base_url", "secure"), [
    ({}, "https://console.example.com", True),
    ({}, "http://console.example.com", True),
    ({}, "http://localhost", False),
    ({}, "http://127.0.0.1:8000", False),
    ({"CONSOLE_DEMO": True}, "http://console.example.com", False),
    ({"CONSOLE_SECURE_COOKIES": "false"}, "http://console.example.com", False),
    ({"CONSOLE_SECURE_COOKIES": "true"}, "http://localhost", True),
])
def test_the_session_cookie_is_httponly_lax_and_secure_unless_local(tmp_path, settings, base_url, secure):
    app = make_app(tmp_path, **settings)
    try:
        cookie = session_cookie_header(app, base_url)
    finally:
        app.extensions["console.hub"].stop()
    assert cookie.startswith("supervisor_console_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("; Secure" in cookie) is secure


def test_the_login_page_warns_when_the_cookie_cannot_come_back(tmp_path):
    app = make_app(tmp_path)
    try:
        page = app.test_client().get("/login", base_url="http://console.example.com").text
        local = app.test_client().get("/login").text
    finally:
        app.extensions["console.hub"].stop()
    assert "only keeps you signed in over HTTPS" in page
    assert "only keeps you signed in over HTTPS" not in local


def test_a_plain_control_form_carries_its_token_in_a_hidden_field(app, supervisor):
    """Without JavaScript a control form posts its hidden csrf field and passes the check."""
    joined = ev.body("conference.participant.joined", datetime.now(UTC), conference_id="c1", **ev.leg_ids("v3:leg-a"))
    app.extensions["console.store"].apply(parse_event(joined))
    page = supervisor.get("/conferences/c1").get_data(as_text=True)
    hidden = re.findall(r'<form[^>]*action="/conferences/c1/dtmf".*?name="([^"]+)" value="([^"]+)"', page, re.DOTALL)
    assert hidden, "the DTMF form has no hidden token field"
    name, token = hidden[0]
    answer = without_token(supervisor).post(DTMF[0], data={**DTMF[1], name: token})
    assert answer.status_code == 422  # past the CSRF check, refused by validation instead
