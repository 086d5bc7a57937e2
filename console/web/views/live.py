"""GET /live (WebSocket): a snapshot of what the page shows, then out-of-band fragments as things change.

A page connects with `?watch=dashboard`, `?watch=ended`, `?watch=wallboard`, `?watch=conference:<id>`
or `?watch=queue:<name>`. The live hub (console.live.hub) decides what each page gets; this route
holds one browser's socket: it writes what the hub could not write at once, heartbeats, pings and
refusals of commands sent over the socket, and it closes the socket (code 4001, with the reason)
within a second of its session ending: signed out anywhere, the user disabled, their role or
password changed, or the session's time up.
"""

from __future__ import annotations

import time
from socket import SHUT_WR

from flask import Blueprint, current_app, request
from simple_websocket import ConnectionClosed
from simple_websocket import ConnectionError as SocketError

from console.access.auth import (
    current_user,
    session_ended,
    session_id,
    socket_message_refusal,
)
from console.access.session_cookie import ended_words
from console.live.frames import compression_window, ping_frame, send_frame
from console.live.hub import SERVICE_RESTART, PageLimit, get_hub
from console.web.extensions import sock

live = Blueprint("live", __name__)

HEARTBEAT_SECONDS = 20.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013  # too many pages open for this session or user: the page says so and retries
SESSION_ENDED = 4001  # the page shows the reason and offers to sign in again, and does not reconnect
SESSION_CHECK_SECONDS = 0.5  # one indexed query per page this often, so an ended session closes within a second


def _heartbeat() -> list[str]:
    """A tiny frame proving the connection is alive when nothing has changed for a while."""
    return ['<span id="live-heartbeat" hx-swap-oob="true" hidden></span>']


@sock.route("/live", bp=live)
def socket(ws):
    """Stream the page's snapshot and then its changes until the browser or the server goes away.

    This thread is the socket's only blocking writer: frames the hub could not write at once,
    heartbeats, refusals and pings. simple_websocket's reader thread would otherwise send its own
    pings (its ``ping_interval``, left off), which could land inside a frame the hub had only half
    written. A page that has not answered the previous ping by the next one is gone: the socket is
    closed and its thread freed.
    """
    watch = request.args.get("watch", "dashboard")
    hub = get_hub()
    watched, user = session_id(), current_user()
    config = current_app.config
    try:
        subscription = hub.subscribe(
            watch, request.script_root, user=user.name if user is not None and user.source != "demo" else None,
            session=watched, per_user=int(config.get("CONSOLE_MAX_SOCKETS_PER_USER") or 0),
            per_session=int(config.get("CONSOLE_MAX_SOCKETS_PER_SESSION") or 0))
    except ValueError:
        ws.close(reason=POLICY_VIOLATION, message="unknown watch")
        return
    except PageLimit as refusal:
        _close_for_good(ws, TRY_AGAIN_LATER, str(refusal))
        return
    except RuntimeError:
        ws.close(reason=SERVICE_RESTART, message="server restarting")
        return
    # Every data message goes out through console.live.frames, compressed the same way for every page. The
    # hub writes frames itself while this socket keeps up; this thread writes what it could not.
    window = compression_window(ws)
    subscription.attach(ws.sock, window)
    ping_every = float(current_app.config.get("CONSOLE_WS_PING_SECONDS") or 0)
    pinged_at = checked_at = time.monotonic()
    ended = None
    try:
        while ws.connected and not subscription.closed:
            frame = subscription.next_frame(timeout=min(SESSION_CHECK_SECONDS, ping_every or SESSION_CHECK_SECONDS))
            if time.monotonic() - checked_at >= SESSION_CHECK_SECONDS:
                checked_at = time.monotonic()
                if (ended := session_ended(watched, user)) is not None:
                    subscription.close(SESSION_ENDED)
                    break
            refusals = []
            while (message := ws.receive(timeout=0)) is not None:
                refusal = socket_message_refusal(message)  # commands go over HTTP; a viewer's are refused
                if refusal is not None:
                    refusals.append(refusal)
            now = time.monotonic()
            ping = ping_every > 0 and now - pinged_at >= ping_every
            if ping:
                if not ws.pong_received:  # the page never answered the last ping: it is gone
                    subscription.close(POLICY_VIOLATION)
                    break
                ws.pong_received, pinged_at = False, now
            if frame is None and now - subscription.written_at >= HEARTBEAT_SECONDS:
                frame = _heartbeat()
            if frame is None and not refusals and not ping:
                continue
            backlog = subscription.claim()
            try:
                for queued in ([frame] if frame is not None else []) + backlog:
                    send_frame(ws, queued, window)
                if refusals:
                    send_frame(ws, refusals, window)
                if ping:
                    ws.sock.sendall(ping_frame())
            finally:
                subscription.sent()
    except (ConnectionClosed, SocketError, OSError):
        pass  # the browser went away (a reset socket raises a plain ConnectionResetError)
    finally:
        hub.unsubscribe(subscription)
    if subscription.close_code is not None and ws.connected:
        try:
            if subscription.close_code in (POLICY_VIOLATION, SESSION_ENDED):
                ws.sock.settimeout(2.0)  # a peer that stopped reading must not hold this thread on the close
                reason = ended_words(ended) if ended else "no answer to ping"
            else:
                reason = "server restarting"
            ws.close(reason=subscription.close_code, message=reason)
            if ended:
                # Nothing may follow the close frame: Werkzeug (demo) writes an HTTP answer once the handler
                # returns, which the browser would read as a broken frame, losing the reason the page shows.
                ws.sock.shutdown(SHUT_WR)
        except (ConnectionClosed, SocketError, OSError):
            pass


def _close_for_good(ws, code: int, reason: str) -> None:
    """Close with a reason the page shows, writing nothing after the close frame.

    Werkzeug (demo) writes an HTTP answer once the handler returns, which the browser would read as
    a broken frame, losing the code and the reason.
    """
    try:
        ws.sock.settimeout(2.0)
        ws.close(reason=code, message=reason)
        ws.sock.shutdown(SHUT_WR)
    except (ConnectionClosed, SocketError, OSError):
        pass
