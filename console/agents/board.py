"""The agent board: each agent's state now, derived from the read model, and the day's calls handled.

An agent is **ringing** while a leg to or from one of their addresses is up and not yet answered,
**on a call** once such a leg is answered (with whom, from which queue, since when, and whether
they are talking, muted or on hold in the conference), in **wrap-up** for CONSOLE_WRAP_UP_SECONDS
after their last answered call hung up, then **idle** since that wrap-up ended. An agent with no
call answered since midnight (in CONSOLE_TIMEZONE) and none up now is **not seen today**.
Everything comes from three queries for all agents (console/state/agent_activity.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from console.agents.roles import role_of
from console.state import agent_activity
from console.state import agents as agent_rows
from console.telnyx.events import parse_timestamp

RINGING, ON_CALL, WRAP_UP, IDLE, AWAY = "ringing", "on_call", "wrap_up", "idle", "away"
STATES = (RINGING, ON_CALL, WRAP_UP, IDLE, AWAY)
STATE_LABELS = {RINGING: "Ringing", ON_CALL: "On a call", WRAP_UP: "Wrap-up", IDLE: "Idle", AWAY: "Not seen today"}
TALKING, MUTED, ON_HOLD = "talking", "muted", "on hold"
DEFAULT_WRAP_UP_SECONDS = 30
HANDLE_TIME_FORMULA = ("Calls handled: the agent's calls answered since midnight and since hung up. "
                       "Average handle time: their answer-to-hang-up time divided by those calls.")


@dataclass
class AgentCard:
    """One agent on the board: who, their state and since when, the call they are on, today's figures."""

    name: str
    team: str
    state: str = AWAY
    since: datetime | None = None
    detail: str | None = None
    conference_id: str | None = None
    conference_name: str | None = None
    call_control_id: str | None = None
    with_whom: list[str] = field(default_factory=list)
    queue: str | None = None
    handled: int = 0
    handle_seconds: float = 0.0
    last_ended_at: datetime | None = None

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def average_handle_seconds(self) -> float | None:
        return self.handle_seconds / self.handled if self.handled else None

    @property
    def on_call(self) -> bool:
        return self.state == ON_CALL and self.conference_id is not None


def day_start(now: datetime, timezone: str = "UTC") -> datetime:
    """Midnight of `now`'s day in the time zone, as UTC."""
    local = now.astimezone(ZoneInfo(timezone))
    return datetime(local.year, local.month, local.day, tzinfo=local.tzinfo).astimezone(UTC)


def wrap_up_seconds(config: Mapping) -> int:
    value = config.get("CONSOLE_WRAP_UP_SECONDS")
    return DEFAULT_WRAP_UP_SECONDS if value is None else int(value)


class _Owners:
    """Whose a leg is: the directory's addresses in one dict, and the supervisor lines left out."""

    def __init__(self, agents: list[dict], supervisor_lines):
        self.by_address = {address: agent for agent in agents for address in agent["addresses"]}
        self.lines = supervisor_lines
        # All `of` depends on for a leg without a call control id (the day's folded legs): kept sums key on it.
        self.key = tuple(sorted((address, agent["name"]) for address, agent in self.by_address.items()))

    def of(self, leg: dict) -> str | None:
        """The name of the agent on this leg, or None (a customer, a supervisor line)."""
        role = role_of(leg, self.lines, self.by_address.get)
        return role.name if role.is_agent else None


def _moment(value) -> datetime | None:
    return parse_timestamp(value) if value else None


def _detail(leg: dict) -> str:
    if leg.get("on_hold"):
        return ON_HOLD
    if leg.get("muted"):
        return MUTED
    return TALKING


def _live_state(card: AgentCard, leg: dict, present: dict[str, list[dict]], owners: _Owners) -> None:
    """Put one live leg of the agent on their card; an answered leg outranks a ringing one."""
    answered = leg.get("state") == "answered"
    if card.state == ON_CALL or (card.state == RINGING and not answered):
        return
    if not answered:
        card.state, card.since = RINGING, _moment(leg.get("start_time"))
        card.call_control_id = leg["call_control_id"]
        return
    card.state, card.call_control_id = ON_CALL, leg["call_control_id"]
    card.since = _moment(leg.get("joined_at")) or _moment(leg.get("answered_at"))
    conference_id = leg.get("conference_id")
    if conference_id is None:  # answered, not (yet) in a conference: nobody to talk to, nothing to supervise
        return
    card.conference_id, card.detail = conference_id, _detail(leg)
    for person in present.get(conference_id, []):
        card.conference_name = card.conference_name or person.get("conference_name")
        if person["call_control_id"] == leg["call_control_id"]:
            continue
        if person.get("supervisor_role") not in (None, "none") or owners.of(person) is not None:
            continue
        card.with_whom.append(person["display_name"] or person["call_control_id"])
        card.queue = card.queue or person.get("queue_name")


def board_cards(store, now: datetime, *, timezone: str = "UTC", wrap_up: int = DEFAULT_WRAP_UP_SECONDS) -> list[AgentCard]:
    """Every agent in the directory as the board shows them at `now`, by name."""
    directory = agent_rows.agents(store)
    owners = _Owners(directory, store.supervisor_lines())
    cards = {agent["name"]: AgentCard(agent["name"], agent["team"] or "") for agent in directory}
    legs = agent_activity.live_legs(store)
    mine = [(owner, leg) for leg in legs if (owner := owners.of(leg)) is not None]
    present = agent_activity.present_in(store, {leg["conference_id"] for _, leg in mine if leg.get("conference_id")})
    for name, leg in mine:
        _live_state(cards[name], leg, present, owners)
    for folded in agent_activity.answered_since(store, day_start(now, timezone), keep=owners.of, key=owners.key,
                                                now=now):
        owner = owners.of(folded)
        if owner is None:
            continue
        card = cards[owner]
        card.handled += folded["calls"]
        card.handle_seconds += folded["handle_seconds"] or 0.0
        ended = _moment(folded["last_ended_at"])
        if ended and (card.last_ended_at is None or ended > card.last_ended_at):
            card.last_ended_at = ended
    for card in cards.values():
        if card.state in (RINGING, ON_CALL) or card.last_ended_at is None:
            continue
        wrap_until = card.last_ended_at + timedelta(seconds=wrap_up)
        card.state, card.since = (WRAP_UP, card.last_ended_at) if now < wrap_until else (IDLE, wrap_until)
    return sorted(cards.values(), key=lambda card: (card.name.casefold(), card.name))


def summary(cards: list[AgentCard]) -> dict[str, int]:
    """How many agents are in each state (the wallboard's agent tile)."""
    counts = dict.fromkeys(STATES, 0)
    for card in cards:
        counts[card.state] += 1
    return counts


def teams(cards: list[AgentCard]) -> list[str]:
    """The teams on the board, for its filter."""
    return sorted({card.team for card in cards if card.team}, key=str.casefold)


def wrap_deadline(cards: list[AgentCard], wrap_up: int) -> datetime | None:
    """When the first wrap-up on the board ends (the page redraws then: no event marks it)."""
    ends = [card.since + timedelta(seconds=wrap_up) for card in cards if card.state == WRAP_UP and card.since]
    return min(ends, default=None)
