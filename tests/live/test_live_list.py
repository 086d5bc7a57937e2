"""A "newest N" list stays what a reload shows at N + 1 items: a push lets the newest in and the oldest out."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest

from console import create_app
from console.live.render_process import RenderProcess
from console.live.screens import DASHBOARD_CONFERENCE_LIMIT, ENDED_LIMIT
from console.live.subscription import Subscription
from console.live.ui import dom_id
from tests import event_factory as ev

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Elements(HTMLParser):
    """The top-level elements of an HTML string: (tag, attributes, inner HTML, text) each."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html, self.found, self._depth, self._open, self._text = html, [], 0, None, []
        self._lines = [0]
        for line in html.splitlines(keepends=True):
            self._lines.append(self._lines[-1] + len(line))
        self.feed(html)
        self.close()

    def _at(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if self._depth == 0:
            self._open = (tag, dict(attrs), self._at() + len(self.get_starttag_text()))
            self._text = []
        self._depth += 1

    def handle_endtag(self, tag):
        self._depth -= 1
        if self._depth == 0 and self._open:
            tag, attrs, start = self._open
            self.found.append((tag, attrs, self.html[start:self._at()], " ".join("".join(self._text).split())))
            self._open = None

    def handle_data(self, data):
        self._text.append(data)


def children(html: str, tag: str) -> list[str]:
    """The ids of the `tag` elements at the top of `html`."""
    return [attrs["id"] for found, attrs, _, _ in _Elements(html).found if found == tag]


class PageModel:
    """What a browser holds of a page after its live frames: a list's ids in order and texts by id."""

    def __init__(self, list_id: str):
        self.list_id = list_id
        self.items: list[str] = []
        self.texts: dict[str, tuple[str, bool]] = {}

    def apply(self, frame: list[str]) -> None:
        for message in frame:
            for tag, attrs, inner, text in _Elements(message).found:
                self._swap(tag, attrs, inner, text)

    def _swap(self, tag, attrs, inner, text):
        how = attrs.get("hx-swap-oob", "")
        style, _, target = how.partition(":#")
        kind = self.list_id.split("-")[0] + "__"
        if how == "true" and attrs.get("id") == self.list_id:
            self.items = children(inner, "tr")
        elif how == "true" and attrs["id"].startswith(kind):
            assert attrs["id"] in self.items, f"a replacement for {attrs['id']}, which the page does not show"
        elif how == "true":
            self.texts[attrs["id"]] = (text, "hidden" in attrs)
        elif how == "delete" or style == "delete":
            gone = target or attrs["id"]
            if gone.startswith(kind):
                assert gone in self.items, f"deleting {gone}, which the page does not show"
                self.items.remove(gone)
        elif style == "afterbegin":
            assert target == self.list_id
            self.items[:0] = children(inner, "tr")
        elif style == "afterend":
            at = self.items.index(target) + 1
            self.items[at:at] = children(inner, "tr")
        elif style == "beforeend" and target == self.list_id:
            self.items += children(inner, "tr")


def reloaded(client, path: str, list_id: str, text_ids: list[str]) -> tuple[list[str], dict, int]:
    """A fresh render of the page: the list's ids, the texts of `text_ids` and its count badge."""
    html = client.get(path).get_data(as_text=True)
    body = re.search(rf'<tbody id="{list_id}"[^>]*>(.*?)</tbody>', html, re.DOTALL).group(1)
    texts = {}
    for text_id in text_ids:
        element = re.search(rf'<(\w+)[^>]*id="{text_id}"[^>]*>.*?</\1>', html, re.DOTALL).group(0)
        _, attrs, _, text = _Elements(element).found[0]
        texts[text_id] = (text, "hidden" in attrs)
    count = int(re.search(rf'data-count-of="{list_id}">(\d+)<', html).group(1))
    return children(body, "tr"), texts, count


@pytest.fixture(params=["here", "render process"])
def app(tmp_path, request):
    """A console whose hub draws in its own process, or in a render process (which sees no snapshots)."""
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    hub = app.extensions["console.hub"]
    if request.param == "render process":
        hub.renderer = RenderProcess(app, create_app).start()
    yield app
    if hub.renderer is not None:
        hub.renderer.stop()
    hub.stop()


class Console:
    """Conferences starting and ending by the second, each change pushed by one hub tick."""

    def __init__(self, app):
        self.app, self.store, self.hub = app, app.extensions["console.store"], app.extensions["console.hub"]
        self.client = app.test_client()
        self.second = 0
        self.pages: list[tuple[Subscription, PageModel]] = []

    def start(self, *numbers: int) -> set[str]:
        keys = set()
        for number in numbers:
            self.second += 1
            keys |= self.store.apply(ev.conference_created(f"conf-{number:04d}", f"v3:leg-{number}", ev.at(self.second)))
        return keys

    def end(self, *numbers: int) -> set[str]:
        keys = set()
        for number in numbers:
            self.second += 1
            keys |= self.store.apply(ev.conference_ended(f"conf-{number:04d}", ev.at(self.second)))
        return keys

    def watch(self, watch: str, list_id: str) -> PageModel:
        page = Subscription(self.hub, watch, "", 10_000), PageModel(list_id)
        self.pages.append(page)
        self.hub.run_tick(set(), [page[0]], [page[0]])
        self._deliver()
        return page[1]

    def tick(self, keys: set[str]) -> list[list[str]]:
        self.hub.run_tick(keys, [], [subscription for subscription, _ in self.pages])
        return self._deliver()

    def _deliver(self) -> list[list[str]]:
        frames = []
        for subscription, model in self.pages:
            while (frame := subscription.next_frame(timeout=0)) is not None:
                model.apply(frame)
                frames.append(frame)
        return frames


def live_ids(*numbers: int) -> list[str]:
    return [dom_id("conference", f"conf-{number:04d}") for number in numbers]


def test_the_dashboard_list_at_n_plus_one_equals_a_reload_after_every_push(app):
    console = Console(app)
    limit = DASHBOARD_CONFERENCE_LIMIT
    console.start(*range(1, limit + 1))
    page = console.watch("dashboard", "conference-rows")
    texts = ["conference-more", dom_id("kpi", "conferences")]

    def same_as_a_reload():
        items, shown_texts, count = reloaded(console.client, "/", "conference-rows", texts)
        assert page.items == items
        assert {text_id: page.texts[text_id] for text_id in texts} == shown_texts
        assert count == len(page.items) <= limit
        return items

    assert same_as_a_reload() == live_ids(*range(limit, 0, -1))
    assert page.texts["conference-more"][1], "nothing is left out yet, so the note is hidden"

    frames = console.tick(console.start(limit + 1))  # N + 1: the newest enters, the oldest leaves
    assert same_as_a_reload() == live_ids(*range(limit + 1, 1, -1))
    note = (f"Showing the newest {limit} of {limit + 1} live conferences. Type in the filter and press Enter to "
            "find any of them.")
    assert page.texts["conference-more"] == (note, False)
    drawn_rows = sum(message.count("<tr ") for frame in frames for message in frame)
    assert drawn_rows <= 2, "a push draws the rows that changed, never the whole list"

    console.tick(console.end(50))  # one shown ends: the newest not shown comes back at the bottom
    assert same_as_a_reload()[-1] == live_ids(1)[0]
    console.tick(console.end(1))  # one shown at the very bottom ends: nothing left out any more
    assert page.texts["conference-more"][1]
    console.tick(console.start(limit + 2, limit + 3))  # two at once push two out
    assert same_as_a_reload()[:2] == live_ids(limit + 3, limit + 2)
    console.tick(console.end(2))  # one left out ends: the list stays, the counts move
    console.tick(console.end(limit + 3) | console.start(limit + 4))  # one in, one out in the same tick
    console.tick(console.end(*range(3, 40)))  # many end: the list shrinks below the limit
    same_as_a_reload()
    console.tick(console.start(*range(limit + 5, limit + 60)))  # a burst fills it past the limit again
    assert len(same_as_a_reload()) == limit


def test_the_ended_list_keeps_the_most_recent_n(app):
    console = Console(app)
    limit = ENDED_LIMIT
    console.start(*range(1, limit + 4))
    console.end(*range(1, limit + 1))
    page = console.watch("ended", "ended-rows")

    def same_as_a_reload():
        items, _, count = reloaded(console.client, "/ended", "ended-rows", [])
        assert page.items == items and count == len(items) == limit
        return items

    same_as_a_reload()
    for number in (limit + 1, limit + 2):
        frames = console.tick(console.end(number))
        assert same_as_a_reload()[0] == dom_id("ended", f"conf-{number:04d}")
        assert dom_id("ended", f"conf-{number - limit:04d}") not in page.items
        assert sum(message.count("<tr ") for frame in frames for message in frame) == 1
    console.tick(console.end(limit + 3) | console.start(limit + 4))
    same_as_a_reload()


def test_a_page_that_connected_after_unwatched_changes_still_gets_every_entering_row(app):
    console = Console(app)
    limit = DASHBOARD_CONFERENCE_LIMIT
    console.start(*range(1, limit + 3))
    console.watch("dashboard", "conference-rows")
    console.pages.clear()  # the page goes away; two newer ones push the oldest two out, with no one watching
    console.tick(console.start(limit + 3, limit + 4))
    page = console.watch("dashboard", "conference-rows")
    console.tick(console.end(limit + 4, limit + 3))  # those two end: the two pushed out come back from below
    items, _, _ = reloaded(console.client, "/", "conference-rows", [])
    assert page.items == items and len(items) == limit and items[-2:] == live_ids(4, 3)


def test_a_random_walk_around_the_limit_keeps_the_list_equal_to_a_reload(app):
    console = Console(app)
    limit = DASHBOARD_CONFERENCE_LIMIT
    chance = random.Random(16)
    live = list(range(1, limit + 6))
    console.start(*live)
    page = console.watch("dashboard", "conference-rows")
    texts = ["conference-more", dom_id("kpi", "conferences")]
    newest = live[-1]
    for _ in range(30):
        ending = chance.sample(live, chance.randint(0, 3))
        starting = list(range(newest + 1, newest + 1 + chance.randint(0, 3)))
        newest += len(starting)
        live = [number for number in live if number not in ending] + starting
        console.tick(console.end(*ending) | console.start(*starting))
        items, shown_texts, count = reloaded(console.client, "/", "conference-rows", texts)
        assert page.items == items and count == len(items) == min(limit, len(live))
        assert {text_id: page.texts[text_id] for text_id in texts} == shown_texts
