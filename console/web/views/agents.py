"""The agent directory page: who the agents are and their addresses; admins add, edit, remove and import them.

Everyone signed in may read the directory; only admins change it (console.access.auth.PERMISSIONS).
Every form carries the CSRF field, answers with a redirect when it worked and with the page and
the refusal (422) when it did not. An import answers with what each line of the file did.
This blueprint also gives every template the Agent / Customer / Supervisor badge (`role_badge`).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from console.agents import directory
from console.agents.directory import AgentError
from console.agents.roles import LegRole
from console.live.screens import leg_role
from console.state import agents as agent_rows
from console.state.store import get_store

agents = Blueprint("agents", __name__)

# An agent directory is a few thousand lines at most; a bigger upload is a mistake.
UPLOAD_LIMIT = 1_000_000
_BADGE = Markup('<span class="badge badge-leg leg-{kind}" data-leg-role="{kind}" title="{title}">{text}</span>')


def role_badge(subject, beside: str | None = None) -> Markup:
    """The small text badge beside a name: "Agent · Alice", "Customer" or "Supervisor" ('' when unknown).

    `subject` is a LegRole, or a participant or leg row (a participant view already carries its role).
    Beside the same name (`beside`, or a participant's own display name) it says only "Agent": a card
    headed "Dana" does not need "Agent · Dana" under it. The tooltip keeps the name.
    """
    if subject is None:
        return Markup("")
    role = subject if isinstance(subject, LegRole) else subject.get("leg_role") or leg_role(subject)
    if beside is None and not isinstance(subject, LegRole):
        beside = subject.get("display_name")
    return _BADGE.format(kind=role.kind, title=role.title, text=role.label if names_alike(beside, role.name) else role.text)


def names_alike(shown: str | None, name: str | None) -> bool:
    """Whether a name already on screen is the role's own name (case and spacing aside)."""
    return bool(shown and name) and " ".join(shown.split()).casefold() == " ".join(name.split()).casefold()


@agents.record_once
def _setup(state) -> None:
    """Give every template the role of a leg and its badge."""
    state.app.jinja_env.globals.update(leg_role=leg_role, role_badge=role_badge, names_alike=names_alike)


def _page(status: int = 200, *, error: str | None = None, form: dict | None = None, report=None,
          editing: str | None = None):
    page = render_template("agents_directory.html", page_name="agents", agents=agent_rows.agents(get_store()),
                           error=error, form=form or {}, report=report, editing=editing)
    return page, status


def _fields() -> dict:
    form = request.form
    return {"agent_name": form.get("agent_name", ""), "team": form.get("team", ""),
            "addresses": "\n".join(form.getlist("addresses"))}


@agents.get("/agents/directory")
def directory_page():
    """Every agent with their team and addresses."""
    return _page()


@agents.post("/agents/directory")
def add():
    """Add an agent with a team and at least one address."""
    fields = _fields()
    try:
        agent = directory.add_agent(get_store(), fields["agent_name"], fields["team"], fields["addresses"])
    except AgentError as refused:
        return _page(422, error=str(refused), form=fields)
    flash(f"Added {agent['name']} ({', '.join(agent['addresses'])}).", "success")
    return redirect(url_for("agents.directory_page"), code=303)


@agents.post("/agents/directory/<agent_name>/edit")
def edit(agent_name):
    """Change an agent's name, team or addresses."""
    fields = _fields()
    try:
        saved = directory.edit_agent(get_store(), agent_name, fields["agent_name"], fields["team"], fields["addresses"])
    except AgentError as refused:
        return _page(422, error=str(refused), form=fields, editing=agent_name)
    flash(f"{saved.agent['name']}: {'nothing changed' if saved.outcome == 'unchanged' else 'saved'}.", "success")
    return redirect(url_for("agents.directory_page"), code=303)


@agents.post("/agents/directory/<agent_name>/remove")
def remove(agent_name):
    """Take an agent out of the directory: their calls are then labelled as customers'."""
    try:
        directory.remove_agent(get_store(), agent_name)
    except AgentError as refused:
        return _page(422, error=str(refused))
    flash(f"Removed {agent_name} from the agent directory.", "success")
    return redirect(url_for("agents.directory_page"), code=303)


@agents.post("/agents/directory/import")
def import_csv():
    """Add or update agents from a CSV file (name, team, addresses): the page then says what each line did."""
    upload = request.files.get("file")
    data = upload.stream.read(UPLOAD_LIMIT + 1) if upload is not None and upload.filename else b""
    pasted = request.form.get("csv_text", "")
    try:
        if len(data) > UPLOAD_LIMIT:
            raise AgentError(f"The file is larger than {UPLOAD_LIMIT // 1_000_000} MB; split it and import each part.")
        text = directory.read_upload(data) if data else pasted
        if not text.strip():
            raise AgentError("Choose a CSV file (or paste its lines): name, team, addresses.")
    except AgentError as refused:
        return _page(422, error=str(refused))
    report = directory.import_csv(get_store(), text)
    if not report:
        return _page(422, error="The file has no agents in it: one line per agent, name, team, addresses.")
    return _page(report=report)
