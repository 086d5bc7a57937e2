"""The demo's working day: a staffed call center on a calm base load, and now and then a rush on one queue.

A rush is a wave of callers into one queue in quick succession (a billing run, an outage, a sales
mailing), more than the agents serving it can take at once: the queue's depth and longest wait climb
past the console's alert thresholds, then the agents work it down and the alert clears. The plan of
rushes (when, which queue, how deep) is drawn from its own seeded generator, so it is the same for
the same seed however the rest of the traffic goes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from console.simulator.cast import DEMO_AGENTS


@dataclass(frozen=True)
class Rushes:
    """When rushes come (seconds into the scenario), how deep each backs its queue up, and its callers' patience.

    A rush keeps callers dialling (one every ``gap_secs``) until its queue holds ``depth`` waiting
    callers or ``most_callers`` have called: the free agents take the first ones, the rest wait.
    """

    first_after: tuple[float, float] = (120.0, 200.0)
    every: tuple[float, float] = (480.0, 720.0)
    depth: tuple[int, int] = (5, 7)
    most_callers: int = 20
    gap_secs: tuple[float, float] = (0.5, 2.0)
    patience_secs: tuple[float, float] = (15.0, 60.0)

    def __post_init__(self):
        for name in ("first_after", "every", "depth", "gap_secs", "patience_secs"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"rushes {name} must be a range (low, high) with 0 <= low <= high, got {(low, high)}")
        if self.every[0] <= 0 or self.gap_secs[0] <= 0:
            raise ValueError("rushes and their callers must come a moment apart: every and gap_secs must start above 0")
        if self.most_callers < 1:
            raise ValueError(f"a rush needs at least one caller, got most_callers={self.most_callers}")


@dataclass(frozen=True)
class Rush:
    """One wave of callers into one queue, over once the queue holds ``depth`` callers or ``callers`` have called."""

    queue: str
    depth: int
    callers: int


class RushPlan:
    """Draws the rushes one after another from a seeded generator: the next one's delay, queue and size."""

    def __init__(self, rushes: Rushes, queues: tuple[str, ...], seed: int | str):
        self.rushes = rushes
        self.queues = queues
        self.rng = random.Random(f"{seed}:rushes")
        self.last_queue: str | None = None

    def first_delay(self) -> float:
        return self.rng.uniform(*self.rushes.first_after)

    def next_delay(self) -> float:
        return self.rng.uniform(*self.rushes.every)

    def gap(self) -> float:
        """Seconds between two callers of a rush."""
        return self.rng.uniform(*self.rushes.gap_secs)

    def wave(self) -> Rush:
        """The next rush, on a queue other than the last one's when there is a choice."""
        choices = [queue for queue in self.queues if queue != self.last_queue] or list(self.queues)
        queue = self.rng.choice(choices)
        self.last_queue = queue
        return Rush(queue, self.rng.randint(*self.rushes.depth), self.rushes.most_callers)


# The demo's call center: fourteen agents on three queues (each answers their own queue and overflows
# to the next), a steady base load they answer at a service level of about 85-95 % (most pick up at
# once, now and then one is slow), and a rush on one queue two to three and a half minutes in, then
# one every eight to twelve minutes on another queue.
DEMO_DAY = {
    "queues": ("Support", "Sales", "Billing"),
    "queue_weights": (1, 1, 1),
    "agents": DEMO_AGENTS,
    "arrival_per_minute": 7.0,
    "arrival_shape": 2,
    "max_calls": 80,
    "talk_secs": (20.0, 80.0),
    "ring_secs": (2.0, 8.0),
    "slow_pickup_rate": 0.08,
    "slow_ring_secs": (20.0, 30.0),
    "wrap_up_secs": (5.0, 15.0),
    "rushes": Rushes(),
}
DEMO_WARM_START = (9, 1)
