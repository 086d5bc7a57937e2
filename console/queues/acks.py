"""Alert entries: raises of one condition folded together, acknowledgements, and each queue's health.

The alert watcher (console.queues.alerts) records every crossing as a console event. Read back from
the event log, consecutive raises of the same condition (same queue and metric) fold into one
entry with a count and the first and last time, for as long as nobody has acknowledged it, and
for ``FOLD_SECONDS`` after the last raise once someone has: a queue hovering at a threshold makes
one line that counts, not a screenful. An acknowledgement is itself a console event
(``console.alert.acknowledged``) naming the entry (the id of its first raise), who and when, so it
lands in the event log like the alerts themselves and survives restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from console.config import parse_thresholds
from console.queues.alerts import (
    ALERT_TYPES,
    LABELS,
    alert_min_calls,
    level,
    thresholds_for,
    worse,
)
from console.queues.figures import figures_now
from console.state.bucket_cache import buckets_of
from console.state.event_rows import UNREADABLE
from console.telnyx.events import Event, console_event

ACK_TYPE = "console.alert.acknowledged"
LOG_TYPES = (*ALERT_TYPES, ACK_TYPE)
# After an acknowledgement, a raise this soon after the entry's last one still folds into it.
FOLD_SECONDS = 600
# How many entries, newest first, the alerts page and its live list show.
ALERTS_SHOWN = 200
SL_WORDS = {"ok": "On target", "warning": "Warning", "critical": "Critical"}


class AckRefused(Exception):
    """An acknowledgement the console cannot record, in words a supervisor can act on, with an HTTP status."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class AlertEntry:
    """One condition's alert: its raises folded together, whether it is still active, who acknowledged it."""

    id: str
    queue: str
    metric: str
    level: str
    message: str
    first_at: datetime | None
    last_at: datetime | None
    count: int = 1
    active: bool = True
    cleared_at: datetime | None = None
    acked_by: str | None = None
    acked_role: str | None = None
    acked_at: datetime | None = None

    @property
    def label(self) -> str:
        return LABELS.get(self.metric, self.metric or "Alert")

    @property
    def acknowledged(self) -> bool:
        return self.acked_at is not None

    @property
    def state(self) -> str:
        if self.level == "unreadable":
            return "unreadable"
        return "active" if self.active else "cleared"


def _folds(entry: AlertEntry | None, at: datetime | None) -> bool:
    """Whether a new raise at `at` joins `entry`: unacknowledged, or acknowledged within the fold window."""
    if entry is None:
        return False
    if not entry.acknowledged:
        return True
    if at is None or entry.last_at is None:
        return False
    return at - entry.last_at <= timedelta(seconds=FOLD_SECONDS)


def fold(events: Iterable[Event]) -> list[AlertEntry]:
    """Alert entries from alert and acknowledgement events (oldest first in), newest entry first out."""
    entries: list[AlertEntry] = []
    latest: dict[tuple[str, str], AlertEntry] = {}
    by_id: dict[str, AlertEntry] = {}
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        if event.event_type == UNREADABLE:
            entries.append(AlertEntry(event.id, "", "", "unreadable",
                                      f"This alert (id {event.id[:80]}) could not be read; it has been logged.",
                                      event.occurred_at, event.occurred_at, active=False))
            continue
        key = (str(payload.get("queue") or ""), str(payload.get("metric") or ""))
        if event.event_type == "console.alert.raised":
            entry = latest.get(key)
            if _folds(entry, event.occurred_at):
                entry.count += 1
                entry.last_at = event.occurred_at
                entry.level, entry.message = str(payload.get("level") or ""), str(payload.get("message") or "")
                entry.active, entry.cleared_at = True, None
            else:
                entry = AlertEntry(event.id, key[0], key[1], str(payload.get("level") or ""),
                                   str(payload.get("message") or ""), event.occurred_at, event.occurred_at)
                latest[key] = by_id[event.id] = entry
                entries.append(entry)
        elif event.event_type == "console.alert.cleared":
            entry = latest.get(key)
            if entry is not None and entry.active:
                entry.active, entry.cleared_at = False, event.occurred_at
        elif event.event_type == ACK_TYPE:
            entry = by_id.get(str(payload.get("alert_id") or ""))
            if entry is not None and not entry.acknowledged:
                entry.acked_by, entry.acked_role = payload.get("by"), payload.get("role")
                entry.acked_at = event.occurred_at
    entries.sort(key=lambda entry: (entry.last_at is not None, entry.last_at or 0), reverse=True)
    return entries


def alert_entries(store) -> list[AlertEntry]:
    """Every alert entry the event log holds, newest first.

    Folding needs every alert event kept (an unacknowledged entry folds raises however old), so the
    fold is done once per change of the log's alert version and reused until the next alert, clearing
    or acknowledgement: pages and hub ticks between alerts cost a one-row read, not the alert history.
    The version is read first, so a result is never kept under a version older than what it saw.
    """
    version = store.alert_log_version()
    cache = buckets_of(store, "alert_entries", limit=1)
    entries = cache.get(("all",), version)
    if entries is None:
        entries = tuple(fold(store.logged_events_of_types(LOG_TYPES, keep_unreadable=True)))
        cache.put(("all",), version, entries)
    return list(entries)  # shared with other readers: entries are never changed once folded


def active_alerts(entries: Iterable[AlertEntry]) -> dict[str, AlertEntry]:
    """Each queue's worst active alert (the most recent among equals)."""
    found: dict[str, AlertEntry] = {}
    for entry in entries:
        if entry.state != "active":
            continue
        held = found.get(entry.queue)
        if held is None or worse(entry.level, held.level):
            found[entry.queue] = entry
    return found


def acknowledge(store, alert_id: str, user_name: str, role: str) -> tuple[Event, AlertEntry]:
    """The acknowledgement event for the entry `alert_id` (not yet published), or AckRefused."""
    alert_id = (alert_id or "").strip()
    if not alert_id:
        raise AckRefused("Say which alert to acknowledge.", 422)
    entry = next((entry for entry in alert_entries(store) if entry.id == alert_id), None)
    if entry is None or entry.level == "unreadable":
        raise AckRefused("There is no such alert.", 404)
    if entry.acknowledged:
        raise AckRefused(f"{entry.acked_by} already acknowledged this alert.")
    if not entry.active:
        raise AckRefused("This alert has already cleared; there is nothing to acknowledge.")
    event = console_event(ACK_TYPE, {"alert_id": entry.id, "queue": entry.queue, "metric": entry.metric,
                                     "level": entry.level, "by": user_name, "role": role})
    return event, entry


@dataclass(frozen=True)
class QueueHealth:
    """What a dashboard queue row shows beside its waiting callers: service level, abandons, active alert."""

    service_level: float | None
    service_level_calls: int
    sl_level: str
    abandoned: int
    alert: AlertEntry | None

    @property
    def sl_word(self) -> str:
        return "Too few calls" if self.service_level is None else SL_WORDS.get(self.sl_level, self.sl_level)


def queue_health(store, config: Mapping, now: datetime | None = None) -> dict[str, QueueHealth]:
    """Every queue's health now (or as of `now`), from the period's figures, the thresholds and the active alerts."""
    figures = figures_now(store, config, now)
    table = parse_thresholds(config.get("CONSOLE_ALERT_THRESHOLDS") or "")
    min_calls = alert_min_calls(config)
    active = active_alerts(alert_entries(store))
    health = {}
    for name in {*figures, *active}:
        figure = figures.get(name)
        service_level = None
        calls = abandoned = 0
        if figure is not None:
            calls, abandoned = figure.service_level_calls, figure.abandoned
            service_level = figure.service_level if calls >= max(min_calls, 1) else None
        threshold = thresholds_for(table, name).get("service_level")
        sl_level = level("service_level", service_level, threshold) if threshold else "ok"
        health[name] = QueueHealth(service_level, calls, sl_level, abandoned, active.get(name))
    return health
