"""Sparklines and alert thresholds, checked on small hand-built inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.alerts import (
    Threshold,
    evaluate,
    level,
    parse_thresholds,
    queue_level,
    thresholds_for,
    transitions,
)
from console.charts import hour_series, points, sparkline
from console.kpis import KpiSettings, compute
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
