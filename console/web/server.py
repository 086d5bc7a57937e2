"""Serving the console: gunicorn's gthread worker in production, Werkzeug's threaded server in demos."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from console.web.worker import ConsoleWorker


class GunicornServer:
    """Run a Flask app under gunicorn's gthread worker as console.web.worker hardens it.

    `threads` serve pages and actions; webhooks and live sockets have pools of their own
    (CONSOLE_WEBHOOK_THREADS, CONSOLE_MAX_SOCKETS).
    """

    def __init__(self, app_factory: Callable[[], Flask], *, bind: str, threads: int = 32, workers: int = 1):
        options = {
            "bind": bind,
            "worker_class": ConsoleWorker,
            "threads": threads,
            "workers": workers,
            "control_socket_disable": True,
            "accesslog": None,
            "graceful_timeout": 5,
            "timeout": 120,
            # Connections parked in the event loop cost no thread; the read deadline culls slow ones.
            "worker_connections": 4096,
        }

        class _Application(BaseApplication):
            def load_config(self):
                for name, value in options.items():
                    self.cfg.set(name, value)

            def load(self):
                # Called in each worker after the fork, so threads the app starts survive.
                return app_factory()

        self._application = _Application()

    def run(self) -> None:
        """Serve until gunicorn is told to stop (SIGINT / SIGTERM)."""
        self._application.run()


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without a stderr line per request (webhooks arrive by the dozen)."""

    def log_request(self, code="-", size="-") -> None:
        if str(code).startswith("5"):
            super().log_request(code, size)


class BackgroundServer:
    """A threaded Werkzeug server on a daemon thread, for demos and tests; stop() is bounded."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"http-{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        """The root URL the server answers on."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Begin serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
