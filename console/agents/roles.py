"""Who a participant or call leg is: an Agent (and which), a Customer, or a Supervisor.

A leg is a Supervisor when it is a supervisor line the console dialled (the store's
``supervisor_lines()``), an Agent when the address of the person on it is in the agent directory,
and otherwise a Customer. The person on a leg is at its ``from`` when the call came in and at its
``to`` when it was dialled out, so a caller who rings an agent's own number is still a Customer;
when the direction is unknown, both ends are asked. Pages call this once per row, so it takes its
lookups as arguments: the live room passes memoised ones (one indexed query per address a request).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass

from console.agents.addresses import of_leg

AGENT, CUSTOMER, SUPERVISOR = "agent", "customer", "supervisor"
LABELS = {AGENT: "Agent", CUSTOMER: "Customer", SUPERVISOR: "Supervisor"}
# Where a leg's two ends are, in read-model rows (calls, participants) and in webhook payloads.
FROM_FIELDS = ("from_number", "from")
TO_FIELDS = ("to_number", "to")


@dataclass(frozen=True)
class LegRole:
    """What the console knows of the person on a leg: their kind, and the agent's name and team or the supervisor's."""

    kind: str
    name: str | None = None
    team: str | None = None

    @property
    def label(self) -> str:
        """"Agent", "Customer" or "Supervisor": the badge's word."""
        return LABELS[self.kind]

    @property
    def text(self) -> str:
        """The badge in full: "Agent · Alice", "Customer", "Supervisor · sam"."""
        return f"{self.label} · {self.name}" if self.name else self.label

    @property
    def title(self) -> str:
        """The longer words a badge's tooltip gives."""
        if self.kind == AGENT:
            return f"Agent {self.name}" + (f", team {self.team}" if self.team else "")
        if self.kind == SUPERVISOR:
            return "A supervisor line the console dialled" + (f" ({self.name})" if self.name else "")
        return "Not in the agent directory: a customer"

    @property
    def is_agent(self) -> bool:
        return self.kind == AGENT

    @property
    def is_customer(self) -> bool:
        return self.kind == CUSTOMER


def _first(leg: dict, fields: tuple[str, ...]):
    return next((leg[field] for field in fields if leg.get(field)), None)


def person_addresses(leg: dict) -> list[str]:
    """The normalised addresses where the person on this leg may be, most likely first."""
    direction = str(leg.get("direction") or "").lower()
    ends = [_first(leg, FROM_FIELDS), _first(leg, TO_FIELDS)]
    if direction in ("incoming", "inbound"):
        ends = ends[:1]
    elif direction in ("outgoing", "outbound"):
        ends = ends[1:]
    return [address for address in dict.fromkeys(of_leg(end) for end in ends) if address]


def role_of(leg: dict, supervisor_lines: Container[str] | dict[str, str],
            agent_at: Callable[[str], dict | None]) -> LegRole:
    """The role of one participant or leg row, given the supervisor lines and a directory lookup."""
    ccid = leg.get("call_control_id")
    if ccid and ccid in supervisor_lines:
        owner = supervisor_lines.get(ccid) if isinstance(supervisor_lines, dict) else None
        return LegRole(SUPERVISOR, owner)
    for address in person_addresses(leg):
        agent = agent_at(address)
        if agent is not None:
            return LegRole(AGENT, agent["name"], agent.get("team") or None)
    return LegRole(CUSTOMER)
