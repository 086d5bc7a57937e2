"""What the console writes on a live socket, as bytes: data frames encoded once for every page, and control frames.

Browsers offer permessage-deflate (RFC 7692). A WebSocket library would compress each message
separately for each page, with a window carried from message to message, and the forty dashboards
watching one call center are sent the same frame: forty compressions of the same bytes. Here a
frame's messages are compressed once, each on a fresh window, and the same bytes go to every page
that negotiated compression (plain ones to the pages that did not). The handshake says so
(`server_no_context_takeover`, console.live.handshake), and a decompressor keeping its window
decodes such messages correctly anyway: they never refer back to earlier ones.

Only the standard library frames here (RFC 6455 5.2, servers do not mask); wsproto parses what
comes in (console.live.handshake). Every byte these functions return is written by a socket's one
writer (console.live.subscription), so a control frame never lands inside a data frame.
"""

from __future__ import annotations

import struct
import zlib

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
FIN, COMPRESSED = 0x80, 0x40
MAX_CONTROL_PAYLOAD = 125
# A sync flush ends every compressed message with these four bytes; RFC 7692 has them dropped.
_FLUSH_TAIL = b"\x00\x00\xff\xff"


def encode_message(text: str, window_bits: int | None) -> bytes:
    """One unfragmented text frame: compressed on a fresh window of `window_bits` when given."""
    data = text.encode("utf-8", "replace")  # half a surrogate pair becomes "?" rather than ending the page
    first = FIN | TEXT
    if window_bits is not None:
        deflater = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits)
        data = (deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH))[:-len(_FLUSH_TAIL)]
        first |= COMPRESSED
    return frame_header(first, len(data)) + data


def frame_header(first: int, size: int, masked: bool = False) -> bytes:
    """A frame's header: its first byte, then the payload length in the shortest form (RFC 6455 5.2)."""
    mask = 0x80 if masked else 0
    if size < 126:
        return struct.pack("!BB", first, mask | size)
    if size < 65536:
        return struct.pack("!BBH", first, mask | 126, size)
    return struct.pack("!BBQ", first, mask | 127, size)


def _control(opcode: int, payload: bytes) -> bytes:
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise ValueError(f"a control frame carries at most {MAX_CONTROL_PAYLOAD} bytes, not {len(payload)}")
    return frame_header(FIN | opcode, len(payload)) + payload


def ping_frame(payload: bytes = b"") -> bytes:
    """A server's ping; the browser answers it with a pong by itself."""
    return _control(PING, payload)


def pong_frame(payload: bytes) -> bytes:
    """The answer to a client's ping: the same application data back (RFC 6455 5.5.3)."""
    return _control(PONG, bytes(payload))


def close_frame(code: int | None, reason: str = "") -> bytes:
    """A close frame with its status code and reason (cut, on a character boundary, to fit 125 bytes).

    No code means an empty close, the answer to a client's close that carried none.
    """
    if code is None:
        return _control(CLOSE, b"")
    text = reason.encode("utf-8", "replace")[:MAX_CONTROL_PAYLOAD - 2].decode("utf-8", "ignore")
    return _control(CLOSE, struct.pack("!H", code) + text.encode("utf-8"))


class Frame(list):
    """A frame's messages (a list of str), with their wire bytes kept per compression window."""

    __slots__ = ("_wire",)

    def __init__(self, messages=()):
        super().__init__(messages)
        self._wire: dict[int | None, bytes] = {}

    def wire(self, window_bits: int | None) -> bytes:
        """Every message as frames, ready to write. Two threads may encode at once; both get the same bytes."""
        encoded = self._wire.get(window_bits)
        if encoded is None:
            encoded = self._wire[window_bits] = b"".join(encode_message(text, window_bits) for text in self)
        return encoded


def frame_bytes(frame, window_bits: int | None) -> bytes:
    """The wire bytes of a frame (a Frame or list of messages), or the bytes themselves (a frame's rest)."""
    if isinstance(frame, bytes):
        return frame
    if not isinstance(frame, Frame):
        frame = Frame(frame)
    return frame.wire(window_bits)
