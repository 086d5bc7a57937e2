"""The agent board's states from hand-built events on a fixed clock, the day's figures, and the queries' plans."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console import create_app
from console.agents import directory
from console.agents.board import (
    AWAY,
    IDLE,
    MUTED,
    ON_CALL,
    ON_HOLD,
    RINGING,
    TALKING,
    WRAP_UP,
    board_cards,
    summary,
)
from console.live import agent_board as live_board
from console.live.ui import dom_id
from console.state import agent_activity
from console.telnyx.events import console_event
from tests.event_factory import (
    at,
    call_answered,
    call_hangup,
    call_initiated,
    conference_created,
    dequeued,
    enqueued,
    joined,
)

ALICE, BOB, CHEN = ("sip:alice@agents.callcenter.example", "sip:bob@agents.callcenter.example",
                    "sip:chen@agents.callcenter.example")
LINE = "+18885550110"


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "board.db"), "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
                      "TELNYX_API_KEY": "unused"})
    store = app.extensions["console.store"]
    directory.add_agent(store, "Alice", "Support", [ALICE])
    directory.add_agent(store, "Bob", "Sales", [BOB])
    directory.add_agent(store, "Chen", "Support", [CHEN])
    yield app
    app.extensions["console.hub"].stop()


@pytest.fixture
def store(app):
    return app.extensions["console.store"]


def dial(agent_leg: str, address: str, seconds: float):
    return call_initiated(agent_leg, at(seconds), direction="outgoing", from_=LINE, to=address,
                          caller_id_name="Support: Carol", state="bridging")


def customer_on_call(store, customer: str, agent_leg: str, address: str, start: float, conference: str) -> None:
    """A customer queues in Support, the agent is dialled, answers and joins the conference made around them."""
    store.apply_many([
        call_initiated(customer, at(start), from_="+15550001111", to=LINE, caller_id_name="Carol Jones"),
        call_answered(customer, at(start + 1)),
        enqueued("Support", customer, at(start + 2)),
        dial(agent_leg, address, start + 3),
        call_answered(agent_leg, at(start + 10)),
        dequeued("Support", customer, at(start + 10)),
        conference_created(conference, customer, at(start + 10)),
        joined(conference, customer, at(start + 10)),
        joined(conference, agent_leg, at(start + 11), label="Alice"),
    ])


def cards_at(store, seconds: float, wrap_up: int = 30) -> dict:
    return {card.name: card for card in board_cards(store, at(seconds), wrap_up=wrap_up)}


def test_an_agent_rings_then_talks_then_is_muted_and_held(store):
    store.apply_many([dial("a1", ALICE, 100)])
    alice = cards_at(store, 105)["Alice"]
    assert (alice.state, alice.since, alice.conference_id) == (RINGING, at(100), None)

    store.apply(call_answered("a1", at(106)))
    alice = cards_at(store, 107)["Alice"]
    assert (alice.state, alice.detail, alice.conference_id, alice.on_call) == (ON_CALL, None, None, False)

    customer_on_call(store, "c1", "a1", ALICE, 97, "conf-1")
    alice = cards_at(store, 120)["Alice"]
    assert (alice.state, alice.detail, alice.since) == (ON_CALL, TALKING, at(108))
    assert (alice.conference_id, alice.call_control_id, alice.with_whom, alice.queue) == (
        "conf-1", "a1", ["Carol Jones"], "Support")
    assert alice.on_call

    store.apply(console_event("console.participant.updated", {"conference_id": "conf-1", "call_control_id": "a1",
                                                              "muted": True}))
    assert cards_at(store, 125)["Alice"].detail == MUTED
    store.apply(console_event("console.participant.updated", {"conference_id": "conf-1", "call_control_id": "a1",
                                                              "on_hold": True}))
    assert cards_at(store, 126)["Alice"].detail == ON_HOLD


def test_after_a_call_wrap_up_then_idle_and_the_days_figures(store):
    customer_on_call(store, "c1", "a1", ALICE, 0, "conf-1")  # answered at 10
    store.apply_many([call_hangup("a1", at(70)), call_hangup("c1", at(70))])
    customer_on_call(store, "c2", "a2", ALICE, 200, "conf-2")  # answered at 210
    store.apply_many([call_hangup("a2", at(300)), call_hangup("c2", at(300))])

    alice = cards_at(store, 310, wrap_up=30)["Alice"]
    assert (alice.state, alice.since) == (WRAP_UP, at(300))
    assert alice.handled == 2
    assert alice.average_handle_seconds == pytest.approx((60 + 90) / 2)
    alice = cards_at(store, 330, wrap_up=30)["Alice"]
    assert (alice.state, alice.since) == (IDLE, at(330))
    assert cards_at(store, 310, wrap_up=5)["Alice"].state == IDLE
    # The customers' legs count for nobody: Bob and Chen took no call.
    others = cards_at(store, 310)
    assert (others["Bob"].state, others["Bob"].handled, others["Bob"].average_handle_seconds) == (AWAY, 0, None)
    assert summary(list(others.values())) == {RINGING: 0, ON_CALL: 0, WRAP_UP: 1, IDLE: 0, AWAY: 2}


def test_yesterdays_calls_leave_an_agent_not_seen_today(store):
    customer_on_call(store, "c1", "a1", ALICE, 0, "conf-1")
    store.apply_many([call_hangup("a1", at(70))])
    tomorrow = at(0) + timedelta(days=1)
    alice = next(card for card in board_cards(store, tomorrow) if card.name == "Alice")
    assert (alice.state, alice.handled, alice.since) == (AWAY, 0, None)
    # 05:30 UTC the next day is 21:30 the day of the call in Los Angeles: today there, yesterday in UTC.
    next_morning = at(0) + timedelta(hours=20)
    assert next(c for c in board_cards(store, next_morning) if c.name == "Alice").handled == 0
    in_los_angeles = next(c for c in board_cards(store, next_morning, timezone="America/Los_Angeles")
                          if c.name == "Alice")
    assert (in_los_angeles.state, in_los_angeles.handled) == (IDLE, 1)


def test_the_boards_queries_use_indexes(store):
    with store._reading() as db:
        def plan(sql, params=()):
            return " | ".join(row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql, params))

        live = plan(agent_activity.LIVE_LEGS)
        assert "USING INDEX" in live and "SCAN k" not in live and "SCAN calls" not in live, live
        present = plan(agent_activity.PRESENT.format(marks="?,?"), ["a", "b"])
        assert "SCAN p" not in present and "SCAN participants" not in present, present
        day = plan(agent_activity.ANSWERED_SINCE, ["2026-01-01T00:00:00.000000Z"])
        assert "USING INDEX" in day and "SCAN calls" not in day, day


def test_a_push_carries_the_counts_and_only_the_cards_that_changed(app, store):
    catalogue = app.extensions["console.hub"].catalogue
    with app.test_request_context("/"):
        assert catalogue.accepts("agents")
        assert ("agent_board",) in catalogue.atoms({"call:a1"})
        assert ("agent_board",) not in catalogue.atoms({"queue:Support"})
        assert catalogue.topics(("agent_board",)) == {"agents"}
        snapshot = catalogue.snapshot("agents")[0][0]
        assert 'id="agent-board"' in snapshot and snapshot.count('class="agent-card"') == 3
        first = catalogue.render(("agent_board",)).html
        assert first.count('class="agent-card"') == 3 and 'id="agent-counts"' in first
        store.apply_many([dial("a1", ALICE, 0)])
        second = catalogue.render(("agent_board",)).html
        assert second.count('class="agent-card"') == 1
        assert f'id="{dom_id("agent-card", "Alice")}"' in second and 'data-state="ringing"' in second
        assert second.count('hx-swap-oob="true"') == 2
        third = catalogue.render(("agent_board",)).html
        assert 'class="agent-card"' not in third and 'id="agent-counts"' in third
        assert live_board.WATCH == "agents"
