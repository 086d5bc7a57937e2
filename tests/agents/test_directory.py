"""The agent directory's rules: addresses written one way, clear refusals, and a refused change stores nothing."""

from __future__ import annotations

import pytest

from console.agents import addresses, directory
from console.agents.directory import AgentError
from console.state import agents as rows
from console.state.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "agents.db"))
    store.migrate()
    yield store
    store.close()


@pytest.mark.parametrize(("written", "stored"), [
    ("+13125550123", "+13125550123"),
    (" +1 (312) 555-0123 ", "+13125550123"),
    ("tel:+44.20.7946.0958", "+442079460958"),
    ("sip:Alice@Agents.CallCenter.example", "sip:alice@agents.callcenter.example"),
    ("SIP:alice@agents.callcenter.example;transport=tls?X-Team=sales", "sip:alice@agents.callcenter.example"),
    ("<sips:bob@pbx.example:5061>", "sip:bob@pbx.example:5061"),
])
def test_an_address_is_written_one_way(written, stored):
    assert addresses.normalise(written) == stored


@pytest.mark.parametrize(("written", "words"), [
    ("", "empty"),
    ("3125550123", "not an E.164 number"),
    ("+0123456", "not an E.164 number"),
    ("+1234567890123456", "not an E.164 number"),
    ("sip:alice", "not a SIP URI"),
    ("sip:@host.example", "not a SIP URI"),
    ("alice@example.com", "neither an E.164 number"),
    ("http://example.com", "neither an E.164 number"),
])
def test_a_bad_address_is_refused_in_words_that_say_what_to_write(written, words):
    with pytest.raises(addresses.AddressError, match=words):
        addresses.normalise(written)


def test_a_leg_end_that_is_no_address_is_nothing_rather_than_an_error():
    assert addresses.of_leg("anonymous") is None and addresses.of_leg(None) is None and addresses.of_leg(7) is None
    assert addresses.of_leg("+1 312 555 0123") == "+13125550123"


def test_an_agent_is_added_with_addresses_normalised_and_found_by_any_of_them(store):
    agent = directory.add_agent(store, "  Alice  Smith ", "Sales", "sip:Alice@PBX.example; +1 312 555 0123|+13125550123")
    assert agent["name"] == "Alice Smith" and agent["team"] == "Sales"
    assert agent["addresses"] == ["+13125550123", "sip:alice@pbx.example"]
    assert rows.agent_at(store, "sip:alice@pbx.example") == {"name": "Alice Smith", "team": "Sales"}
    assert rows.agent_at(store, "+13125550123") == {"name": "Alice Smith", "team": "Sales"}
    assert rows.agent_at(store, "+13125550199") is None


def test_the_address_lookup_uses_the_index(store):
    plan = store._rows("EXPLAIN QUERY PLAN SELECT a.name FROM agent_addresses x JOIN agents a ON a.id = x.agent_id"
                       " WHERE x.address = ?", ["+13125550123"])
    details = " ".join(row["detail"] for row in plan)
    assert "SCAN" not in details, details


@pytest.mark.parametrize(("name", "team", "found", "words"), [
    ("", "Sales", "+13125550123", "needs a name"),
    ("   ", "Sales", "+13125550123", "needs a name"),
    ("Bob", "Sales", "", "needs at least one address"),
    ("Bob", "Sales", "+13125550123; extension 12", "Bob: “extension 12” is neither"),
    ("B" * 81, "Sales", "+13125550123", "at most 80"),
])
def test_a_bad_agent_is_refused_and_nothing_is_stored(store, name, team, found, words):
    with pytest.raises(AgentError, match=words):
        directory.add_agent(store, name, team, found)
    assert rows.agents(store) == []


def test_an_address_belongs_to_one_agent_only(store):
    directory.add_agent(store, "Alice", "Sales", ["sip:alice@pbx.example"])
    with pytest.raises(AgentError, match="sip:alice@pbx.example already belongs to Alice"):
        directory.add_agent(store, "Bob", "Sales", ["+13125550124", "SIP:ALICE@pbx.example"])
    assert [agent["name"] for agent in rows.agents(store)] == ["Alice"]
    assert rows.agent_at(store, "+13125550124") is None


def test_a_name_is_unique_whatever_its_case(store):
    directory.add_agent(store, "Alice", "Sales", ["+13125550123"])
    with pytest.raises(AgentError, match="already an agent called Alice"):
        directory.add_agent(store, "alice", "Support", ["+13125550124"])


def test_editing_renames_and_replaces_addresses_and_refuses_anothers_name(store):
    directory.add_agent(store, "Alice", "Sales", ["+13125550123"])
    directory.add_agent(store, "Bob", "Sales", ["+13125550124"])
    saved = directory.edit_agent(store, "alice", "Alicia", "Support", "sip:alicia@pbx.example")
    assert saved.outcome == "updated"
    assert rows.agent(store, "Alicia")["addresses"] == ["sip:alicia@pbx.example"]
    assert rows.agent_at(store, "+13125550123") is None and rows.agent(store, "Alice") is None
    with pytest.raises(AgentError, match="already an agent called Bob"):
        directory.edit_agent(store, "Alicia", "BOB", "Support", "sip:alicia@pbx.example")
    with pytest.raises(AgentError, match="no agent called Zed"):
        directory.edit_agent(store, "Zed", "Zed", "", "+13125550199")
    assert directory.edit_agent(store, "Alicia", "Alicia", "Support", ["sip:alicia@pbx.example"]).outcome == "unchanged"


def test_removing_an_agent_frees_their_addresses(store):
    directory.add_agent(store, "Alice", "Sales", ["+13125550123"])
    directory.remove_agent(store, "ALICE")
    assert rows.agents(store) == [] and rows.agent_at(store, "+13125550123") is None
    with pytest.raises(AgentError, match="no agent called Alice"):
        directory.remove_agent(store, "Alice")
    directory.add_agent(store, "Bob", "", ["+13125550123"])
    assert rows.agent_at(store, "+13125550123") == {"name": "Bob", "team": ""}
