"""The distributed mode's tests run against a real redis-server: `redis_server` starts one per test."""

from __future__ import annotations

from tests.redis_server import redis_server_fixture

redis_server = redis_server_fixture()

# Every write on disk before it is acknowledged, so a restart loses nothing (the outage tests).
durable_redis = redis_server_fixture("--appendonly", "yes", "--appendfsync", "always")
