"""Who a leg is: a Supervisor line the console dialled, an Agent in the directory, or else a Customer."""

from __future__ import annotations

import pytest

from console import create_app
from console.agents import directory
from console.agents.roles import (
    AGENT,
    CUSTOMER,
    SUPERVISOR,
    LegRole,
    person_addresses,
    role_of,
)
from console.live import screens
from console.live.screens import leg_role, participant_views
from console.telnyx.events import console_event
from tests.event_factory import at, call_initiated, conference_created, joined

DIRECTORY = {"sip:alice@agents.callcenter.example": {"name": "Alice", "team": "Support"},
             "+13125550101": {"name": "Bob", "team": "Sales"}}


def look_up(address):
    return DIRECTORY.get(address)


@pytest.mark.parametrize(("leg", "expected"), [
    # The simulator dials an agent's SIP address (outgoing): the person is at `to`.
    ({"direction": "outgoing", "from_number": "+18885550110", "to_number": "sip:Alice@agents.callcenter.example"},
     LegRole(AGENT, "Alice", "Support")),
    # An agent calling in from their desk phone: the person is at `from`.
    ({"direction": "incoming", "from_number": "+1 312 555 0101", "to_number": "+18885550110"},
     LegRole(AGENT, "Bob", "Sales")),
    # A caller ringing an agent's own number is still a customer: the agent's address is the far end.
    ({"direction": "incoming", "from_number": "+15550001111", "to_number": "+13125550101"}, LegRole(CUSTOMER)),
    # A webhook payload's `from`/`to`, direction unknown: either end may be the person.
    ({"from": "+15550001111", "to": "sip:alice@agents.callcenter.example;transport=tls"},
     LegRole(AGENT, "Alice", "Support")),
    ({"from_number": "anonymous", "to_number": None}, LegRole(CUSTOMER)),
    ({}, LegRole(CUSTOMER)),
])
def test_an_agent_is_whoever_the_directory_knows_at_the_persons_end_of_the_leg(leg, expected):
    assert role_of({"call_control_id": "leg-1", **leg}, {}, look_up) == expected


def test_a_supervisor_line_is_a_supervisor_even_at_an_agents_address():
    leg = {"call_control_id": "line-1", "direction": "outgoing", "to_number": "+13125550101"}
    role = role_of(leg, {"line-1": "sam"}, look_up)
    assert role == LegRole(SUPERVISOR, "sam") and role.text == "Supervisor · sam"
    assert role_of(leg, frozenset({"line-1"}), look_up) == LegRole(SUPERVISOR)


def test_the_badge_words():
    assert LegRole(AGENT, "Alice", "Support").text == "Agent · Alice"
    assert LegRole(AGENT, "Alice", "Support").title == "Agent Alice, team Support"
    assert LegRole(CUSTOMER).text == "Customer" and LegRole(CUSTOMER).label == "Customer"
    assert person_addresses({"direction": "incoming", "from": "+1 555 000 1111", "to": "+18885550110"}) == ["+15550001111"]


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "roles.db"), "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
                      "TELNYX_API_KEY": "unused"})
    yield app
    app.extensions["console.hub"].stop()


def a_conference_of_three(store) -> str:
    """A customer's call, the agent Alice dialled for it, and the supervisor sam's line, all in one conference."""
    store.apply_many([
        call_initiated("customer", at(0), from_="+15550001111", to="+18885550110"),
        call_initiated("agent", at(1), direction="outgoing", from_="+18885550110",
                       to="sip:alice@agents.callcenter.example"),
        call_initiated("line", at(2), direction="outgoing", from_="+13125550100", to="+13125550177"),
        console_event("console.supervisor.updated", {"username": "sam", "line_call_control_id": "line",
                                                     "phone": "+13125550177"}),
        conference_created("conf-1", "customer", at(3)),
        joined("conf-1", "customer", at(3)), joined("conf-1", "agent", at(4)),
        joined("conf-1", "line", at(5), supervisor_role="monitor"),
    ])
    return "conf-1"


def test_participants_are_labelled_and_each_address_is_looked_up_once_a_request(app, monkeypatch):
    store = app.extensions["console.store"]
    directory.add_agent(store, "Alice", "Support", ["sip:alice@agents.callcenter.example"])
    # The supervisor's own phone is in the directory too: their line is still labelled Supervisor.
    directory.add_agent(store, "Sam at the desk", "Floor", ["+13125550177"])
    conference_id = a_conference_of_three(store)
    lookups = []
    real = screens.agent_rows.agent_at
    monkeypatch.setattr(screens.agent_rows, "agent_at", lambda s, address: lookups.append(address) or real(s, address))
    with app.test_request_context("/"):
        views = participant_views(store.participants(conference_id))
        roles = {view["call_control_id"]: view["leg_role"] for view in views}
        assert roles == {"customer": LegRole(CUSTOMER), "agent": LegRole(AGENT, "Alice", "Support"),
                         "line": LegRole(SUPERVISOR, "sam")}
        again = [leg_role(participant) for participant in store.participants(conference_id)]
        assert [role.kind for role in again] == [CUSTOMER, AGENT, SUPERVISOR]
    assert sorted(lookups) == ["+15550001111", "sip:alice@agents.callcenter.example"]
    with app.test_request_context("/"):  # a new request asks again: the directory may have changed
        directory.remove_agent(store, "Alice")
        assert leg_role(store.participants(conference_id)[1]) == LegRole(CUSTOMER)


def test_a_badge_beside_the_same_name_says_only_the_role():
    from console.web.views.agents import names_alike, role_badge

    alice = LegRole(AGENT, "Alice", "Support")
    assert ">Agent</span>" in role_badge({"leg_role": alice, "display_name": "alice "})
    assert ">Agent · Alice</span>" in role_badge({"leg_role": alice, "display_name": "+13125550101"})
    assert ">Agent</span>" in role_badge(alice, "Alice") and ">Agent · Alice</span>" in role_badge(alice)
    assert 'title="Agent Alice, team Support"' in role_badge(alice, "Alice")  # the tooltip keeps the name
    assert names_alike("Mary  Ann", "mary ann") and not names_alike(None, "Alice") and not names_alike("Al", None)
