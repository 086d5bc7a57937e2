"""Who is asking, and may they: roles, the permission table, CSRF and single sign-on.

Every endpoint has an entry in PERMISSIONS (a ``blueprint.*`` entry covers a whole blueprint).
`check_request` runs before every request and refuses an endpoint that has no entry, so a new
route stays closed until someone decides who may use it. Roles grant permissions: a viewer sees
everything and acts on nothing, a supervisor also uses the controls and the supervisor modes, an
admin also manages queues and users.

The signed-in user comes from, in order: the trusted proxy's user header (single sign-on, only
when CONSOLE_TRUSTED_HEADER_AUTH is on and the request came from CONSOLE_TRUSTED_PROXIES), the
session the login page started (a row the server can end, named by the cookie: session_cookie.py),
and in demo mode a demo admin. Every state-changing request
must carry the session's CSRF token, in the X-CSRF-Token header (htmx sends it from hx-headers on
<body>) or a csrf_token form field; only the webhook is exempt, because its signature verifies it.
A refusal is raised as `Refused`, with its words; how it looks (a status line, a page) is the web room's.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    g,
    has_request_context,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape

from console.access import session_cookie
from console.access.embedding import from_trusted_proxy
from console.access.users import role_rank
from console.config import ConfigError, parse_group_roles
from console.state.store import get_store

log = logging.getLogger("console.auth")

PUBLIC = "public"
VIEW = "view"
CONTROL = "control"
VIEW_AUDIT = "view audit"
MANAGE_QUEUES = "manage queues"
MANAGE_USERS = "manage users"

GRANTS = {
    "viewer": frozenset({VIEW}),
    "supervisor": frozenset({VIEW, CONTROL, VIEW_AUDIT}),
    "admin": frozenset({VIEW, CONTROL, VIEW_AUDIT, MANAGE_QUEUES, MANAGE_USERS}),
}
# Permissions that change something: every POST guarded by one of these is audited.
ACTING = frozenset({CONTROL, MANAGE_QUEUES, MANAGE_USERS})

PERMISSIONS = {
    "static": PUBLIC,
    "webhooks.receive": PUBLIC,  # Ed25519 signature instead of a user
    "health.*": PUBLIC,  # load-balancer probes
    "metrics_views.*": PUBLIC,  # Prometheus scrapes; keep /metrics off the public network
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "pages.dashboard": VIEW,
    "pages.conference": VIEW,
    "pages.queue": VIEW,
    "pages.ended": VIEW,
    "wallboard.board_page": VIEW,
    "wallboard.board": VIEW,
    "history.page": VIEW,
    "history.calls_csv": VIEW,
    "history.kpis_csv": VIEW,
    "history.call_timeline_page": VIEW,
    "history.alerts_page": VIEW,
    "shift.acknowledge_alert": CONTROL,
    "shift.line_bar": VIEW,
    "live.socket": VIEW,
    "audit.page": VIEW_AUDIT,
    "audit.export": VIEW_AUDIT,
    "actions.audience": CONTROL,
    "actions.play": CONTROL,
    "actions.stop": CONTROL,
    "actions.speak": CONTROL,
    "actions.send_dtmf": CONTROL,
    "actions.recording": CONTROL,
    "actions.join": CONTROL,
    "actions.join_form": CONTROL,
    "actions.end": CONTROL,
    "actions.create_conference": CONTROL,
    "actions.participant_action": CONTROL,
    "actions.gather": CONTROL,
    "actions.role": CONTROL,
    "actions.settings": CONTROL,
    "actions.participant_more": CONTROL,
    "queue_actions.create_queue": MANAGE_QUEUES,
    "queue_actions.resize_queue": MANAGE_QUEUES,
    "queue_actions.delete_queue": MANAGE_QUEUES,
    "queue_actions.keep_after_hangup": CONTROL,
    "queue_actions.remove_queued_call": CONTROL,
    "queue_actions.leave_queue": CONTROL,
    "queue_actions.parked_calls_panel": CONTROL,
    "queue_actions.enqueue": CONTROL,
    "breach.move_queued_call": CONTROL,
    "breach.speak_to_queued_call": CONTROL,
    "breach.breach_action_forms": CONTROL,
    "supervise.profile": CONTROL,
    "supervise.line_box": CONTROL,
    "supervise.save_phone": CONTROL,
    "supervise.connect_line": CONTROL,
    "supervise.attach_line": CONTROL,
    "supervise.hang_up_line": CONTROL,
    "supervise.panel_body": CONTROL,
    "supervise.change_mode": CONTROL,
    "users.page": MANAGE_USERS,
    "users.add": MANAGE_USERS,
    "users.change_role": MANAGE_USERS,
    "users.access": MANAGE_USERS,
    "agent_board.page": VIEW,
    "agent_board.cards": VIEW,
    "agents.directory_page": VIEW,
    "agents.add": MANAGE_USERS,
    "agents.edit": MANAGE_USERS,
    "agents.remove": MANAGE_USERS,
    "agents.import_csv": MANAGE_USERS,
    "users.change_password": MANAGE_USERS,
}

CSRF_EXEMPT = frozenset({"webhooks.receive"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEMO_NAME = "demo"
_CSRF_KEY = "csrf"
_SESSION_KEY = "session_id"
_UNSET = object()


@dataclass(frozen=True)
class User:
    """Someone signed in: their name, role, the phone for their supervisor line, and how they signed in."""

    name: str
    role: str
    phone: str | None = None
    source: str = "password"  # "password", "single sign-on" or "demo"

    def can(self, permission: str) -> bool:
        """Whether the role grants the permission (anyone may use a public endpoint)."""
        return permission == PUBLIC or permission in GRANTS.get(self.role, frozenset())

    @property
    def read_only(self) -> bool:
        """Watches but cannot act."""
        return not self.can(CONTROL)


def permission_for(endpoint: str | None) -> str | None:
    """The permission an endpoint needs: its own entry, else its blueprint's `name.*`, else None."""
    if not endpoint:
        return None
    if endpoint in PERMISSIONS:
        return PERMISSIONS[endpoint]
    blueprint, _, _ = endpoint.rpartition(".")
    return PERMISSIONS.get(f"{blueprint}.*") if blueprint else None


# --- who is asking ------------------------------------------------------------------------------


def current_user() -> User | None:
    """The user making this request, worked out once per request (None outside a request)."""
    if not has_request_context():
        return None
    user = g.get("console_user", _UNSET)
    if user is _UNSET:
        user = g.console_user = _resolve_user()
    return user


def sign_in(user: dict) -> User:
    """Start a fresh session for a user who gave the right password (a new CSRF token too); this browser's
    previous session, if any, ends so its cookie cannot be replayed."""
    if session.get(_SESSION_KEY):
        session_cookie.get_policy().end(get_store(), session[_SESSION_KEY], session_cookie.SIGNED_IN_AGAIN)
    session.clear()
    session.permanent = True
    session[_SESSION_KEY] = session_cookie.get_policy().start(get_store(), user["name"])
    signed_in = g.console_user = User(user["name"], user["role"], user.get("phone"))
    return signed_in


def sign_out() -> None:
    """End the session on the server (everywhere, at once), then forget the cookie and its CSRF token."""
    current = session.get(_SESSION_KEY)
    if current:
        session_cookie.get_policy().end(get_store(), current, session_cookie.SIGNED_OUT)
    session.clear()


def session_id() -> str | None:
    """The id of the password session behind this request, when it is one (a live socket watches it)."""
    user = current_user()
    return session.get(_SESSION_KEY) if user is not None and user.source == "password" else None


def session_ended(watched_id: str | None, user: User | None) -> str | None:
    """Why a live socket's session may no longer be used (None while it may): its row, or an SSO user disabled."""
    if watched_id:
        return session_cookie.get_policy().check(get_store(), watched_id)[1]
    if user is not None and user.source == "single sign-on":
        stored = get_store().user(user.name)
        return session_cookie.DISABLED if stored is not None and stored["disabled"] else None
    return None


def _resolve_user() -> User | None:
    config = current_app.config
    single_sign_on = _single_sign_on_user()
    if single_sign_on is not None:
        return single_sign_on
    named = session.get(_SESSION_KEY)
    if named:
        row, ended = session_cookie.get_policy().check(get_store(), named)
        if ended is None:
            return User(row.user_name, row.role, row.phone)
        session.pop(_SESSION_KEY, None)  # ended for good: the cookie stops naming it
    if config.get("CONSOLE_DEMO"):
        return User(DEMO_NAME, "admin", config.get("CONSOLE_SUPERVISOR_PHONE"), source="demo")
    return None


def _single_sign_on_user() -> User | None:
    """The user the trusted proxy names, with the highest role their groups map to."""
    config = current_app.config
    if not config.get("CONSOLE_TRUSTED_HEADER_AUTH") or not from_trusted_proxy():
        return None
    name = (request.headers.get(config["CONSOLE_TRUSTED_USER_HEADER"]) or "").strip()
    if not name:
        return None
    stored = get_store().user(name)
    if stored is not None and stored["disabled"]:
        return None
    mapping = current_app.extensions["console.group_roles"]
    groups = (request.headers.get(config["CONSOLE_TRUSTED_GROUPS_HEADER"]) or "").split(",")
    roles = [mapping[group.strip()] for group in groups if group.strip() in mapping]
    role = max(roles, key=role_rank) if roles else (stored["role"] if stored else "viewer")
    return User(name, role, stored["phone"] if stored else None, source="single sign-on")


# --- CSRF ---------------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token, made on first use ('' when rendering outside a browser's request)."""
    if not g.get("console_request"):
        return ""
    token = session.get(_CSRF_KEY)
    if not token:
        token = session[_CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    """The hidden input a plain form posts its CSRF token in."""
    token = csrf_token()
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">') if token else Markup("")


def _csrf_ok() -> bool:
    expected = session.get(_CSRF_KEY)
    if not expected:
        return False
    for offered in (request.headers.get(CSRF_HEADER), request.form.get(CSRF_FIELD)):
        if offered and hmac.compare_digest(offered.encode(), expected.encode()):
            return True
    return False


# --- the check every request passes -------------------------------------------------------------


def check_request():
    """Before every request: an entry in the table, the CSRF token, a user, and the permission (else Refused)."""
    g.console_request = True
    g.request_started = datetime.now(UTC)
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route: the 404 or 405 follows
    permission = permission_for(endpoint)
    if permission is None:
        log.error("refused %s %s: endpoint %s has no entry in console.auth.PERMISSIONS",
                  request.method, request.path, endpoint)
        refuse("This address has no permission entry yet, so the console refuses it to everyone.")
    if request.method not in SAFE_METHODS and endpoint not in CSRF_EXEMPT and not _csrf_ok():
        refuse("The page's security token is missing or out of date, so nothing was done. "
               "Reload the page and try again.", title="Security check failed")
    if permission == PUBLIC:
        return None
    user = current_user()
    if user is None:
        return _sign_in_first()
    if is_socket() and not _same_origin():
        refuse("The live connection was opened from another site.")
    if not user.can(permission):
        refuse(_why_not(user, permission))
    return None


def _why_not(user: User, permission: str) -> str:
    if user.read_only:
        return f"You are signed in as {user.name}, a viewer: you can watch everything but not act."
    needs = "an admin" if permission in (MANAGE_QUEUES, MANAGE_USERS) else "a supervisor"
    return f"Only {needs} can do this; you are signed in as {user.name} ({user.role})."


def is_socket() -> bool:
    """Whether this request opens the live WebSocket (its refusals are plain text)."""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _same_origin() -> bool:
    """A browser names the page that opens a WebSocket; it must be the console's own."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def _is_htmx() -> bool:
    return bool(request.htmx)


class Refused(Exception):
    """A request the console will not serve, with the words why; the web room decides how it looks."""

    def __init__(self, detail: str, *, title: str = "Not allowed", status: int = 403):
        super().__init__(detail)
        self.detail = detail
        self.title = title
        self.status = status


def refuse(detail: str, *, title: str = "Not allowed", status: int = 403) -> NoReturn:
    """Refuse this request: the words are kept for its audit entry, then raised for the web room to answer."""
    g.refusal = detail
    raise Refused(detail, title=title, status=status)


def here() -> str:
    """This request's path and query under the console's prefix, for coming back after signing in."""
    query = request.query_string.decode("latin-1")
    return request.script_root + request.path + (f"?{query}" if query else "")


def _sign_in_first():
    login = url_for("auth.login", next=here())
    if is_socket():
        return make_response("Sign in first.", 401, {"Content-Type": "text/plain; charset=utf-8"})
    if _is_htmx():
        return make_response("", 401, {"HX-Redirect": login})
    return redirect(login, code=303 if request.method not in SAFE_METHODS else 302)


# --- the live socket ----------------------------------------------------------------------------


def socket_message_refusal(message) -> str | None:
    """What to send back for a message a page sent up the live socket: a refusal for read-only users.

    The live socket carries no commands (controls post over HTTP), so other users' messages are
    simply ignored (None).
    """
    user = current_user()
    if user is not None and user.can(CONTROL):
        return None
    log.warning("refused a live-socket message from %s (read-only): %.80r", user.name if user else "nobody", message)
    return ('<p id="read-only-banner" class="access-banner access-read-only" hx-swap-oob="true" role="status">'
            "<strong>Read-only.</strong> Your role can watch but not act, so the console refused that command.</p>")


def init_app(app: Flask) -> None:
    """Session cookie settings, the request check, and the template helpers."""
    config = app.config
    if config.get("CONSOLE_TRUSTED_HEADER_AUTH") and not config.get("CONSOLE_TRUSTED_PROXIES"):
        raise ConfigError("CONSOLE_TRUSTED_HEADER_AUTH is on but CONSOLE_TRUSTED_PROXIES is empty: name the "
                          "proxy that sets the user header, or anyone could claim to be anyone.")
    try:
        app.extensions["console.group_roles"] = parse_group_roles(config.get("CONSOLE_GROUP_ROLES"))
    except ValueError as exc:
        raise ConfigError(f"CONSOLE_GROUP_ROLES: {exc}") from exc
    session_cookie.init_app(app)
    app.before_request(check_request)
    app.jinja_env.globals.update(current_user=current_user, csrf_token=csrf_token, csrf_field=csrf_field,
                                 CSRF_HEADER=CSRF_HEADER)
