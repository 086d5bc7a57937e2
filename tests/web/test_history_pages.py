"""History a page at a time: boundaries, newer and older links, stability, bad links, streamed CSV, cost."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from console import create_app
from console.state.history_rows import PAGE_SIZE
from console.state.timeline import matches, queued_call_outcomes
from tests import event_factory as ef

DAY = "2026-03-02"
DAY_START = datetime(2026, 3, 2, tzinfo=UTC)
QUEUES = ("Support", "Sales", "Billing")
LINK = re.compile(r'<a href="([^"]+)"(?: rel="\w+")? data-page="(newest|newer|older)"')
ROW = re.compile(r'<th scope="row" title="([^"]+)">')


def caller(n: int, prefix: str = "") -> str:
    return f"v3:{prefix}call-{n:05d}"


def queued_calls(first: datetime, count: int, prefix: str = "", spacing: float = 20.0) -> list:
    """`count` callers queued `spacing` seconds apart: answered after 15 s, every fourth abandons after 30 s."""
    events = []
    for n in range(count):
        t = first + timedelta(seconds=spacing * n)
        leg, queue = caller(n, prefix), QUEUES[n % len(QUEUES)]
        events += [ef.call_initiated(leg, t, from_=f"+1555{n:07d}", caller_id_name=f"Caller {prefix}{n}"),
                   ef.enqueued(queue, leg, t + timedelta(seconds=1))]
        if n % 4 == 3:
            events += [ef.dequeued(queue, leg, t + timedelta(seconds=31), reason="hangup", wait=30),
                       ef.call_hangup(leg, t + timedelta(seconds=31))]
        else:
            events.append(ef.dequeued(queue, leg, t + timedelta(seconds=16), wait=15))
    return events


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    app.config["PROPAGATE_EXCEPTIONS"] = True
    try:
        yield app
    finally:
        app.extensions["console.hub"].stop()


@pytest.fixture
def store(app):
    return app.extensions["console.store"]


def read_page(client, url: str) -> tuple[list[str], dict[str, str]]:
    """The queued calls a history page lists (call_control_ids, in order) and its calls-list links."""
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    calls_part = html.split('id="history-conferences"')[0]
    links = {kind: unescape(href) for href, kind in LINK.findall(calls_part)}
    return ROW.findall(calls_part), links


def walk(client, url: str, direction: str) -> list[list[str]]:
    """Every page from `url` on, following the calls list's `direction` link until there is none."""
    pages = []
    while url:
        rows, links = read_page(client, url)
        pages.append(rows)
        url = links.get(direction)
        assert len(pages) < 50, "the links go round in circles"
    return pages


def test_pages_cover_the_day_once_newest_first_and_come_back_the_same_way(app, store):
    total = 2 * PAGE_SIZE + 30
    store.apply_many(queued_calls(DAY_START + timedelta(hours=8), total))
    client = app.test_client()
    older = walk(client, f"/history?date={DAY}", "older")
    assert [len(page) for page in older] == [PAGE_SIZE, PAGE_SIZE, 30]
    listed = [leg for page in older for leg in page]
    assert listed == [caller(n) for n in reversed(range(total))]  # each once, newest first

    _first_rows, first_links = read_page(client, f"/history?date={DAY}")
    assert "newer" not in first_links and "newest" not in first_links and "older" in first_links
    _, last_links = read_page(client, _link_to_last(client, first_links["older"]))
    assert "older" not in last_links and {"newer", "newest"} <= set(last_links)

    back = walk(client, _link_to_last(client, first_links["older"]), "newer")
    assert back == older[::-1]


def _link_to_last(client, url: str) -> str:
    """The URL of the last page, reached by following older links from `url`."""
    while True:
        _, links = read_page(client, url)
        if "older" not in links:
            return url
        url = links["older"]


def test_a_page_stays_the_same_when_new_calls_arrive(app, store):
    store.apply_many(queued_calls(DAY_START + timedelta(hours=8), 2 * PAGE_SIZE))
    client = app.test_client()
    _, links = read_page(client, f"/history?date={DAY}")
    second_before, _ = read_page(client, links["older"])
    store.apply_many(queued_calls(DAY_START + timedelta(hours=12), 7, prefix="new-"))
    second_after, _ = read_page(client, links["older"])
    assert second_after == second_before
    first_now, _ = read_page(client, f"/history?date={DAY}")
    assert first_now[:7] == [caller(n, "new-") for n in reversed(range(7))]


def test_going_newer_to_the_top_shows_the_first_page_whole(app, store):
    store.apply_many(queued_calls(DAY_START + timedelta(hours=8), PAGE_SIZE + 10))
    client = app.test_client()
    first, links = read_page(client, f"/history?date={DAY}")
    second, second_links = read_page(client, links["older"])
    assert len(second) == 10
    again, again_links = read_page(client, second_links["newer"])
    assert again == first and "newer" not in again_links


def test_a_search_pages_through_the_matches_only(app, store):
    store.apply_many(queued_calls(DAY_START + timedelta(hours=1), 600))
    client = app.test_client()
    pages = walk(client, f"/history?date={DAY}&q=Billing", "older")
    listed = [leg for page in pages for leg in page]
    assert listed == [caller(n) for n in reversed(range(600)) if QUEUES[n % 3] == "Billing"]
    assert [len(page) for page in pages] == [PAGE_SIZE] * 4  # 200 of the 600 are in Billing


def test_the_conference_list_pages_on_its_own_and_keeps_the_calls_page(app, store):
    events = []
    for n in range(PAGE_SIZE + 5):
        t = DAY_START + timedelta(hours=9, minutes=n)
        events += [ef.conference_created(f"conf-{n:03d}", f"host-{n}", t),
                   ef.conference_ended(f"conf-{n:03d}", t + timedelta(seconds=30))]
    store.apply_many(events + queued_calls(DAY_START + timedelta(hours=8), PAGE_SIZE + 1))
    client = app.test_client()
    _, links = read_page(client, f"/history?date={DAY}")
    calls_second, _ = read_page(client, links["older"])
    html = client.get(links["older"]).get_data(as_text=True)
    conference_part = html.split('id="history-conferences"')[1]
    older_conferences = unescape({kind: href for href, kind in LINK.findall(conference_part)}["older"])
    html = client.get(older_conferences).get_data(as_text=True)
    assert re.findall(r">conf-(\d+)</a>", html) == [f"{n:03d}" for n in reversed(range(5))]
    assert ROW.findall(html.split('id="history-conferences"')[0]) == calls_second  # the calls list kept its page


@pytest.mark.parametrize("token", [
    "not base64 at all!",
    "bm90IGpzb24",  # base64 of "not json"
    "WyJzaWRld2F5cyIsIjIwMjYtMDMtMDJUMDk6MDA6MDAuMDAwMDAwWiIsNV0",  # ["sideways", ..., 5]
    "WyJvbGRlciIsIjIwMjYtMDMtMDJUMDk6MDA6MDAuMDAwMDAwWiIsImZpdmUiXQ",  # key "five" where calls use a number
    "WyJvbGRlciIsInRlYSB0aW1lIiw1XQ",  # ["older", "tea time", 5]
    "WzFd",  # [1]
])
def test_a_page_link_the_console_did_not_make_is_refused_in_words(app, token):
    response = app.test_client().get(f"/history?date={DAY}&calls={token}")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "page link" in text and "is not valid" in text and "newest rows" in text


def old_calls_csv(store, start: datetime, end: datetime, text: str = "") -> str:
    """The export as it was: the day's outcome events read whole, made into rows, then written at once."""
    types = ("call.initiated", "call.enqueued", "call.dequeued", "call.hangup")
    rows = [["call_control_id", "caller", "from", "to", "queue", "position", "enqueued_at", "left_at",
             "wait_seconds", "outcome", "reason"]]
    iso = lambda moment: moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""
    for row in queued_call_outcomes(store.logged_events_of_types(types, since=start - timedelta(hours=12), until=end)):
        if row["enqueued_at"] and start <= row["enqueued_at"] < end and matches(row, text):
            rows.append([row["call_control_id"], row["name"] or "", row["from_number"] or "", row["to_number"] or "",
                         row["queue"], row["position"] or "", iso(row["enqueued_at"]), iso(row["left_at"]),
                         "" if row["wait"] is None else f"{row['wait']:.1f}", row["outcome"], row["reason"] or ""])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def test_the_calls_csv_is_streamed_and_says_what_it_said_before(app, store):
    count = 700  # several of the export's batches
    store.apply_many(queued_calls(DAY_START + timedelta(minutes=5), count, spacing=100))
    store.apply_many(queued_calls(DAY_START - timedelta(hours=2), 20, prefix="before-"))  # the day before
    client = app.test_client()
    response = client.get(f"/history/calls.csv?date={DAY}")
    assert response.is_streamed and response.mimetype == "text/csv"
    assert 'filename="queued-calls-2026-03-02.csv"' in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body == old_calls_csv(store, DAY_START, DAY_START + timedelta(days=1))
    assert len(body.splitlines()) == count + 1
    searched = client.get(f"/history/calls.csv?date={DAY}&q=Sales").get_data(as_text=True)
    assert searched == old_calls_csv(store, DAY_START, DAY_START + timedelta(days=1), "Sales")


def test_the_kpi_csv_is_streamed(app, store):
    store.apply_many(queued_calls(DAY_START + timedelta(hours=9), 30))
    response = app.test_client().get(f"/history/kpis.csv?date={DAY}&interval=3600")
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    nine = [row for row in rows if row["interval_start"] == "2026-03-02T09:00:00Z" and row["queue"] == "Support"]
    assert nine and nine[0]["answered"] == "7" and nine[0]["abandoned"] == "3"


def _steps_for(app, url: str) -> int:
    """SQLite virtual-machine steps (in hundreds) the store runs to answer `url`: a cost that is not a time."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    connection: sqlite3.Connection = app.extensions["console.store"]._db().conn
    connection.set_progress_handler(count, 100)
    try:
        assert app.test_client().get(url).status_code == 200
    finally:
        connection.set_progress_handler(None, 1000)
    return steps[0]


def test_a_page_costs_what_it_shows_not_the_size_of_the_day(app, store):
    store.apply_many(queued_calls(DAY_START + timedelta(hours=20), 3 * PAGE_SIZE, spacing=10))
    first_small = _steps_for(app, f"/history?date={DAY}")
    store.apply_many(queued_calls(DAY_START + timedelta(hours=1), 1500, prefix="early-", spacing=10))
    first_large = _steps_for(app, f"/history?date={DAY}")
    _, links = read_page(app.test_client(), f"/history?date={DAY}")
    deep = _link_to_last(app.test_client(), links["older"])
    deep_large = _steps_for(app, deep)
    assert first_small > 0
    assert first_large <= 1.5 * first_small, (first_small, first_large)
    assert deep_large <= 1.5 * first_large, (first_large, deep_large)
