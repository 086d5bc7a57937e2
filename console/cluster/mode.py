"""Switching an app into the distributed mode (CONSOLE_REDIS_URL set) and the seams it swaps.

In this mode nothing is written to the instance's SQLite except by its follower: webhooks and the
console's own events (audit, supervisor roles, alerts, reconciliation corrections) are appended to
the shared stream, and every instance applies the stream to its own read model. So:

- the webhook ingest (`ClusterIngest`) answers "stored" or "duplicate" from the append script's
  answer, in group-commit batches, and 503 when Redis cannot take it (Telnyx retries);
- the bus (`ClusterBus`) appends the console's own events, then waits until this instance has
  applied them, so an action's answer shows its own result;
- the singletons (reconciler, alert watcher, trimming) act only on the lease holder, and what they
  write carries the lease's fencing token, which the append script checks (console.ingest.singletons).

This module imports redis only inside `init_cluster`: the embedded mode never loads it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from flask import Flask

from console.cluster.follower import Follower
from console.cluster.lease import Lease, LeaseKeeper
from console.cluster.stream import ClusterError, EventStream
from console.ingest.bus import EventBus
from console.ingest.group_commit import (
    CONSOLE_EVENT_PREFIX,
    DUPLICATE,
    IGNORED,
    STORED,
    Ingest,
    IngestUnavailable,
)
from console.ingest.singletons import CLUSTER, current_fence
from console.telnyx.events import Event

log = logging.getLogger("console.cluster")

APPLY_WAIT_SECONDS = 10.0


class ClusterBus(EventBus):
    """Publishing appends to the stream; the follower applies and announces, here as on every instance."""

    def __init__(self, stream: EventStream, follower: Follower | None = None):
        super().__init__()
        self.stream = stream
        self.follower = follower

    def publish(self, event: Event) -> set[str]:
        """Append the event (fenced when a singleton writes) and return the keys once this instance applied it."""
        try:
            entry = self.stream.append([event], current_fence())[0]
        except ClusterError:
            raise
        except Exception as error:
            raise IngestUnavailable(f"the shared event stream cannot be written: {error}") from error
        if entry is None:
            return set()
        keys = self.follower.wait_applied(entry, APPLY_WAIT_SECONDS)
        if keys is None:
            log.warning("event %s was appended as %s but not applied here within %s s", event.id, entry,
                        APPLY_WAIT_SECONDS)
            return set()
        return keys


class ClusterIngest(Ingest):
    """Group commit into the stream: one append script per batch of waiting webhooks."""

    def __init__(self, stream: EventStream, bus: EventBus):
        self.stream = stream
        self.store = None
        self.ledger = None
        self.bus = bus
        self.max_batch = 256
        self._lock = threading.Lock()
        self._waiting = []
        self._leading = False
        self.batches = 0
        self._shared = False
        self.dedupe_hits = 0

    def _commit(self, batch) -> None:
        outcomes: list[str | None] = [None] * len(batch)
        appending = []
        for index, waiting in enumerate(batch):
            if waiting.event.event_type.startswith(CONSOLE_EVENT_PREFIX):
                outcomes[index] = IGNORED
            else:
                appending.append(index)
        try:
            entries = self.stream.append([batch[index].event for index in appending])
        except Exception as error:
            raise IngestUnavailable(f"the shared event stream cannot be written: {error}") from error
        for index, entry in zip(appending, entries):
            outcomes[index] = STORED if entry else DUPLICATE
            self.dedupe_hits += entry is None
        for waiting, outcome in zip(batch, outcomes):
            waiting.outcome = outcome
        self.batches += 1


class Cluster:
    """What the distributed mode adds to an app: the stream, its follower, the lease keeper."""

    def __init__(self, client, stream: EventStream, follower: Follower, keeper, holder: str):
        self.client = client
        self.stream = stream
        self.follower = follower
        self.keeper = keeper
        self.holder = holder
        self.stopping = threading.Event()

    def describe(self) -> dict:
        lease = self.keeper.lease
        try:
            holder = lease.holder()
        except Exception:  # noqa: BLE001 - a report, never a reason to fail /readyz
            holder = None
        return {"instance": self.holder, "follower": self.follower.describe(), "lag": self.follower.lag(),
                "leader": bool(self.keeper.is_leader), "lease_holder": holder}

    def stop(self) -> None:
        self.stopping.set()
        self.follower.stop()
        self.keeper.stop()


def check_redis(settings: dict) -> str | None:
    """Why `serve` must not start in the distributed mode with these settings (None: it may)."""
    if not settings.get("CONSOLE_REDIS_URL"):
        return None
    import redis  # only here: the embedded mode never imports it

    try:
        client = redis.Redis.from_url(settings["CONSOLE_REDIS_URL"], socket_timeout=5, socket_connect_timeout=3)
        EventStream(client, settings["CONSOLE_REDIS_PREFIX"]).check_policy()
    except ClusterError as error:
        return str(error)
    except redis.RedisError as error:
        return f"Redis at CONSOLE_REDIS_URL cannot be reached: {error}"
    return None


def init_cluster(app: Flask, store) -> Cluster:
    """Connect to Redis, check it, catch this instance up, and swap the bus and ingest for the stream's."""
    import redis  # only here: the embedded mode never imports it

    config = app.config
    if not config.get("CONSOLE_SECRET_KEY"):
        raise ClusterError("CONSOLE_SECRET_KEY must be set when CONSOLE_REDIS_URL is: every instance signs and "
                           "reads the same session cookies, so none may make up a key of its own.")
    client = redis.Redis.from_url(config["CONSOLE_REDIS_URL"], socket_timeout=5, socket_connect_timeout=3,
                                  health_check_interval=10)
    prefix = config["CONSOLE_REDIS_PREFIX"]
    stream = EventStream(client, prefix, maxlen=config["CONSOLE_REDIS_STREAM_MAXLEN"],
                         dedupe_seconds=config["CONSOLE_REDIS_DEDUPE_SECONDS"])
    try:
        stream.check_policy()
    except redis.RedisError as error:
        raise ClusterError(f"Redis at CONSOLE_REDIS_URL cannot be reached: {error}") from error
    bus = ClusterBus(stream)
    bus.init_app(app, store)
    follower = Follower(stream, store, bus)
    bus.follower = follower
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    keeper = LeaseKeeper(Lease(client, f"{prefix}lease", holder, config["CONSOLE_REDIS_LEASE_MS"]))
    app.extensions["console.ingest"] = ClusterIngest(stream, bus)
    cluster = app.extensions[CLUSTER] = Cluster(client, stream, follower, keeper, holder)
    return cluster


def start_cluster(app: Flask) -> None:
    """Once the app is built (its tables made): catch up from the stream, then follow it and keep the lease.

    Started last, because the follower's catch-up transaction would hold the file while the rest of
    the app still creates its tables.
    """
    cluster = app.extensions.get(CLUSTER)
    if cluster is None:
        return
    cluster.follower.prepare()
    cluster.follower.start()
    cluster.keeper.start()
    threading.Thread(target=_trim_loop, args=(cluster,), name="stream-trim", daemon=True).start()


def _trim_loop(cluster: Cluster) -> None:
    """The leader caps the stream now and then (XADD's MAXLEN ~ does most of it)."""
    while not cluster.stopping.wait(30):
        if cluster.keeper.is_leader:
            try:
                cluster.stream.trim()
            except Exception:  # noqa: BLE001 - Redis away for a moment: trimming can wait for the next round
                log.warning("trimming the stream failed; the next round tries again")
