"""Each instance's reader of the stream: apply every entry to its own SQLite, position included.

The follower reads the whole stream with plain XREAD from its own position (every instance needs
every event, so not a consumer group), applies a batch of entries in ONE SQLite transaction, and
writes the stream position (with the epoch it belongs to) in that same transaction: a crash or a
restart resumes exactly after the last entry applied, never before or after it. Then it announces
the changed keys on the bus (the hub draws them) and wakes whoever waits for an entry to be applied
(an action's answer must show its own result).

Where the position cannot be trusted it rebuilds instead: another epoch (Redis lost its data), a
position older than the stream's first retained entry (trimmed past it: a silent gap otherwise), or
a position ahead of the last id Redis ever generated (Redis lost an acknowledged tail). Rebuilding
empties what events derive (users, sessions and the agent directory stay) and replays what the
stream retains; the reconciler then heals from Telnyx what no retained entry covers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from console.cluster.stream import EventStream, entry_key
from console.ingest.bus import EventBus
from console.state.store import Store

log = logging.getLogger("console.cluster")

# What a rebuild empties: the log and everything it is folded into. Not users, sessions, login
# failures or the agent directory (kept beside the read model, not derived from events), nor the
# daily figures kept past retention.
DERIVED_TABLES = ("events", "conferences", "participants", "calls", "queues", "queue_calls", "recordings",
                  "supervisors", "audit", "kpi_events", "kpi_queues", "kpi_legs", "kpi_departures", "kpi_handles",
                  "kpi_waits", "kpi_joins", "kpi_buckets", "answered_buckets")
START = "0-0"
LAG_CAP = 10_000  # lag is counted entry by entry up to this many (a report, not a scan of the stream)


def read_position(store: Store) -> tuple[str | None, str]:
    """(epoch, last applied entry id) as stored with the read model; (None, "0-0") before the first."""
    rows = store._rows("SELECT epoch, entry_id FROM stream_position WHERE id = 1")
    return (rows[0]["epoch"], rows[0]["entry_id"]) if rows else (None, START)


def write_position(connection, epoch: str, entry_id: str) -> None:
    """Record the position inside the caller's open transaction."""
    connection.execute("INSERT INTO stream_position (id, epoch, entry_id) VALUES (1, ?, ?)"
                       " ON CONFLICT(id) DO UPDATE SET epoch = excluded.epoch, entry_id = excluded.entry_id",
                       [epoch, entry_id])


def why_rebuild(position: tuple[str | None, str], epoch: str, first: str, last: str, held: bool) -> str | None:
    """Why the stored position cannot be resumed from (None: it can).

    `held` says whether the stream still holds the entry at the position: an entry at or after the
    first retained one that is gone was lost by Redis (an acknowledged tail, `appendfsync everysec`),
    even when newer entries have been added since.
    """
    stored_epoch, entry_id = position
    if entry_id == START:
        return None if stored_epoch in (None, epoch) else "Redis's epoch changed (its data was lost or replaced)"
    if stored_epoch != epoch:
        return "Redis's epoch changed (its data was lost or replaced)"
    if entry_key(entry_id) > entry_key(last):
        return f"this instance applied entries up to {entry_id} but Redis's stream ends at {last} (a lost tail)"
    if first == START or entry_key(entry_id) < entry_key(first):
        return f"the stream no longer holds this instance's position {entry_id} (trimmed past it)"
    if not held:
        return f"Redis lost the entry {entry_id} this instance applied (a lost tail)"
    return None


def empty_derived(store: Store, epoch: str) -> None:
    """Empty the event log and what derives from it, and restart the position, in one transaction."""
    with store.transaction() as writer:
        for table in DERIVED_TABLES:
            writer.connection.execute(f"DELETE FROM {table}")  # names from the list above, never input
        write_position(writer.connection, epoch, START)


class Follower:
    """The thread that applies the stream to this instance's store, and the waits on it."""

    def __init__(self, stream: EventStream, store: Store, bus: EventBus, *, batch: int = 256,
                 on_rebuild: Callable[[str], None] | None = None):
        self.stream = stream
        self.store = store
        self.bus = bus
        self.batch = batch
        self.on_rebuild = on_rebuild
        self.epoch: str | None = None
        self.position = START
        self.applied = 0
        self.rebuilds = 0
        self.connected = False
        self.last_error = ""
        self.last_read = 0.0  # monotonic time of the last successful read
        self.on_connection: Callable[[bool], None] | None = None  # told when reading stops or resumes
        self._keys: dict[str, set[str]] = {}  # entry id -> keys its batch changed, for waiting publishers
        self._results: dict[str, object] = {}  # entry id -> a shared write's result, for its caller
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the stored position against Redis before serving; rebuild when it cannot be trusted."""
        epoch = self.stream.epoch()
        first, last, _length = self.stream.bounds()
        stored = read_position(self.store)
        reason = why_rebuild(stored, epoch, first, last, self.stream.holds(stored[1]))
        if reason is not None:
            self._rebuild(epoch, reason)
        else:
            self.epoch, self.position = epoch, stored[1]
            if stored[0] is None:
                with self.store.transaction() as writer:
                    write_position(writer.connection, epoch, self.position)
                if first != START and self.on_rebuild is not None:
                    # A new instance on a stream that may have been trimmed: it takes what is retained,
                    # and one reconcile heals the live state that the trimmed entries had built.
                    self.on_rebuild("joined a stream that may have been trimmed")
        self.connected = True
        self.last_read = time.monotonic()

    def start(self) -> Follower:
        self._thread = threading.Thread(target=self._run, name="stream-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _rebuild(self, epoch: str, reason: str) -> None:
        log.warning("rebuilding this instance's read model from the stream: %s", reason)
        empty_derived(self.store, epoch)
        self.epoch, self.position = epoch, START
        self.rebuilds += 1
        with self._cond:
            self._keys.clear()
            self._results.clear()
        if self.on_rebuild is not None:
            self.on_rebuild(reason)

    # -- the loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - checked >= 1.0:
                    checked = time.monotonic()
                    self._check_epoch()
                entries = self.stream.read(self.position, count=self.batch, block_ms=500)
                self._connection(True)
                self.last_error, self.last_read = "", time.monotonic()
                if entries:
                    self.apply(entries)
            except Exception as error:  # noqa: BLE001 - Redis gone or a bad moment: pause, then resume from the stored position
                if self.connected:
                    log.warning("the stream cannot be read (%s); retrying", error)
                self.last_error = str(error) or type(error).__name__
                self._connection(False)
                with self._cond:
                    self._cond.notify_all()
                self._stop.wait(0.5)

    def _connection(self, connected: bool) -> None:
        """Note whether the stream can be read, telling `on_connection` on each change."""
        if connected == self.connected:
            return
        self.connected = connected
        if self.on_connection is not None:
            try:
                self.on_connection(connected)
            except Exception:  # a notice must never stop the follower
                log.exception("telling the pages about the stream's connection failed")

    def _check_epoch(self) -> None:
        epoch = self.stream.epoch()
        first, last, _length = self.stream.bounds()
        reason = why_rebuild((self.epoch, self.position), epoch, first, last, self.stream.holds(self.position))
        if reason is not None:
            self._rebuild(epoch, reason)

    def apply(self, entries: list) -> None:
        """Apply entries and move the position past them in one transaction; then announce and wake."""
        started = time.perf_counter()
        fresh = []
        with self.store.transaction() as writer:
            for _entry_id, event in entries:
                if event is not None and writer.apply(event):
                    fresh.append(event)
            write_position(writer.connection, self.epoch, entries[-1][0])
        self.position = entries[-1][0]
        self.applied += len(entries)
        self.bus.announce(fresh, writer.changed, time.perf_counter() - started)
        with self._cond:
            for entry_id, event in entries:
                self._keys[entry_id] = writer.changed
                if event is not None and event.id in writer.results:
                    self._results[entry_id] = writer.results[event.id]
            for kept in (self._keys, self._results):  # what nobody came for is forgotten, oldest first
                while len(kept) > 4096:
                    kept.pop(next(iter(kept)))
            self._cond.notify_all()

    # -- waiting for one's own entry ---------------------------------------------------------------

    def wait_applied(self, entry_id: str, timeout: float = 10.0) -> set[str] | None:
        """Block until the entry is applied here; the keys its batch changed, or None on timeout."""
        target = entry_key(entry_id)
        deadline = time.monotonic() + timeout
        with self._cond:
            while entry_key(self.position) < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return set(self._keys.get(entry_id, set()))

    def result(self, entry_id: str) -> object:
        """The result of the shared write applied as this entry (taken: asked once)."""
        with self._cond:
            return self._results.pop(entry_id, None)

    def lag(self) -> int:
        """Entries in the stream after this instance's position (0 when caught up, counted up to
        LAG_CAP), or -1 when Redis cannot say."""
        try:
            behind = self.stream.client.xrange(self.stream.key, min=f"({self.position}", max="+", count=LAG_CAP)
        except Exception:  # noqa: BLE001 - a report, never a reason to fail the page that asks
            return -1
        return len(behind)

    def describe(self) -> dict:
        return {"connected": self.connected, "epoch": self.epoch, "position": self.position,
                "applied": self.applied, "rebuilds": self.rebuilds, "error": self.last_error or None,
                "seconds_since_read": round(time.monotonic() - self.last_read, 3)}
