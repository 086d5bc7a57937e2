"""Reads the events the queue figures need from the store and hands them to console.kpis."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from console.queues.kpis import KpiSettings, QueueFigures, compute, period_start

KPI_EVENT_TYPES = ("call.enqueued", "call.dequeued", "call.hangup",
                   "conference.participant.joined", "conference.participant.left")
# Calls still waiting or still talking may have started before the period: look this far back for them.
LOOKBACK = timedelta(hours=12)


def kpi_settings(config: Mapping) -> KpiSettings:
    """The app's KPI settings (cached on nothing: settings are cheap to build)."""
    return KpiSettings.from_config(config)


def figures_now(store, config: Mapping, now: datetime | None = None) -> dict[str, QueueFigures]:
    """Figures per queue (and '*') for the current period, from the event log."""
    now = now or datetime.now(UTC)
    settings = kpi_settings(config)
    start = period_start(now, settings)
    events = store.logged_events_of_types(KPI_EVENT_TYPES, since=start - LOOKBACK)
    return compute(events, now, settings, start=start)


def events_for(store, start: datetime, end: datetime) -> list:
    """The KPI events from a lookback before `start` up to `end`, for intervals and charts."""
    return store.logged_events_of_types(KPI_EVENT_TYPES, since=start - LOOKBACK, until=end)
