"""Alert entries: repeat raises fold, acknowledgements record who and when, and the fold window after one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.queues.acks import (
    ACK_TYPE,
    FOLD_SECONDS,
    LOG_TYPES,
    AckRefused,
    acknowledge,
    active_alerts,
    alert_entries,
    fold,
)
from console.state import schema
from console.state.store import Store
from console.telnyx.events import Event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def raised(n, seconds, queue="Sales", metric="longest_wait", level="warning"):
    return Event(f"r{n}", "console.alert.raised", T0 + timedelta(seconds=seconds),
                 {"queue": queue, "metric": metric, "level": level, "message": f"{queue} {metric} {level}"}, "console")


def cleared(n, seconds, queue="Sales", metric="longest_wait"):
    return Event(f"c{n}", "console.alert.cleared", T0 + timedelta(seconds=seconds),
                 {"queue": queue, "metric": metric, "level": "ok", "message": f"{queue} back to normal"}, "console")


def acked(n, seconds, alert_id, by="sam"):
    return Event(f"a{n}", ACK_TYPE, T0 + timedelta(seconds=seconds),
                 {"alert_id": alert_id, "by": by, "role": "supervisor"}, "console")


def test_repeat_raises_of_one_condition_fold_into_one_entry_with_a_count():
    entries = fold([raised(1, 0), cleared(1, 30), raised(2, 60), cleared(2, 90), raised(3, 120, level="critical")])
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.id, entry.count, entry.level, entry.state) == ("r1", 3, "critical", "active")
    assert entry.first_at == T0 and entry.last_at == T0 + timedelta(seconds=120)


def test_other_queues_and_metrics_are_separate_entries_newest_first():
    entries = fold([raised(1, 0), raised(2, 10, metric="depth"), raised(3, 20, queue="Support")])
    assert [(e.queue, e.metric) for e in entries] == [("Support", "longest_wait"), ("Sales", "depth"),
                                                      ("Sales", "longest_wait")]


def test_an_acknowledged_alert_folds_only_within_the_window_then_starts_a_new_entry():
    late = FOLD_SECONDS + 200
    entries = fold([raised(1, 0), acked(1, 10, "r1"), cleared(1, 20), raised(2, 100), cleared(2, 150),
                    raised(3, 150 + late)])
    assert [(e.id, e.count) for e in entries] == [("r3", 1), ("r1", 2)]
    assert entries[1].acked_by == "sam" and entries[1].acked_at == T0 + timedelta(seconds=10)
    assert not entries[0].acknowledged


def test_clearing_ends_an_entry_and_active_alerts_pick_each_queues_worst():
    entries = fold([raised(1, 0), raised(2, 5, metric="depth", level="critical"), cleared(1, 30),
                    raised(3, 40, queue="Support")])
    assert {e.id: e.state for e in entries} == {"r1": "cleared", "r2": "active", "r3": "active"}
    active = active_alerts(entries)
    assert active["Sales"].id == "r2" and active["Support"].id == "r3"


class LogStore:
    def __init__(self, events):
        self.events = events

    def logged_events_of_types(self, types, since=None, until=None, *, keep_unreadable=False):
        return [e for e in self.events if e.event_type in types]

    def alert_log_version(self):  # a real store's trigger bumps it on every alert event in or out
        return len(self.events)


def test_acknowledge_records_who_and_refuses_what_cannot_be_acknowledged():
    store = LogStore([raised(1, 0), raised(2, 5, queue="Support"), cleared(2, 9, queue="Support")])
    event, entry = acknowledge(store, "r1", "sam", "supervisor")
    assert event.event_type == ACK_TYPE and event.payload["by"] == "sam" and event.payload["alert_id"] == "r1"
    assert entry.queue == "Sales"
    store.events.append(event)
    assert fold(store.events)[-1].acked_by == "sam"
    for alert_id, status, words in (("r1", 409, "sam already acknowledged"), ("r2", 409, "already cleared"),
                                    ("nope", 404, "no such alert"), ("  ", 422, "which alert")):
        with pytest.raises(AckRefused) as refused:
            acknowledge(store, alert_id, "ada", "admin")
        assert refused.value.status == status and words in refused.value.message


# -- reading entries from a real store: folded once per change of the alert log, never stale --------

def real_store() -> Store:
    store = Store(":memory:")
    store.migrate()
    return store


def fresh_fold(store) -> list:
    return fold(store.logged_events_of_types(LOG_TYPES, keep_unreadable=True))


def test_the_alert_version_moves_with_alert_events_only_and_never_goes_back():
    store = real_store()
    assert store.alert_log_version() == 0
    store.apply(Event("x1", "call.initiated", T0, {"call_control_id": "leg-1"}, "telnyx"))
    assert store.alert_log_version() == 0
    store.apply_many([raised(1, 0), cleared(1, 5)])
    assert store.alert_log_version() == 2
    with store.transaction() as writer:
        writer.connection.execute("DELETE FROM alert_log_version")  # even if the row itself went
        writer.connection.execute("DELETE FROM events WHERE id = 'c1'")
    assert store.alert_log_version() == 1
    store.apply(acked(1, 9, "r1"))
    assert store.alert_log_version() == 2


def test_the_migration_watches_the_types_entries_are_folded_from():
    assert set(re.findall(r"'([^']+)'", schema._ALERT_LOG_TYPES)) == set(LOG_TYPES)


def test_entries_are_read_from_the_log_once_per_change(monkeypatch):
    store = real_store()
    store.apply_many([raised(1, 0), raised(2, 5, queue="Support")])
    reads = []
    original = store.logged_events_of_types
    monkeypatch.setattr(store, "logged_events_of_types", lambda *a, **k: reads.append(a) or original(*a, **k))
    first = alert_entries(store)
    assert alert_entries(store) == first and len(reads) == 1
    store.apply(Event("x1", "call.initiated", T0, {"call_control_id": "leg-1"}, "telnyx"))
    alert_entries(store)
    assert len(reads) == 1, "an event that is not an alert must not cost a fold"
    store.apply(cleared(2, 9, queue="Support"))
    assert {e.id: e.state for e in alert_entries(store)} == {"r1": "active", "r2": "cleared"}
    assert len(reads) == 2


QUEUES, METRICS = ("Sales", "Support"), ("longest_wait", "depth")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(["raise", "clear", "ack", "prune", "read"]),
                                st.integers(0, 1), st.integers(0, 1), st.integers(0, 2000)), max_size=40))
def test_cached_entries_always_equal_a_fresh_fold_of_the_log(steps):
    store = real_store()
    seconds = 0
    for n, (kind, queue, metric, gap) in enumerate(steps):
        seconds += gap
        if kind == "raise":
            store.apply(raised(n, seconds, QUEUES[queue], METRICS[metric], ("warning", "critical")[gap % 2]))
        elif kind == "clear":
            store.apply(cleared(n, seconds, QUEUES[queue], METRICS[metric]))
        elif kind == "ack":
            active = [e for e in alert_entries(store) if e.active and not e.acknowledged]
            if active:
                store.apply(acked(n, seconds, active[gap % len(active)].id))
        elif kind == "prune":  # retention deleting the oldest alert event
            with store.transaction() as writer:
                writer.connection.execute("DELETE FROM events WHERE rowid = (SELECT min(rowid) FROM events)")
        assert alert_entries(store) == fresh_fold(store)
