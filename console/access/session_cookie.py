"""The session cookie: Flask's signed cookie, HttpOnly and SameSite=Lax, Secure unless it cannot be,
named for the console and scoped to its URL prefix (two consoles on one host keep apart)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

SESSION_COOKIE = "supervisor_console_session"


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


def init_app(app: Flask) -> None:
    """Use the console's session interface and cookie settings."""
    app.session_interface = ConsoleSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(app.config.get("CONSOLE_SESSION_HOURS") or 12)),
    )
