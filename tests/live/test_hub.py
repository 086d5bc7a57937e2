"""The live hub on a fake catalogue: coalescing, render-once fan-out, bounded queues, clean shutdown."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import Flask

from console.live.hub import SERVICE_RESTART, Hub, PageLimit
from console.live.pieces import Piece, fragment_for, messages
from console.live.subscription import Subscription
from console.live.ui import CLOCK, drawn_at
from tests.waiting import wait_for


class FakeCatalogue:
    """Rows keyed 'row:<name>' on a 'board' page, plus a 'tally' atom every change touches."""

    def __init__(self):
        self.rows: dict[str, str] = {}
        self.render_calls: Counter = Counter()
        self.snapshots = 0

    def accepts(self, watch):
        return watch in {"board", "other"}

    def atoms(self, keys):
        atoms = {("row", key.split(":", 1)[1]) for key in keys if key.startswith("row:")}
        return atoms | {("tally",)} if atoms else atoms

    def topics(self, atom):
        return {"board"}

    def render(self, atom):
        self.render_calls[atom] += 1
        if atom == ("row", "broken"):
            raise RuntimeError("a template bug")
        if atom == ("tally",):
            return Piece("tally", f'<span id="tally">{len(self.rows)}</span>')
        name = atom[1]
        html = f'<li id="row-{name}">{self.rows[name]}</li>' if name in self.rows else None
        return Piece(f"row-{name}", html, container="rows", wrapper="ul")

    def snapshot(self, watch):
        self.snapshots += 1
        items = "".join(f'<li id="row-{name}">{text}</li>' for name, text in sorted(self.rows.items()))
        return [f'<ul id="rows" hx-swap-oob="true">{items}</ul>'], {f"row-{name}" for name in self.rows}


@pytest.fixture
def catalogue():
    return FakeCatalogue()


@pytest.fixture
def make_hub(catalogue):
    hubs = []

    def build(**options):
        hub = Hub(Flask("hub-test"), catalogue, **{"tick": 0.05, **options})
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        hub.stop()


def next_frame(subscription, timeout=3.0):
    """The next frame's messages, joined."""
    return "".join(wait_for(lambda: subscription.next_frame(timeout=0.05), timeout=timeout))


def test_thread_starts_only_with_the_first_subscriber(make_hub):
    hub = make_hub()
    assert hub._thread is None
    hub.subscribe("board")
    assert hub._thread is not None and hub._thread.is_alive()
    hub.stop()
    assert not hub._thread.is_alive()


def test_unknown_watch_is_refused(make_hub):
    with pytest.raises(ValueError):
        make_hub().subscribe("nothing-here")


def test_first_frame_is_the_snapshot(make_hub, catalogue):
    catalogue.rows = {"a": "alpha"}
    subscription = make_hub().subscribe("board")
    assert next_frame(subscription) == '<ul id="rows" hx-swap-oob="true"><li id="row-a">alpha</li></ul>'
    assert subscription.shown == {"row-a"}


def test_many_events_for_one_row_in_one_tick_render_it_once(make_hub, catalogue):
    hub = make_hub(tick=0.3)
    catalogue.rows = {"a": "v0"}
    subscription = hub.subscribe("board")
    next_frame(subscription)
    for version in range(1, 21):
        catalogue.rows["a"] = f"v{version}"
        hub.notify({"row:a"})
    frame = next_frame(subscription)
    assert catalogue.render_calls[("row", "a")] == 1
    assert frame.count('id="row-a"') == 1 and "v20" in frame
    assert subscription.pending() == 0


def test_each_atom_renders_once_whatever_the_subscriber_count(make_hub, catalogue):
    hub = make_hub()
    catalogue.rows = {"a": "alpha"}
    subscriptions = [hub.subscribe("board") for _ in range(7)]
    for subscription in subscriptions:
        next_frame(subscription)
    catalogue.rows["a"] = "changed"
    hub.notify({"row:a"})
    frames = [next_frame(subscription) for subscription in subscriptions]
    assert catalogue.render_calls == Counter({("row", "a"): 1, ("tally",): 1})
    assert all('<li hx-swap-oob="true" id="row-a">changed</li>' in frame for frame in frames)


def test_a_page_only_gets_atoms_it_watches(make_hub, catalogue):
    hub = make_hub()
    board, other = hub.subscribe("board"), hub.subscribe("other")
    next_frame(board), next_frame(other)
    catalogue.rows["a"] = "alpha"
    hub.notify({"row:a"})
    assert "row-a" in next_frame(board)
    assert other.next_frame(timeout=0.3) is None


def test_new_rows_are_appended_changed_replaced_ended_removed():
    shown: set[str] = set()
    new = Piece("row-a", '<tr id="row-a"><td>1</td></tr>', container="rows", wrapper="tbody")
    assert fragment_for(new, shown) == '<tbody hx-swap-oob="beforeend:#rows"><tr id="row-a"><td>1</td></tr></tbody>'
    assert shown == {"row-a"}
    assert fragment_for(new, shown) == '<tr hx-swap-oob="true" id="row-a"><td>1</td></tr>'
    gone = Piece("row-a", None, container="rows")
    assert fragment_for(gone, shown) == '<div id="row-a" hx-swap-oob="delete" data-gone="1"></div>'
    assert shown == set()
    assert fragment_for(gone, shown) == ""


def test_table_parts_travel_apart_from_other_elements():
    # A browser drops a <tr> that follows a <div> in one message, so they must not share one.
    grouped = messages(['<div id="k1">1</div>', '<tr id="r1"></tr>', '<tbody hx-swap-oob="beforeend:#t"></tbody>',
                        '<div id="k2">2</div>', '<tr id="r2"></tr>', ""])
    assert grouped == ['<div id="k1">1</div><div id="k2">2</div>', '<tr id="r1"></tr><tr id="r2"></tr>',
                       '<tbody hx-swap-oob="beforeend:#t"></tbody>']


def test_newest_first_lists_insert_at_the_top():
    piece = Piece("row-b", '<li id="row-b">b</li>', container="ended", placement="afterbegin", wrapper="ul")
    assert fragment_for(piece, set()).startswith('<ul hx-swap-oob="afterbegin:#ended">')


def test_a_page_that_falls_behind_gets_a_snapshot_and_bounded_memory(make_hub, catalogue):
    hub = make_hub(tick=0.01, queue_limit=3)
    subscription = hub.subscribe("board")
    wait_for(lambda: subscription.pending() == 1)  # the first snapshot, never read: the socket is stuck
    for version in range(10):
        catalogue.rows["a"] = f"v{version}"
        hub.notify({"row:a"})
        wait_for(lambda: not hub._pending_keys, timeout=2)
        assert subscription.pending() <= 3
    assert subscription.overflows == 1 and subscription.behind
    assert subscription.pending() == 0 and catalogue.snapshots == 1  # no backlog, no snapshot renders meanwhile
    catalogue.rows["a"] = "latest"
    frame = next_frame(subscription)  # the sender comes back: it gets a fresh snapshot, not the backlog
    assert frame == '<ul id="rows" hx-swap-oob="true"><li id="row-a">latest</li></ul>'
    assert catalogue.snapshots == 2 and not subscription.behind
    hub.notify({"row:a"})
    assert "row-a" in next_frame(subscription)  # and changes flow again


def test_one_broken_atom_does_not_hold_back_the_others(make_hub, catalogue):
    hub = make_hub()
    subscription = hub.subscribe("board")
    next_frame(subscription)
    catalogue.rows["a"] = "alpha"
    hub.notify({"row:a", "row:broken"})
    assert "row-a" in next_frame(subscription)


def test_unsubscribed_pages_get_nothing(make_hub, catalogue):
    hub = make_hub()
    subscription = hub.subscribe("board")
    next_frame(subscription)
    hub.unsubscribe(subscription)
    assert hub.subscriber_count() == 0
    catalogue.rows["a"] = "alpha"
    hub.notify({"row:a"})
    assert subscription.next_frame(timeout=0.2) is None
    assert catalogue.render_calls[("row", "a")] == 0


def test_stop_closes_pages_as_a_service_restart(make_hub):
    hub = make_hub()
    subscription = hub.subscribe("board")
    hub.stop()
    assert subscription.closed and subscription.close_code == SERVICE_RESTART
    with pytest.raises(RuntimeError):
        hub.subscribe("board")


class ClockReadingCatalogue(FakeCatalogue):
    """The fake pages, noting the instant each atom is drawn at."""

    def __init__(self):
        super().__init__()
        self.drawn_at: list[datetime] = []

    def render(self, atom):
        self.drawn_at.append(drawn_at())
        return super().render(atom)


def test_a_tick_draws_as_of_one_reading_of_the_apps_clock_and_sends_it_to_the_render_process():
    app = Flask("hub-test")
    start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    readings = (start + timedelta(seconds=second) for second in itertools.count())
    app.extensions[CLOCK] = lambda: next(readings)  # a clock that moves a second each time it is read
    catalogue = ClockReadingCatalogue()
    catalogue.rows = {"a": "alpha", "b": "beta"}
    hub = Hub(app, catalogue)
    page = Subscription(hub, "board", "", 10)
    hub.run_tick({"row:a", "row:b"}, [], [page])
    assert catalogue.drawn_at == [start] * 3  # both rows and the tally, as of the tick's one instant
    asked = []
    hub.renderer = SimpleNamespace(draw=lambda keys, watched, root, at: asked.append(at) or [], stop=lambda: None)
    hub.run_tick({"row:a"}, [], [page])
    assert asked == [start + timedelta(seconds=1)]
    hub.stop()


def test_a_session_and_a_user_hold_only_so_many_pages(make_hub):
    hub = make_hub()
    limits = {"per_session": 2, "per_user": 3}
    first = hub.subscribe("board", user="sam", session="s1", **limits)
    hub.subscribe("board", user="sam", session="s1", **limits)
    with pytest.raises(PageLimit, match="This browser already has 2 live pages open"):
        hub.subscribe("board", user="sam", session="s1", **limits)
    hub.subscribe("board", user="sam", session="s2", **limits)
    with pytest.raises(PageLimit, match="sam already has 3 live pages open"):
        hub.subscribe("board", user="sam", session="s3", **limits)
    hub.subscribe("board", user="ada", session="s4", **limits)  # another user is not counted against sam
    hub.unsubscribe(first)
    hub.subscribe("board", user="sam", session="s1", **limits)  # a closed page frees its place
    assert hub.subscriber_count() == 4


def test_a_page_saying_goodbye_no_longer_counts_against_the_limits(make_hub):
    hub = make_hub()
    closing = hub.subscribe("board", user="sam", session="s1", per_session=1)
    closing.close(4001, "Your session has ended: you signed out.")  # its writer is still ending the socket
    hub.subscribe("board", user="sam", session="s1", per_session=1)
    assert hub.subscriber_count() == 2


def test_pages_without_a_session_or_limits_are_not_counted(make_hub):
    hub = make_hub()
    for _ in range(5):
        hub.subscribe("board", user=None, session=None, per_user=1, per_session=1)
        hub.subscribe("board", user="sam", session="s1")
    assert hub.subscriber_count() == 10
