"""Retention: days past CONSOLE_RETENTION_DAYS are folded into daily figures, then pruned in the background.

One thread per app, started by serve and demo beside the alert watcher. Each round:

1. plans: the first day kept in full is today (in CONSOLE_TIMEZONE) less the setting; every earlier
   day, from the oldest event's on, that is not folded yet is due;
2. folds each due day, oldest first (daily_figures.py): what History and its KPI export showed;
3. prunes (console/state/retention.py) up to the cut: the start of the first day kept, or of the
   KPI window when that reaches further back, less the figures' lookback (the events the figures
   of the first day kept, or the live ones, may still read), and never into a day not folded;
4. gives the pages freed back to the file system, a chunk at a time.

Every batch and every chunk is its own short transaction, and the thread pauses between them, so a
webhook waits for at most one. A setting of 0 keeps every day; sessions and spent login-failure
counters are pruned whatever it says.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from console.queues.daily_figures import day_span, fold_day
from console.queues.figures import LOOKBACK
from console.state import folded_days, retention
from console.state.kpi_facts import to_us

log = logging.getLogger("console.retention")

ROUND_SECONDS = 600.0
PAUSE_SECONDS = 0.01  # between two batches: the write lock is free for webhooks meanwhile
VACUUM_PAGES = 512
VACUUM_AT_START_BYTES = 64 * 1024 * 1024  # a VACUUM this size takes a second or two, once, at start


@dataclass(frozen=True)
class Plan:
    """What a round does: the first day kept in full (None: every day is), the days to fold, the log's cut."""

    first_kept: date | None
    due: list[date]
    log_before: datetime | None


def _local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def plan(config: Mapping, now: datetime, oldest_event: datetime | None, last_folded: str | None) -> Plan:
    """The round's plan from the settings, the clock, the oldest event kept and the latest day folded."""
    days = int(config.get("CONSOLE_RETENTION_DAYS") or 0)
    if days <= 0:
        return Plan(None, [], None)
    zone = config.get("CONSOLE_TIMEZONE") or "UTC"
    first_kept = _local_day(now, zone) - timedelta(days=days)
    due = []
    if oldest_event is not None:
        day = _local_day(oldest_event, zone)
        if last_folded is not None:
            day = max(day, date.fromisoformat(last_folded) + timedelta(days=1))
        while day < first_kept:
            due.append(day)
            day += timedelta(days=1)
    window = int(config.get("CONSOLE_KPI_WINDOW_SECONDS") or 0)
    kept_from = min(day_span(first_kept, zone)[0], now - timedelta(seconds=window))
    return Plan(first_kept, due, kept_from - LOOKBACK)


def cuts(config: Mapping, log_before: datetime | None, now: datetime) -> retention.Cuts:
    """The cuts for one round: the log's, and the session and login-failure policies' (access room's rules)."""
    seconds = now.timestamp()
    return retention.Cuts(
        log_before=log_before,
        facts_before_us=None if log_before is None else to_us(log_before),
        sessions_before=seconds - float(config.get("CONSOLE_SESSION_HOURS") or 12) * 3600,
        failures_before=seconds - float(config.get("CONSOLE_LOGIN_FAILURE_WINDOW_SECONDS") or 3600),
        now=seconds,
    )


def oldest_day_kept(store, config: Mapping) -> date | None:
    """The oldest day whose calls are kept in full: the oldest event's, or the day after the latest fold."""
    oldest = retention.oldest_event_at(store)
    if oldest is None:
        return None
    day = _local_day(oldest, config.get("CONSOLE_TIMEZONE") or "UTC")
    last = folded_days.last_day(store)
    if last is not None and day <= date.fromisoformat(last):
        day = date.fromisoformat(last) + timedelta(days=1)
    return day


def database_report(store, config: Mapping) -> dict:
    """For /readyz and /metrics: the file's size and free space, its vacuum mode, and the oldest day kept."""
    oldest = oldest_day_kept(store, config)
    return retention.file_figures(store) | {
        "oldest_day_kept": oldest.isoformat() if oldest else None,
        "last_day_folded": folded_days.last_day(store),
        "retention_days": int(config.get("CONSOLE_RETENTION_DAYS") or 0),
    }


@dataclass
class Round:
    """What one round did."""

    folded: list[date] = field(default_factory=list)
    pruned: dict[str, int] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)
    freed_pages: int = 0


class Retention:
    """Folds and prunes every `interval` seconds in a thread of its own; one per app."""

    def __init__(self, app, *, clock: Callable[[], datetime] | None = None, interval: float = ROUND_SECONDS,
                 pause: float = PAUSE_SECONDS, batch: int = retention.BATCH_ROWS):
        self.app = app
        self.clock = clock or (lambda: datetime.now(UTC))
        self.interval = interval
        self.pause = pause
        self.batch = batch
        self.on_pruned: Callable[[str, int], None] | None = None  # metrics hook: (table, rows) after each batch
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def store(self):
        return self.app.extensions["console.store"]

    def start(self) -> Retention:
        """Switch the file to incremental vacuum if it is small, then start the thread (once)."""
        with self._lock:
            if self._thread is None:
                self.prepare_file()
                self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def prepare_file(self) -> str:
        """The one-time VACUUM that lets pruning shrink the file, done now when it is quick, else explained."""
        store = self.store
        try:
            outcome = retention.make_incremental(store, VACUUM_AT_START_BYTES)
        except sqlite3.Error as exc:
            log.warning("retention: could not switch %s to incremental vacuum: %s", store.path, exc)
            return "failed"
        if outcome in ("too large", "unchanged"):
            log.warning("retention: %s is too large to switch to incremental vacuum at start; old days are still "
                        "pruned and their space reused, but the file will not shrink. To let it shrink, stop the "
                        "console and run once: sqlite3 %s 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM;' (it needs "
                        "free disk space about the file's size).", store.path, store.path)
        return outcome

    def run_round(self) -> Round:
        """Fold what is due, prune what the cut lets go, give free pages back; stops early when stopped."""
        store, config, now = self.store, self.app.config, self.clock()
        done = Round()
        steps = plan(config, now, retention.oldest_event_at(store), folded_days.last_day(store))
        log_before = steps.log_before
        for day in steps.due:
            if self._stop.is_set():
                return done
            try:
                fold_day(store, config, day, now)
            except Exception:  # a day that cannot be folded stays in full, and so does all after it
                log.exception("retention: folding %s failed; it is kept in full", day)
                log_before = min(log_before, day_span(day, config.get("CONSOLE_TIMEZONE") or "UTC")[0] - LOOKBACK)
                break
            done.folded.append(day)
        for table, rows in retention.prune(store, cuts(config, log_before, now), self.batch):
            done.pruned[table] = done.pruned.get(table, 0) + rows
            done.batches.append(rows)
            if self.on_pruned is not None:
                self.on_pruned(table, rows)
            if self._stop.wait(self.pause):
                return done
        while not self._stop.is_set():
            freed = retention.vacuum(store, VACUUM_PAGES)
            done.freed_pages += freed
            if not freed or self._stop.wait(self.pause):
                break
        if done.folded or done.pruned:
            log.info("retention: folded %s; pruned %s; gave back %d pages",
                     ", ".join(day.isoformat() for day in done.folded) or "no day", done.pruned, done.freed_pages)
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                self.run_round()
            except Exception:  # a bad round must not end retention; the next one tries again
                log.exception("retention round failed")
            log.debug("retention round took %.3f s", time.perf_counter() - began)
            if self._stop.wait(self.interval):
                return


def get_retention(app) -> Retention:
    """The app's retention thread, made on first use (started by serve and demo)."""
    found = app.extensions.get("console.retention")
    if found is None:
        found = app.extensions.setdefault("console.retention", Retention(app))
    return found
