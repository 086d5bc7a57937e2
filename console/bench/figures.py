"""`supervisor-console bench --figures`: queue figures and the wallboard as the event log grows.

A call center's history is applied straight to a store (the real write path, no HTTP), at a steady
``--figure-rate`` events a day ending now, until the log holds each of ``--figure-sizes`` events
(10,000, 100,000 and 1,000,000 by default: a few hours, a day, ten days). At each size it times
reading the queue figures for the current period (``figures_now``), the last hour's sparklines
and the whole ``/wallboard/board`` render, and, at the smallest size only, the old computation
(every KPI event since the lookback read from the log and folded by ``kpis.compute``), so the two
compare in one run on one machine. Figures, not pass/fail: medians of several readings.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from console.agents.directory import add_agent
from console.queues.figures import (
    figures_from_log,
    figures_now,
    hour_series_now,
    kpi_settings,
)
from console.telnyx.events import Event
from console.web.app import create_app

QUEUES = ("Sales", "Support", "Billing", "Renewals")
AGENTS = 24
SUPPORT_LINE = "+13125550100"
RUNS = 7
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_RATE = 100_000  # events a day: the mid-size center
ALERT_WAIT = 60  # seconds: a caller waiting longer raises (and on leaving clears) a longest-wait alert


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--figure-sizes: whole numbers separated by commas, not {text!r}") from None
    if not sizes or sizes != sorted(sizes) or sizes[0] < 100:
        raise SystemExit("--figure-sizes: at least one size, ascending, each of 100 events or more")
    return sizes


class History:
    """A seeded call center's events, newest call last, ending a little before `end`."""

    def __init__(self, end: datetime, per_day: int, seed: int = 7):
        self.end = end
        self.random = random.Random(seed)
        self.calls = 0
        # ~13 events a call on average (answered calls 14, abandons 5)
        self.gap = 86400 * 13 / per_day

    def _leg(self, ccid: str) -> dict:
        return {"call_control_id": ccid, "call_leg_id": f"leg-{ccid}", "call_session_id": f"session-{ccid}",
                "connection_id": "bench-connection"}

    def call(self, start: datetime) -> list[Event]:
        """One queued call's events: answered by an agent in a conference, or abandoned."""
        self.calls += 1
        rng, n = self.random, self.calls
        customer, queue = f"fig-c-{n}", QUEUES[n % len(QUEUES)]
        agent_number = f"+1555000{n % AGENTS:04d}"
        events = []

        def add(kind: str, moment: datetime, **payload) -> None:
            events.append(Event(f"fig-{n}-{len(events)}", kind, moment, payload))

        add("call.initiated", start, **self._leg(customer), direction="incoming", state="parked",
            to=SUPPORT_LINE, **{"from": f"+1773{n:07d}"})
        add("call.answered", start + timedelta(seconds=1), **self._leg(customer), state="answered")
        queued = start + timedelta(seconds=2)
        add("call.enqueued", queued, **self._leg(customer), queue=queue, current_position=1)
        wait = rng.expovariate(1 / 25)
        left = queued + timedelta(seconds=wait)
        abandoned = rng.random() < 0.1
        if wait > ALERT_WAIT:  # the watcher's longest-wait warning, raised while this caller waited
            events.append(Event(f"fig-{n}-raised", "console.alert.raised", queued + timedelta(seconds=ALERT_WAIT),
                                {"queue": queue, "metric": "longest_wait", "level": "warning",
                                 "message": f"{queue}: a caller has waited over {ALERT_WAIT} s"}, "console"))
            events.append(Event(f"fig-{n}-cleared", "console.alert.cleared", left,
                                {"queue": queue, "metric": "longest_wait", "level": "ok",
                                 "message": f"{queue}: back to normal"}, "console"))
        if abandoned:
            add("call.hangup", left, **self._leg(customer), hangup_cause="normal_clearing")
            add("call.dequeued", left, **self._leg(customer), queue=queue, reason="hangup", wait_time_secs=int(wait))
            return events
        conference, agent = f"fig-conf-{n}", f"fig-a-{n}"
        add("call.dequeued", left, **self._leg(customer), queue=queue, reason="bridged", wait_time_secs=int(wait))
        add("call.initiated", left - timedelta(seconds=3), **self._leg(agent), direction="outgoing",
            state="bridging", to=agent_number, **{"from": SUPPORT_LINE})
        add("call.answered", left, **self._leg(agent), state="answered")
        add("conference.created", left, **self._leg(customer), conference_id=conference, name=f"Call {n}")
        add("conference.participant.joined", left + timedelta(seconds=0.5), **self._leg(customer),
            conference_id=conference)
        add("conference.participant.joined", left + timedelta(seconds=1), **self._leg(agent), conference_id=conference)
        ended = left + timedelta(seconds=rng.uniform(60, 420))
        add("conference.participant.left", ended, **self._leg(customer), conference_id=conference)
        add("call.hangup", ended, **self._leg(customer), hangup_cause="normal_clearing")
        add("conference.participant.left", ended + timedelta(seconds=0.5), **self._leg(agent), conference_id=conference)
        add("call.hangup", ended + timedelta(seconds=0.5), **self._leg(agent), hangup_cause="normal_clearing")
        add("conference.ended", ended + timedelta(seconds=1), conference_id=conference, reason="all_left")
        return events

    def events(self, count: int, until: datetime, since: datetime):
        """About `count` events of calls starting in [since, until), in time order per batch of calls."""
        moment, made, batch = since, 0, []
        step = (until - since).total_seconds() / max(count / 13, 1)
        while made + len(batch) < count and moment < until:
            batch += self.call(moment)
            moment += timedelta(seconds=self.random.expovariate(1 / step))
            if len(batch) >= 1000:
                batch.sort(key=lambda event: event.occurred_at)
                made += len(batch)
                yield batch
                batch = []
        if batch:
            batch.sort(key=lambda event: event.occurred_at)
            yield batch


def _median_ms(action, runs: int = RUNS) -> float:
    action()  # the first one warms caches and compiles templates
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def measure_figures(workdir: str, sizes: list[int], per_day: int) -> dict:
    """Grow one log through `sizes` events and time the figures and the wallboard at each."""
    # A sliding day rather than "since midnight", so the figures cover a full day whatever the hour.
    app = create_app({"CONSOLE_DATABASE": os.path.join(workdir, "figures.db"), "CONSOLE_DEMO": True,
                      "CONSOLE_KPI_WINDOW_SECONDS": 86400,
                      "CONSOLE_SECRET_KEY": "bench-only-secret", "TELNYX_BASE_URL": "http://127.0.0.1:9/v2"})
    store = app.extensions["console.store"]
    client = app.test_client()
    config = app.config
    now = datetime.now(UTC)
    for index in range(AGENTS):
        add_agent(store, f"Agent {index:02d}", "Floor", [f"+1555000{index:04d}"])
    rows, seeded, newer = [], 0.0, now
    # The newest calls are seeded first and each size adds older ones, so at every size the last
    # day holds the same traffic (once the log spans a day) and only the history behind it grows.
    history = History(now, per_day)
    try:
        for size in sizes:
            older = now - timedelta(seconds=86400 * size / per_day)
            started = time.perf_counter()
            for batch in history.events(size - store.event_count(), newer, older):
                store.apply_many(batch)
            seeded += time.perf_counter() - started
            newer = older
            logged = store.event_count()
            with app.app_context():
                row = {"events": logged, "figures_ms": _median_ms(lambda: figures_now(store, config)),
                       "sparklines_ms": _median_ms(lambda: hour_series_now(store, datetime.now(UTC),
                                                                           kpi_settings(config))),
                       "wallboard_ms": _median_ms(lambda: _page(client, "/wallboard/board")),
                       "alerts_ms": _median_ms(lambda: _page(client, "/alerts")),
                       "dashboard_ms": _median_ms(lambda: _page(client, "/"))}
                if size == sizes[0]:
                    row["old_figures_ms"] = _median_ms(lambda: figures_from_log(store, config))
            rows.append(row)
    finally:
        app.extensions["console.hub"].stop()
        store.close()
    return {"rows": rows, "seed_s": round(seeded, 1), "events_per_day": per_day,
            "size_bytes": os.path.getsize(os.path.join(workdir, "figures.db"))}


def _page(client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")


def report(result: dict) -> str:
    rows = result["rows"]
    title = f"Queue figures as the log grows ({result['events_per_day']:,} events a day, seeded in {result['seed_s']} s)"
    lines = [title,
             f"{'events':>10}  {'figures ms':>10}  {'sparklines ms':>13}  {'/wallboard/board ms':>19}"
             f"  {'/alerts ms':>10}  {'/ ms':>8}"]
    for row in rows:
        lines.append(f"{row['events']:>10,}  {row['figures_ms']:>10}  {row['sparklines_ms']:>13}  "
                     f"{row['wallboard_ms']:>19}  {row['alerts_ms']:>10}  {row['dashboard_ms']:>8}")
    first = rows[0]
    if "old_figures_ms" in first:
        ratio = first["old_figures_ms"] / first["figures_ms"] if first["figures_ms"] else float("inf")
        lines.append(f"old computation at {first['events']:,} events: {first['old_figures_ms']} ms "
                     f"({ratio:.0f}x the facts' {first['figures_ms']} ms)")
    if len(rows) > 1:
        lines.append(f"largest against smallest: figures x{rows[-1]['figures_ms'] / first['figures_ms']:.2f}, "
                     f"wallboard x{rows[-1]['wallboard_ms'] / first['wallboard_ms']:.2f}, "
                     f"/alerts x{rows[-1]['alerts_ms'] / first['alerts_ms']:.2f}, "
                     f"/ x{rows[-1]['dashboard_ms'] / first['dashboard_ms']:.2f}")
    return "\n".join(lines)


def main(args) -> int:
    """`bench --figures`: seed, measure, print."""
    sizes = _sizes(args.figure_sizes)
    if args.figure_rate < 1000:
        raise SystemExit("--figure-rate: at least 1000 events a day")
    workdir = tempfile.mkdtemp(prefix="supervisor-console-figures-")
    try:
        print(report(measure_figures(workdir, sizes, args.figure_rate)), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
