"""The login page, and signing out; a try while too many failures are recent is answered 429 unchecked."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from console.access import throttle
from console.access.auth import Refused, current_user, sign_in, sign_out
from console.access.session_cookie import cookie_secure
from console.access.users import verify_password
from console.state.store import get_store
from console.web.views.feedback import access_refused

auth = Blueprint("auth", __name__)
auth.app_errorhandler(Refused)(access_refused)
NO_MATCH = "That name and password do not match an enabled user."


@auth.record_once
def _setup(state) -> None:
    """Build the login throttle over the app's store when the blueprint joins an app."""
    throttle.init_app(state.app)


def _safe_next(target: str | None) -> str:
    """Only a path inside this console is a place to go back to, never another site."""
    root = request.script_root
    if (target and target.startswith(root + "/") and not target.startswith("//") and "\\" not in target
            and not any(ord(c) < 32 for c in target)):
        return target
    return url_for("pages.dashboard")


def _login_page(status: int = 200, *, error: str | None = None, name: str = "", unchecked: bool = False):
    insecure = cookie_secure(current_app.config) and request.scheme != "https"
    page = render_template("login.html", page_name="login", user=current_user(), error=error, name=name,
                           next_url=_safe_next(request.values.get("next")), insecure=insecure, unchecked=unchecked)
    return page, status


@auth.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a name and password (the page also says who is signed in already)."""
    if request.method == "GET":
        return _login_page()
    name = (request.form.get("name") or "").strip()
    guard = throttle.get_throttle()
    attempt = guard.attempt(name, request.remote_addr)
    if attempt.waiting is not None:
        g.refusal = f"Throttled, password not checked: {attempt.waiting.words}"
        current_app.logger.warning("throttled sign-in for %r from %s", name[:64], request.remote_addr)
        page, status = _login_page(429, error=attempt.waiting.words, name=name, unchecked=True)
        return page, status, {"Retry-After": str(attempt.waiting.retry_after)}
    user = verify_password(get_store(), name, request.form.get("password"))
    if user is None:
        current_app.logger.warning("failed sign-in for %r from %s", name[:64], request.remote_addr)
        wait = guard.failed(attempt)
        if wait is None:
            return _login_page(401, error=NO_MATCH, name=name)
        g.refusal = f"Wrong name or password. {wait.words}"
        page, status = _login_page(401, error=f"{NO_MATCH} {wait.words}", name=name)
        return page, status, {"Retry-After": str(wait.retry_after)}
    guard.succeeded(attempt)
    sign_in(user)
    return redirect(_safe_next(request.form.get("next")), code=303)


@auth.post("/logout")
def logout():
    """Forget the session and go back to the login page."""
    sign_out()
    return redirect(url_for("auth.login"), code=303)
