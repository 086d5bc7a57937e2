"""The people who may sign in: a name, a role, an optional phone for their supervisor line, and a
werkzeug password hash, kept in the store. The CLI and the admin's users page both change them here,
and a change to someone's role, password or access ends all their sessions, wherever they are open."""

from __future__ import annotations

import functools
import re
import time

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

from console.access import session_cookie
from console.config import ROLES
from console.state import sessions

MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SIP = re.compile(r"sips?:[^\s@]+@[^\s@]+")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


class UserError(ValueError):
    """A change to the users the console refuses, in words for whoever asked for it."""


def check_name(name: str | None) -> str:
    """A user name: letters, digits and . _ @ + -, starting with a letter or digit, at most 64 long."""
    text = (name or "").strip()
    if not _NAME.fullmatch(text):
        raise UserError("A user name is 1 to 64 letters, digits, '.', '_', '@', '+' or '-', "
                        "starting with a letter or digit.")
    return text


def check_role(role: str | None) -> str:
    """One of viewer, supervisor, admin."""
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)}; {role!r} is not.")
    return role


def check_password(password: str | None) -> str:
    """A password long enough to be worth hashing."""
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return password


def check_address(raw: str | None) -> str:
    """Where a supervisor line can ring: an E.164 number (typing spaces, dots, dashes, brackets) or a SIP URI."""
    text = (raw or "").strip()
    if _SIP.fullmatch(text):
        return text
    number = _PHONE_PUNCTUATION.sub("", text)
    if _E164.fullmatch(number):
        return number
    raise UserError("Enter a phone number in international form, like +13125550123, "
                    "or a SIP address, like sip:alice@example.com.")


def check_phone(phone: str | None) -> str | None:
    """An E.164 number or SIP address for the supervisor's line, or None when left empty."""
    if phone is None or not phone.strip():
        return None
    return check_address(phone)


def role_rank(role: str | None) -> int:
    """How much a role may do: viewer 0, supervisor 1, admin 2 (an unknown role -1)."""
    return ROLES.index(role) if role in ROLES else -1


def _existing(store, name: str) -> dict:
    user = store.user(name)
    if user is None:
        raise UserError(f"There is no user called {name!r}.")
    return user


def add_user(store, name: str, role: str, password: str, phone: str | None = None) -> dict:
    """Create a user who signs in with a password; refuse a name that is taken."""
    name, role = check_name(name), check_role(role)
    if store.user(name) is not None:
        raise UserError(f"A user called {name!r} already exists.")
    user = {"name": name, "role": role, "password_hash": generate_password_hash(check_password(password)),
            "phone": check_phone(phone), "disabled": False}
    store.save_user(user)
    return store.user(name)


def _end_sessions(store, name: str, reason: str) -> None:
    """End every session of this user, on the app's session clock when there is an app (the CLI has none)."""
    policy = current_app.extensions.get(session_cookie.EXTENSION) if has_app_context() else None
    sessions.end_all_of(store, name, policy.clock() if policy else time.time(), reason)


def set_role(store, name: str, role: str) -> dict:
    """Change what a user may do; their sessions end, so they sign in again under the new role."""
    before = _existing(store, name)
    user = before | {"role": check_role(role)}
    store.save_user(user)
    if before["role"] != user["role"]:
        _end_sessions(store, name, session_cookie.ROLE_CHANGED)
    return store.user(name)


def set_disabled(store, name: str, disabled: bool = True) -> dict:
    """Stop (or allow again) a user signing in; disabling ends their sessions and live pages at once."""
    user = _existing(store, name) | {"disabled": disabled}
    store.save_user(user)
    if disabled:
        _end_sessions(store, name, session_cookie.DISABLED)
    return store.user(name)


def set_password(store, name: str, password: str) -> dict:
    """Give a user a new password; every session signed in with the old one ends."""
    user = _existing(store, name) | {"password_hash": generate_password_hash(check_password(password))}
    store.save_user(user)
    _end_sessions(store, name, session_cookie.PASSWORD_CHANGED)
    return store.user(name)


@functools.cache
def _decoy_hash() -> str:
    """A hash to check unknown names against, so a wrong name takes as long as a wrong password."""
    return generate_password_hash("no such user, no such password")


def verify_password(store, name: str | None, password: str | None) -> dict | None:
    """The user when the name and password match an enabled user, else None."""
    user = store.user((name or "").strip()) if name else None
    stored = user["password_hash"] if user and user["password_hash"] else _decoy_hash()
    matches = check_password_hash(stored, password or "")
    if user is None or not user["password_hash"] or user["disabled"] or not matches:
        return None
    return user
