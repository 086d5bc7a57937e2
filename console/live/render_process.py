"""Drawing live changes in a second process, so a busy console's webhooks and rendering use two cores.

One Python process verifies, commits and renders under one interpreter lock, so it uses one core.
With `CONSOLE_RENDER_PROCESS` the hub (in the serving process) keeps the sockets, the coalescing
tick, the "same as last time" check and the fan-out, and each tick sends the changed keys, the
watched pages, the URL prefix and the tick's instant over a pipe to a child process, which answers
with the atoms drawn as of that instant (so both processes draw the same timers). The child has an
app of its own, built by the app factory the wiring hands over from the same settings, and reads
the same database file; the keys arrive after their commit, so it reads what they describe.
Snapshots stay in the serving process: they are rare and must not wait behind a tick. If the
child dies, the hub logs it and draws in its own process again.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask

from console.config import SETTINGS
from console.live.pieces import draw_changes
from console.live.ui import draw_at

log = logging.getLogger("console.render_process")

START_TIMEOUT = 60.0
ANSWER_TIMEOUT = 60.0


def _serve(connection, app_factory: Callable[[dict], Flask], settings: dict) -> None:
    """The child: build an app, then draw whatever the hub asks until the pipe closes."""
    # It only draws from the instance's read model: in the distributed mode the serving process
    # follows the stream, so the child must not (another follower would apply every event twice).
    app = app_factory({**settings, "CONSOLE_REDIS_URL": ""})
    catalogue = app.extensions["console.hub"].catalogue
    connection.send("ready")
    while True:
        try:
            keys, watched, root, at = connection.recv()
        except (EOFError, OSError):
            return
        with app.test_request_context("/", base_url=f"http://live.invalid{root}"):
            draw_at(at)
            connection.send(draw_changes(catalogue, keys, watched))


class RenderFailed(RuntimeError):
    """The child is gone or did not answer."""


class RenderProcess:
    """The child process; `draw(keys, watched, root, at)` answers as pieces.draw_changes would here.

    `app_factory` must be a top-level function (the child is a fresh interpreter it is sent to).
    """

    def __init__(self, app: Flask, app_factory: Callable[[dict], Flask]):
        self._app_factory = app_factory
        self._settings = {setting.name: app.config[setting.name] for setting in SETTINGS
                          if setting.name in app.config}
        self._lock = threading.Lock()
        self._connection = None
        self._process = None

    def start(self) -> RenderProcess:
        """Start the child (a fresh interpreter, not a fork of this threaded one) and wait until it is ready."""
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        self._process = context.Process(target=_serve, args=(there, self._app_factory, self._settings),
                                        name="console-render", daemon=True)
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

    def draw(self, keys: set[str], watched: set[str], root: str, at: datetime):
        """The atoms these keys touch, drawn as of `at` under URL prefix `root`: [(atom, piece, topics)]."""
        with self._lock:
            if self._connection is None:
                raise RenderFailed("the render process is not running")
            try:
                self._connection.send((keys, watched, root, at))
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


def start_render_process(app: Flask, app_factory: Callable[[dict], Flask]) -> RenderProcess | None:
    """A running render process for the app, or None (logged) when one cannot be started."""
    try:
        return RenderProcess(app, app_factory).start()
    except Exception:
        log.exception("could not start the render process; the hub renders in this process")
        return None
