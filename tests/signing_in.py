"""Test clients that act like a signed-in browser: the session cookie, and the CSRF token on every request."""

from __future__ import annotations

import re

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_FIELD.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def csrf_client(app, **environ):
    """A test client holding a session and sending its CSRF token in the header htmx sends.

    In demo mode (the live fixtures) this client is the demo admin; otherwise it is signed out
    until `sign_in` is called.
    """
    client = app.test_client()
    client.environ_base.update(environ)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_of(client.get("/login").get_data(as_text=True))
    return client


def sign_in(client, name: str, password: str):
    """Sign the client in through the login form; the session (and its CSRF token) start afresh."""
    answer = client.post("/login", data={"name": name, "password": password})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_of(client.get("/login").get_data(as_text=True))
    return client


def signed_in_client(app, name: str, password: str, **environ):
    """A fresh client signed in as this user."""
    return sign_in(csrf_client(app, **environ), name, password)
