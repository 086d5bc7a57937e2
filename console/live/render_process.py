"""Drawing live changes in a second process, so a busy console's webhooks and rendering use two cores.

One Python process verifies, commits and renders under one interpreter lock, so it uses one core.
With `CONSOLE_RENDER_PROCESS` the hub (in the serving process) keeps the sockets, the coalescing
tick, the "same as last time" check and the fan-out, and each tick sends the changed keys, the
watched pages and the URL prefix over a pipe to a child process, which answers with the drawn
atoms. The child has an app of its own built from the same settings and reads the same database
file; the keys arrive after their commit, so it reads what they describe. Snapshots stay in the
serving process: they are rare and must not wait behind a tick. If the child dies, the hub logs it
and draws in its own process again.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading

from console.config import SETTINGS
from console.live.hub import draw_changes

log = logging.getLogger("console.render_process")

START_TIMEOUT = 60.0
ANSWER_TIMEOUT = 60.0


def _serve(connection, settings: dict) -> None:
    """The child: build an app, then draw whatever the hub asks until the pipe closes."""
    from console.web.app import create_app

    app = create_app(settings)
    catalogue = app.extensions["console.hub"].catalogue
    connection.send("ready")
    while True:
        try:
            keys, watched, root = connection.recv()
        except (EOFError, OSError):
            return
        with app.test_request_context("/", base_url=f"http://live.invalid{root}"):
            connection.send(draw_changes(catalogue, keys, watched))


class RenderFailed(RuntimeError):
    """The child is gone or did not answer."""


class RenderProcess:
    """The child process; `draw(keys, watched, root)` answers as hub.draw_changes would."""

    def __init__(self, app):
        self._settings = {setting.name: app.config[setting.name] for setting in SETTINGS
                          if setting.name in app.config}
        self._lock = threading.Lock()
        self._connection = None
        self._process = None

    def start(self) -> RenderProcess:
        """Start the child (a fresh interpreter, not a fork of this threaded one) and wait until it is ready."""
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        self._process = context.Process(target=_serve, args=(there, self._settings), name="console-render",
                                        daemon=True)
        self._process.start()
        there.close()
        self._connection = here
        try:
            ready = here.poll(START_TIMEOUT) and here.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise RenderFailed("the render process did not start")
        return self

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def draw(self, keys: set[str], watched: set[str], root: str):
        """The drawn atoms for these keys: [(atom, piece, topics)]."""
        with self._lock:
            if self._connection is None:
                raise RenderFailed("the render process is not running")
            try:
                self._connection.send((keys, watched, root))
                if not self._connection.poll(ANSWER_TIMEOUT):
                    raise RenderFailed("the render process did not answer")
                return self._connection.recv()
            except (EOFError, OSError) as error:
                raise RenderFailed(f"the render process is gone: {error!r}") from error

    def stop(self) -> None:
        """Close the pipe (the child returns) and make sure the child is gone."""
        with self._lock:
            connection, process = self._connection, self._process
            self._connection = self._process = None
        if connection is not None:
            connection.close()
        if process is not None:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def start_render_process(app) -> RenderProcess | None:
    """A running render process for the app, or None (logged) when one cannot be started."""
    try:
        return RenderProcess(app).start()
    except Exception:
        log.exception("could not start the render process; the hub renders in this process")
        return None
