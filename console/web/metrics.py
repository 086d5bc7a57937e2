"""Prometheus metrics for one console app: webhooks, store apply time, the live hub, Telnyx calls, corrections,
the alert watcher's rounds.

Each app has its own registry (two apps in one process never share counters). Subsystems report
through small hooks (`EventBus.on_applied`, `Hub.metrics`, a `requests` response hook on the Telnyx
session, a bus listener for reconciler corrections, `AlertWatcher.on_round`, `Retention.on_pruned`), so
none of them imports prometheus_client. The database's size and oldest day kept are read when scraped.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from console.ingest.singletons import CLUSTER
from console.queues.alerts import get_watcher
from console.queues.retention import get_retention, oldest_day_kept
from console.state.retention import file_figures

metrics_views = Blueprint("metrics_views", __name__)

# The Telnyx event types a label may carry; anything else is counted as "other" so a hostile
# sender cannot grow the label set.
TELNYX_EVENT_TYPES = frozenset({
    "conference.created", "conference.ended", "conference.floor.changed",
    "conference.participant.joined", "conference.participant.left",
    "conference.participant.playback.started", "conference.participant.playback.ended",
    "conference.participant.speak.started", "conference.participant.speak.ended",
    "conference.playback.started", "conference.playback.ended", "conference.speak.started",
    "conference.speak.ended", "conference.recording.saved", "call.enqueued", "call.dequeued",
    "call.initiated", "call.answered", "call.hangup", "call.gather.ended",
})
# Path words of the Telnyx API; any other segment is an id or a queue name and becomes "{id}".
_PATH_WORDS = frozenset({
    "v2", "conferences", "participants", "actions", "queues", "calls", "end", "gather_using_audio", "hold",
    "unhold", "join", "leave", "mute", "unmute", "play", "stop", "speak", "send_dtmf", "record_start",
    "record_stop", "record_pause", "record_resume", "update", "enqueue", "leave_queue", "hangup",
})
_SYNCED = re.compile(r"^console\.[a-z_]+\.synced$")
_FRAME_BYTES = (256, 1024, 4096, 16384, 65536, 262144, 1048576)
_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_ROUND_SECONDS = (*_SECONDS, 5.0, 10.0)


def endpoint_of(url: str, base_path: str = "") -> str:
    """A Telnyx URL as a low-cardinality endpoint label: ids and names replaced by {id}."""
    path = urlsplit(url).path
    if base_path and path.startswith(base_path):
        path = path[len(base_path):]
    segments = [s if s in _PATH_WORDS else "{id}" for s in path.strip("/").split("/") if s]
    return "/" + "/".join(segments)


class ConsoleMetrics:
    """The console's Prometheus metrics in a registry of its own."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter("console_webhooks_total", "Webhooks received, by event type and outcome.",
                                ["event_type", "outcome"], registry=r)
        self.apply_seconds = Histogram("console_store_apply_seconds",
                                       "Time to apply one event to the store (one transaction).",
                                       ["source"], buckets=_SECONDS, registry=r)
        self.tick_seconds = Histogram("console_hub_tick_seconds", "Time the live hub spends on one tick.",
                                      buckets=_SECONDS, registry=r)
        self.frame_bytes = Histogram("console_hub_frame_bytes", "Size of each frame queued for a socket.",
                                     ["kind"], buckets=_FRAME_BYTES, registry=r)
        self.frames = Counter("console_hub_frames_total",
                              "Frames for sockets: written by the hub at once (direct), or queued for the "
                              "socket's thread because the socket was busy or slow (queued).",
                              ["path"], registry=r)
        self.draw_seconds = Histogram("console_hub_draw_seconds",
                                      "Time to draw one tick's changes: in the render process (round trip "
                                      "included) or in the serving process (inline).",
                                      ["where"], buckets=_SECONDS, registry=r)
        self.renders = Counter("console_hub_renders_total", "UI atoms rendered by the live hub.", registry=r)
        self.sockets = Gauge("console_live_sockets", "Open /live WebSockets.", registry=r)
        self.telnyx_calls = Counter("console_telnyx_requests_total", "Telnyx API requests, by endpoint and status.",
                                    ["method", "endpoint", "status"], registry=r)
        self.corrections = Counter("console_reconciler_corrections_total",
                                   "Reconciler corrections that changed the read model, by kind.",
                                   ["kind"], registry=r)
        self.alert_round_seconds = Histogram("console_alert_round_seconds",
                                             "Time one round of the alert watcher takes (queue figures read, "
                                             "levels judged, crossings recorded).",
                                             buckets=_ROUND_SECONDS, registry=r)
        self.database_bytes = Gauge("console_database_bytes", "Size of the database file (its pages).", registry=r)
        self.database_free_bytes = Gauge("console_database_free_bytes",
                                         "Free pages in the database file, in bytes (pruned, not yet given back).",
                                         registry=r)
        self.oldest_day_kept = Gauge("console_oldest_day_kept_timestamp_seconds",
                                     "Start (midnight in CONSOLE_TIMEZONE) of the oldest day whose calls the "
                                     "database keeps in full; older days are kept as daily figures (NaN: empty log).",
                                     registry=r)
        self.pruned_rows = Counter("console_retention_pruned_rows_total",
                                   "Rows pruned by retention, by table.", ["table"], registry=r)

    # -- hooks the subsystems call ----------------------------------------------------------------

    def applied(self, event, seconds: float, keys: set[str]) -> None:
        """Bus hook: one event went through store.apply."""
        self.apply_seconds.labels(event.source or "unknown").observe(seconds)

    def changed(self, keys: set[str], event) -> None:
        """Bus listener: count reconciler corrections (synced events that changed something)."""
        if _SYNCED.match(event.event_type):
            self.corrections.labels(event.event_type.split(".")[1]).inc()

    def tick(self, seconds: float) -> None:
        """Hub hook: one tick ran."""
        self.tick_seconds.observe(seconds)

    def frame(self, kind: str, messages: list[str], direct: bool = False) -> None:
        """Hub hook: a frame (a snapshot or changes) was written to one socket, or queued for its thread."""
        self.frame_bytes.labels(kind).observe(sum(len(m) for m in messages))
        self.frames.labels("direct" if direct else "queued").inc()

    def drawn(self, seconds: float, where: str) -> None:
        """Hub hook: one tick's changes were drawn (`where`: "process" or "inline")."""
        self.draw_seconds.labels(where).observe(seconds)

    def rendered(self, count: int) -> None:
        """Hub hook: atoms rendered in one tick."""
        self.renders.inc(count)

    def telnyx_response(self, base_path: str):
        """A `requests` response hook counting Telnyx calls by method, endpoint and status."""
        def hook(response, *args, **kwargs):
            self.telnyx_calls.labels(response.request.method, endpoint_of(response.url, base_path),
                                     str(response.status_code)).inc()
            return response
        return hook

    def watch_database(self, store, config) -> None:
        """Read the file's size and the oldest day kept (retention) whenever metrics are scraped."""
        def oldest() -> float:
            day = oldest_day_kept(store, config)
            if day is None:
                return float("nan")
            zone = ZoneInfo(config.get("CONSOLE_TIMEZONE") or "UTC")
            return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()

        self.database_bytes.set_function(_or_nan(lambda: file_figures(store)["bytes"]))
        self.database_free_bytes.set_function(_or_nan(lambda: file_figures(store)["free_bytes"]))
        self.oldest_day_kept.set_function(_or_nan(oldest))

    def pruned(self, table: str, rows: int) -> None:
        """Retention hook: one batch of rows of a table was pruned."""
        self.pruned_rows.labels(table).inc(rows)

    def alert_round(self, seconds: float) -> None:
        """Alert watcher hook: one round ran."""
        self.alert_round_seconds.observe(seconds)

    def webhook(self, event_type: str | None, outcome: str) -> None:
        """Count one webhook by its (bounded) type and what the console answered."""
        label = event_type if event_type in TELNYX_EVENT_TYPES else ("unparsed" if event_type is None else "other")
        self.webhooks.labels(label, outcome).inc()


def _or_nan(read: Callable[[], float]) -> Callable[[], float]:
    """A gauge's reading, or NaN when the database cannot answer (a scrape must not fail over it)."""
    def reading() -> float:
        try:
            return read()
        except sqlite3.Error:
            return float("nan")
    return reading


def webhook_outcome(status: int, answer: dict | None) -> str:
    """stored / duplicate / ignored from the JSON answer, else the refusal's status code."""
    if status == 200 and isinstance(answer, dict) and answer.get("status") in ("stored", "duplicate", "ignored"):
        return answer["status"]
    return f"rejected_{status}"


def _count_webhook(response):
    if request.endpoint == "webhooks.receive":
        metrics = current_app.extensions.get("console.metrics")
        if metrics is not None:
            answer = response.get_json(silent=True) if response.is_json else None
            metrics.webhook(g.get("webhook_event_type"), webhook_outcome(response.status_code, answer))
    return response


class ClusterCollector:
    """The distributed mode's figures, read from the follower, lease and ingest at each scrape."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        cluster = self.app.extensions[CLUSTER]
        follower, ingest = cluster.follower, self.app.extensions.get("console.ingest")
        lease_holder = _or_none(cluster.keeper.lease.holder)
        yield GaugeMetricFamily("console_stream_lag_entries",
                                "Stream entries this instance has not applied yet (-1: Redis cannot say).",
                                value=follower.lag())
        yield GaugeMetricFamily("console_stream_connected", "1 while this instance follows the stream.",
                                value=int(follower.connected))
        yield CounterMetricFamily("console_stream_applied_entries", "Stream entries applied here.",
                                  value=follower.applied)
        yield CounterMetricFamily("console_stream_rebuilds", "Times this instance rebuilt its read model.",
                                  value=follower.rebuilds)
        yield CounterMetricFamily("console_stream_dedupe_hits", "Webhooks the stream already held (by event id).",
                                  value=getattr(ingest, "dedupe_hits", 0))
        yield GaugeMetricFamily("console_leader", "1 while this instance holds the leader lease.",
                                value=int(bool(cluster.keeper.is_leader)))
        holder = GaugeMetricFamily("console_lease_holder", "The instance holding the leader lease (value 1).",
                                   labels=["holder"])
        if lease_holder:
            holder.add_metric([lease_holder], 1)
        yield holder


def _or_none(read: Callable[[], object]):
    try:
        return read()
    except Exception:  # noqa: BLE001 - Redis away: a scrape reports what it can
        return None


def init_app(app) -> ConsoleMetrics:
    """Build the app's metrics and connect them to the bus, hub and Telnyx client."""
    metrics = ConsoleMetrics()
    app.extensions["console.metrics"] = metrics
    bus = app.extensions["console.bus"]
    bus.on_applied = metrics.applied
    bus.subscribe(metrics.changed)
    hub = app.extensions.get("console.hub")
    if hub is not None:
        hub.metrics = metrics
        metrics.sockets.set_function(hub.subscriber_count)
    client = app.extensions.get("console.telnyx")
    session = getattr(client, "_session", None)
    if session is not None:
        session.hooks["response"].append(metrics.telnyx_response(urlsplit(client.base_url).path.rstrip("/")))
    get_watcher(app).on_round = metrics.alert_round  # made here, started by whoever runs it (serve, /wallboard)
    get_retention(app).on_pruned = metrics.pruned  # made here, started by serve and demo
    metrics.watch_database(app.extensions["console.store"], app.config)
    if CLUSTER in app.extensions:
        metrics.registry.register(ClusterCollector(app))
    app.after_request(_count_webhook)
    return metrics


@metrics_views.get("/metrics")
def exposition():
    """Every metric in the Prometheus text format."""
    body = generate_latest(current_app.extensions["console.metrics"].registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
