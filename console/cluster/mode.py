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
import shutil
import socket
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

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
from console.ingest.singletons import CLUSTER, Busy, current_fence, wait_turns
from console.state.store import Store
from console.telnyx.events import Event, console_event

log = logging.getLogger("console.cluster")

APPLY_WAIT_SECONDS = 10.0
# KEYS: lock. ARGV: our value. Deletes the lock only while it is still ours (it may have lapsed and been retaken).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


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


    def relay(self, event_type: str, payload: dict) -> object:
        """Run a shared write (console.state.shared_writes) through the stream; its result as applied here."""
        event = console_event(event_type, payload)
        try:
            entry = self.stream.append([event])[0]
        except Exception as error:
            raise IngestUnavailable(f"the shared event stream cannot be written: {error}") from error
        if self.follower.wait_applied(entry, APPLY_WAIT_SECONDS) is None:
            raise IngestUnavailable("the change was recorded but this instance has not applied it yet")
        return self.follower.result(entry)


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
        self.heal_requested = threading.Event()  # console.ingest.singletons.must_heal
        follower.on_rebuild = lambda reason: self.heal_requested.set()
        self._unlock = client.register_script(_UNLOCK)

    def describe(self) -> dict:
        lease = self.keeper.lease
        try:
            holder = lease.holder()
        except Exception:  # noqa: BLE001 - a report, never a reason to fail /readyz
            holder = None
        return {"instance": self.holder, "follower": self.follower.describe(), "lag": self.follower.lag(),
                "leader": bool(self.keeper.is_leader), "lease_holder": holder}

    @contextmanager
    def lock(self, name: str, seconds: float):
        """A lock every instance honours: SET NX PX with a value of our own, deleted only while ours."""
        key, mine = f"{self.stream.prefix}lock:{name}", f"{self.holder}:{uuid.uuid4().hex}"
        deadline = time.monotonic() + seconds
        for _turn in wait_turns(deadline):
            if self.client.set(key, mine, nx=True, px=max(1, int(seconds * 1000))):
                break
        else:
            raise Busy(f"{name} stayed busy for {seconds:g} s")
        try:
            # What the last holder did may have been applied on its instance only so far: catch up
            # with everything appended until now before the block reads anything.
            last = self.stream.bounds().last
            if last != "0-0" and self.follower.wait_applied(last, max(0.0, deadline - time.monotonic())) is None:
                raise Busy(f"{name}: this instance could not catch up with the stream in time")
            yield
        finally:
            self._unlock(keys=[key], args=[mine])

    def stop(self) -> None:
        self.stopping.set()
        self.follower.stop()
        self.keeper.stop()


def check_redis(settings: dict) -> str | None:
    """Why `serve` must not start in the distributed mode with these settings (None: it may)."""
    if not settings.get("CONSOLE_REDIS_URL"):
        return None
    try:
        connect(settings)
    except ClusterError as error:
        return str(error)
    return None


def connect(settings) -> tuple[object, EventStream]:
    """A Redis client and the console's stream on it, once Redis answers and will not evict (else ClusterError)."""
    import redis  # only here: the embedded mode never imports it

    client = redis.Redis.from_url(settings["CONSOLE_REDIS_URL"], socket_timeout=5, socket_connect_timeout=3,
                                  health_check_interval=10)
    stream = EventStream(client, settings["CONSOLE_REDIS_PREFIX"], maxlen=settings["CONSOLE_REDIS_STREAM_MAXLEN"],
                         dedupe_seconds=settings["CONSOLE_REDIS_DEDUPE_SECONDS"])
    try:
        stream.check_policy()
    except redis.RedisError as error:
        raise ClusterError(f"Redis at CONSOLE_REDIS_URL cannot be reached: {error}") from error
    return client, stream


def init_cluster(app: Flask, store) -> Cluster:
    """Connect to Redis, check it, and swap the bus, the ingest and shared writes for the stream's."""
    config = app.config
    if not config.get("CONSOLE_SECRET_KEY"):
        raise ClusterError("CONSOLE_SECRET_KEY must be set when CONSOLE_REDIS_URL is: every instance signs and "
                           "reads the same session cookies, so none may make up a key of its own.")
    client, stream = connect(config)
    prefix = stream.prefix
    bus = ClusterBus(stream)
    bus.init_app(app, store)
    store.relay = bus.relay  # users, sessions, login counters and the directory go through the stream too
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


def command_store(settings: dict):
    """A store for a CLI command in the distributed mode: a fresh read model caught up from the stream.

    Its writes go through the stream like an instance's. A temporary file, never an instance's own
    database (two followers must not share one position). Returns (store, stop).
    """
    folder = tempfile.mkdtemp(prefix="supervisor-console-command-")
    store = Store(str(Path(folder) / "read-model.db"))
    store.migrate()
    _client, stream = connect(settings)
    bus = ClusterBus(stream)
    bus.store = store
    follower = bus.follower = Follower(stream, store, bus)
    follower.prepare()
    last = stream.bounds().last
    follower.start()
    if last != "0-0" and follower.wait_applied(last, timeout=600) is None:
        follower.stop()
        raise ClusterError("could not catch up with the event stream within 10 minutes")
    store.relay = bus.relay

    def stop() -> None:
        follower.stop()
        store.close()
        shutil.rmtree(folder, ignore_errors=True)

    return store, stop
