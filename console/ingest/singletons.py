"""Work that must run on one instance only (the reconciler, the alert watcher), and the fence on what it writes.

In the embedded mode there is one instance, so it always leads. In the distributed mode the app
holds a cluster (console.cluster.mode) whose lease keeper says whether this instance holds the
leader lease now; a singleton skips its round when it does not. What a singleton publishes inside
`fenced` carries the lease's fencing token, and the stream's append script refuses a token the
lease no longer holds: a leader that was paused past its lease and wakes cannot write.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from flask import Flask

CLUSTER = "console.cluster"
_fence = threading.local()


def leads(app: Flask) -> bool:
    """Whether this instance runs the singletons now (always, in the embedded mode)."""
    cluster = app.extensions.get(CLUSTER)
    return cluster is None or bool(cluster.keeper.is_leader)


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
