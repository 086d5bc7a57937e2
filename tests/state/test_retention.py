"""Retention: what pruning lets go and keeps, batches a webhook fits between, a file that stops growing, indexes.

A console with CONSOLE_RETENTION_DAYS set is played days of queue calls (answered into conferences
with an agent, or abandoned), written with a clock that follows the calls, then the retention
round (console/queues/retention.py) is run by hand as the thread would run it.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from console import create_app
from console.queues import daily_figures
from console.queues.daily_figures import day_span, fold_day, folded_intervals
from console.queues.figures import figure_intervals, figures_now, kpi_settings
from console.queues.retention import Retention, plan
from console.state import folded_days, retention
from console.state.store import Store
from console.telnyx.events import format_timestamp
from tests import event_factory as ef
from tests.state.test_query_plans import full_scans, normalise
from tests.waiting import wait_for

QUEUES = ("Support", "Sales", "Billing")
PRUNED_TABLES = ("events", "conferences", "participants", "calls", "queue_calls", "recordings", "kpi_events",
                 "kpi_departures", "kpi_handles", "kpi_waits", "kpi_joins", "kpi_legs", "kpi_buckets",
                 "answered_buckets")


@dataclass
class Clock:
    """The moment the writer stamps events with and the retention round believes it is."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def one_call(leg: str, queue: str, t: datetime, answered: bool) -> list:
    """A caller queues; answered after 15 s into a conference with an agent for two minutes, or gives up after 30 s."""
    events = [ef.call_initiated(leg, t, from_="+15550001111", caller_id_name=f"Caller {leg}"),
              ef.enqueued(queue, leg, t + timedelta(seconds=1))]
    if not answered:
        return events + [ef.dequeued(queue, leg, t + timedelta(seconds=31), reason="hangup", wait=30),
                         ef.call_hangup(leg, t + timedelta(seconds=31))]
    conference, agent = f"conf-{leg}", f"agent-{leg}"
    answer = t + timedelta(seconds=16)
    return events + [
        ef.dequeued(queue, leg, answer, wait=15),
        ef.call_answered(leg, answer),
        ef.conference_created(conference, leg, answer),
        ef.joined(conference, leg, answer),
        ef.call_initiated(agent, answer, from_="+15550009999", caller_id_name="Agent"),
        ef.call_answered(agent, answer + timedelta(seconds=1)),
        ef.joined(conference, agent, answer + timedelta(seconds=1)),
        ef.recording_saved(conference, f"rec-{leg}", answer, answer + timedelta(seconds=120)),
        ef.left(conference, leg, answer + timedelta(seconds=120)),
        ef.call_hangup(leg, answer + timedelta(seconds=120)),
        ef.left(conference, agent, answer + timedelta(seconds=121)),
        ef.call_hangup(agent, answer + timedelta(seconds=121)),
        ef.conference_ended(conference, answer + timedelta(seconds=122)),
    ]


def day_of_calls(start: datetime, count: int, prefix: str) -> list[tuple[datetime, list]]:
    """`count` calls spread over the 24 hours from `start` (the last one just before the next midnight), each
    as (when it starts, its events)."""
    calls = []
    spacing = (timedelta(hours=24) - timedelta(seconds=20)) / count
    for n in range(count):
        t = start + spacing * (n + 1) - timedelta(seconds=5)
        calls.append((t, one_call(f"{prefix}-{n:04d}", QUEUES[n % len(QUEUES)], t, answered=n % 4 != 3)))
    return calls


def play(writer: Store, clock: Clock, calls: list[tuple[datetime, list]]) -> None:
    """Apply each call's events as they would have arrived (the log's received_at follows the clock)."""
    for t, events in calls:
        clock.now = t
        writer.apply_many(events)


def counts(database) -> dict[str, int]:
    connection = sqlite3.connect(database)
    try:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in PRUNED_TABLES}
    finally:
        connection.close()


@pytest.fixture
def console(tmp_path):
    """An app whose store reads the file, a writer stamping events by a test clock, and that clock."""
    database = tmp_path / "console.db"
    settings = {"CONSOLE_DATABASE": str(database), "CONSOLE_DEMO": True, "CONSOLE_RETENTION_DAYS": 2}
    app = create_app(settings)
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    writer = Store(str(database), clock=clock)
    writer.migrate()
    try:
        yield app, writer, clock, database
    finally:
        writer.close()
        app.extensions["console.hub"].stop()


def test_the_plan_keeps_today_and_the_days_set_folds_the_rest_and_cuts_a_lookback_before():
    config = {"CONSOLE_RETENTION_DAYS": 2, "CONSOLE_TIMEZONE": "UTC"}
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)
    steps = plan(config, now, datetime(2026, 3, 5, 13, tzinfo=UTC), "2026-03-05")
    assert steps.first_kept == date(2026, 3, 8)
    assert steps.due == [date(2026, 3, 6), date(2026, 3, 7)]
    assert steps.log_before == datetime(2026, 3, 7, 12, tzinfo=UTC)  # the figures' 12-hour lookback
    window = plan(config | {"CONSOLE_KPI_WINDOW_SECONDS": 5 * 86400}, now, None, None)
    assert window.log_before == now - timedelta(days=5, hours=12)  # a KPI window reaching further keeps more
    assert plan(config | {"CONSOLE_RETENTION_DAYS": 0}, now, now - timedelta(days=400), None).log_before is None


def test_a_round_folds_the_old_days_prunes_them_and_keeps_the_retained_ones_whole(console):
    app, writer, clock, database = console
    first = datetime(2026, 3, 1, tzinfo=UTC)
    for offset in range(5):
        play(writer, clock, day_of_calls(first + timedelta(days=offset), 24, f"d{offset}"))
    clock.now = datetime(2026, 3, 5, 18, tzinfo=UTC)
    before = counts(database)
    live = {queue: figure.as_dict() for queue, figure in figures_now(writer, app.config, clock.now).items()}

    done = Retention(app, clock=clock, pause=0).run_round()

    assert done.folded == [date(2026, 3, 1), date(2026, 3, 2)]  # first kept: March 3
    assert folded_days.last_day(writer) == "2026-03-02"
    after = counts(database)
    assert all(after[table] < before[table] for table in PRUNED_TABLES), (before, after)
    cut = format_timestamp(datetime(2026, 3, 2, 12, tzinfo=UTC))
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("SELECT count(*) FROM events WHERE received_at < ?", [cut]).fetchone()[0] == 0
        assert connection.execute("SELECT count(*) FROM events WHERE received_at >= ?", [cut]).fetchone()[0] > 0
        assert connection.execute("SELECT min(ended_at) FROM conferences").fetchone()[0] >= cut
        assert connection.execute("SELECT min(end_time) FROM calls").fetchone()[0] >= cut
    finally:
        connection.close()
    again = {queue: figure.as_dict() for queue, figure in figures_now(writer, app.config, clock.now).items()}
    assert again == live  # the live figures need nothing that went
    assert Retention(app, clock=clock, pause=0).run_round().pruned == {}  # nothing more to do today


def test_a_kpi_window_reaching_past_the_days_kept_keeps_what_it_reads(console):
    app, writer, clock, _database = console
    app.config["CONSOLE_KPI_WINDOW_SECONDS"] = 4 * 86400
    first = datetime(2026, 3, 1, tzinfo=UTC)
    for offset in range(6):
        play(writer, clock, day_of_calls(first + timedelta(days=offset), 12, f"w{offset}"))
    clock.now = datetime(2026, 3, 6, 23, tzinfo=UTC)
    live = {queue: figure.as_dict() for queue, figure in figures_now(writer, app.config, clock.now).items()}
    done = Retention(app, clock=clock, pause=0).run_round()
    assert done.pruned["events"] > 0
    again = {queue: figure.as_dict() for queue, figure in figures_now(writer, app.config, clock.now).items()}
    assert again == live and live["*"]["offered"] > 40


def test_retention_zero_keeps_every_day(console):
    app, writer, clock, database = console
    app.config["CONSOLE_RETENTION_DAYS"] = 0
    play(writer, clock, day_of_calls(datetime(2026, 3, 1, tzinfo=UTC), 12, "z"))
    clock.now = datetime(2026, 6, 1, tzinfo=UTC)
    before = counts(database)
    done = Retention(app, clock=clock, pause=0).run_round()
    assert done.folded == [] and counts(database) == before


def test_every_batch_is_small_and_a_webhook_is_applied_between_two(console):
    app, writer, clock, database = console
    for offset in range(3):
        play(writer, clock, day_of_calls(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=offset), 40, f"b{offset}"))
    clock.now = datetime(2026, 3, 6, 12, tzinfo=UTC)
    rounds = Retention(app, clock=clock, pause=0, batch=60)
    seen = [sum(counts(database).values())]
    applied = []

    def between(table: str, rows: int) -> None:
        if len(applied) < 3:  # another thread's webhook goes through while the round is between batches
            event = ef.call_initiated(f"between-{len(applied)}", clock.now)
            thread = threading.Thread(target=lambda: applied.append(writer.apply(event)))
            thread.start()
            wait_for(lambda: not thread.is_alive(), message="a webhook waited for the pruning round")
        seen.append(sum(counts(database).values()) - 2 * len(applied))  # each webhook: an event and a call

    rounds.on_pruned = between  # called after each batch commits, before the pause
    done = rounds.run_round()
    steps = [earlier - later for earlier, later in itertools.pairwise(seen)]
    assert len(done.batches) > 10 and max(done.batches) <= 60
    assert steps == done.batches  # what each transaction took away, counted from outside
    assert len(applied) == 3 and all(applied)


def test_sessions_past_their_life_and_spent_login_failures_go(console):
    app, writer, clock, database = console
    now = datetime(2026, 3, 10, tzinfo=UTC)
    clock.now = now
    old, fresh = (now - timedelta(hours=13)).timestamp(), (now - timedelta(hours=1)).timestamp()
    with writer._writing() as db:
        db.conn.executemany("INSERT INTO sessions (id, user_name, created_at, last_seen_at) VALUES (?, 'ada', ?, ?)",
                            [("old", old, old), ("fresh", fresh, fresh)])
        db.conn.executemany("INSERT INTO login_failures (kind, key, failures, last_failed_at, blocked_until)"
                            " VALUES ('account', ?, 3, ?, ?)", [("old", old, old), ("fresh", fresh, fresh)])
    done = Retention(app, clock=clock, pause=0).run_round()
    assert done.pruned == {"sessions": 1, "login_failures": 1}
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("SELECT id FROM sessions").fetchall() == [("fresh",)]
        assert connection.execute("SELECT key FROM login_failures").fetchall() == [("fresh",)]
    finally:
        connection.close()


def _pages(database) -> tuple[int, int]:
    connection = sqlite3.connect(database)
    try:
        return (connection.execute("PRAGMA page_count").fetchone()[0],
                connection.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        connection.close()


@pytest.mark.parametrize("days", [2, 0])
def test_the_file_stops_growing_once_the_days_kept_are_full(console, days):
    app, writer, clock, database = console
    app.config["CONSOLE_RETENTION_DAYS"] = days
    rounds = Retention(app, clock=clock, pause=0)
    assert rounds.prepare_file() == "incremental"
    sizes = []
    for offset in range(8):
        start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=offset)
        play(writer, clock, day_of_calls(start, 40, f"f{offset}"))
        clock.now = start + timedelta(days=1, hours=1)
        rounds.run_round()
        sizes.append(_pages(database)[0])
    if days:
        assert max(sizes[4:]) <= sizes[3] * 1.15, sizes  # bounded by the days kept
        assert _pages(database)[1] == 0  # and pruned pages were given back
    else:
        assert sizes[-1] > sizes[3] * 1.5, sizes  # the same days kept forever keep growing


def test_an_existing_file_switches_to_incremental_vacuum_only_when_small(console):
    app, writer, clock, _database = console
    assert retention.file_figures(writer)["auto_vacuum"] == "none"
    rounds = Retention(app, clock=clock)
    assert retention.make_incremental(writer, largest_bytes=1) == "too large"
    assert retention.file_figures(writer)["auto_vacuum"] == "none"
    assert rounds.prepare_file() == "incremental"
    assert retention.file_figures(writer)["auto_vacuum"] == "incremental"


def test_a_large_file_is_left_as_it_is_and_the_log_says_how_to_switch_it(console, caplog, monkeypatch):
    app, writer, clock, database = console
    monkeypatch.setattr("console.queues.retention.VACUUM_AT_START_BYTES", 1)
    caplog.set_level(logging.WARNING, logger="console.retention")
    assert Retention(app, clock=clock).prepare_file() == "too large"
    assert f"sqlite3 {database} 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM;'" in caplog.text
    assert retention.file_figures(writer)["auto_vacuum"] == "none"


def test_every_statement_of_a_round_reads_through_an_index(console, monkeypatch):
    app, writer, clock, database = console
    for offset in range(4):
        play(writer, clock, day_of_calls(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=offset), 12, f"p{offset}"))
    clock.now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    statements: dict[str, str] = {}
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(lambda sql: statements.setdefault(normalise(sql), sql))
        return connection

    writer.close()  # its connections were opened before the trace: new ones are traced
    app.extensions["console.store"].close()
    monkeypatch.setattr(sqlite3, "connect", traced)
    done = Retention(app, clock=clock, pause=0).run_round()
    client = app.test_client()
    assert client.get("/history?date=2026-03-01").status_code == 200
    assert client.get("/history/kpis.csv?date=2026-03-01&interval=3600").status_code == 200
    assert client.get("/readyz").status_code == 200
    monkeypatch.undo()
    assert done.folded and done.pruned
    planned = {form: sql for form, sql in statements.items()
               if sql.lstrip().upper().startswith(("SELECT", "WITH", "DELETE", "UPDATE"))}
    deletes = [form for form in planned if form.upper().startswith("DELETE")]
    assert len(deletes) >= 15, deletes
    connection = connect(database)
    try:
        offenders = [f"{form}: {line}" for form, sql in sorted(planned.items()) for line in full_scans(connection, sql)]
    finally:
        connection.close()
    assert not offenders, "\n".join(offenders)


def long_calls(start: datetime, count: int) -> list[tuple[datetime, list]]:
    """Callers who wait minutes and talk for up to an hour, so intervals end with callers waiting and talking."""
    calls = []
    for n in range(count):
        t = start + timedelta(minutes=17 * n)
        leg, queue = f"long-{n:03d}", QUEUES[n % len(QUEUES)]
        wait = timedelta(minutes=(7 * n) % 40, seconds=10)
        events = [ef.call_initiated(leg, t), ef.enqueued(queue, leg, t)]
        if n % 5 == 0:
            events += [ef.dequeued(queue, leg, t + wait, reason="hangup", wait=int(wait.total_seconds())),
                       ef.call_hangup(leg, t + wait)]
        else:
            talk = timedelta(minutes=(11 * n) % 50 + 1)
            events += [ef.dequeued(queue, leg, t + wait, wait=int(wait.total_seconds())),
                       ef.joined(f"c-{leg}", leg, t + wait), ef.left(f"c-{leg}", leg, t + wait + talk),
                       ef.call_hangup(leg, t + wait + talk)]
        calls.append((t, events))
    return calls


@pytest.mark.parametrize("seconds", [900, 1800, 3600, 7200, 86400])
def test_a_folded_day_gives_back_what_the_facts_give_in_any_whole_quarter_hours(console, seconds):
    app, writer, clock, _database = console
    day = date(2026, 3, 2)
    play(writer, clock, long_calls(datetime(2026, 3, 1, 22, tzinfo=UTC), 100))
    settings = kpi_settings(app.config)
    start, end = day_span(day, "UTC")
    direct = figure_intervals(writer, start, end, timedelta(seconds=seconds), settings)
    fold_day(writer, app.config, day, clock.now)
    kept = folded_intervals(writer, daily_figures.find(writer, day), timedelta(seconds=seconds))

    def plain(intervals):
        return [(moment, {queue: {name: round(value, 6) if isinstance(value, float) else value
                                  for name, value in figure.as_dict().items()} for queue, figure in figures.items()})
                for moment, figures in intervals]
    assert plain(kept) == plain(direct)
    assert sum(figures["*"].waiting for _, figures in direct) > 0  # intervals did end with callers waiting
    assert sum(figures["*"].in_conference for _, figures in direct) > 0  # and with callers talking
