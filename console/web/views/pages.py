"""The console's screens: dashboard, conference, queue, recently ended, and the error page.

Each URL answers with the full page, or with only its body fragment for an HTMX request; both
come from the same `_`-prefixed template. The context builders here are also what the live
hub's snapshots render, so a page and its live updates can never disagree.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from console.queues.kpis import FORMULAS
from console.state.store import get_store

log = logging.getLogger("console.pages")

pages = Blueprint("pages", __name__)

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


def participant_views(participants: list[dict]) -> list[dict]:
    """Participants with a second line (their number under a label) and whisper target names."""
    names = {p["call_control_id"]: p.get("display_name") or p["call_control_id"] for p in participants}
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


def kpi_tiles(conferences: list[dict], queues: list[dict]) -> list[dict]:
    """The four headline figures: conferences live, people in them, callers waiting, longest wait."""
    waiting = sum(queue.get("current_size") or 0 for queue in queues)
    oldest = [queue for queue in queues if queue.get("oldest_enqueued_at")]
    longest = min(oldest, key=lambda queue: queue["oldest_enqueued_at"]) if oldest else None
    people = sum(conference.get("participant_count") or 0 for conference in conferences)
    busy_queues = sum(1 for queue in queues if queue.get("current_size"))
    return [
        {"key": "conferences", "label": "Conferences live", "value": len(conferences),
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
        {"key": "recording", "label": "Recording now",
         "value": sum(1 for conference in conferences if conference.get("recording")),
         "note": "conferences being recorded", "formula": TILE_FORMULAS["recording"]},
    ]


# -- screens: everything one page shows -----------------------------------------------------------


def dashboard_screen(store, search: str = "") -> dict:
    """Live conferences (the newest, or those matching `search`, up to the limit), queues and the figures."""
    conferences = store.live_conferences()
    queues = store.queues()
    listed = conferences
    if search:
        needle = search.casefold()
        listed = [c for c in conferences
                  if any(needle in (c.get(name) or "").casefold() for name in ("name", "id", "floor_display_name"))]
    return {"conferences": listed[:DASHBOARD_CONFERENCE_LIMIT], "conference_total": len(conferences),
            "conference_matches": len(listed), "search": search, "queues": queues,
            "kpis": kpi_tiles(conferences, queues)}


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


def ended_screen(store) -> dict:
    """The most recently ended conferences."""
    return {"conferences": store.ended_conferences(ENDED_LIMIT)}


# -- routes ---------------------------------------------------------------------------------------


def _respond(page: str, fragment: str, **context):
    """The whole page, or only its body fragment when htmx asks (same template either way)."""
    if request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted"):
        return render_template(fragment, **context)
    return render_template(page, **context)


@pages.get("/")
def dashboard():
    """Every live conference and queue at a glance."""
    return _respond("dashboard.html", "_dashboard.html", page_name="dashboard", live_watch="dashboard",
                    **dashboard_screen(get_store(), request.args.get("q", "").strip()[:200]))


@pages.get("/conferences/<conference_id>")
def conference(conference_id: str):
    """One conference: participants, who is talking, recordings."""
    screen = conference_screen(get_store(), conference_id)
    if screen is None:
        abort(404, description=f"No conference with id {conference_id} is known to this console. "
                               "It may have ended before the console started, or the link is wrong.")
    return _respond("conference.html", "_conference.html", page_name="conference",
                    live_watch=f"conference:{conference_id}", **screen)


@pages.get("/queues/<path:queue_name>")
def queue(queue_name: str):
    """One queue: who is waiting, for how long."""
    screen = queue_screen(get_store(), queue_name)
    if screen is None:
        abort(404, description=f"There is no queue called “{queue_name}”. It may have been deleted, "
                               "or it has not had a caller yet.")
    return _respond("queue.html", "_queue.html", page_name="queue", live_watch=f"queue:{queue_name}", **screen)


@pages.get("/ended")
def ended():
    """Conferences that ended recently, newest first."""
    return _respond("ended.html", "_ended.html", page_name="ended", live_watch="ended", **ended_screen(get_store()))


# -- errors ---------------------------------------------------------------------------------------

_TITLES = {404: "Not found", 500: "Something went wrong"}


def _error_page(error: HTTPException):
    """Render an HTTP error as a page (or a fragment for htmx) that says what happened and links back."""
    status = error.code or 500
    detail = error.description if status != 500 else (
        "The console hit an unexpected problem showing this page. Live calls are not affected; "
        "try again, or go back to the dashboard.")
    context = {"error": {"status": status, "title": _TITLES.get(status, error.name), "detail": detail}}
    try:
        return _respond("error.html", "_error.html", page_name="error", **context), status
    except Exception:  # the error page itself failed: answer in plain text rather than not at all
        log.exception("rendering the error page failed")
        return f"{status} {context['error']['title']}", status, {"Content-Type": "text/plain; charset=utf-8"}


@pages.app_errorhandler(NotFound)
def not_found(error: NotFound):
    """Unknown pages, conferences and queues."""
    return _error_page(error)


@pages.app_errorhandler(InternalServerError)
def internal_error(error: InternalServerError):
    """Unexpected failures (Flask has already logged the traceback)."""
    return _error_page(error)
