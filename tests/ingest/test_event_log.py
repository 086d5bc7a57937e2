"""The ingest room's seam to state: the SQLite store is an EventLog, and so is each of its transactions."""

from __future__ import annotations

from console.ingest.event_log import EventLog, EventLogTransaction
from console.state.store import Store
from console.telnyx.events import console_event


def test_the_store_and_its_transactions_satisfy_the_event_log_seam(tmp_path):
    store = Store(str(tmp_path / "console.db"))
    store.migrate()
    try:
        assert isinstance(store, EventLog)
        with store.transaction() as writer:
            assert isinstance(writer, EventLogTransaction)
            assert writer.apply(console_event("console.queue.synced", {"name": "Support", "max_size": 5}))
        assert writer.changed
    finally:
        store.close()
