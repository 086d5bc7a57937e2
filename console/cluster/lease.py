"""The leader lease: one instance at a time runs the singletons (reconciler, alert watcher, stream trimming).

A lease is one Redis key that expires by itself (PX) and whose value is "holder|token". A leader
that dies stops renewing, the key expires, and another instance takes it: the singletons move
within one lease length, with no one to elect and nothing to clean up. Taking, renewing and
releasing are each one Lua script, so nothing can slip in between reading the key and writing it,
and no instance ever extends or deletes a lease that has passed to someone else.

Every new tenure draws a fencing token from a counter beside the lease (`<key>:fence`, which never
expires), so tokens only grow. Timing alone cannot stop a leader that was paused past its lease
(SIGSTOP, a long pause, a frozen VM) from acting in the moment it wakes, before it notices; the
token does. What a leader writes carries its token, and console.cluster.stream's append script
refuses a write whose token is not the current one (the "|token" part of the lease's value, which
`current_token` reads). The counter lives in the same Redis as the stream: if Redis loses its data,
tokens start again from 1, and the stream's epoch is what tells every instance to rebuild.

`LeaseKeeper` holds on to a lease from a daemon thread, taking or renewing it every third of its
length. Its `is_leader` is True only while the last round succeeded and less than one lease length
has passed since that round was *sent*, by time.monotonic (which keeps counting while a process is
stopped): Redis starts its countdown when the request arrives, a little later, so an instance never
believes it leads after Redis has let the lease go, and one that slept past its lease knows on waking.

Nothing here imports redis: the caller hands over a client (`register_script` and `get` are all a
lease uses), so the embedded mode never loads it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("console.cluster.lease")

# KEYS: lease, fence counter. ARGV: holder, ttl ms. Answers the token this holder now holds, or false.
# A free key starts a tenure with the next token; a key this holder already has is renewed as it is.
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  local holder, token = string.match(held, '^(.*)|(%d+)$')
  if holder ~= ARGV[1] then
    return false
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
"""

# KEYS: lease. ARGV: "holder|token", ttl ms. Answers 1 when this tenure still holds it (now for ttl more), else 0.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease. ARGV: "holder|token". Deletes the lease only while this tenure holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    """One lease key, as one would-be holder sees it; `token` is the fencing token of its latest tenure.

    The token stays set after a tenure ends (lost or released): a write that still carries it is then
    refused by the append script, which is the point. It is None only before the first tenure.
    """

    def __init__(self, client, key: str, holder: str, ttl_ms: int):
        if not holder or "|" in holder:
            raise ValueError(f"a lease holder is a non-empty name without '|', not {holder!r}")
        if ttl_ms <= 0:
            raise ValueError(f"a lease lasts a positive number of milliseconds, not {ttl_ms!r}")
        self.client = client
        self.key = key
        self.fence_key = f"{key}:fence"
        self.identity = holder
        self.ttl_ms = int(ttl_ms)
        self.token: int | None = None
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def try_acquire(self) -> int | None:
        """Take the lease if it is free, or renew it if this holder has it; the token when held, else None."""
        token = self._acquire(keys=[self.key, self.fence_key], args=[self.identity, self.ttl_ms])
        if token is None:
            return None
        self.token = int(token)
        return self.token

    def renew(self) -> bool:
        """Extend the lease by its length, only if this tenure (holder and token) still holds it."""
        if self.token is None:
            return False
        return bool(self._renew(keys=[self.key], args=[self._value(), self.ttl_ms]))

    def release(self) -> None:
        """Free the lease at once (another instance need not wait for it to expire), only if this tenure holds it."""
        if self.token is not None:
            self._release(keys=[self.key], args=[self._value()])

    def holder(self) -> str | None:
        """Who holds the lease now, by the name it was taken under (None when it is free)."""
        return _parse(self.client.get(self.key))[0]

    def _value(self) -> str:
        return f"{self.identity}|{self.token}"


def current_token(client, key: str) -> int | None:
    """The fencing token of the lease's current tenure, as the append script checks it (None when free)."""
    return _parse(client.get(key))[1]


def _parse(value: bytes | str | None) -> tuple[str | None, int | None]:
    """A lease value "holder|token" as (holder, token); (None, None) for a missing or foreign value."""
    if isinstance(value, bytes):
        value = value.decode()
    holder, bar, token = (value or "").rpartition("|")
    if not bar or not holder or not token.isdigit():
        return None, None
    return holder, int(token)


class LeaseKeeper:
    """A daemon thread that takes the lease when it is free, renews it while held, and reports each change.

    `on_change(True)` is called when a tenure starts and `on_change(False)` when it ends (lost,
    expired, released, or replaced by a new tenure after a gap, which reports False then True).
    """

    def __init__(self, lease: Lease, on_change: Callable[[bool], None] | None = None):
        self.lease = lease
        self.on_change = on_change
        self.interval = lease.ttl_ms / 3000
        self._confirmed_at: float | None = None  # monotonic time the last successful round was sent
        self._reported: int | None = None  # the token of the tenure last reported as leading
        self._failing = False
        self._round = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        """Whether this instance may act as the leader now: held at the last round, and not for longer than the lease."""
        confirmed = self._confirmed_at
        return confirmed is not None and time.monotonic() - confirmed < self.lease.ttl_ms / 1000

    def start(self) -> LeaseKeeper:
        """Start keeping the lease in a daemon thread (the first round runs at once)."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
            self._thread.start()
        return self

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing and, unless told otherwise, free the lease so another instance takes over at once."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=max(10.0, 2 * self.lease.ttl_ms / 1000))
            self._thread = None
        with self._round:
            self._confirmed_at = None
            if release:
                try:
                    self.lease.release()
                except Exception as error:  # noqa: BLE001 - Redis unreachable: the lease then expires by itself
                    log.warning("could not release the leader lease (it expires by itself): %s", error)
            self._report()

    def tick(self) -> bool:
        """One round: renew this tenure, or else try to start one; report any change. The thread runs it every ttl/3."""
        with self._round:
            sent = time.monotonic()
            try:
                held = self.lease.renew() or self.lease.try_acquire() is not None
            except Exception as error:  # noqa: BLE001 - whatever the failure, the lease cannot be claimed now
                if not self._failing:
                    log.warning("the leader lease cannot be renewed: %s", error)
                self._failing = True
                held = False
            else:
                self._failing = False
            self._confirmed_at = sent if held else None
            self._report()
            return self.is_leader

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.tick()
            self._stopping.wait(self.interval)

    def _report(self) -> None:
        """Call on_change on each edge; a new tenure straight after another ends the old one first."""
        tenure = self.lease.token if self.is_leader else None
        if tenure == self._reported:
            return
        if self._reported is not None:
            log.info("this instance no longer leads (token %s)", self._reported)
            self._notify(False)
        if tenure is not None:
            log.info("this instance now leads (token %s)", tenure)
            self._notify(True)
        self._reported = tenure

    def _notify(self, leading: bool) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(leading)
        except Exception:  # a failing listener must not stop the lease from being kept
            log.exception("a leader-change listener failed")
