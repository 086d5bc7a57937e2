"""Queue alerts: thresholds per queue on longest wait, depth and service level, and a watcher.

Thresholds read like ``*:longest_wait=60/180,depth=5/10,service_level=80/60;Sales:depth=2/4``
(warning/critical; service level alerts when it falls *below*). The watcher checks the figures
every few seconds and records each crossing as a console event (``console.alert.raised`` /
``console.alert.cleared``), which the alert history page reads back from the event log.

An alert rises at once but steps down only after its figure has stayed below the recorded level
for ``CONSOLE_ALERT_CLEAR_SECONDS``. A busy queue's longest wait falls each time its oldest caller
is answered and climbs again with the next one, so without this hold a queue hovering at 60 s
would raise, clear and raise again every few seconds, with a beep and a notification each time.
The wallboard shows the held level too, so its tiles and announcements agree with the history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from console.config import Threshold, parse_thresholds
from console.ingest.bus import get_bus
from console.ingest.singletons import fenced, leads
from console.queues.figures import figures_now
from console.queues.kpis import ALL_QUEUES, QueueFigures
from console.state.store import get_store
from console.telnyx.events import console_event

log = logging.getLogger("console.alerts")

LOWER_IS_WORSE = {"service_level"}
LEVELS = ("ok", "warning", "critical")
ALERT_TYPES = ("console.alert.raised", "console.alert.cleared")
LABELS = {"longest_wait": "Longest wait", "depth": "Callers waiting", "service_level": "Service level"}
MIN_GAP_SECONDS = 0.5
UNITS = {"longest_wait": "s", "depth": "", "service_level": "%"}


def thresholds_for(table: Mapping[str, Mapping[str, Threshold]], queue: str) -> dict[str, Threshold]:
    """The '*' thresholds overlaid with the queue's own."""
    return {**table.get(ALL_QUEUES, {}), **table.get(queue, {})}


def metric_value(figures: QueueFigures, metric: str, min_calls: int = 0) -> float | None:
    """The figure a metric watches; service level is None until ``min_calls`` (at least one) count towards it."""
    if metric == "longest_wait":
        return figures.longest_wait
    if metric == "depth":
        return float(figures.waiting)
    return figures.service_level if figures.service_level_calls >= min_calls else None


def level(metric: str, value: float | None, threshold: Threshold) -> str:
    """ok, warning or critical for one value; nobody waiting (a zero depth or wait) is always ok."""
    if value is None or (not value and metric not in LOWER_IS_WORSE):
        return "ok"
    if metric in LOWER_IS_WORSE:
        return "critical" if value < threshold.critical else "warning" if value < threshold.warning else "ok"
    return "critical" if value >= threshold.critical else "warning" if value >= threshold.warning else "ok"


def evaluate(figures: Mapping[str, QueueFigures], table: Mapping,
             min_calls: int = 0) -> dict[tuple[str, str], tuple[str, float | None]]:
    """(queue, metric) -> (level, value) for every real queue and metric with a threshold.

    Service level judges nobody on a handful of calls: below ``min_calls`` it is "ok", value None.
    """
    result = {}
    for queue, figure in figures.items():
        if queue == ALL_QUEUES:
            continue
        for metric, threshold in thresholds_for(table, queue).items():
            value = metric_value(figure, metric, min_calls)
            result[(queue, metric)] = (level(metric, value, threshold), value)
    return result


def queue_level(states: Mapping[tuple[str, str], tuple[str, float | None]], queue: str) -> str:
    """The worst level among a queue's metrics."""
    found = [state[0] for (name, _metric), state in states.items() if name == queue]
    return max(found, key=LEVELS.index) if found else "ok"


def describe(queue: str, metric: str, alert_level: str, value: float | None) -> str:
    """A sentence for screen readers and notifications."""
    shown = "too few calls to judge yet" if value is None else f"{value:.0f}{UNITS[metric]}"
    if alert_level == "ok":
        return f"{queue}: {LABELS[metric].lower()} is back to normal ({shown})."
    return f"{queue}: {LABELS[metric].lower()} {alert_level} ({shown})."


def transitions(before: Mapping, after: Mapping) -> list[tuple[str, str, str, float | None]]:
    """(queue, metric, new level, value) for every metric whose level changed."""
    changed = []
    for key, (new_level, value) in after.items():
        if before.get(key, ("ok", None))[0] != new_level:
            changed.append((*key, new_level, value))
    return changed


def alert_min_calls(config: Mapping) -> int:
    """CONSOLE_ALERT_MIN_CALLS: calls service level needs before it can alert."""
    return int(config.get("CONSOLE_ALERT_MIN_CALLS") or 0)


def alert_clear_seconds(config: Mapping) -> int:
    """CONSOLE_ALERT_CLEAR_SECONDS: how long a figure must stay better before its alert steps down."""
    return int(config.get("CONSOLE_ALERT_CLEAR_SECONDS") or 0)


def worse(one: str, other: str) -> bool:
    """Whether level `one` is worse than level `other`."""
    return LEVELS.index(one) > LEVELS.index(other)


def settle(recorded: Mapping, fresh: Mapping, easing: Mapping[tuple[str, str], float], now: float,
           clear_after: float) -> tuple[dict, dict]:
    """Apply the hold to fresh levels: (levels to record, when each held alert's figure began easing).

    A level worse than the recorded one is taken at once. A better one is taken only once the figures
    have been better than the recorded level since at least ``clear_after`` seconds before ``now``.
    """
    settled, still_easing = {}, {}
    for key, state in fresh.items():
        held = recorded.get(key, ("ok", None))
        if not worse(held[0], state[0]):
            settled[key] = state
            continue
        since = easing.get(key, now)
        if now - since >= clear_after:
            settled[key] = state
        else:
            settled[key] = held
            still_easing[key] = since
    return settled, still_easing


def shown_states(fresh: Mapping, recorded: Mapping) -> dict:
    """What tiles show: the fresh level, or the recorded one while an alert is held."""
    return {key: recorded[key] if key in recorded and worse(recorded[key][0], state[0]) else state
            for key, state in fresh.items()}


def alert_event(queue: str, metric: str, alert_level: str, value: float | None, threshold: Threshold | None):
    """The console event recording one crossing."""
    kind = "console.alert.cleared" if alert_level == "ok" else "console.alert.raised"
    payload = {"queue": queue, "metric": metric, "level": alert_level, "value": value,
               "message": describe(queue, metric, alert_level, value)}
    if threshold is not None:
        payload |= {"warning": threshold.warning, "critical": threshold.critical}
    return console_event(kind, payload)


def last_levels(store) -> dict[tuple[str, str], tuple[str, float | None]]:
    """The level each (queue, metric) was last recorded at, so a restart does not repeat alerts."""
    levels = {}
    for event in store.logged_events_of_types(ALERT_TYPES):
        payload = event.payload
        levels[(payload.get("queue"), payload.get("metric"))] = (payload.get("level"), payload.get("value"))
    return levels


class AlertWatcher:
    """Checks the queues every `interval` seconds and records crossings; one thread per app."""

    def __init__(self, app, interval: float = 2.0, clock=time.monotonic):
        self.app = app
        self.interval = interval
        self.clock = clock
        # Only conditions not at "ok" are kept (a missing key reads as "ok"), so this stays as small as
        # the alerts now raised, however many queues and days the process has seen.
        self.states: dict = {}
        self._loaded = False
        self._easing: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.on_round = None  # metrics hook: on_round(seconds) after each round of the thread

    def start(self) -> AlertWatcher:
        """Start the thread once (later calls do nothing)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)
                self._thread.start()
                bus = self.app.extensions.get("console.bus")
                if bus is not None:
                    bus.subscribe(self.notify)
        return self

    def notify(self, keys, event=None) -> None:
        """Bus listener: a queue or call changed, so check now rather than at the next interval."""
        if any(key.startswith(("queue", "call")) for key in keys):
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def check(self) -> list:
        """One round: evaluate, record changes as events, tell the live hub; return the events."""
        store = get_store()
        if not self._loaded:
            self.states = {key: state for key, state in last_levels(store).items() if state[0] != "ok"}
            self._loaded = True
        table = parse_thresholds(self.app.config.get("CONSOLE_ALERT_THRESHOLDS") or "")
        fresh = evaluate(figures_now(store, self.app.config), table, alert_min_calls(self.app.config))
        # A raised condition whose queue has left the figures (no calls since the lookback) or whose
        # metric lost its threshold has nothing to hold it up: it steps down like any other.
        fresh = {key: ("ok", None) for key in self.states} | fresh
        after, self._easing = settle(self.states, fresh, self._easing, self.clock(),
                                     alert_clear_seconds(self.app.config))
        recorded = []
        for queue, metric, new_level, value in transitions(self.states, after):
            event = alert_event(queue, metric, new_level, value, thresholds_for(table, queue).get(metric))
            get_bus().publish(event)
            recorded.append(event)
        self.states = {key: state for key, state in {**self.states, **after}.items() if state[0] != "ok"}
        hub = self.app.extensions.get("console.hub")
        if hub is not None:
            hub.notify({"alerts", *(f"alert:{event.payload['queue']}" for event in recorded)})
        return recorded

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            hub = self.app.extensions.get("console.hub")
            if hub is not None and getattr(hub, "_stopping", False):
                return
            if not leads(self.app):  # another instance holds the leader lease: it watches
                self._loaded = False  # and whoever leads next starts from the levels recorded
                continue
            began = time.perf_counter()
            try:
                with self.app.app_context(), fenced(self.app):
                    self.check()
            except Exception:  # a bad round must not end alerting; the next one tries again
                log.exception("alert check failed")
            if self.on_round is not None:
                self.on_round(time.perf_counter() - began)
            # Busy queues wake the watcher constantly: keep rounds at least this far apart.
            if self._stop.wait(MIN_GAP_SECONDS):
                return


def get_watcher(app) -> AlertWatcher:
    """The app's watcher, made on first use."""
    watcher = app.extensions.get("console.alerts")
    if watcher is None:
        watcher = app.extensions.setdefault("console.alerts", AlertWatcher(app))
    return watcher
