"""The event log's read paths that index_every_read serves: events by the call or conference they name,
the tally of events, and the event types audit entries await, on a new file and on one made before it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from console.state.event_rows import UNREADABLE
from console.state.schema import AUDIT_EVENT, migrations
from console.state.store import Store
from console.telnyx.events import console_event
from tests import event_factory as ef

OLD_ROWS = [  # (id, event_type, payload text) as a console from before webhook checks could leave them
    ("old-nan", "call.dequeued", '{"call_control_id": "leg-a", "queue": "q", "wait_time_secs": NaN}'),
    ("old-cut", "call.hangup", '{"call_control_id": "leg-a", "hangup_cause": '),
    ("old-conf", "conference.participant.joined", '{"conference_id": "conf-1", "call_control_id": "leg-b", "x": NaN}'),
    ("old-other", "call.hangup", '{"call_control_id": "leg-c", "x": Infinity}'),
]


def _insert_raw(path, rows) -> None:
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO events (id, event_type, source, occurred_at, order_key, received_at, payload)"
            " VALUES (?, ?, 'telnyx', '2026-03-02T09:31:00.000000Z', ?, '2026-03-02T09:31:00.000000Z', ?)",
            [(event_id, event_type, f"2026-03-02T09:31:00.000000Z 5 {event_id}", payload)
             for event_id, event_type, payload in rows])
    connection.close()


def _life() -> list:
    # Every moment distinct: two events at one instant are ordered by their (random) ids, which is
    # not what these tests are about.
    return [ef.call_initiated("leg-a", ef.at(0)), ef.enqueued("q", "leg-a", ef.at(1)),
            ef.conference_created("conf-1", "leg-a", ef.at(20)), ef.joined("conf-1", "leg-a", ef.at(20.5)),
            ef.joined("conf-1", "leg-b", ef.at(21)), ef.call_initiated("leg-c", ef.at(22))]


@pytest.fixture
def older_file(tmp_path):
    """A database file as the console left it before index_every_read, with readable and unreadable rows."""
    path = tmp_path / "older.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="index_every_read")
    db.close()
    older = Store(str(path))
    older._columns = None
    with older._writing() as database:  # the write path of that time: rows straight into the log
        for event in _life():
            older._log(database, event)
    older.close()
    _insert_raw(path, OLD_ROWS)
    return path


def test_an_older_file_gains_the_indices_and_finds_every_row_it_held(older_file):
    store = Store(str(older_file))
    store.migrate()
    try:
        found = store.logged_events_about(call_control_id="leg-a")
        assert [e.event_type for e in found if e.event_type != UNREADABLE] == [
            "call.initiated", "call.enqueued", "conference.created", "conference.participant.joined"]
        assert sorted(e.id for e in found if e.event_type == UNREADABLE) == ["old-cut", "old-nan"]
        in_conference = store.logged_events_about(conference_id="conf-1")
        assert {e.id for e in in_conference if e.event_type == UNREADABLE} == {"old-conf"}
        assert store.event_count() == len(_life()) + len(OLD_ROWS)
    finally:
        store.close()


def test_rows_written_any_way_are_found_and_counted(tmp_path):
    path = tmp_path / "console.db"
    store = Store(str(path))
    store.migrate()
    try:
        life = _life()
        store.apply_many(life)
        store.apply_many(life[:2])  # duplicates change nothing, the tally included
        _insert_raw(path, OLD_ROWS)  # after the migration, past the store: the indices still hold them
        assert store.event_count() == len(_life()) + len(OLD_ROWS)
        both = store.logged_events_naming(["leg-a", "leg-c"], ["conf-1"])
        assert {e.id for e in both if e.event_type == UNREADABLE} == {"old-nan", "old-cut", "old-conf", "old-other"}
        assert len([e for e in both if e.event_type != UNREADABLE]) == len(_life())
        assert [e.id for e in store.logged_events_about(call_control_id="nobody")] == []
        with sqlite3.connect(path) as connection:
            connection.execute("DELETE FROM events WHERE id = 'old-other'")
        connection.close()
        assert store.event_count() == len(_life()) + len(OLD_ROWS) - 1
    finally:
        store.close()


def test_an_id_that_only_looks_like_the_unreadable_marker_is_not_matched(tmp_path):
    store = Store(str(tmp_path / "console.db"))
    store.migrate()
    try:
        zero = ef.event("call.answered", ef.at(5), call_control_id=0)  # a number where the id belongs
        store.apply_many([*_life(), zero])
        assert zero.id not in {e.id for e in store.logged_events_about(call_control_id="leg-a")}
        assert zero.id not in {e.id for e in store.logged_events_about(call_control_id="0")}
    finally:
        store.close()


def test_audit_confirmation_waits_only_on_entries_still_awaiting(tmp_path):
    store = Store(str(tmp_path / "console.db"))
    store.migrate()
    try:
        entries = [console_event(AUDIT_EVENT, {"at": f"2026-03-02T09:0{n}:00.000000Z", "user_name": "sam",
                                               "action": "queues.dequeue", "result": "ok",
                                               "awaits_event_type": "call.hangup", "awaits_field": "call_control_id",
                                               "awaits_value": f"leg-{n}"}) for n in range(3)]
        store.apply_many(entries)
        store.apply(ef.call_hangup("leg-1", ef.at(700)))
        confirmed = {entry["awaits_value"]: entry["confirmed_by"] for entry in store.audit_entries(user_name="sam")}
        assert confirmed["leg-1"] is not None and confirmed["leg-0"] is None and confirmed["leg-2"] is None
        store.apply_many([ef.call_hangup("leg-0", ef.at(701)), ef.call_hangup("leg-2", ef.at(702))])
        assert all(entry["confirmed_by"] for entry in store.audit_entries(user_name="sam"))
        # nothing awaits any more, so a further hangup is matched against no entry at all
        store.apply(ef.call_hangup("leg-9", ef.at(703)))
        assert store.audit_choices() == {"user_name": ["sam"], "action": ["queues.dequeue"]}
    finally:
        store.close()
