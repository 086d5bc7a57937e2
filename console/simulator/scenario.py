"""Scenario time for the simulated call center: a seeded calendar of due actions performed on the world.

Scenario time only moves in ``step(sim_seconds)``, which performs, in order, the actions that have
come due, each under the world's lock; ``start()`` runs a thread stepping ``speed`` simulated
seconds per real second. What the actions are (callers, agents) is the traffic's business.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from console.simulator.world import World, WorldError

# One logger for the whole scenario, under the name operators already filter on.
log = logging.getLogger("console.simulator.traffic")

COUNTERS = ("arrived", "answered", "abandoned", "completed", "busy", "errors", "rushes")
TICK_SECONDS = 0.1


@dataclass(order=True)
class _Due:
    """An action the scenario performs once its time comes."""

    at: float
    seq: int
    action: Callable = field(compare=False)
    args: tuple = field(compare=False, default=())


class Scenario:
    """A seeded calendar of actions on a World, stepped by hand or on a thread; the traffic fills it."""

    def __init__(self, world: World, *, seed: int | str, speed: float):
        self.world = world
        self.speed = speed
        self.now = 0.0
        self.rng = random.Random(seed)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self._due: list[_Due] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _dispatch(self) -> None:
        """Hand out the work the last action made possible; the traffic's agents take waiting callers."""

    def warm_start(self, *sizes: int) -> None:
        """Build a busy moment at once before the thread steps on; the traffic says what busy means."""

    # -- the calendar -------------------------------------------------------------------------

    def _schedule(self, delay: float, action: Callable, *args) -> None:
        heapq.heappush(self._due, _Due(self.now + delay, next(self._seq), action, args))

    def step(self, sim_seconds: float) -> None:
        """Advance scenario time by ``sim_seconds``, performing every action that comes due, in order."""
        with self._lock:
            target = self.now + max(0.0, sim_seconds)
            while self._due and self._due[0].at <= target:
                due = heapq.heappop(self._due)
                self.now = max(self.now, due.at)
                self._perform(due.action, *due.args)
                self._perform(self._dispatch)
            self.now = target
            self._perform(self._dispatch)

    def _perform(self, action: Callable, *args) -> None:
        """Run one scenario action under the world lock; a refusal from the world is logged, not fatal."""
        with self.world.lock:
            try:
                action(*args)
            except WorldError as exc:
                self.counts["errors"] += 1
                log.info("traffic action %s refused: %s %s", action.__name__, exc.status, exc.detail)

    def _quietly(self, operation: Callable, *args, **options) -> bool:
        """Call the world and report success; a WorldError (the console got there first) is logged."""
        try:
            operation(*args, **options)
            return True
        except WorldError as exc:
            self.counts["errors"] += 1
            log.info("traffic %s refused: %s %s", operation.__name__, exc.status, exc.detail)
            return False

    # -- running on a thread ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(
        self,
        *,
        warm: tuple[int, int] | None = None,
        when: Callable[[], bool] | None = None,
        wait_limit: float = 10.0,
    ) -> Scenario:
        """Step the scenario on a daemon thread, ``speed`` simulated seconds per real second.

        With ``when``, the thread first waits (at most ``wait_limit`` seconds) until it returns
        true, then runs ``warm_start(*warm)`` if asked: a demo's first calls then reach a console.
        """
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(warm, when, wait_limit), name="sim-traffic", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (bounded); stopping twice is harmless."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, warm, when, wait_limit: float) -> None:
        deadline = time.monotonic() + wait_limit
        while when is not None and not when() and time.monotonic() < deadline:
            if self._stop.wait(TICK_SECONDS):
                return
        if warm is not None:
            try:
                self.warm_start(*warm)
            except Exception:
                log.exception("traffic warm start failed; the scenario carries on")
        last = time.monotonic()
        while not self._stop.wait(TICK_SECONDS):
            now = time.monotonic()
            try:
                self.step((now - last) * self.speed)
            except Exception:
                log.exception("traffic step failed; the scenario carries on")
            last = now
