"""Live frames are encoded once for every page that shows them, compressed for pages that asked for it."""

from __future__ import annotations

import struct
import time
import zlib

import pytest

from console import create_app
from console.bench.wire import Closed, WebSocketReader
from console.live import frames as ws_frames
from console.live.frames import (
    Frame,
    close_frame,
    encode_message,
    ping_frame,
    pong_frame,
)
from console.web.server import BackgroundServer
from tests.waiting import wait_for


def _inflate(inflater, frame: bytes) -> tuple[int, str]:
    """(first byte, text) of one server frame, inflated with `inflater` when it is compressed."""
    size, start = frame[1], 2
    if size == 126:
        size, start = struct.unpack_from("!H", frame, 2)[0], 4
    elif size == 127:
        size, start = struct.unpack_from("!Q", frame, 2)[0], 10
    payload = frame[start:start + size]
    assert start + size == len(frame)
    if frame[0] & 0x40:
        payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
    return frame[0], payload.decode()


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_plain_frames_carry_every_length_form(size):
    text = "é" * (size // 2) + "x" * (size % 2)
    first, decoded = _inflate(None, encode_message(text, None))
    assert first == 0x81 and decoded == text


def test_text_that_is_not_unicode_is_sent_with_a_replacement_not_an_error():
    assert _inflate(None, encode_message("call \ud800 me", None)) == (0x81, "call ? me")


def test_compressed_messages_decode_on_one_long_lived_window_as_browsers_keep_it():
    inflater = zlib.decompressobj(-15)
    texts = ['<tr id="conference__a">Live</tr>' * 50, '<tr id="conference__a">Live</tr>' * 51, "", "ü" * 70_000]
    for text in texts:
        frame = encode_message(text, 15)
        first, decoded = _inflate(inflater, frame)
        assert first == 0xC1 and decoded == text
    assert len(encode_message(texts[0], 15)) < len(encode_message(texts[0], None)) / 10


def test_a_frame_is_encoded_once_per_window_whoever_sends_it(monkeypatch):
    calls = []
    real = ws_frames.encode_message
    monkeypatch.setattr(ws_frames, "encode_message", lambda text, bits: calls.append(bits) or real(text, bits))
    frame = Frame(["<div>a</div>", "<tr>b</tr>"])
    assert frame == ["<div>a</div>", "<tr>b</tr>"]  # still the list of messages the hub and tests read
    compressed = frame.wire(15)
    assert frame.wire(15) is compressed
    plain = frame.wire(None)
    assert frame.wire(None) is plain
    assert calls == [15, 15, None, None]  # two messages, each encoded once per window
    inflater = zlib.decompressobj(-15)
    size = compressed[1]
    assert _inflate(inflater, compressed[:2 + size]) == (0xC1, "<div>a</div>")


def test_control_frames_are_short_and_whole():
    assert ping_frame() == b"\x89\x00"
    assert pong_frame(b"abc") == b"\x8a\x03abc"
    assert close_frame(None) == b"\x88\x00"
    assert close_frame(4001, "bye") == b"\x88\x05" + struct.pack("!H", 4001) + b"bye"
    with pytest.raises(ValueError):
        pong_frame(b"x" * 126)


def test_a_long_close_reason_is_cut_on_a_character_boundary_to_fit_a_control_frame():
    frame = close_frame(1013, "é" * 100)
    assert frame[1] <= 125 and len(frame) == 2 + frame[1]
    assert frame[4:].decode("utf-8") == "é" * 61  # 122 bytes of two-byte characters, none cut in half


@pytest.mark.parametrize("deflate", [True, False])
def test_a_live_page_gets_its_snapshot_compressed_only_when_it_asked(tmp_path, deflate):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    server = BackgroundServer(app).start()
    reader = None
    try:
        reader = WebSocketReader(server.port, "/live?watch=dashboard", {}, deflate=deflate)
        assert reader.deflate is deflate
        reader.sock.settimeout(10)
        while len(reader.buffer) < 2:
            reader.buffer += reader.sock.recv(65536)
        assert bool(reader.buffer[0] & 0x40) is deflate  # RSV1: this message is compressed
        messages = reader._messages()
        while not messages:
            reader.buffer += reader.sock.recv(65536)
            messages = reader._messages()
        assert any('id="conference-rows"' in message for message in messages)
    finally:
        if reader is not None:
            reader.close()
        app.extensions["console.hub"].stop()
        server.stop()


def test_a_live_pages_changes_are_written_by_the_hub_and_arrive_whole(tmp_path):
    from console.telnyx import signing
    from tests.signed_webhooks import encode, envelope, post_signed, webhook_app

    key = signing.generate_signing_key()
    app = webhook_app(tmp_path / "console.db", key, CONSOLE_DEMO=True, CONSOLE_HUB_TICK_MS=10)
    hub = app.extensions["console.hub"]
    server = BackgroundServer(app).start()
    reader = None
    try:
        reader = WebSocketReader(server.port, "/live?watch=dashboard", {})
        reader.sock.settimeout(10)

        def read_until(text):
            seen = []
            while not any(text in message for message in seen):
                reader.buffer += reader.sock.recv(262144)
                seen += reader._messages()
            return seen

        read_until('id="conference-rows"')
        (subscription,) = hub._subscribers
        client = app.test_client()
        for number in range(5):
            post_signed(client, key, encode(envelope("conference.created", conference_id=f"conf-direct-{number}",
                                                     name=f"Direct {number}", call_control_id=f"v3:host-{number}")))
            read_until(f"conference__conf-direct-{number}")
        assert subscription.direct_frames >= 1
        metrics = client.get("/metrics").get_data(as_text=True)
        direct = next(line for line in metrics.splitlines()
                      if line.startswith('console_hub_frames_total{path="direct"}'))
        assert float(direct.split()[-1]) >= 1
    finally:
        if reader is not None:
            reader.close()
        hub.stop()
        server.stop()


class _PingCounter(WebSocketReader):
    """A page that counts the server's pings, and answers them only while told to."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pings = 0
        self.answering = True

    def _send(self, opcode, payload):
        if opcode == 0xA:
            self.pings += 1
            if not self.answering:
                return
        super()._send(opcode, payload)


def test_the_page_thread_pings_and_drops_a_page_that_stops_answering(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True,
                      "CONSOLE_WS_PING_SECONDS": 1})
    server = BackgroundServer(app).start()
    reader = None
    try:
        reader = _PingCounter(server.port, "/live?watch=dashboard", {}, deflate=False)

        def read_once():
            reader.sock.settimeout(10)  # answering a ping leaves the reader's socket non-blocking
            data = reader.sock.recv(65536)
            if not data:
                raise Closed("the server closed the connection")
            reader.buffer += data
            reader._messages()

        deadline = time.monotonic() + 15
        while reader.pings < 3:  # answered pings keep the page connected
            assert time.monotonic() < deadline, f"only {reader.pings} pings in 15 s at one a second"
            read_once()
        reader.answering = False
        seen = reader.pings
        with pytest.raises(Closed):
            while time.monotonic() < deadline + 10:
                read_once()
        assert reader.pings <= seen + 1, "the server kept pinging a page that stopped answering"
        wait_for(lambda: not app.extensions["console.hub"]._subscribers, timeout=5,
                 message="the dropped page's subscription was kept")
    finally:
        if reader is not None:
            reader.sock.close()
        app.extensions["console.hub"].stop()
        server.stop()
