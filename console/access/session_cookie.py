"""Sessions: a row the server can end, named by a random id in Flask's signed cookie.

The cookie is HttpOnly and SameSite=Lax, Secure unless it cannot be, named for the console and
scoped to its URL prefix (two consoles on one host keep apart). It carries only the session id and
the CSRF token; the row (console.state.sessions) holds who signed in, when, when they were last
seen and whether the session has ended. A session ends when its user signs out, is disabled, gets
another role or password, after CONSOLE_SESSION_HOURS, or after CONSOLE_SESSION_IDLE_MINUTES
unused; an ended session is refused everywhere at once, because every instance reads the same row.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from console.state import sessions
from console.state.sessions import SessionRow

SESSION_COOKIE = "supervisor_console_session"
EXTENSION = "console.sessions"
# Why a session ended, as the page says it after "Your session has ended: ".
SIGNED_OUT = "you signed out"
SIGNED_IN_AGAIN = "you signed in again in this browser"
DISABLED = "your account was disabled"
ROLE_CHANGED = "your role was changed"
PASSWORD_CHANGED = "your password was changed"
UNKNOWN = "the console no longer knows it"
TOUCH_EVERY_SECONDS = 60.0


def _loopback(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_secure(config) -> bool:
    """Secure unless turned off, in demo mode, or (auto) a plain-HTTP request to localhost."""
    setting = config.get("CONSOLE_SECURE_COOKIES", "auto")
    if isinstance(setting, bool):
        return setting
    if config.get("CONSOLE_DEMO"):
        return False
    if not has_request_context() or request.scheme == "https":
        return True
    return not _loopback(request.host)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure as `cookie_secure` decides, scoped to the console's prefix."""

    def __init__(self):
        self._serializers: dict[tuple, object] = {}

    def get_signing_serializer(self, app: Flask):
        # Flask builds a new serializer for every request, and itsdangerous test-encodes a value
        # each time it builds one; the serializer depends only on the keys, so keep one per key set.
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if serializer is not None:
                self._serializers = {keys: serializer}
        return serializer

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_secure(app.config)

    def get_cookie_path(self, app: Flask) -> str:
        configured = app.config.get("SESSION_COOKIE_PATH")
        if configured:
            return configured
        return (request.script_root or "/") if has_request_context() else "/"


def ended_words(reason: str) -> str:
    """What the page says when its session has ended (short enough for a WebSocket close reason)."""
    return f"Your session has ended: {reason}."


class SessionPolicy:
    """How long a session lasts and may stay unused, over the state room's rows, with a clock tests can move."""

    def __init__(self, hours: float, idle_minutes: float, clock: Callable[[], float] = time.time):
        self.hours = hours
        self.idle_minutes = idle_minutes
        self.clock = clock

    @property
    def _touch_every(self) -> float:
        """Seconds between writes of "last seen": a small part of the idle timeout, never every request."""
        return min(TOUCH_EVERY_SECONDS, self.idle_minutes * 60 / 4) if self.idle_minutes else TOUCH_EVERY_SECONDS

    def start(self, store, user_name: str) -> str:
        """A new session for a user who proved who they are; its id goes in the cookie."""
        now = self.clock()
        return sessions.start(store, user_name, now, forget_before=now - self.hours * 3600)

    def check(self, store, session_id: str) -> tuple[SessionRow | None, str | None]:
        """The session's row and, when it may no longer be used, why; a live session is touched now and then."""
        row, now = sessions.find(store, session_id), self.clock()
        if row is None:
            return None, UNKNOWN
        reason = row.end_reason or ("it ended" if row.ended_at is not None else None)
        if reason is None and (row.role is None or row.disabled):
            reason = DISABLED
        elif reason is None and now - row.created_at >= self.hours * 3600:
            reason = f"it reached its {self.hours:g}-hour limit"
        elif reason is None and self.idle_minutes and now - row.last_seen_at >= self.idle_minutes * 60:
            reason = f"it went unused for {self.idle_minutes:g} minutes"
        if reason is not None:
            if row.ended_at is None:
                sessions.end(store, session_id, now, reason)
            return row, reason
        if now - row.last_seen_at >= self._touch_every:
            sessions.touch(store, session_id, now)
        return row, None

    def end(self, store, session_id: str, reason: str) -> None:
        """End one session (signing out), saying why."""
        sessions.end(store, session_id, self.clock(), reason)


def get_policy() -> SessionPolicy:
    """The current app's session policy."""
    return current_app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Use the console's session interface, cookie settings and session policy."""
    app.session_interface = ConsoleSessionInterface()
    app.extensions[EXTENSION] = SessionPolicy(float(app.config.get("CONSOLE_SESSION_HOURS") or 12),
                                              float(app.config.get("CONSOLE_SESSION_IDLE_MINUTES") or 0))
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(app.config.get("CONSOLE_SESSION_HOURS") or 12)),
    )
