"""A real local HTTP server that records each request and answers from a script, for client tests."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

STALL_LIMIT = 10.0


@dataclass
class RecordedRequest:
    """What the client sent: method, raw path and query, headers (lower-cased names) and body."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        """The body parsed as JSON, or None when there is no body."""
        return json.loads(self.body) if self.body else None

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The decoded query string, in the order sent."""
        return parse_qsl(self.query, keep_blank_values=True)


@dataclass
class Reply:
    """A scripted answer; a dict or list body is sent as JSON, ``stall`` holds the answer back."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False

    def encoded(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", "application/json"
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        text = self.body if isinstance(self.body, bytes) else str(self.body).encode()
        return text, "text/html"


class RecordingServer:
    """Serves on 127.0.0.1 at a free port; ``reply()`` queues answers, the last one repeats."""

    def __init__(self):
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._fallback = Reply(200, {"data": {"result": "ok"}})
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` in order; the last keeps answering after."""
        with self._lock:
            self._script.extend(replies[:-1])
            if replies:
                self._script.append(replies[-1])
                self._fallback = replies[-1]

    def next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else self._fallback

    def wait_released(self) -> None:
        """Hold a stalled answer until the server stops (bounded, so no thread lingers)."""
        self._release.wait(STALL_LIMIT)

    def start(self) -> RecordingServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)


def _handler_for(server: RecordingServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # buffer headers and body into one write (avoids a Nagle/delayed-ACK stall)

        def _answer(self):
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = server.next_reply(RecordedRequest(self.command, path, query, headers, body))
            if reply.stall:
                server.wait_released()
                self.close_connection = True
                return
            payload, content_type = reply.encoded()
            self.send_response(reply.status)
            if payload:
                self.send_header("Content-Type", content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

        def log_message(self, format, *args):
            pass

    return Handler
