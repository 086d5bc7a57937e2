"""Flat memory in the live room: what the hub and the drawing helpers keep is bounded by what pages can show."""

from __future__ import annotations

import uuid

from flask import Flask

from console.live import ui
from console.live.hub import Hub
from console.live.pieces import Piece
from console.live.screens import ENDED_LIMIT
from console.live.subscription import Subscription
from console.web.app import create_app
from tests import event_factory as ev

CONFERENCES = 2_000


def test_two_thousand_ended_conferences_leave_only_what_open_pages_show(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "memory-tests"})
    store, hub = app.extensions["console.store"], app.extensions["console.hub"]
    hub.forget_every = 0  # forget after every tick, so the test sees the steady state at once
    ended, dashboard = Subscription(hub, "ended", "", 100_000), Subscription(hub, "dashboard", "", 100_000)
    pages = [ended, dashboard]
    hub.run_tick(set(), pages, pages)  # their snapshots: empty lists
    for batch in range(0, CONFERENCES, 100):
        events = []
        for number in range(batch, batch + 100):
            conference_id = f"conf-{number:05d}"
            events += [ev.conference_created(conference_id, f"v3:{number}", ev.at(number)),
                       ev.conference_ended(conference_id, ev.at(number + 30))]
        hub.run_tick(store.apply_many(events), [], pages)
    assert len(ended.shown) == ENDED_LIMIT  # the ended page lists the newest ones, as a reload would
    kept = {item for _, item in hub._last_html}
    assert len(hub._last_html) <= ENDED_LIMIT + 10, f"{len(hub._last_html)} drawings kept"
    assert {item for item in kept if item.startswith("ended__")} <= ended.shown
    hub.run_tick(set(), [], [dashboard])  # the ended page closed: its rows go too
    assert not any(item.startswith("ended__") for _, item in hub._last_html)
    hub.run_tick(set(), [], [])
    assert hub._last_html == {}
    hub.stop()


class Headers:
    """One conference header per conference, shown only on that conference's page; its text is settable."""

    def __init__(self):
        self.text = {"a": "Live"}
        self.piece = {}

    def accepts(self, watch):
        return watch.startswith("conference:")

    def atoms(self, keys):
        return [("header", key) for key in keys]

    def topics(self, atom):
        return {f"conference:{atom[1]}"}

    def render(self, atom):  # the same piece while the text is unchanged, as the catalogue's drawing cache does
        conference = atom[1]
        held = self.piece.get(conference)
        html = f'<h1 id="header-{conference}">{self.text[conference]}</h1>'
        if held is None or held.html != html:
            held = self.piece[conference] = Piece(f"header-{conference}", html)
        return held

    def snapshot(self, watch):
        conference = watch.partition(":")[2]
        return [f'<h1 id="header-{conference}" hx-swap-oob="true">{self.text[conference]}</h1>'], set()


def test_a_page_opened_after_its_item_changed_unseen_still_gets_the_change_back():
    catalogue = Headers()
    hub = Hub(Flask("memory-test"), catalogue)
    hub.forget_every = 0
    first = Subscription(hub, "conference:a", "", 10)
    hub.run_tick({"a"}, [], [first])  # "Live" pushed and remembered
    assert hub._last_html
    hub.run_tick(set(), [], [])  # the page closed: nothing can show the header, so it is forgotten
    assert not hub._last_html
    catalogue.text["a"] = "On hold"  # changed while nobody watched: not drawn
    second = Subscription(hub, "conference:a", "", 10)
    hub.run_tick(set(), [second], [second])
    assert "On hold" in "".join(second.next_frame(timeout=0))
    catalogue.text["a"] = "Live"  # and back: the same as the forgotten push, and yet news to this page
    hub.run_tick({"a"}, [], [second])
    assert "Live" in "".join(second.next_frame(timeout=0) or ["(nothing sent)"])


def test_a_drawing_the_catalogue_keeps_does_not_keep_the_ticks_fragments():
    catalogue = Headers()
    hub = Hub(Flask("memory-test"), catalogue)
    page = Subscription(hub, "conference:a", "", 10)
    hub.run_tick({"a"}, [], [page])
    assert "hx-swap-oob" in "".join(page.next_frame(timeout=0))
    assert not {"replacement", "addition", "deletion"} & set(vars(catalogue.piece["a"]))


def test_encoded_element_ids_are_remembered_up_to_a_bound():
    for _ in range(3 * ui.ENCODED_IDS_KEPT):
        identifier = str(uuid.uuid4())
        assert ui.dom_id("participant", identifier) == "participant__" + identifier
    assert ui._encode_text.cache_info().currsize <= ui.ENCODED_IDS_KEPT
    assert ui.dom_id("queue", "Sales & Support") == "queue__Sales_20_26_20Support"
