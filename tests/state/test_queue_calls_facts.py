"""The queue-figure facts (console/state/kpi_facts.py): kept with each event, backfilled by the migration,
and read through indexes only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.agents.board import board_cards
from console.agents.directory import add_agent
from console.queues.figures import figure_intervals, figures_from_log, figures_now
from console.state import kpi_reads
from console.state.kpi_facts import LEVEL_LIMITS, TOP_LEVEL, level_of
from console.state.store import Store
from tests.event_factory import event, leg_ids
from tests.queues.test_figures_facts import assert_same_figures, random_log

FACT_TABLES = {
    "kpi_events": "seq, ccid, kind, at_us, conference_id, queue, reason, wait",
    "kpi_queues": "name",
    "kpi_legs": "ccid, first_us, last_us, level, facts",
    "kpi_departures": "ccid, seq, at_us, queue, outcome, wait",
    "kpi_handles": "ccid, at_us, queue, seconds",
    "kpi_waits": "ccid, queue, since_us, until_us, level",
    "kpi_joins": "ccid, conference_id, since_us, until_us, level",
}
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def connection_of(store: Store):
    return store._db().conn


def facts(store: Store) -> dict[str, list[tuple]]:
    connection = connection_of(store)
    return {table: sorted(connection.execute(f"SELECT {columns} FROM {table}").fetchall(),
                          key=lambda row: json.dumps(row))
            for table, columns in FACT_TABLES.items()}


def as_if_made_before_the_facts(store: Store) -> None:
    """Drop the fact tables and forget their migration, as a database made by an older version."""
    connection = connection_of(store)
    for table in (*FACT_TABLES, "kpi_buckets", "answered_buckets"):
        connection.execute(f"DROP TABLE {table}")
    connection.execute("DELETE FROM _sqlite_migrations WHERE name = 'create_queue_figure_facts'")
    connection.commit()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_migration_backfills_what_the_events_wrote(data):
    store = Store(":memory:")
    store.migrate()
    try:
        for batch in random_log(data, [NOW, NOW - timedelta(hours=12), NOW - timedelta(hours=1)]):
            store.apply_many(batch)
        kept = facts(store)
        as_if_made_before_the_facts(store)
        store.migrate()
        assert facts(store) == kept
    finally:
        store.close()


def test_an_older_database_is_migrated_with_its_figures_unchanged(tmp_path):
    path = tmp_path / "old.db"
    store = Store(str(path))
    store.migrate()
    calls = []
    for index in range(30):
        ccid, begin = f"call-{index}", NOW - timedelta(minutes=90 - index * 3)
        calls += [event("call.enqueued", begin, **leg_ids(ccid), queue="Sales" if index % 2 else "Support"),
                  event("call.dequeued", begin + timedelta(seconds=index), **leg_ids(ccid),
                        queue="Sales" if index % 2 else "Support", reason="bridged" if index % 3 else "hangup"),
                  event("conference.participant.joined", begin + timedelta(seconds=index + 1), **leg_ids(ccid),
                        conference_id=f"conf-{index}")]
    store.apply_many(calls)
    before = figures_now(store, {}, NOW)
    as_if_made_before_the_facts(store)
    # A row an older version stored that cannot be read back (NaN) must not stop the migration.
    connection_of(store).execute(
        "INSERT INTO events (id, event_type, source, occurred_at, order_key, received_at, payload)"
        " VALUES ('bad', 'call.enqueued', 'telnyx', ?, 'x', ?, ?)",
        ["2026-03-02T11:00:00.000000Z", "2026-03-02T11:00:00.000000Z",
         '{"call_control_id": "bad", "queue": "Sales", "wait_time_secs": NaN}'])
    connection_of(store).commit()
    store.close()
    reopened = Store(str(path))
    reopened.migrate()
    try:
        assert before["Sales"].answered + before["Support"].answered > 0
        assert_same_figures(figures_now(reopened, {}, NOW), before)
        assert_same_figures(figures_now(reopened, {}, NOW), figures_from_log(reopened, {}, NOW))
        assert "bad" not in {row[0] for row in connection_of(reopened).execute("SELECT ccid FROM kpi_events")}
    finally:
        reopened.close()


def test_levels_grow_by_four_and_open_episodes_sit_on_top():
    assert level_of(0, 0) == 1
    assert level_of(0, LEVEL_LIMITS[0]) == 1
    assert level_of(0, LEVEL_LIMITS[0] + 1) == 2
    assert level_of(0, LEVEL_LIMITS[-1] + 1) == TOP_LEVEL
    assert level_of(5, None) == TOP_LEVEL
    assert all(later == 4 * earlier for earlier, later in pairwise(LEVEL_LIMITS))
    assert TOP_LEVEL == 7  # the partial index kpi_legs_long names the top level by number


# The only scans a figure query may make: kpi_queues (alias q: one row per queue name, which does not grow
# with the log), the episodes a level-by-level search already found (j, subqueries), and the list of legs
# left out (json_each over a parameter).
ALLOWED_SCANS = re.compile(r"^SCAN (q|j|\(subquery-\d+\)|json_each VIRTUAL TABLE\b)")


def test_every_figure_query_reads_an_index(tmp_path):
    """EXPLAIN QUERY PLAN of each statement the figures, the agent board's day and the fact writes run:
    no full scan of a growing table."""
    store = Store(str(tmp_path / "plans.db"))
    store.migrate()
    store.apply_many([event("call.enqueued", NOW - timedelta(seconds=40), **leg_ids("x"), queue="Sales"),
                      event("call.dequeued", NOW - timedelta(seconds=9), **leg_ids("x"), queue="Sales",
                            reason="bridged")])
    statements: list[str] = []
    try:
        connection = connection_of(store)
        connection.set_trace_callback(statements.append)
        figures_now(store, {"CONSOLE_SL_QUEUE_TARGETS": "Sales=90/30"}, NOW)
        figure_intervals(store, NOW - timedelta(hours=1), NOW, timedelta(minutes=5))
        store.apply(event("conference.participant.joined", NOW - timedelta(seconds=5), **leg_ids("x"),
                          conference_id="c"))
        store.apply(event("call.answered", NOW - timedelta(seconds=4), **leg_ids("x")))
        add_agent(store, "Alice", "Floor", ["+15550000001"])
        board_cards(store, NOW)
        with kpi_reads.snapshot(store) as reading:
            kpi_reads.leg_rows_between(reading, ["x"], 0, 2**62)
        connection.set_trace_callback(None)
        checked, long_legs = 0, False
        for statement in dict.fromkeys(statements):
            mine = any(table in statement for table in (*FACT_TABLES, "kpi_buckets", "answered_buckets")) or any(
                text in statement for text in ("GROUP BY direction", "SELECT answered_at FROM calls",
                                               "max(rowid) FROM events"))
            if not mine or statement.lstrip().upper().startswith(
                    ("BEGIN", "COMMIT", "INSERT")):
                continue
            plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}")]
            scans = [step for step in plan if step.startswith("SCAN") and not ALLOWED_SCANS.match(step)]
            assert not scans, f"full scan {scans} in:\n{statement}"
            assert "FROM kpi_queues q" in statement or "SCAN q" not in plan
            if "FROM kpi_legs" in statement and "UNION ALL" in statement:  # long legs: their own small index
                long_legs = True
                assert any("kpi_legs_long" in step for step in plan), plan
            checked += 1
        assert checked >= 12 and long_legs
    finally:
        store.close()
