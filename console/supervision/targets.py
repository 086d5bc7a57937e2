"""Whom a supervisor may whisper to: who each participant is, and which one is the call's agent."""

from __future__ import annotations

from console.agents.roles import LegRole, role_of
from console.state import agents as agent_rows
from console.state.store import get_store


def roles_of(participants: list[dict]) -> dict[str, LegRole]:
    """Who each participant is (Agent, Customer or Supervisor), keyed by call_control_id."""
    store = get_store()
    lines = store.supervisor_lines()
    found: dict[str, dict | None] = {}

    def agent_at(address: str) -> dict | None:
        if address not in found:
            found[address] = agent_rows.agent_at(store, address)
        return found[address]

    return {p["call_control_id"]: role_of(p, lines, agent_at) for p in participants}


def the_agent(candidates: list[dict]) -> list[str]:
    """The whisper's preselected target: the call's agent (one on the line, not on hold, if several)."""
    agents = [p for p in candidates if p["leg_role"].is_agent]
    talking = [p for p in agents if not p.get("on_hold")]
    chosen = (talking or agents)[:1]
    return [p["call_control_id"] for p in chosen]
