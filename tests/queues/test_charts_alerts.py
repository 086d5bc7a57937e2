"""Sparklines and alert thresholds, checked on small hand-built inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.config import Threshold, parse_thresholds
from console.queues.alerts import (
    describe,
    evaluate,
    level,
    queue_level,
    settle,
    shown_states,
    thresholds_for,
    transitions,
)
from console.queues.charts import hour_series, points, sparkline
from console.queues.kpis import KpiSettings, compute
from tests.event_factory import at, dequeued, enqueued


def test_sparkline_is_labelled_and_scaled():
    svg = str(sparkline([0, 5, 10], "Depth of Sales", "Rose from 0 to 10 & more"))
    assert "<title>Depth of Sales</title>" in svg
    assert "<desc>Rose from 0 to 10 &amp; more</desc>" in svg
    assert 'role="img"' in svg
    assert points([0, 5, 10], width=100, height=40) == "0.0,38.0 50.0,20.0 100.0,2.0"
    assert points([None, None]) == ""


def test_hour_series_depth_and_service_level():
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(10)),
              enqueued("Sales", "b", at(400)), dequeued("Sales", "b", at(450))]
    series = hour_series(events, at(600), KpiSettings(), step=timedelta(minutes=5))
    sales = series["Sales"]
    assert len(sales["depth"]) == 12
    # The last two buckets are [0, 300) and [300, 600): a answered after 10 s (in target), b after 50 s (late).
    assert sales["service_level"][-2:] == [100.0, 0.0]
    assert sales["depth"][-1] == 0


def test_parse_thresholds_and_overlay():
    table = parse_thresholds("*:longest_wait=60/180,depth=5/10;Sales:depth=2/4,service_level=80/60")
    assert thresholds_for(table, "Sales") == {"longest_wait": Threshold(60, 180), "depth": Threshold(2, 4),
                                              "service_level": Threshold(80, 60)}
    assert thresholds_for(table, "Support")["depth"] == Threshold(5, 10)
    for bad in ("depth=1/2", "*:speed=1/2", "*:depth=3"):
        with pytest.raises(ValueError):
            parse_thresholds(bad)


def test_levels_for_higher_and_lower_is_worse():
    assert level("depth", 4, Threshold(5, 10)) == "ok"
    assert level("depth", 5, Threshold(5, 10)) == "warning"
    assert level("depth", 12, Threshold(5, 10)) == "critical"
    assert level("service_level", 85, Threshold(80, 60)) == "ok"
    assert level("service_level", 70, Threshold(80, 60)) == "warning"
    assert level("service_level", 50, Threshold(80, 60)) == "critical"
    assert level("service_level", None, Threshold(80, 60)) == "ok"


def test_service_level_judges_no_queue_on_fewer_calls_than_the_minimum():
    table = parse_thresholds("*:service_level=80/60")
    # Two callers answered, one within the 20 s target: 50 % on two calls.
    events = [enqueued("Sales", "a", at(0)), dequeued("Sales", "a", at(10)),
              enqueued("Sales", "b", at(0)), dequeued("Sales", "b", at(50))]
    figures = compute(events, at(60), KpiSettings(), start=at(0))
    assert figures["Sales"].service_level == 50.0 and figures["Sales"].service_level_calls == 2
    assert evaluate(figures, table)[("Sales", "service_level")] == ("critical", 50.0)
    assert evaluate(figures, table, min_calls=2)[("Sales", "service_level")] == ("critical", 50.0)
    assert evaluate(figures, table, min_calls=3)[("Sales", "service_level")] == ("ok", None)
    assert describe("Sales", "service_level", "ok", None) == "Sales: service level is back to normal (too few calls to judge yet)."


def test_an_alert_rises_at_once_and_steps_down_only_after_its_hold():
    key = ("Sales", "longest_wait")
    recorded = {key: ("warning", 61.0)}
    hovering = [("ok", 58.0), ("warning", 60.0), ("ok", 55.0), ("ok", 50.0), ("ok", 45.0)]
    easing: dict = {}
    kept = []
    for now, fresh in zip((0, 5, 10, 20, 39), hovering, strict=True):
        settled, easing = settle(recorded, {key: fresh}, easing, now, clear_after=30)
        kept.append(settled[key][0])
        recorded = settled
    # Back above the warning at 5 s restarts the hold: ok from 10 s must last 30 s, so 39 s is too soon.
    assert kept == ["warning"] * 5
    assert easing == {key: 10}
    settled, easing = settle(recorded, {key: ("ok", 40.0)}, easing, 40, clear_after=30)
    assert settled[key] == ("ok", 40.0) and easing == {}

    settled, easing = settle({key: ("warning", 61.0)}, {key: ("critical", 190.0)}, {}, 0, clear_after=30)
    assert settled[key] == ("critical", 190.0), "a worse level must not wait"
    settled, _ = settle({key: ("critical", 190.0)}, {key: ("ok", 10.0)}, {}, 0, clear_after=0)
    assert settled[key] == ("ok", 10.0), "a hold of 0 steps down at once"


def test_tiles_show_a_held_alert_and_any_worse_fresh_level():
    held, fresh = ("Sales", "depth"), ("Support", "depth")
    shown = shown_states({held: ("ok", 1.0), fresh: ("critical", 9.0)},
                         {held: ("warning", 3.0), fresh: ("warning", 2.0)})
    assert shown == {held: ("warning", 3.0), fresh: ("critical", 9.0)}


def test_evaluate_and_transitions():
    table = parse_thresholds("*:depth=2/3,longest_wait=30/60")
    events = [enqueued("Sales", "a", at(0)), enqueued("Sales", "b", at(5))]
    first = evaluate(compute(events, at(40), KpiSettings(), start=at(0)), table)
    assert first[("Sales", "depth")] == ("warning", 2.0)
    assert first[("Sales", "longest_wait")] == ("warning", 40.0)
    assert queue_level(first, "Sales") == "warning"
    events.append(dequeued("Sales", "a", at(45)))
    second = evaluate(compute(events, at(70), KpiSettings(), start=at(0)), table)
    assert second[("Sales", "longest_wait")] == ("critical", 65.0)
    assert sorted(transitions(first, second)) == [("Sales", "depth", "ok", 1.0),
                                                  ("Sales", "longest_wait", "critical", 65.0)]
