"""Queue figures worked out by hand from small event sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.config import ServiceTarget, parse_queue_targets
from console.queues.kpis import (
    ALL_QUEUES,
    FORMULA_WITH_ABANDONS,
    KpiSettings,
    compute,
    intervals,
    period_start,
)
from tests.event_factory import at, call_hangup, dequeued, enqueued, joined, left


def figures(events, now_seconds, **settings):
    return compute(events, at(now_seconds), KpiSettings(**settings), start=at(0))


def test_waiting_and_longest_wait():
    events = [enqueued("Sales", "a", at(10)), enqueued("Sales", "b", at(40)), enqueued("Support", "c", at(30)),
              dequeued("Sales", "b", at(50))]
    result = figures(events, 100)
    assert result["Sales"].waiting == 1
    assert result["Sales"].longest_wait == 90  # a waits from 10 to 100
    assert result["Support"].longest_wait == 70
    assert result[ALL_QUEUES].waiting == 2
    assert result[ALL_QUEUES].longest_wait == 90


def test_average_speed_of_answer_counts_answered_calls_only():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(10)),
              enqueued("Sales", "b", at(0)), dequeued("Sales", "b", at(30)),
              enqueued("Sales", "c", at(0)), dequeued("Sales", "c", at(100), reason="hangup")]
    sales = figures(events, 200)["Sales"]
    assert sales.answered == 2
    assert sales.average_speed_of_answer == 20  # (10 + 30) / 2; the abandon is left out
    assert sales.offered == 3


def test_service_level_answered_only_formula():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(5)),     # in target
              enqueued("Sales", "b", at(0)), dequeued("Sales", "b", at(20)),    # exactly on target: in
              enqueued("Sales", "c", at(0)), dequeued("Sales", "c", at(45)),    # late
              enqueued("Sales", "d", at(0)), dequeued("Sales", "d", at(60), reason="hangup")]
    sales = figures(events, 100)["Sales"]
    assert sales.answered_in_target == 2
    assert sales.service_level == pytest.approx(100 * 2 / 3)


def test_service_level_with_abandons_formula_uses_cutoff():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(5)),
              enqueued("Sales", "b", at(0)), dequeued("Sales", "b", at(45)),
              enqueued("Sales", "c", at(0)), dequeued("Sales", "c", at(60), reason="hangup"),
              enqueued("Sales", "d", at(0)), dequeued("Sales", "d", at(3), reason="hangup")]  # short abandon
    sales = figures(events, 100, formula=FORMULA_WITH_ABANDONS)["Sales"]
    # 1 in target over 2 answered + 1 abandon past the 5 s cutoff; the 3 s hang-up is not counted.
    assert sales.service_level == pytest.approx(100 / 3)
    assert sales.short_abandoned == 1


def test_abandons_respect_short_abandon_cutoff():
    events = [enqueued("Support", "a", at(0)), dequeued("Support", "a", at(4), reason="hangup"),
              enqueued("Support", "b", at(0)), dequeued("Support", "b", at(5), reason="timeout"),
              enqueued("Support", "c", at(0)), call_hangup("c", at(12)),
              enqueued("Support", "d", at(0)), dequeued("Support", "d", at(8))]
    support = figures(events, 50)["Support"]
    assert support.short_abandoned == 1
    assert support.abandoned == 2  # b at exactly 5 s and c hanging up without a dequeue
    assert support.abandon_rate == pytest.approx(100 * 2 / 3)
    longer = figures(events, 50, short_abandon_seconds=10)["Support"]
    assert (longer.abandoned, longer.short_abandoned) == (1, 2)


def test_leave_is_neither_answered_nor_abandoned():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(30), reason="leave"),
              enqueued("Support", "a", at(30))]
    result = figures(events, 40)
    assert (result["Sales"].answered, result["Sales"].abandoned, result["Sales"].left) == (0, 0, 1)
    assert result["Support"].waiting == 1 and result["Support"].longest_wait == 10


def test_average_handle_time_and_calls_in_conference():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(10)), joined("conf-1", "a", at(11)),
              joined("conf-1", "agent", at(11)), left("conf-1", "a", at(131)),
              enqueued("Sales", "b", at(0)), dequeued("Sales", "b", at(20)), joined("conf-2", "b", at(21)),
              left("conf-2", "b", at(81)),
              enqueued("Sales", "c", at(0)), dequeued("Sales", "c", at(30)), joined("conf-3", "c", at(30))]
    result = figures(events, 200)
    assert result["Sales"].handled == 2
    assert result["Sales"].average_handle_time == 90  # (120 + 60) / 2
    assert result["Sales"].in_conference == 1  # c is still talking
    assert result[ALL_QUEUES].in_conference == 1  # c; the agent still in conf-1 never queued: nobody's caller


def test_calls_before_the_period_do_not_count_but_still_wait():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(10)),
              enqueued("Sales", "b", at(20)), dequeued("Sales", "b", at(110)),
              enqueued("Sales", "c", at(50))]
    sales = compute(events, at(200), KpiSettings(), start=at(100))["Sales"]
    assert sales.answered == 1 and sales.average_speed_of_answer == 90
    assert sales.waiting == 1 and sales.longest_wait == 150


def test_per_queue_targets():
    targets = parse_queue_targets("Sales=90/30, Support = 80/10")
    assert targets == {"Sales": ServiceTarget(30, 90), "Support": ServiceTarget(10, 80)}
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(25)),
              enqueued("Support", "b", at(0)), dequeued("Support", "b", at(25))]
    result = figures(events, 100, queue_targets=targets)
    assert result["Sales"].service_level == 100 and result["Sales"].target.label == "90/30"
    assert result["Support"].service_level == 0
    assert result[ALL_QUEUES].service_level == 50
    with pytest.raises(ValueError):
        parse_queue_targets("Sales=ninety")


def test_day_starts_at_midnight_in_the_configured_time_zone():
    now = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 22:30 on 1 March in New York (UTC-5)
    assert period_start(now, KpiSettings(timezone="America/New_York")) == datetime(2026, 3, 2, 5, 0, tzinfo=UTC) - timedelta(days=1)
    assert period_start(now, KpiSettings()) == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    events = [enqueued("Sales", "a", datetime(2026, 3, 1, 23, 0, tzinfo=UTC)),
              dequeued("Sales", "a", datetime(2026, 3, 1, 23, 0, 10, tzinfo=UTC))]
    assert compute(events, now, KpiSettings(timezone="America/New_York"))["Sales"].answered == 1
    assert compute(events, now, KpiSettings())["Sales"].answered == 0


def test_sliding_window():
    now = at(3600)
    assert period_start(now, KpiSettings(window_seconds=900)) == at(2700)


def test_intervals_split_the_period():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(10)),
              enqueued("Sales", "b", at(60)), dequeued("Sales", "b", at(100), reason="hangup")]
    rows = intervals(events, at(0), at(120), timedelta(seconds=60))
    assert [moment for moment, _ in rows] == [at(0), at(60)]
    assert rows[0][1]["Sales"].answered == 1 and rows[0][1]["Sales"].abandoned == 0
    assert rows[1][1]["Sales"].answered == 0 and rows[1][1]["Sales"].abandoned == 1
