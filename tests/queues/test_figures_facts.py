"""The figures read from the kept facts equal kpis.compute over the event log, on random event streams.

Random legs enqueue, leave their queue (answered, abandoned, moved on, with or without a reported
wait), hang up, join and leave conferences; events arrive out of order, some twice, some in the
same transaction, some at the same instant, some before the lookback cut and some after now, and
the clock sits near midnight in a random time zone. ``kpis.compute`` over the log (the way the
figures were read before) is the reference; every count, time and level must be the same, and the
sums of seconds the same to within float rounding (they are added in another order).
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.queues.charts import hour_series
from console.queues.figures import (
    LOOKBACK,
    events_for,
    figure_intervals,
    figures_from_log,
    figures_now,
    hour_series_now,
    kpi_settings,
)
from console.queues.kpis import QueueFigures, intervals, period_start
from console.state.store import Store
from tests.event_factory import event, leg_ids

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Adelaide")
LEGS = ("a", "b", "c", "d", "e", "")
QUEUES = ("Sales", "Support", "")
CONFERENCES = ("conf-1", "conf-2", None)
REASONS = ("bridged", "bridging-in-process", "hangup", "timeout", "queue_deleted", None)
KINDS = ("call.enqueued", "call.dequeued", "call.hangup", "conference.participant.joined",
         "conference.participant.left", "call.answered")
FLOAT_FIELDS = {"longest_wait", "total_answer_wait", "total_handle"}


def assert_same_figures(found: dict[str, QueueFigures], expected: dict[str, QueueFigures], where: str = "") -> None:
    assert sorted(found) == sorted(expected), where
    for queue, figure in expected.items():
        other = found[queue]
        for item in fields(QueueFigures):
            mine, theirs = getattr(other, item.name), getattr(figure, item.name)
            if item.name in FLOAT_FIELDS:
                assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-9), (where, queue, item.name, mine, theirs)
            else:
                assert mine == theirs, (where, queue, item.name, mine, theirs)


def config_strategy():
    return st.fixed_dictionaries({
        "CONSOLE_TIMEZONE": st.sampled_from(ZONES),
        "CONSOLE_KPI_WINDOW_SECONDS": st.sampled_from([0, 0, 600, 3600]),
        "CONSOLE_SL_TARGET_SECONDS": st.sampled_from([10, 20, 30]),
        "CONSOLE_SL_GOAL_PERCENT": st.just(80),
        "CONSOLE_SL_QUEUE_TARGETS": st.sampled_from(["", "Sales=90/15", "Support=70/40,Sales=80/5"]),
        "CONSOLE_SL_FORMULA": st.sampled_from(["answered", "abandons"]),
        "CONSOLE_SHORT_ABANDON_SECONDS": st.sampled_from([0, 5, 7.5]),
    })


def near_midnight(data, zone: str) -> datetime:
    """A moment within a few hours of a local midnight (a day boundary) in the zone."""
    day = data.draw(st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2026, 12, 31).date()))
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return midnight + timedelta(seconds=data.draw(st.integers(-4 * 3600, 4 * 3600)),
                                microseconds=data.draw(st.sampled_from([0, 250_000])))


def moments(data, anchors: list[datetime]) -> st.SearchStrategy:
    """Moments close to the anchors (so ties and boundary cases come up) or anywhere over two days."""
    near = st.tuples(st.sampled_from(anchors), st.integers(-120, 120), st.sampled_from([0, 0, 1, 500_000])).map(
        lambda parts: parts[0] + timedelta(seconds=parts[1], microseconds=parts[2]))
    anywhere = st.integers(-48 * 3600, 600).map(lambda seconds: anchors[0] + timedelta(seconds=seconds))
    return st.one_of(near, near, anywhere)


def random_event(data, when: st.SearchStrategy):
    kind = data.draw(st.sampled_from(KINDS))
    ccid = data.draw(st.sampled_from(LEGS))
    moment = data.draw(when)
    payload = leg_ids(ccid)
    if kind == "call.enqueued":
        payload["queue"] = data.draw(st.sampled_from(QUEUES))
    elif kind == "call.dequeued":
        queue = data.draw(st.sampled_from((*QUEUES, None)))
        if queue is not None:
            payload["queue"] = queue
        payload["reason"] = data.draw(st.sampled_from(REASONS))
        payload["wait_time_secs"] = data.draw(st.one_of(st.none(), st.integers(0, 90),
                                                        st.floats(0, 90, allow_nan=False), st.just("soon")))
    elif kind.startswith("conference."):
        payload["conference_id"] = data.draw(st.sampled_from(CONFERENCES))
    return event(kind, moment, **payload)


def random_log(data, anchors: list[datetime]) -> list[list]:
    """Random events in a random arrival order, some delivered twice, cut into transactions."""
    when = moments(data, anchors)
    events = [random_event(data, when) for _ in range(data.draw(st.integers(1, 40)))]
    arrivals = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=4))
    arrivals = list(arrivals) + repeats
    batches, index = [], 0
    while index < len(arrivals):
        size = data.draw(st.integers(1, 6))
        batches.append(arrivals[index:index + size])
        index += size
    return batches


def filled_store(batches, read_between=None) -> Store:
    """A store that applied the batches; `read_between(store)` runs half way, so kept sums must follow later events."""
    store = Store(":memory:")
    store.migrate()
    for index, batch in enumerate(batches):
        if read_between is not None and index == len(batches) // 2:
            read_between(store)
        store.apply_many(batch)
    return store


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=config_strategy())
def test_figures_now_equal_the_fold_over_the_log(data, config):
    now = near_midnight(data, config["CONSOLE_TIMEZONE"])
    start = period_start(now, kpi_settings(config))
    store = filled_store(random_log(data, [now, start, start - LOOKBACK, now - timedelta(minutes=5)]),
                         lambda early: figures_now(early, config, now))
    try:
        assert_same_figures(figures_now(store, config, now), figures_from_log(store, config, now))
    finally:
        store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=config_strategy())
def test_intervals_equal_the_fold_over_the_log(data, config):
    now = near_midnight(data, config["CONSOLE_TIMEZONE"])
    kpis = kpi_settings(config)
    start = now - timedelta(seconds=data.draw(st.sampled_from([600, 3600, 5 * 3600])))
    if data.draw(st.booleans()):  # on a 15-minute boundary, as a day in most zones starts
        start -= timedelta(seconds=start.timestamp() % 900)
    step = timedelta(seconds=data.draw(st.sampled_from([60, 300, 420, 900, 3600])))
    end = data.draw(st.sampled_from([now, now - timedelta(seconds=90), start + step * 2]))
    store = filled_store(random_log(data, [now, start, start - LOOKBACK, end, start + step]),
                         lambda early: figure_intervals(early, start, end, step, kpis))
    try:
        found = figure_intervals(store, start, end, step, kpis)
        expected = intervals(events_for(store, start, end), start, end, step, kpis)
        assert [moment for moment, _ in found] == [moment for moment, _ in expected]
        for (moment, mine), (_, theirs) in zip(found, expected):
            assert_same_figures(mine, theirs, str(moment))
        assert hour_series_now(store, now, kpis) == hour_series(events_for(store, now - timedelta(hours=1), now),
                                                                now, kpis)
    finally:
        store.close()


def test_an_empty_period_has_no_intervals_and_only_the_overall_figure():
    store = filled_store([])
    try:
        now = datetime(2026, 3, 2, 12, tzinfo=UTC)
        assert figure_intervals(store, now, now, timedelta(minutes=5)) == []
        figures = figures_now(store, {}, now)
        assert list(figures) == ["*"] and figures["*"].waiting == 0
    finally:
        store.close()


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata"])
def test_a_call_answered_before_local_midnight_counts_yesterday_and_its_talk_today(zone):
    """The day boundary is midnight in CONSOLE_TIMEZONE: the answer falls before it, the handle time after."""
    midnight = datetime(2026, 3, 3, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    now = midnight + timedelta(minutes=30)
    events = [event("call.enqueued", midnight - timedelta(seconds=40), **leg_ids("x"), queue="Sales"),
              event("call.dequeued", midnight - timedelta(seconds=10), **leg_ids("x"), queue="Sales", reason="bridged"),
              event("conference.participant.joined", midnight - timedelta(seconds=9), **leg_ids("x"),
                    conference_id="c"),
              event("conference.participant.left", midnight + timedelta(seconds=51), **leg_ids("x"),
                    conference_id="c"),
              event("call.enqueued", midnight + timedelta(seconds=5), **leg_ids("y"), queue="Sales")]
    store = filled_store([events[::-1]])
    try:
        config = {"CONSOLE_TIMEZONE": zone}
        sales = figures_now(store, config, now)["Sales"]
        assert (sales.answered, sales.handled, sales.total_handle, sales.waiting) == (0, 1, 60.0, 1)
        assert_same_figures(figures_now(store, config, now), figures_from_log(store, config, now))
    finally:
        store.close()


def test_an_answer_at_the_very_moment_asked_is_not_yet_seen():
    """Events at `now` or later are not in the figures: a leg in a conference is not yet anyone's answered call."""
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    events = [event("call.enqueued", now - timedelta(seconds=30), **leg_ids("x"), queue="Sales"),
              event("conference.participant.joined", now - timedelta(seconds=5), **leg_ids("x"), conference_id="c"),
              event("call.dequeued", now, **leg_ids("x"), queue="Sales", reason="bridged")]
    store = filled_store([events])
    try:
        figures = figures_now(store, {}, now)
        assert (figures["*"].in_conference, figures["Sales"].in_conference, figures["Sales"].waiting) == (0, 0, 1)
        assert_same_figures(figures, figures_from_log(store, {}, now))
        later = now + timedelta(seconds=1)
        assert (figures_now(store, {}, later)["Sales"].in_conference, figures_now(store, {}, later)["*"].in_conference) \
            == (1, 1)
        assert_same_figures(figures_now(store, {}, later), figures_from_log(store, {}, later))
    finally:
        store.close()


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (0, 2, 1, 3), (3, 2, 1, 0)])
def test_two_answers_at_one_instant_are_taken_in_arrival_order(order):
    """At an equal time the log's arrival order decides (as ``ORDER BY occurred_at, rowid``): the later answer names the queue."""
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    moment = now - timedelta(seconds=20)
    events = [event("call.enqueued", moment - timedelta(seconds=10), **leg_ids("x"), queue="Sales"),
              event("call.dequeued", moment, **leg_ids("x"), queue="Sales", reason="bridged"),
              event("call.dequeued", moment, **leg_ids("x"), queue="Support", reason="bridged", wait_time_secs=4),
              event("conference.participant.joined", moment + timedelta(seconds=1), **leg_ids("x"), conference_id="c")]
    store = filled_store([[events[index]] for index in order])
    try:
        figures = figures_now(store, {}, now)
        assert_same_figures(figures, figures_from_log(store, {}, now))
        last_answer = [index for index in order if index in (1, 2)][-1]
        assert figures["Support" if last_answer == 2 else "Sales"].in_conference == 1
    finally:
        store.close()
