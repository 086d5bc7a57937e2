"""The performance rules hold: one render per changed atom per tick whatever the audience, no repeats, caps."""

from __future__ import annotations

from datetime import UTC, datetime

from console.bench.pages import build_large_state
from console.bench.traffic import Traffic
from console.live.pieces import Piece, Window, fragment_for
from console.live.screens import DASHBOARD_CONFERENCE_LIMIT, queued_call_views
from console.live.subscription import Subscription
from console.live.ui import CLOCK
from console.telnyx.events import parse_event
from console.web.app import create_app


def _app(tmp_path):
    return create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "perf-tests"})


def _opened(app, seed: int) -> set[str]:
    """Apply a one-conference, one-queue call center's opening to the store; the keys it changed."""
    store = app.extensions["console.store"]
    keys: set[str] = set()
    for body, _ in Traffic(conferences=1, queues=1, seed=seed).opening():
        keys |= store.apply(parse_event(body))
    return keys


def _renders_for(app, subscriber_count: int, keys: set[str]) -> int:
    hub = app.extensions["console.hub"]
    watches = ["dashboard", "conference:bench-conf-0000-0", "conference:bench-conf-0001-0", "queue:bench-queue-000"]
    subscribers = [Subscription(hub, watches[i % len(watches)], "", 10_000) for i in range(subscriber_count)]
    hub._last_html.clear()
    before = hub.stats.renders
    hub.run_tick(keys, [], subscribers)
    return hub.stats.renders - before, subscribers


def test_each_changed_atom_renders_once_per_tick_whatever_the_number_of_subscribers(tmp_path):
    app = _app(tmp_path)
    store = app.extensions["console.store"]
    traffic = Traffic(conferences=2, queues=1, seed=11)
    store.apply_many([parse_event(body) for body, _ in traffic.opening()])
    keys: set[str] = set()
    for body, _ in traffic.events(60):
        keys |= store.apply(parse_event(body))
    few, _ = _renders_for(app, 4, keys)
    many, subscribers = _renders_for(app, 60, keys)
    assert few > 0
    assert many == few
    dashboards = [s for s in subscribers if s.watch == "dashboard"]
    frames = [s.next_frame(timeout=0) for s in dashboards]
    assert all(frame == frames[0] for frame in frames) and frames[0]
    app.extensions["console.hub"].stop()


def test_a_render_that_comes_out_the_same_is_not_sent_again(tmp_path):
    app = _app(tmp_path)
    keys = _opened(app, seed=5)
    instant = datetime.now(UTC)
    app.extensions[CLOCK] = lambda: instant  # both ticks draw the longest-wait timer as of the same second
    hub = app.extensions["console.hub"]
    subscription = Subscription(hub, "dashboard", "", 100)
    hub.run_tick(keys, [], [subscription])
    assert subscription.next_frame(timeout=0)
    hub.run_tick(keys, [], [subscription])
    assert subscription.next_frame(timeout=0) is None
    hub.stop()


def test_a_capped_list_takes_new_items_only_through_its_window():
    shown = {f"conference__c{i}" for i in range(3)} | {"queue__q"}
    piece = Piece("conference__new", "<tr id='conference__new'></tr>", "conference-rows", "afterbegin", "tbody",
                  limit=3)
    assert fragment_for(piece, shown) == ""
    assert "conference__new" not in shown
    replaced = Piece("conference__c1", "<tr id='conference__c1'></tr>", "conference-rows", "afterbegin", "tbody",
                     limit=3)
    assert "conference__c1" in fragment_for(replaced, shown)
    window = Window("conference__", "conference-rows", "tbody", ("conference__new", "conference__c0", "conference__c1"),
                    (("conference__new", "<tr id='conference__new'></tr>"),))
    fragment = fragment_for(Piece("conference-list", None, window=window), shown)
    assert 'hx-swap-oob="delete:#conference__c2"' in fragment and "afterbegin:#conference-rows" in fragment
    assert shown == {"conference__new", "conference__c0", "conference__c1", "queue__q"}


def test_the_dashboard_lists_at_most_the_limit_and_says_how_many_it_leaves_out(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "perf-tests",
                      "CONSOLE_TRUSTED_HEADER_AUTH": True, "CONSOLE_TRUSTED_PROXIES": "127.0.0.1"})
    store = app.extensions["console.store"]
    build_large_state(store, DASHBOARD_CONFERENCE_LIMIT + 20, 1, 1, 2)
    client = app.test_client()
    reader = {"X-Forwarded-User": "viewer"}
    html = client.get("/", headers=reader).get_data(as_text=True)
    assert html.count('class="conference-row') == DASHBOARD_CONFERENCE_LIMIT
    assert 'id="conference-more"' in html and f"{DASHBOARD_CONFERENCE_LIMIT + 20} live conferences" in html
    found = client.get("/?q=large-conf-007", headers=reader).get_data(as_text=True)
    assert found.count('class="conference-row') == 10  # 0070 to 0079
    assert "large-conf-0079" in found and "large-conf-0119" not in found
    app.extensions["console.hub"].stop()


def test_queued_calls_read_their_call_states_in_one_query(tmp_path):
    app = _app(tmp_path)
    store = app.extensions["console.store"]
    build_large_state(store, 0, 0, 1, 30)
    calls = store.queue_calls("large-queue-000")
    store.call = None  # a per-row lookup would now fail
    views = queued_call_views(store, calls)
    assert len(views) == 30 and all(view["alive"] for view in views)
    app.extensions["console.hub"].stop()


def test_pages_under_another_url_prefix_still_get_a_change_that_renders_the_same(tmp_path):
    app = _app(tmp_path)
    keys = _opened(app, seed=2)
    hub = app.extensions["console.hub"]
    plain, prefixed = Subscription(hub, "dashboard", "", 100), Subscription(hub, "dashboard", "/console", 100)
    hub.run_tick(keys, [], [plain, prefixed])
    first, second = plain.next_frame(timeout=0), prefixed.next_frame(timeout=0)
    assert first and second
    assert any('id="kpi__conferences"' in message for message in second)
    assert any('href="/console/conferences/' in message for message in second)
    hub.stop()


def test_an_atom_whose_data_did_not_change_is_not_drawn_again(tmp_path, monkeypatch):
    app = _app(tmp_path)
    store = app.extensions["console.store"]
    traffic = Traffic(conferences=1, queues=1, seed=5)
    store.apply_many([parse_event(body) for body, _ in traffic.opening()])
    catalogue = app.extensions["console.hub"].catalogue.pages
    conference_id = store.live_conferences()[0]["id"]
    drawn = []
    real = type(catalogue)._render_conference_row

    def counting(self, conference):
        drawn.append(conference)
        return real(self, conference)

    monkeypatch.setattr(type(catalogue), "_render_conference_row", counting)
    with app.test_request_context("/"):
        catalogue.atoms({f"conference:{conference_id}"})
        first = catalogue.render(("conference_row", conference_id))
        catalogue.atoms({f"conference:{conference_id}"})  # a new tick: nothing about the conference changed
        again = catalogue.render(("conference_row", conference_id))
        assert again is first and len(drawn) == 1
        store.apply(parse_event({"data": {"record_type": "event", "event_type": "conference.floor.changed",
                                          "id": "floor-moves", "payload": {
                                              "conference_id": conference_id, "call_control_id": "v3:someone-new",
                                              "occurred_at": "2099-01-01T00:00:00.000000Z"}}}))
        catalogue.atoms({f"conference:{conference_id}"})
        changed = catalogue.render(("conference_row", conference_id))
        assert changed is not first and len(drawn) == 2
    app.extensions["console.hub"].stop()
