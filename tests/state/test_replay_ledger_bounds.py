"""The replay ledger over a whole day: it holds what could still be replayed, and its file stops growing."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from console.state.replay_ledger import SignatureLedger
from tests.sim_fixtures import ManualClock

TOLERANCE = 300
EVERY = 30  # seconds between batches of webhooks
BATCH = 40


def _pages(path) -> int:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return connection.execute("PRAGMA page_count").fetchone()[0]
    finally:
        connection.close()


def test_a_day_of_webhooks_keeps_only_the_tolerance_window_and_a_flat_file(tmp_path):
    clock = ManualClock()
    path = tmp_path / "ledger.db"
    with closing(sqlite3.connect(path)) as connection:  # the console's file is in WAL mode (the store sets it)
        connection.execute("PRAGMA journal_mode = WAL")
    ledger = SignatureLedger(path, tolerance=TOLERANCE, clock=clock).migrate()
    window = BATCH * (TOLERANCE // EVERY + 1)  # what a replay could still use, at most
    counts, pages = [], []
    for batch in range(24 * 3600 // EVERY):
        stamp = int(clock.now)
        ledger.remember_many([(f"sig-{batch}-{n}", stamp) for n in range(BATCH)])
        clock.advance(EVERY)
        if batch % (3600 // EVERY) == 0:  # once a simulated hour
            counts.append(ledger.count())
            pages.append(_pages(path))
    assert max(counts) <= window, f"the ledger held {max(counts)} signatures; at most {window} can be replayed"
    assert ledger.seen(f"sig-{batch}-0") and not ledger.seen("sig-0-0")
    assert pages[-1] <= pages[1] + 2, f"the file grew from {pages[1]} to {pages[-1]} pages over the day"


def test_the_capacity_bounds_a_burst_inside_the_window(tmp_path):
    clock = ManualClock()
    ledger = SignatureLedger(tmp_path / "ledger.db", tolerance=TOLERANCE, capacity=1_000, clock=clock).migrate()
    for batch in range(20):  # 5,120 signatures within one second: all still inside the tolerance
        ledger.remember_many([(f"burst-{batch}-{n}", int(clock.now)) for n in range(256)])
    assert ledger.count() <= 1_000 + 256, "more than the capacity (plus one batch before the trim) was kept"
    assert ledger.seen("burst-19-255")
