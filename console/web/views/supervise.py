"""The supervisor's own line and modes: the profile page, line commands, and Monitor/Whisper/Barge/Leave.

Every answer is the supervisor's own box (for htmx) or a redirect back to the page (without
JavaScript). What one supervisor sees depends on who they are, so the live hub never pushes those
boxes: it pushes each conference's audio map (the same for everyone) and a small signal when a
supervisor line changes, and each page then fetches its own box again over HTTP.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from flask import (
    Blueprint,
    g,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from console.live.pieces import Piece
from console.live.screens import conference_watches, participant_views
from console.live.ui import dom_id, oob
from console.state.store import get_store
from console.supervision import line as supervision
from console.supervision.audio_paths import audio_paths, diagram
from console.supervision.line import (
    SupervisionRefused,
    current_supervisor,
    telnyx_words,
)
from console.telnyx.errors import APIStatusError, APITimeoutError, TelnyxError
from console.web.views import pages as page_views

supervise = Blueprint("supervise", __name__)

TEMPLATE = "_supervisor.html"
SUPERVISORS_WATCH = "supervisors"
SIGNAL_ID = "supervision-signal"


@dataclass(frozen=True)
class Notice:
    """What the supervisor's box says after a step: success, information, or the refusal."""

    kind: str
    text: str


def _macro(name: str):
    return get_template_attribute(TEMPLATE, name)


def conference_audio(conference_id: str) -> dict:
    """The audio map of a conference as everyone sees it: who hears whom and how to draw it."""
    participants = participant_views(get_store().participants(conference_id))
    paths = audio_paths(participants)
    return {"paths": paths, "diagram": diagram(paths)}


def _panel_for(conference_id: str, **options) -> supervision.Panel:
    return supervision.conference_panel(conference_id, current_supervisor(), **options)


@supervise.record_once
def _setup(state) -> None:
    """Give templates the supervisor's box and the audio map, and teach the live hub about both."""
    state.app.jinja_env.globals.update(
        supervision_panel=lambda conference_id: _panel_for(conference_id),
        supervision_notice=lambda: g.get("supervision_notice"),
        conference_audio=conference_audio,
    )
    hub = state.app.extensions.get("console.hub")
    if hub is not None and not isinstance(hub.catalogue, SupervisionCatalogue):
        hub.catalogue = SupervisionCatalogue(hub.catalogue)


# --- answers ----------------------------------------------------------------------------------


def _is_htmx() -> bool:
    return bool(request.htmx)


def _status_for(error: TelnyxError) -> int:
    if isinstance(error, APITimeoutError):
        return 504
    if isinstance(error, APIStatusError) and 400 <= error.status < 500:
        return error.status
    return 502


def _conference_answer(conference_id: str, notice: Notice | None, status: int = 200, **options):
    """The supervisor's box for htmx; else back to the conference page (shown again when refused)."""
    if _is_htmx():
        return make_response(_macro("supervisor_panel")(_panel_for(conference_id, **options), notice), status)
    if status < 400:
        return redirect(url_for("pages.conference", conference_id=conference_id), code=303)
    g.supervision_notice = notice
    return make_response(page_views.conference(conference_id), status)


def _profile_answer(notice: Notice | None, status: int = 200):
    """The line box of the profile page for htmx; else back to the profile page."""
    if _is_htmx():
        return make_response(_macro("line_box")(supervision.line_of(current_supervisor()), notice, None), status)
    if status < 400:
        return redirect(url_for("supervise.profile"), code=303)
    return make_response(_profile_page(notice), status)


def _attempt(step, answer, **options):
    """Run one supervision step and answer with its outcome: success, refusal or Telnyx's error."""
    try:
        text = step()
    except SupervisionRefused as refusal:
        return answer(Notice("error", refusal.message), refusal.status, **options)
    except TelnyxError as error:
        return answer(Notice("error", telnyx_words(error)), _status_for(error), **options)
    return answer(Notice("success", text), 200)


def _line_step(step):
    """A line command answered in the box it came from: a conference page's or the profile page's."""
    conference_id = request.form.get("conference_id")
    if conference_id:
        return _attempt(step, lambda notice, status=200: _conference_answer(conference_id, notice, status))
    return _attempt(step, _profile_answer)


# --- the profile page and the line ------------------------------------------------------------


def _profile_page(notice: Notice | None = None) -> str:
    supervisor = current_supervisor()
    return render_template("supervisor.html", page_name="supervisor", live_watch=SUPERVISORS_WATCH,
                           supervisor=supervisor, line=supervision.line_of(supervisor), notice=notice)


@supervise.get("/supervisor")
def profile():
    """The supervisor's own page: their phone or SIP address and the state of their line."""
    return _profile_page()


@supervise.get("/supervisor/line")
def line_box():
    """The line box alone, fetched again when the line changes."""
    return _macro("line_box")(supervision.line_of(current_supervisor()), None, None)


@supervise.post("/supervisor/phone")
def save_phone():
    """Keep the phone number or SIP address the console dials as this supervisor's line."""
    return _line_step(lambda: supervision.save_phone(current_supervisor(), request.form.get("phone")))


@supervise.post("/supervisor/line/connect")
def connect_line():
    """Dial the supervisor's phone; in demo mode the simulator answers it."""
    return _line_step(lambda: supervision.connect_line(current_supervisor(), request.form.get("phone")))


@supervise.post("/supervisor/line/attach")
def attach_line():
    """Use an existing parked call as the supervisor's line (an admin's shortcut)."""
    return _line_step(lambda: supervision.attach_line(current_supervisor(), request.form.get("call_control_id")))


@supervise.post("/supervisor/line/hangup")
def hang_up_line():
    """Hang up the supervisor's line."""
    return _line_step(lambda: supervision.hang_up_line(current_supervisor()))


# --- the modes --------------------------------------------------------------------------------


@supervise.get("/conferences/<conference_id>/supervision")
def panel_body(conference_id):
    """The supervisor's box in a conference, fetched again when something it shows changed."""
    chosen = request.args.getlist("whisper_call_control_ids") if request.args.get("chosen") else None
    return _macro("panel_body")(_panel_for(conference_id, selected=chosen))


@supervise.post("/conferences/<conference_id>/supervision/<any(monitor, whisper, barge, leave):mode>")
def change_mode(conference_id, mode):
    """Monitor, whisper to the ticked participants, barge in (after a confirm), or leave."""
    supervisor = current_supervisor()
    chosen = request.form.getlist("whisper_call_control_ids")

    def answer(notice, status=200, **options):
        return _conference_answer(conference_id, notice, status, **options)

    if mode == "barge":
        step = request.form.get("step", "")
        if step == "cancel":
            return answer(Notice("info", "Cancelled: you did not barge in."), selected=chosen)
        if step != "confirm":
            return answer(None, selected=chosen, confirming=True)
    steps = {
        "monitor": lambda: supervision.monitor(conference_id, supervisor),
        "whisper": lambda: supervision.whisper(conference_id, supervisor, chosen,
                                               customer_confirmed=request.form.get("customer_confirmed") == "yes"),
        "barge": lambda: supervision.barge(conference_id, supervisor),
        "leave": lambda: supervision.leave(conference_id, supervisor),
    }
    return _attempt(steps[mode], answer, selected=chosen)


# --- live pushes ------------------------------------------------------------------------------


class SupervisionCatalogue:
    """The pages' live catalogue plus each conference's audio map and the supervisor-line signal."""

    def __init__(self, pages):
        self.pages = pages
        # Each signal differs from the last, so the hub never drops it as "nothing changed".
        self._signals = itertools.count(1)

    def accepts(self, watch: str) -> bool:
        return watch == SUPERVISORS_WATCH or self.pages.accepts(watch)

    def due_keys(self, at) -> set[str]:
        """What time alone changed on the pages (console.live.shift: a new KPI day)."""
        due = getattr(self.pages, "due_keys", None)
        return due(at) if due is not None else set()

    def atoms(self, keys: set[str]) -> list[tuple]:
        atoms = list(self.pages.atoms(keys))
        conferences: set[str] = set()
        lines = None
        line_changed = False
        for key in keys:
            kind, _, rest = key.partition(":")
            if kind == "conference":
                conferences.add(rest)
            elif kind == "participant":
                # A participant's call can change alone (its numbers arrive late): the map labels who they are.
                conferences.add(rest.partition(":")[0])
            if kind == "supervisor":
                line_changed = True
            elif kind in ("call", "participant") and not line_changed:
                lines = get_store().supervisor_lines() if lines is None else lines
                line_changed = (rest if kind == "call" else rest.partition(":")[2]) in lines
        atoms += [("audio_map", conference_id) for conference_id in sorted(conferences)]
        if line_changed:
            atoms.append(("supervision_signal",))
        return atoms

    def topics(self, atom: tuple) -> set[str]:
        if atom[0] == "audio_map":
            return {f"conference:{atom[1]}"}
        if atom[0] == "supervision_signal":
            return {SUPERVISORS_WATCH} | conference_watches(get_store())
        return self.pages.topics(atom)

    def _audio_map(self, conference_id: str) -> str | None:
        # Most changes to a conference (the floor, playback, a recording) leave who hears whom as it
        # was, and drawing the map is not cheap: it is drawn again only when the paths change.
        conference = self.pages._conference(conference_id)
        if conference is None:
            return None
        paths = audio_paths(self.pages._participants(conference_id))
        return self.pages.drawing(("audio_map", conference_id), paths, lambda: _macro("audio_map")(
            conference, {"paths": paths, "diagram": diagram(paths)}))

    def render(self, atom: tuple) -> Piece:
        if atom[0] == "audio_map":
            return Piece(dom_id("audio-map", atom[1]), self._audio_map(atom[1]), order=(0, "audio"))
        if atom[0] == "supervision_signal":
            return Piece(SIGNAL_ID, _macro("supervision_signal")(next(self._signals)), order=(0, "signal"))
        return self.pages.render(atom)

    def snapshot(self, watch: str) -> tuple[list[str], set[str]]:
        if watch == SUPERVISORS_WATCH:
            return [str(oob(_macro("supervision_signal")(next(self._signals))))], set()
        parts, shown = self.pages.snapshot(watch)
        kind, _, conference_id = watch.partition(":")
        if kind == "conference" and parts:
            html = self._audio_map(conference_id)
            if html:
                parts = [*parts, str(oob(html))]
        return parts, shown
