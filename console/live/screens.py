"""What each screen shows, built from the read model: the dashboard, a conference, a queue, the ended list.

The pages' blueprint (console.web.views.pages) renders these for a request and the live catalogue
(console.live.catalogue) renders the same ones for its snapshots and atoms, so a page and its live
updates can never disagree.
"""

from __future__ import annotations

from console.agents.roles import LegRole, role_of
from console.live.ui import render_memo
from console.queues.kpis import FORMULAS
from console.state import agents as agent_rows
from console.state.store import get_store

ENDED_LIMIT = 50
# The dashboard lists at most this many live conferences (the newest); the rest are counted, and
# the filter finds any of them on the server.
DASHBOARD_CONFERENCE_LIMIT = 100


# -- view models: store rows plus what the atoms show ---------------------------------------------


def recording_view(recording: dict) -> dict:
    """A saved recording with the one URL the page plays (the WAV link from the webhook, else MP3)."""
    urls = recording.get("recording_urls") or {}
    public = recording.get("public_recording_urls") or {}
    url = urls.get("wav") or urls.get("mp3") or public.get("wav") or public.get("mp3")
    return {**recording, "url": url}


def leg_role(leg: dict) -> LegRole:
    """Who a participant or leg is (Agent, Customer or Supervisor), for pages and pushes that ask per row.

    The supervisor lines are read once, and each address looked up once, per request or hub tick.
    """
    store = get_store()
    lines = render_memo("supervisor_lines", None, store.supervisor_lines)
    return role_of(leg, lines, lambda address: render_memo(
        "agent_at", address, lambda: agent_rows.agent_at(store, address)))


def participant_views(participants: list[dict]) -> list[dict]:
    """Participants with a second line (their number under a label), whisper target names and their role."""
    roles = {p["call_control_id"]: leg_role(p) for p in participants}
    names = {}
    for p in participants:
        ccid = p["call_control_id"]
        names[ccid] = f"{p.get('display_name') or ccid} ({roles[ccid].label})"
    views = []
    for participant in participants:
        display = participant.get("display_name") or participant["call_control_id"]
        secondary = participant.get("from_number") if participant.get("from_number") not in (None, display) else None
        targets = participant.get("whisper_call_control_ids") or []
        views.append({
            **participant,
            "display_name": display,
            "secondary": secondary,
            "whisper_names": [names.get(target, target) for target in targets],
            "leg_role": roles[participant["call_control_id"]],
        })
    return views


def queued_call_views(store, queued_calls: list[dict]) -> list[dict]:
    """Queued calls with whether the caller is still on the line (a kept call may have hung up)."""
    states = store.call_states(queued["call_control_id"] for queued in queued_calls)
    views = []
    for queued in queued_calls:
        alive = states.get(queued["call_control_id"]) != "hangup"
        views.append({**queued, "display_name": queued.get("display_name") or queued["call_control_id"], "alive": alive})
    return views


# How the dashboard's two conference figures are counted (the queue figures share kpis.FORMULAS).
TILE_FORMULAS = {
    "conferences": "Conferences started and not yet ended (status init or in progress); the note adds the people "
                   "present in them.",
    "recording": "Live conferences whose recording is running now (started and not paused, stopped or saved).",
}


def kpi_tiles(live: dict, queues: list[dict]) -> list[dict]:
    """The four headline figures: conferences live, people in them, callers waiting, longest wait.

    `live` is the store's live_conference_summary(): counts, so a large center's figures cost one
    aggregate query rather than reading every live conference.
    """
    waiting = sum(queue.get("current_size") or 0 for queue in queues)
    oldest = [queue for queue in queues if queue.get("oldest_enqueued_at")]
    longest = min(oldest, key=lambda queue: queue["oldest_enqueued_at"]) if oldest else None
    people = live["people"]
    busy_queues = sum(1 for queue in queues if queue.get("current_size"))
    return [
        {"key": "conferences", "label": "Conferences live", "value": live["conferences"],
         "note": f"{people} {'person' if people == 1 else 'people'} on calls",
         "formula": TILE_FORMULAS["conferences"]},
        {"key": "waiting", "label": "Callers waiting", "value": waiting,
         "note": f"in {busy_queues} of {len(queues)} queue{'' if len(queues) == 1 else 's'}",
         "formula": FORMULAS["waiting"]},
        {"key": "longest_wait", "label": "Longest wait", "timer": True,
         "since": longest["oldest_enqueued_at"] if longest else None,
         "note": f"in {longest['name']}" if longest else "no one waiting",
         "announce": f"A caller has waited a long time in {longest['name']}" if longest else "",
         "formula": FORMULAS["longest_wait"]},
        {"key": "recording", "label": "Recording now", "value": live["recording"],
         "note": "conferences being recorded", "formula": TILE_FORMULAS["recording"]},
    ]


# -- screens: everything one page shows -----------------------------------------------------------


def newest_conferences(store) -> list[dict]:
    """The live conferences the dashboard lists: the newest, up to the limit (read through an index)."""
    return store.newest_live_conferences(DASHBOARD_CONFERENCE_LIMIT)


def dashboard_screen(store, search: str = "") -> dict:
    """Live conferences (the newest, or those matching `search`, up to the limit), queues and the figures."""
    live = store.live_conference_summary()
    queues = store.queues()
    if search:
        needle = search.casefold()
        matching = [c for c in store.live_conferences()
                    if any(needle in (c.get(name) or "").casefold() for name in ("name", "id", "floor_display_name"))]
        listed, matches = matching[:DASHBOARD_CONFERENCE_LIMIT], len(matching)
    else:
        listed, matches = newest_conferences(store), live["conferences"]
    return {"conferences": listed, "conference_total": live["conferences"],
            "conference_matches": matches, "search": search, "queues": queues,
            "kpis": kpi_tiles(live, queues)}


def conference_screen(store, conference_id: str) -> dict | None:
    """One conference with its present participants and saved recordings (None if unknown)."""
    conference = store.conference(conference_id)
    if conference is None:
        return None
    return {
        "conference": conference,
        "participants": participant_views(store.participants(conference_id)),
        "recordings": [recording_view(recording) for recording in store.recordings(conference_id)],
    }


def queue_screen(store, queue_name: str) -> dict | None:
    """One queue with its waiting calls (None if unknown or deleted)."""
    queue = store.queue(queue_name)
    if queue is None:
        return None
    return {"queue": queue, "queued_calls": queued_call_views(store, store.queue_calls(queue_name))}


def conference_watches(store) -> set[str]:
    """The conference pages a signal for every header goes to: the live conferences and the recently ended
    ones, since a page left open when its conference ended still shows the supervisor's line."""
    conferences = [*store.live_conferences(), *store.ended_conferences(ENDED_LIMIT)]
    return {f"conference:{conference['id']}" for conference in conferences}


def ended_screen(store) -> dict:
    """The most recently ended conferences."""
    return {"conferences": store.ended_conferences(ENDED_LIMIT), "ended_limit": ENDED_LIMIT}
