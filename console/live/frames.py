"""Live frames encoded for the wire once, whichever of the pages showing them sends them first.

Browsers offer permessage-deflate (RFC 7692), and the WebSocket library compresses each message
separately for each page, with a window carried from message to message. The forty dashboards
watching one call center are sent the same frame, so that is forty compressions of the same bytes.
Here a frame's messages are compressed once, each on a fresh window, and the same bytes go to every
page that negotiated compression (plain ones to the pages that did not). A decompressor keeping its
window decodes such messages correctly: they simply never refer back to earlier ones. For the same
reason every data message of a socket must go through here, never through the library's own
compressor, whose window would then disagree with the browser's.
"""

from __future__ import annotations

import struct
import zlib

TEXT, PING, FIN, COMPRESSED = 0x1, 0x9, 0x80, 0x40
# A sync flush ends every compressed message with these four bytes; RFC 7692 has them dropped.
_FLUSH_TAIL = b"\x00\x00\xff\xff"


def encode_message(text: str, window_bits: int | None) -> bytes:
    """One unfragmented text frame (servers do not mask): compressed when `window_bits` is given."""
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


def ping_frame() -> bytes:
    """A server's ping with no payload; the browser answers it with a pong by itself."""
    return frame_header(FIN | PING, 0)


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


def compression_window(ws) -> int | None:
    """The window (bits) a simple_websocket server socket may compress with, None for plain messages.

    Read from wsproto's negotiated extensions; anything unexpected means plain messages, which are
    valid on every connection (RFC 7692 lets an endpoint send any message uncompressed).
    """
    try:
        extensions = ws.ws.connection._proto.extensions
    except AttributeError:
        return None
    for extension in extensions:
        if extension.name == "permessage-deflate" and getattr(extension, "_enabled", False):
            bits = getattr(extension, "server_max_window_bits", None) or 15
            # zlib's raw deflate cannot use an 8-bit window; such a browser gets plain messages.
            return bits if 9 <= bits <= 15 else None
    return None


def frame_bytes(frame, window_bits: int | None) -> bytes:
    """The wire bytes of a frame (a Frame or list of messages), or the bytes themselves (a frame's rest)."""
    if isinstance(frame, bytes):
        return frame
    if not isinstance(frame, Frame):
        frame = Frame(frame)
    return frame.wire(window_bits)


def send_frame(ws, frame, window_bits: int | None) -> None:
    """Write a frame to a simple_websocket socket in one blocking call (raises OSError when it is gone)."""
    ws.sock.sendall(frame_bytes(frame, window_bits))
