"""The agent board's day figures read from kept bucket sums equal the ones read from every answered leg.

Random legs are initiated in and out, answered, hung up and synced from REST (their ends, direction
and liveness changing), in a random order, some twice, near a midnight in a random time zone, with
agents whose addresses the legs write in other forms (spaces in numbers, SIP parameters and
capitals). The board is drawn half way and again at the end, and once more after the directory
changes; each time it must equal the board drawn from every leg answered that day.
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.agents.board import AgentCard, board_cards
from console.agents.directory import add_agent, put_agent
from console.state import agent_activity
from console.state.store import Store
from tests.event_factory import event, leg_ids

ZONES = ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata")
AGENTS = {"Alice": ["+15550000001"], "Bob": ["sip:bob@agents.example"]}
WRITTEN = ["+15550000001", "+1 (555) 000-0001", "sip:Bob@Agents.Example;transport=tls", "sip:bob@agents.example",
           "+13125550100", "+17735550123", "sip:carol@customers.example"]
LEGS = ("a", "b", "c", "d", "e", "f")
DIRECTIONS = ("incoming", "outgoing", None)


def the_same_cards(found: list[AgentCard], expected: list[AgentCard]) -> None:
    assert [card.name for card in found] == [card.name for card in expected]
    for mine, theirs in zip(found, expected):
        for item in fields(AgentCard):
            a, b = getattr(mine, item.name), getattr(theirs, item.name)
            if item.name == "handle_seconds":
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (mine.name, a, b)
            else:
                assert a == b, (mine.name, item.name, a, b)


_EVERY_LEG = agent_activity.answered_since


def every_leg(store, since, **_ignored):
    """The reference: every answered leg of the day, read and folded without kept sums."""
    return _EVERY_LEG(store, since)


def reference_cards(store, now, zone):
    with mock.patch.object(agent_activity, "answered_since", every_leg):
        return board_cards(store, now, timezone=zone)


def random_event(data, anchors):
    kind = data.draw(st.sampled_from(["call.initiated", "call.answered", "call.answered", "call.hangup",
                                      "call.hangup", "console.call.synced"]))
    ccid = data.draw(st.sampled_from(LEGS))
    moment = data.draw(st.sampled_from(anchors)) + timedelta(seconds=data.draw(st.integers(-1800, 1800)))
    ends = {"from": data.draw(st.sampled_from(WRITTEN)), "to": data.draw(st.sampled_from(WRITTEN))}
    direction = data.draw(st.sampled_from(DIRECTIONS))
    if kind == "call.initiated":
        return event(kind, moment, **leg_ids(ccid), **ends, state="parked",
                     **({"direction": direction} if direction else {}))
    if kind == "console.call.synced":
        return event(kind, moment, **leg_ids(ccid), **ends, is_alive=data.draw(st.booleans()),
                     **({"direction": direction} if direction else {}))
    return event(kind, moment, **leg_ids(ccid))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zone=st.sampled_from(ZONES))
def test_the_day_figures_equal_those_from_every_leg(data, zone):
    midnight = datetime(2026, 3, 3, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    now = midnight + timedelta(seconds=data.draw(st.integers(-3 * 3600, 3 * 3600)))
    anchors = [midnight, now, now - timedelta(hours=2), midnight + timedelta(minutes=15)]
    events = [random_event(data, anchors) for _ in range(data.draw(st.integers(1, 30)))]
    arrivals = list(data.draw(st.permutations(events))) + data.draw(st.lists(st.sampled_from(events), max_size=3))
    store = Store(":memory:")
    store.migrate()
    try:
        for name, addresses in AGENTS.items():
            add_agent(store, name, "Floor", addresses)
        half = len(arrivals) // 2
        for index, item in enumerate(arrivals):
            if index == half:
                the_same_cards(board_cards(store, now, timezone=zone), reference_cards(store, now, zone))
            store.apply(item)
        the_same_cards(board_cards(store, now, timezone=zone), reference_cards(store, now, zone))
        put_agent(store, "Carol", "Floor", ["sip:carol@customers.example"])
        the_same_cards(board_cards(store, now, timezone=zone), reference_cards(store, now, zone))
    finally:
        store.close()


def test_a_day_of_customer_legs_is_read_once_and_kept():
    """Whole buckets are read once: the second board reads only what may have changed, the tail of the day."""
    store = Store(":memory:")
    store.migrate()
    try:
        add_agent(store, "Alice", "Floor", ["+15550000001"])
        now = datetime(2026, 3, 2, 20, tzinfo=UTC)
        legs = []
        for index in range(40):
            begin = now - timedelta(hours=10) + timedelta(minutes=index * 15)
            customer, agent = f"c{index}", f"a{index}"
            legs += [event("call.initiated", begin, **leg_ids(customer), direction="incoming",
                           **{"from": f"+1773555{index:04d}", "to": "+13125550100"}),
                     event("call.answered", begin, **leg_ids(customer)),
                     event("call.hangup", begin + timedelta(minutes=5), **leg_ids(customer)),
                     event("call.initiated", begin, **leg_ids(agent), direction="outgoing",
                           **{"from": "+13125550100", "to": "+15550000001"}),
                     event("call.answered", begin + timedelta(seconds=3), **leg_ids(agent)),
                     event("call.hangup", begin + timedelta(minutes=5), **leg_ids(agent))]
        store.apply_many(legs)
        first = board_cards(store, now)
        statements: list[str] = []
        connection = store._db().conn
        connection.set_trace_callback(statements.append)
        again = board_cards(store, now)
        connection.set_trace_callback(None)
        assert first == again and again[0].handled == 40
        reads = [sql for sql in statements if "FROM calls" in sql and "GROUP BY direction" in sql]
        # Midnight starts a bucket: only the day's tail after the last whole bucket, not its 40 whole buckets.
        assert len(reads) == 1 and "'9999-12-31" in reads[0], reads
    finally:
        store.close()
