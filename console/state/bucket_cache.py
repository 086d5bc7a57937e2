"""What was read from whole time buckets, kept per store while each bucket's version holds.

The fact writer (kpi_facts.py) bumps a bucket's version whenever a fact in it changes, so a reader
may reuse what it read from a bucket for as long as the version it read at is current. Each store
has one cache per kind of reading (queue sums, agents' answered calls), least recently used
dropped past its limit, and all of them go with the store.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

MAX_BUCKETS = 1024  # ten days of 15-minute buckets under one set of settings


class VersionedBuckets:
    """(key, bucket start) -> (version, what was read), least recently used dropped past `limit`."""

    def __init__(self, limit: int = MAX_BUCKETS):
        self.limit = limit
        self.entries: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple, version: int) -> Any | None:
        """What was read for this bucket at this version, or None (never read, or changed since)."""
        with self.lock:
            found = self.entries.get(key)
            if found is None or found[0] != version:
                return None
            self.entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple, version: int, value: Any) -> None:
        with self.lock:
            self.entries[key] = (version, value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.limit:
                self.entries.popitem(last=False)


_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def buckets_of(store, kind: str, limit: int = MAX_BUCKETS) -> VersionedBuckets:
    """This store's cache for one kind of reading (made on first use, gone with the store)."""
    with _caches_lock:
        kinds = _caches.get(store)
        if kinds is None:
            kinds = _caches[store] = {}
        cache = kinds.get(kind)
        if cache is None:
            cache = kinds[kind] = VersionedBuckets(limit)
        return cache
