"""The one Redis Stream that orders every event of a distributed console, and its epoch.

Each entry carries the event id as a plain field (`id`, so an operator can find it with XRANGE),
where it came from (`source`: telnyx or console) and the event as its webhook-shaped JSON (`body`).
Appending is one Lua script per batch: for each event, a known id (a `seen:` key that lives for
the de-duplication window) makes it a duplicate; otherwise the entry is added (`XADD ... MAXLEN ~`)
and the id remembered. The answer per event comes from the script, never from an instance's own
database, so a webhook retried to another instance is stored once. A write may carry a fencing
token: the script refuses it unless the leader lease still holds that token, so a leader that slept
past its lease cannot write.

The epoch is a random value set once per Redis dataset: an instance that finds a different epoch
from the one its read model was built under knows Redis lost its data (a restart without
persistence, a failover to a replica that lagged) and rebuilds instead of trusting its position.

Nothing here imports redis: the caller hands over a client (console.cluster.mode makes it).
"""

from __future__ import annotations

import json
import uuid
from typing import NamedTuple

from console.config import ConfigError
from console.telnyx.events import CONSOLE, Event, parse_event

# KEYS: stream, lease, epoch. ARGV: seen-key prefix, window seconds, maxlen, fence token ("" for none),
# the writer's epoch, then (id, source, body) per event. Answers one entry id per event, or false for
# a duplicate. A fenced write needs both the lease's current token and the epoch it was drawn in
# (tokens start again from 1 when Redis loses its data).
_APPEND = """
if ARGV[4] ~= '' then
  local held = redis.call('GET', KEYS[2])
  local token = held and string.match(held, '|(%d+)$')
  if token ~= ARGV[4] or redis.call('GET', KEYS[3]) ~= ARGV[5] then
    return redis.error_reply('STALEFENCE the lease has moved on: this writer is no longer the leader')
  end
end
local answers = {}
local n = 0
for i = 6, #ARGV, 3 do
  n = n + 1
  local seen = ARGV[1] .. ARGV[i]
  if redis.call('EXISTS', seen) == 1 then
    answers[n] = false
  else
    answers[n] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
                            'id', ARGV[i], 'source', ARGV[i + 1], 'body', ARGV[i + 2])
    redis.call('SET', seen, '1', 'EX', ARGV[2])
  end
end
return answers
"""


class ClusterError(ConfigError):
    """Redis cannot be used as the distributed console needs it; the message says what to change."""


class StaleFence(ClusterError):
    """A write carried a fencing token the lease no longer holds."""


class Bounds(NamedTuple):
    """The stream's first retained entry and the last id it ever generated ("0-0" when none)."""

    first: str
    last: str
    length: int


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id ("ms-seq") as a sortable pair."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def encode(event: Event) -> tuple[str, str, str]:
    """The (id, source, body) fields an event is stored under."""
    document = event.raw or event.envelope()
    return event.id, event.source, json.dumps(document, separators=(",", ":"), default=str)


def decode(fields: dict) -> Event:
    """The event an entry holds (fields as redis-py gives them, bytes or text)."""
    def text(name: str) -> str:
        value = fields.get(name, fields.get(name.encode()))
        return value.decode() if isinstance(value, bytes) else str(value)
    source = text("source")
    return parse_event(text("body"), source=CONSOLE if source == CONSOLE else source)


class EventStream:
    """Append to and read from the console's stream under one key prefix (several consoles may share a Redis)."""

    def __init__(self, client, prefix: str = "console:", *, maxlen: int = 1_000_000, dedupe_seconds: int = 86_400):
        self.client = client
        self.prefix = prefix
        self.key = f"{prefix}events"
        self.epoch_key = f"{prefix}epoch"
        self.lease_key = f"{prefix}lease"
        self.seen_prefix = f"{prefix}seen:"
        self.maxlen = maxlen
        self.dedupe_seconds = dedupe_seconds
        self._append = client.register_script(_APPEND)

    # -- checks ----------------------------------------------------------------------------------

    def check_policy(self) -> None:
        """Refuse a Redis that may evict keys: an evicted stream or de-duplication key loses events silently."""
        policy = _text(self.client.info("memory").get("maxmemory_policy", ""))
        if policy != "noeviction":
            raise ClusterError(
                f"Redis's maxmemory-policy is {policy!r}: the console needs 'noeviction' (an evicted key loses "
                "events without a word). Set `maxmemory-policy noeviction` in redis.conf, or run "
                "`redis-cli CONFIG SET maxmemory-policy noeviction` (and CONFIG REWRITE to keep it).")

    def epoch(self) -> str:
        """This Redis dataset's epoch, made on first use (SET NX: every instance agrees on one)."""
        self.client.set(self.epoch_key, uuid.uuid4().hex, nx=True)
        value = self.client.get(self.epoch_key)
        return _text(value)

    # -- writing -----------------------------------------------------------------------------------

    def append(self, events: list[Event], fence: tuple[int, str] | None = None) -> list[str | None]:
        """Add events in order, each unless its id was seen in the window: its entry id, or None (duplicate).

        `fence` is (token, epoch) for a leader's write: refused (StaleFence) unless the lease holds
        that token now, in that epoch.
        """
        if not events:
            return []
        token, epoch = fence if fence is not None else ("", "")
        arguments: list = [self.seen_prefix, self.dedupe_seconds, self.maxlen, str(token), epoch]
        for event in events:
            arguments.extend(encode(event))
        try:
            answers = self._append(keys=[self.key, self.lease_key, self.epoch_key], args=arguments)
        except Exception as error:
            if "STALEFENCE" in str(error):
                raise StaleFence(str(error)) from error
            raise
        return [_text(answer) if answer else None for answer in answers]

    # -- reading -----------------------------------------------------------------------------------

    def read(self, after: str, *, count: int = 256, block_ms: int | None = 1000) -> list[tuple[str, Event | None]]:
        """Entries after `after`, oldest first, waiting up to `block_ms` for the first (None: no wait).

        An entry that cannot be decoded comes back with None, so its position still advances.
        """
        answer = self.client.xread({self.key: after}, count=count, block=block_ms)
        entries: list[tuple[str, Event | None]] = []
        for _stream, items in answer or []:
            for entry_id, fields in items:
                try:
                    event = decode(fields)
                except Exception:  # noqa: BLE001 - an unreadable entry is skipped, its position still counts
                    event = None
                entries.append((_text(entry_id), event))
        return entries

    def bounds(self) -> Bounds:
        """The first retained entry, the last generated id, and the length (all "0-0"/0 for no stream)."""
        if not self.client.exists(self.key):
            return Bounds("0-0", "0-0", 0)
        info = self.client.xinfo_stream(self.key)
        first = info.get("first-entry")
        return Bounds(_text(first[0]) if first else "0-0", _text(info.get("last-generated-id") or "0-0"),
                      int(info.get("length") or 0))

    def holds(self, entry_id: str) -> bool:
        """Whether the stream still holds the entry with this id ("0-0" is always held: the start)."""
        if entry_id == "0-0":
            return True
        return bool(self.client.xrange(self.key, min=entry_id, max=entry_id, count=1))

    def trim(self) -> int:
        """Cap the stream at `maxlen` (approximately, whole nodes): the leader calls it now and then."""
        return int(self.client.xtrim(self.key, maxlen=self.maxlen, approximate=True))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else ("" if value is None else str(value))
