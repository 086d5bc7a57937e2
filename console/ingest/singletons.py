"""Work that must run on one instance only, or one at a time: the singletons, their fence, and named locks.

In the embedded mode there is one instance, so it always leads. In the distributed mode the app
holds a cluster (console.cluster.mode) whose lease keeper says whether this instance holds the
leader lease now; a singleton skips its round when it does not. What a singleton publishes inside
`fenced` carries the lease's fencing token, and the stream's append script refuses a token the
lease no longer holds: a leader that was paused past its lease and wakes cannot write.

`exclusive(app, name, seconds)` holds a named lock across every instance (a Redis key in the
distributed mode, a lock in this process otherwise) for what must not run twice at once, like
dialling a supervisor's line: a second click waits for the first, then sees its result.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from flask import Flask

CLUSTER = "console.cluster"
_fence = threading.local()
_local_locks: dict[str, threading.Lock] = {}
_making = threading.Lock()


class Busy(RuntimeError):
    """A named lock stayed taken for as long as the caller would wait."""


def leads(app: Flask) -> bool:
    """Whether this instance runs the singletons now (always, in the embedded mode)."""
    cluster = app.extensions.get(CLUSTER)
    return cluster is None or bool(cluster.keeper.is_leader)


def must_heal(app: Flask) -> bool:
    """Whether this instance's read model may lack what the stream no longer holds (it rebuilt, or joined
    late): then it reconciles with Telnyx once itself, leader or not."""
    cluster = app.extensions.get(CLUSTER)
    return cluster is not None and cluster.heal_requested.is_set()


def healed(app: Flask) -> None:
    """The reconcile that `must_heal` asked for has run."""
    cluster = app.extensions.get(CLUSTER)
    if cluster is not None:
        cluster.heal_requested.clear()


@contextmanager
def fenced(app: Flask):
    """Within this block, what this thread publishes carries the lease's fencing token (distributed mode)."""
    cluster = app.extensions.get(CLUSTER)
    if cluster is None:
        yield
        return
    # An instance that never led has no token: 0, which no tenure ever holds (tokens start at 1).
    _fence.token = (cluster.keeper.lease.token or 0, cluster.follower.epoch or "")
    try:
        yield
    finally:
        _fence.token = None


def current_fence() -> tuple[int, str] | None:
    """The (fencing token, epoch) this thread's writes carry now (None: unfenced)."""
    return getattr(_fence, "token", None)


@contextmanager
def exclusive(app: Flask, name: str, seconds: float):
    """Hold the lock `name` (waiting up to `seconds` for it) for the block; Busy when it stays taken.

    In the distributed mode the lock lapses by itself after `seconds` should its holder die.
    """
    cluster = app.extensions.get(CLUSTER)
    if cluster is not None:
        with cluster.lock(name, seconds):
            yield
        return
    with _making:
        lock = _local_locks.setdefault(name, threading.Lock())
    if not lock.acquire(timeout=seconds):
        raise Busy(f"{name} stayed busy for {seconds:g} s")
    try:
        yield
    finally:
        lock.release()


def wait_turns(deadline: float, step: float = 0.05):
    """Moments to try again until `deadline` (monotonic), `step` apart: for locks polled in Redis."""
    while time.monotonic() < deadline:
        yield
        time.sleep(step)
