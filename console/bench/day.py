"""The day phase (`bench --day`): a whole day of queue calls played through one console in a few minutes.

A fresh console (gunicorn's gthread worker, as `serve`) whose clock is the simulated day's
(day_clock.py) takes the day's signed webhooks (day_traffic.py) hour by hour, flat out (or at
`--day-rate`), while `--subscribers` live pages (3 in 5 the dashboard, the rest the 4 queue pages)
and a wallboard are open: its socket, and its board reloaded every few seconds as the page does.
Opening the wallboard starts the console's alert watcher, as under `serve`.

After each simulated hour the benchmark reads, with the posting paused: webhooks accepted per
second and their acknowledgement p99, the time to draw /wallboard, the alert watcher's mean round
(from the console's /metrics), the resident memory of the console's processes and the size of its
database. Webhook -> frame latency (send time to the first frame carrying the changed row) is
worked out per hour at the end, from what every subscriber received. Then the last hour is set
against the first, every live view is compared with its page, and every event of every call is
looked up in the event log.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from console.agents.directory import fill
from console.bench.day_clock import create as create_clock
from console.bench.day_traffic import QUEUES, run_day_poster
from console.bench.live import READER_HEADERS, run_subscribers
from console.bench.options import BenchOptions
from console.bench.phases import check_views, settle
from console.bench.processes import (
    ConsoleProcess,
    Worker,
    cpu_seconds,
    free_port,
    memory_kib,
    wait_for,
)
from console.bench.stats import ms, percentile
from console.state.store import Store
from console.telnyx import signing

WALLBOARD_REFRESH_SECONDS = 5.0  # the page reloads its board this often (and on a pulse, when traffic pauses)
WALLBOARD_SAMPLES = 3
WALLBOARD_BUDGET_SECONDS = 1.0  # fewer samples when one draw already takes this long
COMPARED = ("webhooks_per_s", "ack_p99_ms", "frame_p99_ms", "wallboard_ms", "watcher_round_ms", "rss_mib", "db_mib")
_ROUND = re.compile(r"^console_alert_round_seconds_(count|sum) ([0-9.e+-]+)$", re.MULTILINE)


def day_watches(count: int) -> list[str]:
    """Live pages: 3 in 5 the dashboard, the rest the queue pages in turn."""
    return ["dashboard" if index % 5 < 3 else f"queue:{QUEUES[index // 5 % len(QUEUES)]}" for index in range(count)]


def timed_get(console: ConsoleProcess, path: str) -> float | None:
    """Seconds to GET a page as a signed-in reader, None when it was not answered 200."""
    started = time.perf_counter()
    try:
        request = urllib.request.Request(console.url + path, headers=READER_HEADERS)
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            return time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return None


def wallboard_ms(console: ConsoleProcess) -> float | None:
    """Median time to draw /wallboard, over up to WALLBOARD_SAMPLES draws within the budget."""
    samples, began = [], time.perf_counter()
    while len(samples) < WALLBOARD_SAMPLES and (not samples or time.perf_counter() - began < WALLBOARD_BUDGET_SECONDS):
        samples.append(timed_get(console, "/wallboard"))
    drawn = [s for s in samples if s is not None]
    return ms(statistics.median(drawn)) if drawn else None


class OpenWallboard(threading.Thread):
    """A wallboard left open: the page once (which starts the alert watcher), then its board every few seconds."""

    def __init__(self, console: ConsoleProcess):
        super().__init__(name="bench-wallboard", daemon=True)
        self.console = console
        self.loads: list[tuple[float, float | None]] = []  # (wall-clock start, seconds or None)
        self.opened = timed_get(console, "/wallboard")
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(WALLBOARD_REFRESH_SECONDS):
            started = time.time()
            self.loads.append((started, timed_get(self.console, "/wallboard/board")))

    def between(self, start: float, end: float) -> float | None:
        """Median board reload (ms) that started in [start, end)."""
        found = [s for at, s in list(self.loads) if start <= at < end and s is not None]
        return ms(statistics.median(found)) if found else None

    def stop(self) -> None:
        self._done.set()
        if self.ident is not None:  # started
            self.join(timeout=130)


def watcher_rounds(console: ConsoleProcess) -> tuple[float, float]:
    """(rounds, seconds) the console's alert watcher has run so far, from /metrics."""
    with urllib.request.urlopen(console.url + "/metrics", timeout=60) as response:
        text = response.read().decode()
    found = dict(_ROUND.findall(text))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def resident_mib(console: ConsoleProcess) -> float:
    """Resident memory of the console's processes now (server, worker, render process)."""
    return round(sum(memory_kib(pid, "VmRSS") for pid in console.pids) / 1024, 1)


def file_mib(path: str) -> float:
    return round(os.path.getsize(path) / 1048576, 2) if os.path.exists(path) else 0.0


def day_start() -> datetime:
    """Midnight (UTC) starting yesterday: the whole simulated day lies in the past of the real clock."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def run_day(options: BenchOptions, workdir: str) -> dict:
    """Play the day through a console of its own and measure it hour by hour."""
    folder = os.path.join(workdir, "day")
    os.makedirs(folder, exist_ok=True)
    key = signing.generate_signing_key()
    start = day_start()
    clock = os.path.join(folder, "clock")
    create_clock(clock, start.timestamp())
    port = free_port()
    poster = Worker(run_day_poster, port, signing.signing_key_seed(key), clock, calls=options.calls,
                    seed=options.seed, day_start=start.timestamp())
    try:
        plan = poster.ask("plan")
        database = os.path.join(folder, "bench.db")  # where ConsoleProcess puts it: the agents come first
        store = Store(database)
        try:
            store.migrate()
            fill(store, plan.pop("agents"))
        finally:
            store.close()
        rows, played, views, opened = _measure(options, folder, key, port, clock, plan, poster)
        log = poster.ask("check", database)
    finally:
        poster.stop()
    return _figures(options, plan, start, rows, played, views, log, opened)


def _measure(options, folder, key, port, clock, plan, poster) -> tuple:
    """Start the console, the pages and the wallboard; play the day; read the latencies; check the views.

    The views are checked at the end of the day's last hour, and again after what follows midnight.
    """
    console = subscribers = wallboard = None
    try:
        console = ConsoleProcess(folder, signing.public_key_b64(key), threads=options.day_subscribers + 32,
                                 render_process=options.render_process, port=port,
                                 extra_args=["--clock-file", clock])
        watches = day_watches(options.day_subscribers) + ["wallboard"]
        subscribers = Worker(run_subscribers, port, watches, deflate=options.deflate)
        wait_for(lambda: subscribers.ask("ready") >= len(watches), 120, "every subscriber's snapshot", 0.2)
        wallboard = OpenWallboard(console)
        wallboard.start()
        player = _Player(options, plan, console, poster, wallboard)
        player.play(range(24))
        views = {"final_view_check": _views(console, subscribers)}
        if player.play([24]):
            # The console notices a new KPI day within a second of its clock passing midnight (the
            # hub asks once a second when idle): the check gives it that second and a half more.
            time.sleep(1.5)
            views["view_check_after_midnight"] = _views(console, subscribers)
        for row, sent in zip(player.rows, player.markers):
            latencies = [value for per in subscribers.ask("latencies", sent) for value in per]
            row.update(frame_samples=len(latencies), frame_p50_ms=ms(percentile(latencies, 0.50)),
                       frame_p99_ms=ms(percentile(latencies, 0.99)))
        return player.rows, player.played, views, wallboard.opened
    finally:  # each is stopped even when stopping the one before failed
        try:
            if wallboard is not None:
                wallboard.stop()
        finally:
            try:
                if subscribers is not None:
                    subscribers.stop()
            finally:
                if console is not None:
                    console.stop()


def _views(console: ConsoleProcess, subscribers: Worker) -> dict:
    """Once the pages have caught up: each page's rows as live updates left them, against the page drawn now."""
    settle(subscribers)
    return check_views(console, [view for view in subscribers.ask("views") if view[0] != "wallboard"])


class _Player:
    """Posts segments of the day and reads the console after each: one row per segment."""

    def __init__(self, options, plan, console, poster, wallboard):
        self.options, self.plan, self.console, self.poster, self.wallboard = options, plan, console, poster, wallboard
        self.rows: list[dict] = []
        self.markers: list[list] = []
        self.posted = 0
        self.played = 0.0
        self.rounds = watcher_rounds(console)

    def play(self, indices) -> int:
        """Post these segments (those with webhooks), each followed by its readings; how many were posted."""
        posted = 0
        for index in indices:
            if self.plan["segment_events"][index]:
                began = time.perf_counter()
                self._segment(index)
                self.played += time.perf_counter() - began
                posted += 1
        return posted

    def _segment(self, index: int) -> None:
        console = self.console
        cpu, started = cpu_seconds(console.pids), time.time()
        result = self.poster.ask("segment", index, self.options.day_rate, self.options.threads, timeout=3600)
        cpu = cpu_seconds(console.pids) - cpu
        self.posted += result["sent"]
        rounds = watcher_rounds(console)
        count, seconds = rounds[0] - self.rounds[0], rounds[1] - self.rounds[1]
        self.rounds = rounds
        elapsed = max(result["elapsed"], 1e-9)
        row = {
            "hour": f"{index:02d}" if index < 24 else "24+", "events": result["sent"], "log_events": self.posted,
            "accepted": result["ok"], "failed": result["failed"], "elapsed_s": round(elapsed, 3),
            "webhooks_per_s": round(result["ok"] / elapsed, 1), "ack_p50_ms": result["ack_p50_ms"],
            "ack_p99_ms": result["ack_p99_ms"], "console_cpu_percent": round(100 * cpu / elapsed, 1),
            "watcher_rounds": int(count), "watcher_round_ms": round(1000 * seconds / count, 1) if count else None,
            "wallboard_open_ms": self.wallboard.between(started, time.time()),
            "wallboard_ms": wallboard_ms(console), "rss_mib": resident_mib(console),
            "db_mib": file_mib(console.database), "wal_mib": file_mib(console.database + "-wal"),
        }
        self.rows.append(row)
        self.markers.append(result["markers"])
        print(f"day: hour {row['hour']}: {row['accepted']} of {row['events']} webhooks at {row['webhooks_per_s']}/s, "
              f"wallboard {row['wallboard_ms']} ms", file=sys.stderr, flush=True)


def _figures(options, plan, start, rows, played, views, log, opened) -> dict:
    hours = [row for row in rows if row["hour"] != "24+"]
    first, last = (hours[0], hours[-1]) if hours else ({}, {})
    ratios = {name: round(last[name] / first[name], 2) if first.get(name) and last.get(name) is not None else None
              for name in COMPARED}
    sent = sum(row["events"] for row in rows)
    accepted = sum(row["accepted"] for row in rows)
    return {
        "day": start.date().isoformat(), "timezone": "UTC", "calls": plan["calls"], "answered": plan["answered"],
        "abandoned": plan["abandoned"], "planned_events": plan["events"], "mean_wait_s": plan["mean_wait_s"],
        "events_per_hour": plan["segment_events"],
        "subscribers": options.day_subscribers, "wallboard_opened_ms": ms(opened),
        "rate": options.day_rate, "played_s": round(played, 1),
        "compression": round(86400 / played, 1) if played else None,
        "webhooks": {"sent": sent, "accepted": accepted, "failed": sum(row["failed"] for row in rows),
                     "all_accepted": accepted == sent == plan["events"]},
        "hours": hours, "after_midnight": next((row for row in rows if row["hour"] == "24+"), None),
        "first_hour": first.get("hour"), "last_hour": last.get("hour"), "last_to_first": ratios,
        "log": log | {"all_logged": log["events_logged"] == log["events_checked"]
                      and log["calls_complete"] == log["calls_checked"]},
    } | views


def _cell(value) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


COLUMNS = (("hour", "hour", 6), ("events", "webhooks", 10), ("webhooks_per_s", "hooks/s", 9),
           ("ack_p99_ms", "ack p99", 9), ("frame_p99_ms", "frame p99", 11), ("wallboard_ms", "wallboard", 11),
           ("watcher_round_ms", "watcher", 9), ("rss_mib", "RSS MiB", 9), ("db_mib", "DB MiB", 9))


def day_lines(day: dict) -> list[str]:
    """The day as printed: one row per simulated hour, what came after midnight, last hour / first hour."""
    lines = [(f"day {day['day']} ({day['timezone']}): {day['calls']:,} calls in {len(QUEUES)} queues "
              f"({day['answered']:,} answered, {day['abandoned']:,} abandoned), {day['planned_events']:,} webhooks, "
              f"{day['subscribers']} live pages and a wallboard; played in {day['played_s']} s "
              f"({day['compression']}x)")]
    header = "".join(f"{title:>{width}}" for _, title, width in COLUMNS)
    lines += [header, "-" * len(header)]
    rows = day["hours"] + ([day["after_midnight"]] if day["after_midnight"] else [])
    for row in rows:
        lines.append("".join(f"{_cell(row[name]):>{width}}" for name, _, width in COLUMNS))
    ratios = day["last_to_first"]
    lines.append(f"{'last/first':<16}" + "".join(f"{_cell(ratios.get(name)):>{width}}"
                                                 for name, _, width in COLUMNS[2:]))
    lines.append("hooks/s: webhooks accepted per second; ack p99 and frame p99 (webhook -> first frame carrying the "
                 "row) in ms; wallboard: /wallboard drawn, ms; watcher: alert-watcher round, mean ms; RSS: the "
                 "console's processes; DB: the database file")
    hooks, log, check = day["webhooks"], day["log"], day["final_view_check"]
    lines.append(f"webhooks: {hooks['accepted']:,} of {hooks['sent']:,} accepted ({hooks['failed']} failed); "
                 f"event log: {log['events_logged']:,} of {log['events_checked']:,} events, "
                 f"{log['calls_complete']:,} of {log['calls_checked']:,} calls complete; final view check: "
                 f"{'passed' if check['passed'] else 'FAILED'} ({check['subscribers_checked']} pages, "
                 f"{check['items_checked']} items) at the end of hour {day['last_hour']}")
    after = day.get("view_check_after_midnight")
    if after:
        line = f"after midnight (the KPI day starts again): view check {'passed' if after['passed'] else 'FAILED'}"
        if not after["passed"]:
            first = after["mismatches"][0]
            line += f" on {len(after['mismatches'])} pages, e.g. {first['watch']} {first['differ'][:3]}"
            if first["sample"]:
                line += f": live {first['sample']['live']!r}, page {first['sample']['page']!r}"
        lines.append(line)
    return lines
