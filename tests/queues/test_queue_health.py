"""A queued caller who hangs up is one abandon, whichever of the hangup and the dequeue arrives first."""

from __future__ import annotations

from datetime import timedelta

from console.queues.kpis import KpiSettings, compute
from tests.event_factory import at, call_hangup, dequeued, enqueued

SETTINGS = KpiSettings(short_abandon_seconds=0, window_seconds=3600)


def abandons(events) -> int:
    return compute(events, at(60), SETTINGS, start=at(0) - timedelta(seconds=1))["Sales"].abandoned


def test_hangup_then_dequeue_counts_one_abandon():
    assert abandons([enqueued("Sales", "ada", at(1)), call_hangup("ada", at(9)),
                     dequeued("Sales", "ada", at(9), reason="hangup", wait=8)]) == 1


def test_dequeue_then_hangup_counts_one_abandon():
    assert abandons([enqueued("Sales", "ada", at(1)), dequeued("Sales", "ada", at(9), reason="hangup", wait=8),
                     call_hangup("ada", at(10))]) == 1
