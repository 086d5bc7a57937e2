"""Alert entries: repeat raises fold, acknowledgements record who and when, and the fold window after one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.queues.acks import ACK_TYPE, FOLD_SECONDS, AckRefused, acknowledge, active_alerts, fold
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
