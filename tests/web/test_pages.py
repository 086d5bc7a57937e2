"""The console's pages: full page or HTMX fragment from the same macros, live data, useful errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.ingest.bus import get_bus
from console.live.ui import CLOCK, dom_id, oob
from console.telnyx.events import console_event
from tests import event_factory as ev

CONFERENCE = "3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11"
AGENT = "v3:agent-leg/1"
CALLER = "v3:caller-leg:2"


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True, "CONSOLE_WAIT_WARN_SECONDS": 45,
                      "CONSOLE_WAIT_CRITICAL_SECONDS": 90})
    yield app
    app.extensions["console.hub"].stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def publish(app):
    def publish(*events):
        with app.app_context():
            for event in events:
                get_bus().publish(event)

    return publish


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def element(html: str, element_id: str) -> str:
    """The outer HTML of the element with this id (first tag to its matching close, same tag name)."""
    start = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"', html)
    assert start, f"no element with id {element_id}"
    tag = start.group(1)
    depth, position = 0, start.start()
    for match in re.finditer(rf"<(/?){tag}\b[^>]*>", html[start.start():]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return html[position:start.start() + match.end()]
    raise AssertionError(f"unclosed <{tag}> for {element_id}")


@pytest.fixture
def busy_conference(publish):
    publish(
        ev.call_initiated(AGENT, ago(300), from_="+15550100001", caller_id_name="Agent Smith"),
        ev.call_initiated(CALLER, ago(200), from_="+15550100002", caller_id_name=None),
        ev.conference_created(CONFERENCE, AGENT, ago(290)),
        ev.joined(CONFERENCE, AGENT, ago(289)),
        ev.joined(CONFERENCE, CALLER, ago(150)),
        ev.floor_changed(CONFERENCE, CALLER, ago(5)),
        console_event("console.participant.updated", {"conference_id": CONFERENCE, "call_control_id": AGENT,
                                                      "muted": True}),
        ev.recording_saved(CONFERENCE, "rec-1", ago(100), ago(40)),
    )


@pytest.fixture
def waiting_callers(publish):
    publish(
        ev.call_initiated("v3:q1", ago(130), from_="+15550200001", caller_id_name=None),
        ev.call_initiated("v3:q2", ago(20), from_="+15550200002", caller_id_name=None),
        ev.enqueued("Sales", "v3:q1", ago(120), position=1),
        ev.enqueued("Sales", "v3:q2", ago(10), position=2),
    )


def test_dashboard_shows_a_nameless_conference_by_short_id_until_its_name_arrives(client, publish):
    publish(ev.conference_created(CONFERENCE, AGENT, ago(60)))
    row = element(client.get("/").text, dom_id("conference", CONFERENCE))
    assert "Conference 3b7c1f6a…" in row
    publish(console_event("console.conference.synced", {"id": CONFERENCE, "name": "Escalations", "status": "in_progress"}))
    row = element(client.get("/").text, dom_id("conference", CONFERENCE))
    assert "Escalations" in row and "3b7c1f6a…" not in row


def test_dashboard_row_shows_count_talker_and_age(client, busy_conference):
    row = element(client.get("/").text, dom_id("conference", CONFERENCE))
    assert re.search(r'class="col-num"[^>]*>2<', row)
    assert "+15550100002" in row  # the floor holder, by number since it has no caller id name
    assert re.search(r'data-since="\d{4}-\d\d-\d\dT[\d:.]+Z"', row)


def test_one_url_answers_full_page_or_fragment_from_the_same_macro(app, client, busy_conference, waiting_callers):
    instant = datetime.now(UTC)
    app.extensions[CLOCK] = lambda: instant  # both answers draw their timers as of the same second
    full = client.get("/")
    fragment = client.get("/", headers={"HX-Request": "true"})
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.text and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith("<div id=\"dashboard\"")
    for row_id in (dom_id("conference", CONFERENCE), dom_id("queue", "Sales"), dom_id("kpi", "waiting")):
        assert element(full.text, row_id) == element(fragment.text, row_id)


def test_dashboard_headline_figures(client, busy_conference, waiting_callers):
    page = client.get("/").text
    assert re.search(r'class="kpi-value">1<', element(page, dom_id("kpi", "conferences")))
    assert re.search(r'class="kpi-value">2<', element(page, dom_id("kpi", "waiting")))
    longest = element(page, dom_id("kpi", "longest_wait"))
    assert 'data-warn="45"' in longest and 'data-critical="90"' in longest and "in Sales" in longest
    assert 'data-level="critical"' in longest  # first paint already red: 120 s against a 90 s threshold


def test_queue_row_shows_size_waits_and_oldest_callers(client, waiting_callers):
    row = element(client.get("/").text, dom_id("queue", "Sales"))
    assert '<span class="size-now">2</span>' in row
    assert row.index("+15550200001") < row.index("+15550200002")
    assert re.search(r"2:0\d", row)  # the longest wait, first painted from enqueued_at


def test_conference_page_shows_participant_cards(client, busy_conference):
    page = client.get(f"/conferences/{CONFERENCE}")
    assert page.status_code == 200
    agent = element(page.text, dom_id("participant", CONFERENCE, AGENT))
    caller = element(page.text, dom_id("participant", CONFERENCE, CALLER))
    assert "Agent Smith" in agent and "Muted" in agent and "Talking" not in agent
    assert "+15550100002" in caller and "Talking" in caller and "is-talking" in caller
    assert f"leg-{CALLER}" in caller


def test_conference_page_plays_recordings(client, busy_conference):
    item = element(client.get(f"/conferences/{CONFERENCE}").text, dom_id("recording", "rec-1"))
    assert '<audio controls preload="none" src="http://sim.test/_sim/recordings/rec-1.wav">' in item
    assert "1:00" in item  # recorded for 60 seconds


def test_conference_fragment_matches_page(client, busy_conference):
    fragment = client.get(f"/conferences/{CONFERENCE}", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and dom_id("participant", CONFERENCE, CALLER) in fragment


def test_queue_page_lists_waiting_calls_in_order(client, waiting_callers):
    page = client.get("/queues/Sales")
    assert page.status_code == 200
    first = element(page.text, dom_id("queued-call", "Sales", "v3:q1"))
    second = element(page.text, dom_id("queued-call", "Sales", "v3:q2"))
    assert 'data-level="critical"' in first and 'data-level="ok"' in second
    assert re.search(r'class="col-num">1<', first) and "On the line" in first
    assert 'data-warn="45" data-critical="90"' in first
    assert page.text.index("+15550200001") < page.text.index("+15550200002")


def test_ended_page_gives_reason_and_duration(client, publish):
    publish(ev.conference_created(CONFERENCE, AGENT, ago(400)), ev.conference_ended(CONFERENCE, ago(100), reason="host_left"))
    row = element(client.get("/ended").text, dom_id("ended", CONFERENCE))
    assert "The host left" in row and "5:00" in row
    assert dom_id("conference", CONFERENCE) not in client.get("/").text


def test_ended_page_says_it_shows_the_newest_and_where_the_rest_are(client, publish):
    """The list keeps the newest 50; the supervisor is told so, and pointed at History for the rest."""
    publish(ev.conference_created(CONFERENCE, AGENT, ago(400)), ev.conference_ended(CONFERENCE, ago(100)))
    page = client.get("/ended").text
    assert re.search(r"The newest 50 ended conferences.*?<a href=\"/history\">History</a> has every one", page,
                     re.DOTALL)


@pytest.mark.parametrize("path", ["/conferences/0000-nope", "/queues/No%20such%20queue", "/no-such-page"])
def test_unknown_things_get_a_404_page_with_a_way_back(client, path):
    page = client.get(path)
    assert page.status_code == 404
    assert "<html" in page.text and 'href="/"' in page.text and "Back to the dashboard" in page.text


def test_404_for_htmx_is_a_fragment(client):
    page = client.get("/conferences/nope", headers={"HX-Request": "true"})
    assert page.status_code == 404 and "<html" not in page.text and "error-panel" in page.text


def test_unexpected_failure_gets_a_500_page(app, client, monkeypatch):
    def broken():
        raise RuntimeError("database unreadable")

    monkeypatch.setattr(app.extensions["console.store"], "live_conference_summary", broken)
    app.testing = False
    page = client.get("/")
    assert page.status_code == 500
    assert "Something went wrong" in page.text and "Back to the dashboard" in page.text
    assert "database unreadable" not in page.text


def test_pages_connect_to_live_updates_for_what_they_show(client, busy_conference, waiting_callers):
    assert 'ws-connect="/live?watch=dashboard"' in client.get("/").text
    assert f'ws-connect="/live?watch=conference:{CONFERENCE}"' in client.get(f"/conferences/{CONFERENCE}").text
    assert 'ws-connect="/live?watch=queue:Sales"' in client.get("/queues/Sales").text


def test_links_follow_a_url_prefix(app, busy_conference):
    page = app.test_client().get("/", environ_overrides={"SCRIPT_NAME": "/console"}).text
    assert 'ws-connect="/console/live?watch=dashboard"' in page
    assert f'href="/console/conferences/{CONFERENCE}"' in page
    assert 'href="/console/static/console.css"' in page


@pytest.mark.parametrize(
    "parts",
    [("participant", CONFERENCE, "v3:abc/def"), ("queued-call", "Sales: west", "v3:x_y"), ("kpi", "longest_wait")],
)
def test_dom_ids_are_css_safe(parts):
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", dom_id(*parts))


def test_dom_ids_never_collide():
    assert dom_id("queued-call", "a:b", "c") != dom_id("queued-call", "a", "b:c")
    assert dom_id("x", "a_", "b") != dom_id("x", "a", "_b")
    assert dom_id("x", "a__b") != dom_id("x", "a", "b")


def test_oob_marks_only_the_root_element():
    assert oob('<tr id="r"><td id="c">1</td></tr>') == '<tr hx-swap-oob="true" id="r"><td id="c">1</td></tr>'
    with pytest.raises(ValueError):
        oob("plain text")
