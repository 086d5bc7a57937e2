"""GET /live (WebSocket): a snapshot of what the page shows, then out-of-band fragments as things change.

A page connects with `?watch=dashboard`, `?watch=ended`, `?watch=wallboard`, `?watch=conference:<id>`
or `?watch=queue:<name>`. The live hub (console.live.hub) decides what each page gets; this route
agrees the handshake (console.live.handshake) and then serves the socket from the request's own
thread, its only writer (console.live.live_socket): what the hub could not write at once,
heartbeats, pings, pongs, refusals of commands sent over the socket, and the close, which comes
(code 4001, with the reason) within a second of the page's session ending: signed out anywhere,
the user disabled, their role or password changed, or the session's time up.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from console.access.auth import (
    current_user,
    session_ended,
    session_id,
    socket_message_refusal,
)
from console.access.session_cookie import ended_words
from console.live.handshake import HandshakeRefused, accept
from console.live.hub import SERVICE_RESTART, PageLimit, get_hub
from console.live.live_socket import POLICY_VIOLATION, LiveSocket

live = Blueprint("live", __name__)

HEARTBEAT_SECONDS = 20.0
TRY_AGAIN_LATER = 1013  # too many pages open for this session or user: the page says so and retries
SESSION_ENDED = 4001  # the page shows the reason and offers to sign in again, and does not reconnect
SESSION_CHECK_SECONDS = 0.5  # one indexed query per page this often, so an ended session closes within a second
# Where the WSGI servers the console runs under put the connection's socket.
SERVER_SOCKETS = ("gunicorn.socket", "werkzeug.socket")


def _heartbeat() -> list[str]:
    """A tiny frame proving the connection is alive when nothing has changed for a while."""
    return ['<span id="live-heartbeat" hx-swap-oob="true" hidden></span>']


class SocketDone(Response):
    """What the server gets once the socket is over: nothing more may reach the browser.

    gunicorn closes the connection, writing nothing, when the app raises StopIteration; Werkzeug
    writes an answer, which meets a socket already shut for writing and is dropped quietly.
    """

    def __call__(self, environ, start_response):
        if "gunicorn.socket" in environ:
            raise StopIteration
        return super().__call__(environ, start_response)


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status, {"Content-Type": "text/plain; charset=utf-8"})


@live.route("/live", websocket=True)
def socket():
    """Stream the page's snapshot and then its changes until the browser or the server goes away."""
    sock = next((request.environ[name] for name in SERVER_SOCKETS if name in request.environ), None)
    if sock is None:
        return _plain(501, "This server cannot hold a WebSocket.")
    try:
        handshake = accept(request.headers.items())
    except HandshakeRefused as refusal:
        return _plain(400, str(refusal))
    config = current_app.config
    page = LiveSocket(sock, handshake, stall_seconds=float(config.get("CONSOLE_SEND_STALL_SECONDS") or 10))
    hub = get_hub()
    watched, user = session_id(), current_user()
    try:
        subscription = hub.subscribe(
            request.args.get("watch", "dashboard"), request.script_root,
            user=user.name if user is not None and user.source != "demo" else None,
            session=watched, per_user=int(config.get("CONSOLE_MAX_SOCKETS_PER_USER") or 0),
            per_session=int(config.get("CONSOLE_MAX_SOCKETS_PER_SESSION") or 0))
    except ValueError:
        page.refuse(POLICY_VIOLATION, "unknown watch")
        return SocketDone()
    except PageLimit as refusal:
        page.refuse(TRY_AGAIN_LATER, str(refusal))
        return SocketDone()
    except RuntimeError:
        page.refuse(SERVICE_RESTART, "server restarting")
        return SocketDone()

    def check() -> tuple[int, str] | None:
        ended = session_ended(watched, user)
        return None if ended is None else (SESSION_ENDED, ended_words(ended))

    try:
        page.serve(subscription, ping_every=float(config.get("CONSOLE_WS_PING_SECONDS") or 0),
                   check_every=SESSION_CHECK_SECONDS, heartbeat_every=HEARTBEAT_SECONDS, check=check,
                   refuse=socket_message_refusal, heartbeat=_heartbeat)
    finally:
        hub.unsubscribe(subscription)
    return SocketDone()
