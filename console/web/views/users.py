"""The admin's users page: who may sign in, with which role; add, change role or password, disable, enable.

Changing someone's role or password, or disabling them, ends all their sessions: their open pages
close their live connection, say why, and ask them to sign in again.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from console.access.auth import current_user
from console.access.users import (
    ROLES,
    UserError,
    add_user,
    set_disabled,
    set_password,
    set_role,
)
from console.state.store import get_store

users = Blueprint("users", __name__)


def _page(status: int = 200, *, error: str | None = None, form: dict | None = None):
    page = render_template("users.html", page_name="users", users=get_store().users(), roles=ROLES,
                           error=error, form=form or {})
    return page, status


def _not_yourself(user_name: str) -> None:
    if current_user() is not None and current_user().name == user_name:
        raise UserError("You cannot change your own role, password or access here; ask another admin.")


@users.get("/users")
def page():
    """Everyone who may sign in."""
    return _page()


@users.post("/users")
def add():
    """Add a user with a password (single sign-on users need no row unless they need a phone)."""
    form = request.form
    try:
        user = add_user(get_store(), form.get("user_name"), form.get("role"), form.get("password"), form.get("phone"))
    except UserError as refused:
        return _page(422, error=str(refused), form={k: form.get(k, "") for k in ("user_name", "role", "phone")})
    flash(f"Added {user['name']} as {user['role']}.", "success")
    return redirect(url_for("users.page"), code=303)


@users.post("/users/<user_name>/role")
def change_role(user_name):
    """Give a user another role; their sessions end, so they sign in again under it."""
    try:
        _not_yourself(user_name)
        user = set_role(get_store(), user_name, request.form.get("role"))
    except UserError as refused:
        return _page(422, error=str(refused))
    flash(f"{user['name']} is now {user['role']}.", "success")
    return redirect(url_for("users.page"), code=303)


@users.post("/users/<user_name>/<any(disable, enable):change>")
def access(user_name, change):
    """Stop a user signing in (their open sessions end at once), or let them in again."""
    try:
        _not_yourself(user_name)
        user = set_disabled(get_store(), user_name, change == "disable")
    except UserError as refused:
        return _page(422, error=str(refused))
    flash(f"{user['name']} {'can no longer' if user['disabled'] else 'can again'} sign in.", "success")
    return redirect(url_for("users.page"), code=303)


@users.post("/users/<user_name>/password")
def change_password(user_name):
    """Give a user a new password (one they forgot, or one someone else learnt); their sessions end."""
    try:
        _not_yourself(user_name)
        user = set_password(get_store(), user_name, request.form.get("password"))
    except UserError as refused:
        return _page(422, error=str(refused))
    flash(f"{user['name']} has a new password; their sessions have ended.", "success")
    return redirect(url_for("users.page"), code=303)
