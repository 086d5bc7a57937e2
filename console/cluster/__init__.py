"""The distributed mode (CONSOLE_REDIS_URL): Redis Streams carry the order of events; each instance keeps its own SQLite read model."""
