"""The pages as the live hub sees them: which atoms a changed key touches, who shows them, how they look.

A page watches `dashboard`, `ended`, `wallboard`, `conference:<id>` or `queue:<name>`. The hub does
the coalescing and fan-out; this catalogue knows the pages: which atoms a changed key touches,
which pages show each atom, and how to render it with the same macros and screens
(console.live.screens) the pages use. The WebSocket itself is console.web.views.live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from flask import get_template_attribute, request

from console.live import agent_board
from console.live.keys import split_keys
from console.live.pieces import Piece, Window
from console.live.screens import (
    DASHBOARD_CONFERENCE_LIMIT,
    ENDED_LIMIT,
    conference_screen,
    dashboard_screen,
    ended_screen,
    kpi_tiles,
    newest_conferences,
    participant_views,
    queue_screen,
    queued_call_views,
    recording_view,
)
from console.live.ui import dom_id, oob
from console.state.store import get_store

MAX_DRAWN = 20_000
LIVE_STATUSES = ("init", "in_progress")
# A list's window is pushed after its items' own pieces (which only redraw or remove them).
LAST = (1, "\uffff")


def _macro(name: str):
    return get_template_attribute("_macros.html", name)


def _controls_of(conference: dict):
    return get_template_attribute("_controls.html", "conference_controls")(conference)


def _missing_queue(name: str) -> dict:
    """What a queue page shows once its queue is gone."""
    return {"name": name, "deleted": True, "current_size": 0, "max_size": None,
            "average_wait_time_secs": None, "oldest_enqueued_at": None, "oldest_waiting": []}


class LiveCatalogue:
    """The pages as the hub sees them: atoms per change, topics per atom, rendering, snapshots."""

    def __init__(self):
        self._memo: dict = {}
        # Who each conference held at the last tick: a whispering supervisor's card names the people
        # they whisper to, so when someone joins or leaves, those cards are rendered again.
        self._rosters: dict[str, frozenset] = {}
        # The last drawing of each atom with what it was drawn from, per URL prefix (see render).
        self._drawn: dict[tuple, tuple] = {}
        # What each "newest N" list (per URL prefix) held when last pushed or snapshotted: an item
        # not in it may be missing from a page, so its drawing rides with the list's window.
        self._held: dict[tuple[str, str], frozenset] = {}
        self._changed: set[str] = set()

    def _cached(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- what changed -------------------------------------------------------------------------

    def accepts(self, watch: str) -> bool:
        kind, _, subject = watch.partition(":")
        return watch in ("dashboard", "ended", "wallboard", agent_board.WATCH) or (kind in ("conference", "queue") and bool(subject))

    def atoms(self, keys: set[str]) -> list[tuple]:
        """The atoms the keys touch; also starts a new tick's memo of store reads."""
        self._memo = {}
        found = split_keys(keys)
        self._changed = found["conference"]
        atoms: list[tuple] = []
        for conference_id in sorted(found["conference"]):
            atoms += [("conference_row", conference_id), ("conference_header", conference_id),
                      ("media_state", conference_id), ("ended_row", conference_id)]
            if self._ended(conference_id):
                # An open page of a conference that just ended loses its controls (the header brings the banner).
                atoms.append(("conference_controls", conference_id))
        touched = sorted(found["participant"])
        for conference_id in sorted({conference_id for conference_id, _ in touched}):
            touched += self._roster_change(conference_id)
        for conference_id, call_control_id in sorted(set(touched)):
            atoms.append(("participant", conference_id, call_control_id))
        if found["recording"]:
            for conference_id in sorted(found["conference"]):
                for recording in self._recordings(conference_id):
                    if recording["id"] in found["recording"]:
                        atoms.append(("recording", conference_id, recording["id"]))
        for name in sorted(found["queue"]):
            atoms += [("queue_row", name), ("queue_header", name)]
        for name, call_control_id in sorted(found["queue_call"]):
            atoms.append(("queued_call", name, call_control_id))
        if found["conference"]:
            atoms += [("kpi", "conferences"), ("kpi", "recording"), ("conference_list",), ("conference_more",),
                      ("ended_list",)]
        if found["queue"]:
            atoms += [("kpi", "waiting"), ("kpi", "longest_wait")]
        if found["queue"] or found["conference"] or found["participant"] or any(k.startswith("alert") for k in keys):
            atoms.append(("wallboard_pulse",))
        if agent_board.moves_agents(keys):
            atoms.append(("agent_board",))
        return atoms

    def _participants(self, conference_id: str) -> list[dict]:
        return self._cached(("participants", conference_id),
                            lambda: participant_views(get_store().participants(conference_id)))

    def _participant(self, conference_id: str, call_control_id: str) -> dict | None:
        return next((p for p in self._participants(conference_id) if p["call_control_id"] == call_control_id), None)

    def _roster_change(self, conference_id: str) -> list[tuple]:
        """The whispering participants of a conference whose membership changed since the last tick."""
        participants = self._participants(conference_id)
        present = frozenset(p["call_control_id"] for p in participants)
        before = self._rosters.get(conference_id)
        if present:
            self._rosters[conference_id] = present
        else:
            self._rosters.pop(conference_id, None)
        if before == present:
            return []
        return [(conference_id, p["call_control_id"]) for p in participants if p.get("supervisor_role") == "whisper"]

    def topics(self, atom: tuple) -> set[str]:
        kind = atom[0]
        if kind in ("conference_row", "queue_row", "kpi", "conference_list", "conference_more"):
            return {"dashboard"}
        if kind in ("ended_row", "ended_list"):
            return {"ended"}
        if kind == "wallboard_pulse":
            return {"wallboard"}
        if kind == "agent_board":
            return {agent_board.WATCH}
        if kind in ("conference_header", "media_state", "conference_controls", "participant", "recording"):
            return {f"conference:{atom[1]}"}
        return {f"queue:{atom[1]}"}

    # -- rendering ----------------------------------------------------------------------------

    def _conference(self, conference_id: str):
        return self._cached(("conference", conference_id), lambda: get_store().conference(conference_id))

    def _ended(self, conference_id: str) -> bool:
        return (self._conference(conference_id) or {}).get("status") == "completed"

    def _recordings(self, conference_id: str):
        return self._cached(("recordings", conference_id),
                            lambda: [recording_view(r) for r in get_store().recordings(conference_id)])

    def _live(self) -> list[dict]:
        return self._cached("live", lambda: newest_conferences(get_store()))

    def _live_summary(self) -> dict:
        return self._cached("live_summary", lambda: get_store().live_conference_summary())

    def _queue(self, name: str):
        return self._cached(("queue", name), lambda: get_store().queue(name))

    def render(self, atom: tuple) -> Piece:
        """The atom as it looks now; the last drawing when what it shows has not changed since."""
        inputs = self._inputs(atom)
        if inputs is None:
            return self._draw(atom)
        return self.drawing(atom, inputs, lambda: self._draw(atom))

    def _draw(self, atom: tuple) -> Piece:
        return getattr(self, f"_render_{atom[0]}")(*atom[1:])

    def drawing(self, slot: Hashable, inputs, draw: Callable[[], Any]):
        """`draw()`, or what it returned last time for this slot (and URL prefix) if `inputs` are equal."""
        key = (request.script_root, slot)
        held = self._drawn.get(key)
        if held is not None and held[0] == inputs:
            return held[1]
        drawn = draw()
        if len(self._drawn) >= MAX_DRAWN:
            self._drawn.clear()
        self._drawn[key] = (inputs, drawn)
        return drawn

    def _inputs(self, atom: tuple):
        """Everything an atom's drawing depends on (None: always draw it).

        A conference's key changes with each of its participants, and its row, header and status
        line would be drawn again, equal but for the elapsed-time text the browser ticks anyway.
        """
        kind = atom[0]
        if kind in ("conference_row", "conference_header", "media_state", "conference_controls", "ended_row"):
            return ("conference", self._conference(atom[1]))
        if kind == "participant":
            conference = self._conference(atom[1]) or {}
            return (conference.get("name"), conference.get("status"), self._participant(atom[1], atom[2]))
        if kind in ("queue_row", "queue_header"):
            return ("queue", self._queue(atom[1]))
        return None

    def _render_conference_row(self, conference_id):
        conference = self._conference(conference_id)
        live_now = conference is not None and conference["status"] in LIVE_STATUSES
        html = _macro("conference_row")(conference) if live_now else None
        order = (1, (conference or {}).get("created_at") or "")
        return Piece(dom_id("conference", conference_id), html, "conference-rows", "afterbegin", "tbody", order,
                     DASHBOARD_CONFERENCE_LIMIT)

    def _render_conference_list(self):
        # The dashboard's live conferences as a reload lists them: the newest, up to the limit.
        listed = self._live()
        for conference in listed:
            self._memo.setdefault(("conference", conference["id"]), conference)
        return self._window("conference", "conference-rows", [c["id"] for c in listed])

    def _render_conference_more(self):
        total = self._live_summary()["conferences"]
        html = get_template_attribute("_live_lists.html", "conference_more")(len(self._live()), total, total)
        return Piece("conference-more", html, order=(0, "conference-more"))

    def _render_ended_list(self):
        # The ended page's conferences as a reload lists them: the most recently ended, up to its limit.
        listed = ended_screen(get_store())["conferences"]
        for conference in listed:
            self._memo.setdefault(("conference", conference["id"]), conference)
        return self._window("ended", "ended-rows", [c["id"] for c in listed])

    def _window(self, kind: str, container: str, conference_ids: list[str]) -> Piece:
        """A list's window: its items in order, drawn for those that may have entered since last time.

        Those are items the list did not hold when last pushed or snapshotted (all of them the first
        time), the changed ones, and as many of the oldest as conferences changed (an item leaving
        lets the next one in from below): a few rows per change, not the whole list.
        """
        ids = tuple(dom_id(kind, conference_id) for conference_id in conference_ids)
        held = self._held.get((request.script_root, kind))
        bottom = set(conference_ids[max(len(conference_ids) - len(self._changed), 0):])
        entering = []
        for conference_id, item in zip(conference_ids, ids, strict=True):
            if held is None or item not in held or conference_id in self._changed or conference_id in bottom:
                html = self.render((f"{kind}_row", conference_id)).html
                if html is not None:
                    entering.append((item, html))
        self._held[(request.script_root, kind)] = frozenset(ids)
        return Piece(f"{kind}-list", None, order=LAST,
                     window=Window(kind + "__", container, "tbody", ids, tuple(entering)))

    def _hold(self, kind: str, ids: set[str]) -> None:
        """A page was just drawn holding `ids`: the list's next window draws whatever it lacks."""
        key = (request.script_root, kind)
        held = self._held.get(key)
        self._held[key] = frozenset(ids) if held is None else held & ids

    def _render_ended_row(self, conference_id):
        conference = self._conference(conference_id)
        ended = conference is not None and conference["status"] == "completed"
        html = _macro("ended_row")(conference) if ended else None
        order = (1, (conference or {}).get("ended_at") or "")
        return Piece(dom_id("ended", conference_id), html, "ended-rows", "afterbegin", "tbody", order, ENDED_LIMIT)

    def _render_conference_header(self, conference_id):
        conference = self._conference(conference_id)
        html = _macro("conference_header")(conference) if conference else None
        return Piece(dom_id("conference-header", conference_id), html, order=(0, ""))

    def _render_media_state(self, conference_id):
        # Only the status line is pushed: the forms around it keep what a supervisor is typing.
        conference = self._conference(conference_id)
        render = get_template_attribute("_controls.html", "conference_media_state")
        html = render(conference) if conference else None
        return Piece(dom_id("media-state", conference_id), html, order=(0, ""))

    def _render_conference_controls(self, conference_id):
        # Drawn only once the conference has ended: while it is live, the forms keep what is being typed.
        conference = self._conference(conference_id)
        html = _controls_of(conference) if conference and self._ended(conference_id) else None
        return Piece(dom_id("conference-controls", conference_id), html, order=(0, ""))

    def _render_participant(self, conference_id, call_control_id):
        conference = self._conference(conference_id)
        participant = self._participant(conference_id, call_control_id)
        html = _macro("participant_card")(conference, participant) if conference and participant else None
        order = (2, (participant or {}).get("joined_at") or "")
        return Piece(dom_id("participant", conference_id, call_control_id), html, "participant-cards",
                     "beforeend", "div", order)

    def _render_recording(self, conference_id, recording_id):
        recording = next((r for r in self._recordings(conference_id) if r["id"] == recording_id), None)
        html = _macro("recording_item")(recording) if recording else None
        order = (3, (recording or {}).get("started_at") or "")
        return Piece(dom_id("recording", recording_id), html, "recording-list", "beforeend", "ul", order)

    def _render_queue_row(self, name):
        queue = self._queue(name)
        html = _macro("queue_row")(queue) if queue else None
        return Piece(dom_id("queue", name), html, "queue-rows", "beforeend", "tbody", (2, name))

    def _render_queue_header(self, name):
        queue = self._queue(name) or _missing_queue(name)
        return Piece(dom_id("queue-header", name), _macro("queue_header")(queue), order=(0, ""))

    def _render_queued_call(self, name, call_control_id):
        queue = self._queue(name) or _missing_queue(name)
        calls = self._cached(("queued_calls", name),
                             lambda: queued_call_views(get_store(), get_store().queue_calls(name)))
        queued = next((call for call in calls if call["call_control_id"] == call_control_id), None)
        html = _macro("queued_call_row")(queue, queued) if queued else None
        order = (3, (queued or {}).get("enqueued_at") or "")
        return Piece(dom_id("queued-call", name, call_control_id), html, "queued-call-rows", "beforeend", "tbody",
                     order)

    def _render_agent_board(self):
        return agent_board.board_piece()

    def _render_wallboard_pulse(self):
        return Piece("wallboard-pulse", wallboard_pulse(), order=(0, ""))

    def _render_kpi(self, key):
        figures = self._cached("kpis", lambda: kpi_tiles(self._live_summary(), get_store().queues()))
        tile = next(tile for tile in figures if tile["key"] == key)
        return Piece(dom_id("kpi", key), _macro("kpi_tile")(tile), order=(0, key))

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot(self, watch: str) -> tuple[list[str], set[str]]:
        """Everything the page shows, as OOB replacements, and the list items it now holds."""
        self._memo = {}
        store = get_store()
        kind, _, subject = watch.partition(":")
        if watch == "dashboard":
            screen = dashboard_screen(store)
            parts = [oob(_macro("kpi_tile")(tile)) for tile in screen["kpis"]]
            parts += [oob(_macro("conference_rows")(screen["conferences"])), oob(_macro("queue_rows")(screen["queues"]))]
            parts.append(oob(get_template_attribute("_live_lists.html", "conference_more")(
                len(screen["conferences"]), screen["conference_matches"], screen["conference_total"])))
            shown = {dom_id("conference", c["id"]) for c in screen["conferences"]}
            self._hold("conference", set(shown))
            shown |= {dom_id("queue", q["name"]) for q in screen["queues"]}
        elif watch == "wallboard":
            return [wallboard_pulse()], set()
        elif watch == agent_board.WATCH:
            return [agent_board.board_snapshot()], set()
        elif watch == "ended":
            screen = ended_screen(store)
            parts = [oob(_macro("ended_rows")(screen["conferences"]))]
            shown = {dom_id("ended", c["id"]) for c in screen["conferences"]}
            self._hold("ended", set(shown))
        elif kind == "conference":
            screen = conference_screen(store, subject)
            if screen is None:
                return [], set()
            conference = screen["conference"]
            parts = [oob(_macro("conference_header")(conference)),
                     oob(_macro("participant_cards")(conference, screen["participants"])),
                     oob(_macro("recording_list")(screen["recordings"]))]
            if conference["status"] == "completed":  # it may have ended while this page was offline
                parts.append(oob(_controls_of(conference)))
            shown = {dom_id("participant", subject, p["call_control_id"]) for p in screen["participants"]}
            shown |= {dom_id("recording", r["id"]) for r in screen["recordings"]}
        else:
            screen = queue_screen(store, subject) or {"queue": _missing_queue(subject), "queued_calls": []}
            parts = [oob(_macro("queue_header")(screen["queue"])),
                     oob(_macro("queued_call_rows")(screen["queue"], screen["queued_calls"]))]
            shown = {dom_id("queued-call", subject, q["call_control_id"]) for q in screen["queued_calls"]}
        return [str(part) for part in parts], shown


def wallboard_pulse() -> str:
    """Tells wallboards that queue figures changed; they reload their board (see static/wallboard.js)."""
    # data-at only makes each pulse differ from the last (the hub drops a repeat): no drawn time,
    # so the wall clock, not the drawing clock a test may fix.
    return f'<span id="wallboard-pulse" hx-swap-oob="true" hidden data-at="{time.time():.3f}"></span>'
