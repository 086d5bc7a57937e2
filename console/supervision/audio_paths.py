"""Who hears whom in a conference, worked out by the console from its own read model.

Telnyx never reports audio paths, so the console derives them from what it knows of each present
participant: the supervisor role and whisper targets it recorded, and mute and hold. The rules are
the spec's words for the roles. Nobody hears themselves. A participant on hold hears nobody and
nobody hears them; a muted one is heard by nobody. Otherwise "none" and "barge" are heard by
everyone, "monitor" by nobody, and "whisper" only by its whisper targets (with no targets a
whisper is a monitor). Everyone who is not on hold hears everyone who reaches them. In words, the supervisor reads who
hears them and who does not, each by name and role ("Alice (agent) hears you; Carol (customer)
does not").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from console.agents.roles import LegRole

HEARD_BY_ALL = frozenset({"none", "barge"})
SUPERVISOR_ROLES = frozenset({"monitor", "whisper", "barge"})
DIAGRAM_LIMIT = 12


@dataclass(frozen=True)
class Party:
    """One present participant as the audio rules see it."""

    call_control_id: str
    name: str
    role: str
    muted: bool
    on_hold: bool
    whisper_targets: frozenset[str]
    leg_role: LegRole | None = None  # Agent, Customer or Supervisor, when the page looked it up

    @property
    def is_supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES

    @property
    def labelled(self) -> str:
        """The name with who they are beside it, "Alice (Agent)", for lists a supervisor reads."""
        return f"{self.name} ({self.leg_role.label})" if self.leg_role else self.name


def party(participant: dict) -> Party:
    """A read-model participant (store.participants) as a Party; unknown role means "none"."""
    ccid = participant["call_control_id"]
    return Party(
        call_control_id=ccid,
        name=participant.get("display_name") or participant.get("label") or ccid,
        role=participant.get("supervisor_role") or "none",
        muted=bool(participant.get("muted")),
        on_hold=bool(participant.get("on_hold")),
        whisper_targets=frozenset(participant.get("whisper_call_control_ids") or ()),
        leg_role=participant.get("leg_role"),
    )


def reaches(speaker: Party, listener: Party) -> bool:
    """Whether the listener hears the speaker."""
    if speaker.call_control_id == listener.call_control_id:
        return False
    if listener.on_hold or speaker.on_hold or speaker.muted:
        return False
    if speaker.role in HEARD_BY_ALL:
        return True
    if speaker.role == "whisper":
        return listener.call_control_id in speaker.whisper_targets
    return False


@dataclass(frozen=True)
class AudioPaths:
    """A conference's present parties and, for each listener, the speakers it hears (sorted ids)."""

    parties: tuple[Party, ...]
    hears: dict[str, list[str]]

    def find(self, call_control_id: str | None) -> Party | None:
        return next((p for p in self.parties if p.call_control_id == call_control_id), None)

    def heard_by(self, call_control_id: str) -> list[str]:
        """Who hears this participant, in conference order."""
        return [p.call_control_id for p in self.parties if call_control_id in self.hears[p.call_control_id]]

    def names(self, call_control_ids: Iterable[str]) -> list[str]:
        found = {p.call_control_id: p.name for p in self.parties}
        return [found.get(ccid, ccid) for ccid in call_control_ids]

    def labelled_names(self, call_control_ids: Iterable[str]) -> list[str]:
        """Names with who each one is beside it ("Alice (Agent)"), for the audio map's words."""
        found = {p.call_control_id: p.labelled for p in self.parties}
        return [found.get(ccid, ccid) for ccid in call_control_ids]


def audio_paths(participants: Iterable[dict]) -> AudioPaths:
    """Who hears whom among the given present participants (read-model rows)."""
    parties = tuple(party(p) for p in participants)
    hears = {
        listener.call_control_id: sorted(s.call_control_id for s in parties if reaches(s, listener))
        for listener in parties
    }
    return AudioPaths(parties, hears)


# --- in words ---------------------------------------------------------------------------------


def join_names(names: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# A sentence names at most this many people; past it, the rest are "and N others".
NAMED_AT_MOST = 4


def who(party: Party) -> str:
    """"Alice (agent)": the name, and who they are when the console knows, as the sentences say it."""
    return f"{party.name} ({party.leg_role.label.lower()})" if party.leg_role else party.name


def _some(parties: list[Party]) -> str:
    """The people in words, the first few by name and the rest counted."""
    names = [who(p) for p in parties]
    if len(names) > NAMED_AT_MOST:
        names = [*names[:NAMED_AT_MOST - 1], f"{len(names) - NAMED_AT_MOST + 1} others"]
    return join_names(names)


@dataclass(frozen=True)
class Hearing:
    """What one participant's microphone reaches, and what they hear, as sentences a supervisor reads.

    The microphone sentence comes in two parts, so a page can set who hears you above who does not:
    `heard` ("Alice (agent) hears you") and `unheard` ("Carol (customer) does not", or "").
    """

    call_control_id: str
    heard_by: tuple[str, ...]
    hears: tuple[str, ...]
    heard: str
    unheard: str
    listening: str

    @property
    def microphone(self) -> str:
        return f"{self.heard}; {self.unheard}" if self.unheard else self.heard

    @property
    def live(self) -> bool:
        return bool(self.heard_by)


def _by_role(parties: list[Party]) -> list[Party]:
    """Agents first, then supervisors, customers and anyone unknown, each in conference order."""
    rank = {"agent": 0, "supervisor": 1, "customer": 2}
    return sorted(parties, key=lambda p: rank.get(p.leg_role.kind, 3) if p.leg_role else 3)


def _microphone(me: Party, hearers: list[Party], others: list[Party]) -> tuple[str, str]:
    """Who hears you and who does not, by name and role: ("Alice (agent) hears you", "Carol (customer) does not")."""
    hearers, others = _by_role(hearers), _by_role(others)
    if not hearers:
        if me.on_hold:
            return "You are on hold: you hear nobody and nobody hears you", ""
        return ("You are muted: nobody hears you" if me.muted else "You are listening only: nobody hears you"), ""
    deaf = [p for p in others if p not in hearers]
    if not deaf and len(others) > 1:
        if len(hearers) > NAMED_AT_MOST:
            return f"Everyone in the conference hears you ({len(hearers)} people)", ""
        return f"Everyone hears you: {join_names([who(p) for p in hearers])}", ""
    # Everyone who hears is named, however many: that is who the supervisor must not surprise.
    heard = f"{join_names([who(p) for p in hearers])} {'hears' if len(hearers) == 1 else 'hear'} you"
    return heard, (f"{_some(deaf)} {'does' if len(deaf) == 1 else 'do'} not" if deaf else "")


def hearing(paths: AudioPaths, call_control_id: str) -> Hearing | None:
    """Sentences for "you" (the participant with this call_control_id), or None when not present."""
    me = paths.find(call_control_id)
    if me is None:
        return None
    heard_by = paths.heard_by(call_control_id)
    hears = paths.hears[call_control_id]
    others = [p for p in paths.parties if p.call_control_id != call_control_id]
    heard, unheard = _microphone(me, [p for p in others if p.call_control_id in heard_by], others)
    sources = _by_role([p for p in others if p.call_control_id in hears])
    listening = f"You hear: {join_names([who(p) for p in sources])}" if sources else "You hear nobody"
    return Hearing(call_control_id, tuple(heard_by), tuple(hears), heard, unheard, listening)


def path_kind(a: Party, b: Party, a_to_b: bool, b_to_a: bool) -> str:
    """How a link between two parties reads: a supervisor's whisper or barge, listening only, or talk."""
    for speaker, carried in ((a, a_to_b), (b, b_to_a)):
        if carried and speaker.role in ("whisper", "barge"):
            return speaker.role
    if (a_to_b and b.is_supervisor and not b_to_a) or (b_to_a and a.is_supervisor and not a_to_b):
        return "listen"
    return "talk"


# --- the diagram ------------------------------------------------------------------------------

NODE_WIDTH, NODE_HEIGHT, COLUMN, ROW_GAP, MARGIN = 150, 50, 240, 140, 24


@dataclass(frozen=True)
class Node:
    """A party's box: its centre, and whether arcs to row neighbours bow above (top row) or below."""

    party: Party
    x: float
    y: float
    arcs_above: bool


@dataclass(frozen=True)
class Link:
    """One drawn line between two parties; audio flows to `b` when `to_b`, to `a` when `to_a`."""

    a: Party
    b: Party
    to_b: bool
    to_a: bool
    kind: str
    d: str


@dataclass(frozen=True)
class Diagram:
    width: float
    height: float
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]


def _edge_point(x: float, y: float, toward_x: float, toward_y: float, gap: float = 6) -> tuple[float, float]:
    """Where a line from the node centre (x, y) toward a point leaves the node's box."""
    dx, dy = toward_x - x, toward_y - y
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    half_w, half_h = NODE_WIDTH / 2 + gap, NODE_HEIGHT / 2 + gap
    t = min(half_w / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)
    return x + ux * t, y + uy * t


def _bend(columns_apart: float) -> float:
    """How far an arc's control point sits from its row; the arc itself peaks at half of this."""
    return NODE_HEIGHT + 40 + 36 * columns_apart


def _arc_room(row_length: int) -> float:
    """Space an arc between the row's two ends needs beyond the boxes (none for one or two boxes)."""
    return 0.0 if row_length < 3 else _bend(row_length - 1) / 2 - NODE_HEIGHT / 2 + 8


def _link_path(one: Node, other: Node) -> str:
    """A straight line between rows or neighbours; an arc over (top row) or under a row otherwise."""
    apart = abs(one.x - other.x) / COLUMN
    if one.y != other.y or apart <= 1.01:
        sx, sy = _edge_point(one.x, one.y, other.x, other.y)
        ex, ey = _edge_point(other.x, other.y, one.x, one.y)
        return f"M{sx:.1f},{sy:.1f} L{ex:.1f},{ey:.1f}"
    cx, cy = (one.x + other.x) / 2, one.y + (-1 if one.arcs_above else 1) * _bend(apart)
    sx, sy = _edge_point(one.x, one.y, cx, cy)
    ex, ey = _edge_point(other.x, other.y, cx, cy)
    return f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"


def diagram(paths: AudioPaths) -> Diagram | None:
    """Supervisors on a top row, everyone else below, one line per pair where either hears the other."""
    if not paths.parties or len(paths.parties) > DIAGRAM_LIMIT:
        return None
    rows = [row for row in ([p for p in paths.parties if p.is_supervisor],
                            [p for p in paths.parties if not p.is_supervisor]) if row]
    width = max(max(len(row) for row in rows) * COLUMN, 2 * COLUMN) + 2 * MARGIN
    two_rows = len(rows) == 2
    y = MARGIN + NODE_HEIGHT / 2 + (_arc_room(len(rows[0])) if two_rows else 0)
    nodes: list[Node] = []
    for index, row in enumerate(rows):
        start = width / 2 - (len(row) - 1) * COLUMN / 2
        above = two_rows and index == 0
        nodes += [Node(p, start + i * COLUMN, y, above) for i, p in enumerate(row)]
        y += ROW_GAP
    height = nodes[-1].y + NODE_HEIGHT / 2 + MARGIN + _arc_room(len(rows[-1]))
    by_id = {node.party.call_control_id: node for node in nodes}
    links = []
    for i, a in enumerate(paths.parties):
        for b in paths.parties[i + 1:]:
            to_b = a.call_control_id in paths.hears[b.call_control_id]
            to_a = b.call_control_id in paths.hears[a.call_control_id]
            if to_a or to_b:
                path = _link_path(by_id[a.call_control_id], by_id[b.call_control_id])
                links.append(Link(a, b, to_b, to_a, path_kind(a, b, to_b, to_a), path))
    return Diagram(width, height, tuple(nodes), tuple(links))
