"""The console's screens: dashboard, conference, queue, recently ended, and the error page.

Each URL answers with the full page, or with only its body fragment for an HTMX request; both
come from the same `_`-prefixed template. What each screen shows is built in console.live.screens,
which the live hub's snapshots render too, so a page and its live updates can never disagree.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from console.live.screens import (
    conference_screen,
    dashboard_screen,
    ended_screen,
    queue_screen,
)
from console.state.store import get_store
from console.web.views.wallboard import figure_notes

log = logging.getLogger("console.pages")

pages = Blueprint("pages", __name__)


# -- routes ---------------------------------------------------------------------------------------


def _respond(page: str, fragment: str, **context):
    """The whole page, or only its body fragment when htmx asks (same template either way)."""
    if request.htmx and not request.htmx.boosted:
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
    return _respond("queue.html", "_queue.html", page_name="queue", live_watch=f"queue:{queue_name}",
                    figure_notes=figure_notes(current_app.config, queue_name), **screen)


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
