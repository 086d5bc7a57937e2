"""The demo's default day, stepped by hand: normal operation most of the time, and an incident that clears.

The simulator is built exactly as ``supervisor-console demo`` builds it (its default seed and speed,
the same warm start), but on a hand-driven clock; the webhooks it emits are read back with the
console's own parser, figures (``queues.kpis``) and alert levels (``queues.alerts``) under the
console's default settings, with service level over a sliding ten-minute window.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.cli import build_parser
from console.config import load_settings, parse_thresholds
from console.queues.alerts import evaluate
from console.queues.kpis import KpiSettings, compute
from console.simulator import WARM_START, Simulator, Traffic, World
from console.simulator.rush import Rushes, RushPlan
from console.telnyx.events import parse_event
from tests.sim_fixtures import EventLog, ManualClock

MINUTES = 15
SAMPLE_SECONDS = 5
WINDOW_SECONDS = 600
BAND = (70.0, 95.0)


class DemoDay:
    """The demo's simulator on a hand-driven clock, with each sample's figures and alert levels kept."""

    def __init__(self):
        demo = build_parser().parse_args(["demo"])
        self.settings = load_settings({}, {"CONSOLE_KPI_WINDOW_SECONDS": WINDOW_SECONDS})
        self.kpi = KpiSettings.from_config(self.settings)
        self.thresholds = parse_thresholds(self.settings["CONSOLE_ALERT_THRESHOLDS"])
        self.clock = ManualClock()
        self.simulator = Simulator(seed=demo.seed, speed=demo.speed, clock=self.clock)
        self.log = EventLog()
        self.simulator.world.subscribe(self.log)
        self.events = []
        self.samples: list[tuple[int, dict, dict]] = []  # (second, figures, alert states)

    def run(self, minutes: int) -> DemoDay:
        world, traffic = self.simulator.world, self.simulator.traffic
        traffic.warm_start(*WARM_START)
        for second in range(1, minutes * 60 + 1):
            self.clock.advance(1)
            world.tick()
            traffic.step(1)
            if second % SAMPLE_SECONDS == 0:
                self._sample(second)
        return self

    def _sample(self, second: int) -> None:
        """Read the new webhooks and keep the figures and alert levels the console would show now."""
        fresh = self.log.bodies[len(self.events):]
        self.events.extend(parse_event(body) for body in fresh)
        figures = compute(self.events, datetime.fromtimestamp(self.clock.now, UTC), self.kpi)
        states = evaluate(figures, self.thresholds, self.settings["CONSOLE_ALERT_MIN_CALLS"])
        self.samples.append((second, figures, states))

    def minutes(self) -> list[tuple[int, dict, dict]]:
        return [sample for sample in self.samples if sample[0] % 60 == 0]

    def warnings(self, metrics=("longest_wait", "depth")) -> list[int]:
        """The seconds at which some queue's longest wait or depth was at warning or worse."""
        return [second for second, _, states in self.samples
                if any(level != "ok" for (_, metric), (level, _) in states.items() if metric in metrics)]


@pytest.fixture(scope="module")
def demo_day():
    day = DemoDay().run(MINUTES)
    queues = day.simulator.traffic.queues
    print(f"\nminute  {'  '.join(f'{queue:^24}' for queue in queues)}   (SL % over calls, wait s, depth)")
    for second, figures, states in day.minutes():
        cells = []
        for queue in queues:
            figure = figures.get(queue)
            if figure is None:
                cells.append(f"{'-':^24}")
                continue
            sl = "--" if figure.service_level is None else f"{figure.service_level:.0f}"
            worst = max((states.get((queue, metric), ("ok", None))[0] for metric in ("longest_wait", "depth")),
                        key=("ok", "warning", "critical").index)
            calls, wait = figure.service_level_calls, figure.longest_wait
            cells.append(f"{sl:>3}% /{calls:3d} {wait:4.0f}s {figure.waiting:2d} {worst:<8}")
        print(f"{second // 60:>6}  {'  '.join(cells)}")
    print("stats:", day.simulator.traffic.stats())
    return day


def test_service_level_stays_mostly_between_70_and_95_percent(demo_day):
    judged = in_band = 0
    for _, figures, _ in demo_day.minutes():
        for queue in demo_day.simulator.traffic.queues:
            figure = figures.get(queue)
            if figure is None or figure.service_level_calls < demo_day.settings["CONSOLE_ALERT_MIN_CALLS"]:
                continue
            judged += 1
            in_band += BAND[0] <= figure.service_level <= BAND[1]
    assert judged >= 2 * MINUTES, "every queue has enough calls to judge for most of the run"
    assert in_band >= 0.7 * judged, f"service level in {BAND} for only {in_band} of {judged} queue-minutes"


def test_a_rush_raises_a_wait_or_depth_warning_within_five_minutes_and_it_clears(demo_day):
    warnings = set(demo_day.warnings())
    assert warnings, "no queue's longest wait or depth reached a warning"
    first = min(warnings)
    assert 60 <= first <= 5 * 60, f"the first warning came at {first} s, not within the first five minutes"
    hold = demo_day.settings["CONSOLE_ALERT_CLEAR_SECONDS"]
    seconds = [second for second, _, _ in demo_day.samples]
    cleared = next((second for second in seconds if second > first
                    and not any(second <= other <= second + hold for other in warnings)), None)
    print(f"first warning at {first} s; below it for {hold} s from {cleared} s on")
    assert cleared is not None and cleared <= first + 5 * 60, "the first incident did not clear within five minutes"
    assert len(warnings) < 0.25 * len(seconds), "waits and depths are in warning most of the time"


def test_no_queue_stays_critical_and_agents_keep_up(demo_day):
    stats = demo_day.simulator.traffic.stats()
    critical = [second for second, _, states in demo_day.samples
                if any(level == "critical" for level, _ in states.values())]
    assert len(critical) < 0.1 * len(demo_day.samples)
    assert stats["rushes"] >= 2
    assert stats["answered"] >= 0.9 * (stats["arrived"] - stats["waiting"] - stats["talking"])
    assert stats["abandoned"] < 0.1 * stats["arrived"]
    assert stats["busy"] == 0 and stats["errors"] == 0


def test_the_demo_day_is_the_same_for_the_same_seed():
    first, second = DemoDay().run(5), DemoDay().run(5)

    assert first.log.bodies == second.log.bodies
    assert first.simulator.traffic.stats() == second.simulator.traffic.stats()
    plans = [RushPlan(Rushes(), ("Support", "Sales", "Billing"), seed) for seed in (7, 7, 8)]
    drawn = [[(plan.next_delay(), plan.wave()) for _ in range(5)] for plan in plans]
    assert drawn[0] == drawn[1] != drawn[2]
    assert all(a[1].queue != b[1].queue for a, b in zip(drawn[0], drawn[0][1:])), "no queue is rushed twice running"


@pytest.mark.parametrize("options, says", [
    ({"depth": (7, 5)}, "depth"),
    ({"gap_secs": (0.0, 1.0)}, "gap_secs"),
    ({"every": (-1.0, 5.0)}, "every"),
    ({"most_callers": 0}, "at least one caller"),
])
def test_rushes_refuse_ranges_that_make_no_sense(options, says):
    with pytest.raises(ValueError, match=says):
        Rushes(**options)


@pytest.mark.parametrize("options, says", [
    ({"queue_weights": (1, 1)}, "queue_weights"),
    ({"queue_weights": (0, 0, 0)}, "queue_weights"),
    ({"arrival_shape": 0}, "arrival_shape"),
    ({"arrival_shape": 1.5}, "arrival_shape"),
])
def test_traffic_refuses_weights_and_shapes_that_make_no_sense(options, says):
    with pytest.raises(ValueError, match=says):
        Traffic(World(clock=ManualClock()), **options)
