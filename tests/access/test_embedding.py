"""Behind an intranet proxy and inside its pages: trusted forwarded headers, a strict CSP, nothing inline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.test import Client

from console import create_app
from console.access.users import add_user
from console.config import ConfigError
from console.ingest.bus import get_bus
from tests import event_factory as ev
from tests.prefix_proxy import PrefixingProxy
from tests.signing_in import csrf_client, csrf_token_of

CONFERENCE = "7f3e2a10-5b1c-4e8d-9a2f-1c0d3b4a5e66"
AGENT, CALLER = "v3:agent/1", "v3:caller:2"
STATIC = Path(__file__).resolve().parents[2] / "static"
PASSWORD = "correct horse battery"


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def make_app(tmp_path, **settings):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "embedding-tests",
                      "CONSOLE_DEMO": True, "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", **settings})
    with app.app_context():
        for event in (
            ev.call_initiated(AGENT, ago(300), caller_id_name="Agent Smith"),
            ev.call_initiated(CALLER, ago(200)),
            ev.call_answered("v3:parked", ago(60)),
            ev.conference_created(CONFERENCE, AGENT, ago(290)),
            ev.joined(CONFERENCE, AGENT, ago(289)),
            ev.joined(CONFERENCE, CALLER, ago(150)),
            ev.recording_saved(CONFERENCE, "rec-1", ago(100), ago(40)),
            ev.enqueued("Sales", "v3:q1", ago(120)),
        ):
            get_bus().publish(event)
    add_user(app.extensions["console.store"], "ada", "admin", PASSWORD)
    return app


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.extensions["console.hub"].stop()


# --- the Content-Security-Policy ----------------------------------------------------------------


def policy(response) -> dict[str, str]:
    return {name: rest.strip() for name, _, rest in
            (part.strip().partition(" ") for part in response.headers["Content-Security-Policy"].split(";"))}


def test_every_answer_carries_a_strict_policy(app):
    answer = app.test_client().get("/")
    directives = policy(answer)
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self' ws://localhost wss://localhost"
    assert directives["frame-ancestors"] == "'self'" and directives["object-src"] == "'none'"
    assert "unsafe" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in app.test_client().get("/static/console.css").headers


def test_frame_ancestors_come_from_the_setting(tmp_path):
    app = make_app(tmp_path, CONSOLE_FRAME_ANCESTORS="'self'  https://intranet.example.com")
    try:
        answer = app.test_client().get("/")
    finally:
        app.extensions["console.hub"].stop()
    assert policy(answer)["frame-ancestors"] == "'self' https://intranet.example.com"
    assert "X-Frame-Options" not in answer.headers


@pytest.mark.parametrize("value", ["'self'; script-src *", "https://a.example, https://b.example", ""])
def test_frame_ancestors_that_would_bend_the_policy_are_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="CONSOLE_FRAME_ANCESTORS"):
        make_app(tmp_path, CONSOLE_FRAME_ANCESTORS=value)


def test_demo_recordings_may_play_from_the_simulator(app):
    assert policy(app.test_client().get("/"))["media-src"] == "'self' https: http://127.0.0.1:9"


# --- nothing inline, nothing external ------------------------------------------------------------


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline script, inline style, handlers, foreign assets."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = "src" not in found
        asset = found.get("src") if tag in ("script", "img", "iframe") else found.get("href") if tag == "link" else None
        if asset and re.match(r"^(https?:)?//", asset):
            self.problems.append(f"external asset {asset}")
        for name in ("href", "src", "action", "hx-get", "hx-post", "formaction"):
            if (found.get(name) or "").lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data.strip()[:40]!r}")


def inline_problems(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.problems


PAGES = ["/", f"/conferences/{CONFERENCE}", "/queues/Sales", "/ended", "/login", "/audit", "/users", "/supervisor",
         "/conferences/no-such-conference", f"/conferences/{CONFERENCE}/join-control", "/calls/parked",
         f"/conferences/{CONFERENCE}/supervision"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_pages_and_fragments_have_no_inline_script_or_style(app, path, htmx):
    answer = csrf_client(app).get(path, headers={"HX-Request": "true"} if htmx else {})
    assert answer.status_code in (200, 404)
    assert inline_problems(answer.text) == []


def test_refusals_and_control_answers_have_no_inline_script_or_style(app):
    client = csrf_client(app)
    answers = [
        client.post(f"/conferences/{CONFERENCE}/dtmf", data={"digits": "x"}, headers={"HX-Request": "true"}),
        client.post(f"/conferences/{CONFERENCE}/end", headers={"HX-Request": "true"}),
        client.post("/queues", data={"queue_name": ""}),
        client.post("/conferences/c1/mute", headers={"X-CSRF-Token": "wrong"}),
    ]
    assert [answer.status_code for answer in answers] == [422, 200, 422, 403]
    for answer in answers:
        assert inline_problems(answer.text) == []


def test_htmx_injects_no_styles_and_the_indicator_rules_live_in_the_stylesheet(app):
    page = app.test_client().get("/").text
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page).group(1)
    assert json.loads(config) == {"includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False}
    stylesheet = (STATIC / "console.css").read_text()
    assert ".htmx-indicator { opacity: 0; }" in stylesheet
    assert ".htmx-request .htmx-indicator" in stylesheet


# --- forwarded headers, only from the proxies we trust ------------------------------------------

FORWARDED = {"X-Forwarded-Prefix": "/console", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "portal.example.com", "X-Forwarded-For": "203.0.113.9"}


@pytest.mark.parametrize(("proxies", "believed"), [("127.0.0.1", True), ("10.0.0.0/8", False), ("", False)])
def test_forwarded_headers_are_believed_only_from_trusted_proxies(tmp_path, proxies, believed):
    app = make_app(tmp_path, CONSOLE_TRUSTED_PROXIES=proxies)
    try:
        answer = app.test_client().get("/", headers=FORWARDED)
    finally:
        app.extensions["console.hub"].stop()
    page, directives = answer.text, policy(answer)
    if believed:
        assert 'ws-connect="/console/live?watch=dashboard"' in page
        assert f'href="/console/conferences/{CONFERENCE}"' in page
        assert directives["connect-src"] == "'self' ws://portal.example.com wss://portal.example.com"
    else:
        assert 'ws-connect="/live?watch=dashboard"' in page
        assert "/console/" not in page
        assert directives["connect-src"] == "'self' ws://localhost wss://localhost"


def test_under_a_prefix_the_session_and_audit_follow_the_proxy(tmp_path):
    app = make_app(tmp_path, CONSOLE_TRUSTED_PROXIES="127.0.0.1", CONSOLE_DEMO=False)
    browser = Client(PrefixingProxy(app))

    def through_proxy(method: str, path: str, **kwargs):
        return browser.open(path, method=method, base_url="https://portal.example.com",
                            environ_overrides={"REMOTE_ADDR": "127.0.0.1"}, **kwargs)

    try:
        login = through_proxy("GET", "/console/login?next=/console/queues/Sales")
        assert 'action="/console/login"' in login.text and 'value="/console/queues/Sales"' in login.text
        signed_in = through_proxy("POST", "/console/login", data={
            "name": "ada", "password": PASSWORD, "next": "/console/queues/Sales", "csrf_token": csrf_token_of(login.text)})
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/console/queues/Sales"
        cookie = signed_in.headers["Set-Cookie"]
        assert "Path=/console" in cookie and "; Secure" in cookie
        queue = through_proxy("GET", "/console/queues/Sales")
        assert queue.status_code == 200 and 'ws-connect="/console/live?watch=queue:Sales"' in queue.text
        store = app.extensions["console.store"]
        assert store.audit_entries(action="auth.login")[0]["client_address"] == "203.0.113.9"
    finally:
        app.extensions["console.hub"].stop()
