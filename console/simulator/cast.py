"""The people of the call-center scenario: callers and agents as the traffic follows them, and their names.

Kept apart from the traffic's behaviour so that who is in the scenario reads on one page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

AREA_CODES = ("206", "212", "303", "305", "312", "404", "415", "512", "617", "646", "702", "713")
FIRST_NAMES = (
    "Ana", "Ben", "Carla", "Diego", "Emma", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kira", "Liam",
    "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yara",
)
LAST_NAMES = (
    "Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber",
)
AGENT_DOMAIN = "agents.callcenter.example"
# The demo's fourteen agents (a test's small world names its own).
DEMO_AGENTS = (
    "Alice", "Bob", "Chen", "Dana", "Eli", "Farah", "Gita", "Hugo", "Ines", "Jomo", "Kai", "Lena", "Mira", "Noor",
)


@dataclass
class Caller:
    """A customer's call as the scenario follows it."""

    call_control_id: str
    number: str
    name: str
    queue: str
    arrived_at: float
    patience: float
    state: str = "arriving"  # arriving, waiting, ringing_agent, talking, gone


@dataclass
class Agent:
    """A named agent with the queues they serve and the call they are on."""

    name: str
    address: str
    queues: tuple[str, ...]
    free_at: float = 0.0
    state: str = "available"  # available, ringing, talking, wrap_up
    call_control_id: str | None = None
    caller: Caller | None = None
    conference_id: str | None = None
    speaker: str | None = None
    paused: set[str] = field(default_factory=set)  # "hold" (the caller) and "mute" (the agent)
    session: int = 0
