"""Opening a live socket, and reading what a page sends on it, with wsproto's public API.

The console agrees the WebSocket handshake with wsproto (`WSConnection`, `AcceptConnection`,
`PerMessageDeflate`) and reads the page's frames with the same connection object, in the socket's
reader thread only. What the console writes it frames itself (console.live.frames), so that a
frame is compressed once for every page showing it; the handshake therefore offers what that
framing does: permessage-deflate with `server_no_context_takeover` (each message on a fresh
window), at the window the page allows. A page that allows only an 8-bit window, which zlib's raw
deflate cannot honour, gets plain messages, valid on every connection (RFC 7692 allows an endpoint
to send any message uncompressed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import ProtocolError

DEFLATE = PerMessageDeflate.name
EXTENSIONS_HEADER = "sec-websocket-extensions"


class HandshakeRefused(Exception):
    """The request is not a WebSocket handshake the console can accept (answered 400 with this text)."""


@dataclass
class Handshake:
    """An agreed handshake: the 101 answer to write first, the compression window, and the frame reader."""

    response: bytes
    window: int | None  # bits of the window each message is compressed on; None: plain messages
    connection: WSConnection  # parses what the page sends; used by the socket's reader thread only


def _deflate() -> PerMessageDeflate:
    return PerMessageDeflate(server_no_context_takeover=True)


def _first_deflate_offer(value: str) -> str | None:
    """The first permessage-deflate offer in a Sec-WebSocket-Extensions value that can be accepted.

    Offers are tried in the page's order of preference and only the chosen one is shown to wsproto,
    whose parameters then match the answer exactly (it would otherwise merge every offer's).
    """
    for offer in value.split(","):
        if offer.split(";", 1)[0].strip().lower() != DEFLATE:
            continue
        try:
            if _deflate().accept(offer.strip()) is not None:
                return offer.strip()
        except ValueError:  # a parameter that is not a number
            continue
    return None


def accept(headers: Iterable[tuple[str, str]], target: str = "/live") -> Handshake:
    """Agree a WebSocket handshake from the request's headers, or raise HandshakeRefused saying why."""
    lines = [f"GET {target} HTTP/1.1"]
    for name, value in headers:
        if name.lower() == EXTENSIONS_HEADER:
            value = _first_deflate_offer(value)
            if value is None:
                continue
        lines.append(f"{name}: {value}")
    try:
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as error:
        raise HandshakeRefused("request headers must be Latin-1 text") from error
    connection = WSConnection(ConnectionType.SERVER)
    try:
        connection.receive_data(raw)
        request = next(connection.events(), None)
    except ProtocolError as error:
        raise HandshakeRefused(f"not a WebSocket handshake: {error}") from error
    if not isinstance(request, Request):
        raise HandshakeRefused("not a WebSocket handshake")
    deflate = _deflate()
    response = connection.send(AcceptConnection(extensions=[deflate]))
    return Handshake(response, deflate.server_max_window_bits if deflate.enabled() else None, connection)
