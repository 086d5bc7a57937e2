"""The live socket's handshake: agreed by wsproto, compression offered as the console frames it, bad ones refused."""

from __future__ import annotations

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.extensions import PerMessageDeflate

from console.live.handshake import HandshakeRefused, accept


def client_headers(extensions=None, offer: str | None = None) -> tuple[WSConnection, list[tuple[str, str]]]:
    """A wsproto client's opening request, as the header pairs a WSGI server hands the app."""
    client = WSConnection(ConnectionType.CLIENT)
    raw = client.send(Request(host="127.0.0.1", target="/live?watch=dashboard", extensions=extensions or []))
    lines = raw.decode("latin-1").split("\r\n")[1:]
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines if line]
    if offer is not None:
        headers = [(n, v) for n, v in headers if n.lower() != "sec-websocket-extensions"]
        headers.append(("Sec-WebSocket-Extensions", offer))
    return client, headers


def agreed(client: WSConnection, response: bytes) -> AcceptConnection:
    client.receive_data(response)
    event = next(client.events())
    assert isinstance(event, AcceptConnection), event
    return event


def test_a_page_offering_compression_gets_it_on_a_fresh_window_per_message():
    client, headers = client_headers([PerMessageDeflate()])
    handshake = accept(headers)
    assert handshake.response.startswith(b"HTTP/1.1 101")
    assert handshake.window == 15
    (deflate,) = agreed(client, handshake.response).extensions
    assert deflate.server_no_context_takeover, "the client must know each message starts a fresh window"


def test_a_page_that_offers_nothing_gets_plain_messages():
    client, headers = client_headers()
    handshake = accept(headers)
    assert handshake.window is None
    assert agreed(client, handshake.response).extensions == []


def test_the_window_the_page_allows_is_the_one_used():
    client, headers = client_headers([PerMessageDeflate(server_max_window_bits=10)])
    handshake = accept(headers)
    assert handshake.window == 10
    assert agreed(client, handshake.response).extensions[0].server_max_window_bits == 10


@pytest.mark.parametrize(("offer", "window"), [
    ("permessage-deflate; server_max_window_bits=8", None),  # zlib's raw deflate cannot honour 8 bits
    ("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=11", 11),
    ("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits", 15),
    ("permessage-deflate; server_max_window_bits=ten", None),
])
def test_the_first_offer_that_can_be_honoured_is_chosen(offer, window):
    _, headers = client_headers(offer=offer)
    handshake = accept(headers)
    assert handshake.window == window
    answer = handshake.response.decode("latin-1").lower()
    assert ("permessage-deflate" in answer) is (window is not None)
    if window not in (None, 15):
        assert f"server_max_window_bits={window}" in answer


@pytest.mark.parametrize("drop", ["sec-websocket-key", "sec-websocket-version", "upgrade", "host"])
def test_a_request_that_is_not_a_websocket_handshake_is_refused_saying_why(drop):
    _, headers = client_headers()
    with pytest.raises(HandshakeRefused, match="WebSocket handshake"):
        accept([(name, value) for name, value in headers if name.lower() != drop])


def test_header_values_outside_latin_1_are_refused_not_crashed_on():
    _, headers = client_headers()
    with pytest.raises(HandshakeRefused, match="Latin-1"):
        accept([*headers, ("X-Name", "名前")])
