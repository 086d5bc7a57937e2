"""Queue figures (waiting, speed of answer, service level, abandons, handle time) from the event log.

Pure functions over sequences of Events: nothing here reads the store or the clock, so every
figure can be checked against a hand-built sequence. A queued call counts in the period in which
it left the queue (answered or abandoned); calls still waiting count at the moment asked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from console.config import ServiceTarget, parse_queue_targets
from console.state.outcomes import ABANDON_REASONS, ANSWERED_REASONS
from console.telnyx.events import Event

FORMULA_ANSWERED = "answered"
FORMULA_WITH_ABANDONS = "abandons"
ALL_QUEUES = "*"


@dataclass(frozen=True)
class KpiSettings:
    """How the figures are counted: targets, the service-level formula, short abandons and the period."""

    target: ServiceTarget = ServiceTarget()
    queue_targets: Mapping[str, ServiceTarget] = field(default_factory=dict)
    formula: str = FORMULA_ANSWERED
    short_abandon_seconds: float = 5.0
    timezone: str = "UTC"
    window_seconds: int = 0

    def target_for(self, queue: str) -> ServiceTarget:
        return self.queue_targets.get(queue, self.target)

    @classmethod
    def from_config(cls, config: Mapping) -> KpiSettings:
        """Build from the app's settings (see console/config.py)."""
        target = ServiceTarget(int(config.get("CONSOLE_SL_TARGET_SECONDS", 20)), int(config.get("CONSOLE_SL_GOAL_PERCENT", 80)))
        return cls(
            target=target,
            queue_targets=parse_queue_targets(config.get("CONSOLE_SL_QUEUE_TARGETS") or ""),
            formula=config.get("CONSOLE_SL_FORMULA") or FORMULA_ANSWERED,
            short_abandon_seconds=float(config.get("CONSOLE_SHORT_ABANDON_SECONDS", 5)),
            timezone=config.get("CONSOLE_TIMEZONE") or "UTC",
            window_seconds=int(config.get("CONSOLE_KPI_WINDOW_SECONDS") or 0),
        )


def period_start(now: datetime, settings: KpiSettings) -> datetime:
    """Midnight today in the configured time zone, or `window_seconds` ago for a sliding window."""
    if settings.window_seconds > 0:
        return now - timedelta(seconds=settings.window_seconds)
    local = now.astimezone(ZoneInfo(settings.timezone))
    midnight = datetime(local.year, local.month, local.day, tzinfo=local.tzinfo)
    return midnight.astimezone(UTC)


@dataclass
class QueueFigures:
    """Every figure for one queue (or all queues together) over one period."""

    queue: str
    target: ServiceTarget
    waiting: int = 0
    oldest_enqueued_at: datetime | None = None
    longest_wait: float = 0.0
    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    abandoned_beyond_target: int = 0
    left: int = 0
    total_answer_wait: float = 0.0
    handled: int = 0
    total_handle: float = 0.0
    in_conference: int = 0
    formula: str = FORMULA_ANSWERED

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.total_answer_wait / self.answered if self.answered else None

    @property
    def abandon_rate(self) -> float | None:
        counted = self.answered + self.abandoned
        return 100.0 * self.abandoned / counted if counted else None

    @property
    def service_level_calls(self) -> int:
        """The calls service level is measured over: answered ones, plus abandons past the cutoff if chosen."""
        return self.answered + (self.abandoned if self.formula == FORMULA_WITH_ABANDONS else 0)

    @property
    def service_level(self) -> float | None:
        """Percent answered within target: over answered calls, or also over abandons past the cutoff."""
        base = self.service_level_calls
        return 100.0 * self.answered_in_target / base if base else None

    @property
    def average_handle_time(self) -> float | None:
        return self.total_handle / self.handled if self.handled else None

    def as_dict(self) -> dict:
        """Plain values for templates and CSV."""
        return {
            "queue": self.queue, "target": self.target.label, "waiting": self.waiting,
            "longest_wait": self.longest_wait, "offered": self.offered, "answered": self.answered,
            "answered_in_target": self.answered_in_target, "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned, "abandon_rate": self.abandon_rate,
            "average_speed_of_answer": self.average_speed_of_answer, "service_level": self.service_level,
            "average_handle_time": self.average_handle_time, "in_conference": self.in_conference,
        }


@dataclass
class _Waiting:
    queue: str
    since: datetime


def _moment(event: Event) -> datetime | None:
    return event.ordered_at


def _countable(event: Event) -> bool:
    """Whether the figures can use a logged event: ids, queue and reason are text, a reported wait a number.

    The event log keeps whatever Telnyx sent; an event with other shapes there is left out of the figures.
    """
    payload = event.payload
    if not all(isinstance(payload.get(name), (str, type(None))) for name in
               ("call_control_id", "conference_id", "queue", "reason")):
        return False
    wait = payload.get("wait_time_secs")
    return wait is None or (isinstance(wait, (int, float)) and not isinstance(wait, bool) and math.isfinite(wait))


def compute(events: Iterable[Event], now: datetime, settings: KpiSettings = KpiSettings(),
            start: datetime | None = None, end: datetime | None = None) -> dict[str, QueueFigures]:
    """Figures per queue plus ALL_QUEUES for the period [start, end) (default: the period ending now)."""
    start = period_start(now, settings) if start is None else start
    end = now if end is None else end
    figures: dict[str, QueueFigures] = {}

    def of(queue: str) -> QueueFigures:
        if queue not in figures:
            figures[queue] = QueueFigures(queue, settings.target_for(queue), formula=settings.formula)
        return figures[queue]

    waiting: dict[str, _Waiting] = {}
    # Calls that hung up while queued: the dequeue webhook that may follow is the same departure.
    hung_up: set[str] = set()
    answered_from: dict[str, str] = {}
    joined_at: dict[tuple[str, str], datetime] = {}
    ordered = sorted((e for e in events if _moment(e) is not None and _countable(e)), key=_moment)
    for event in ordered:
        moment = _moment(event)
        if moment >= end:
            break
        payload = event.payload
        ccid = payload.get("call_control_id")
        kind = event.event_type
        if kind == "call.enqueued" and ccid and payload.get("queue"):
            waiting[ccid] = _Waiting(payload["queue"], moment)
            of(payload["queue"])
        elif kind == "call.dequeued" and ccid:
            if ccid in hung_up and ccid not in waiting:
                continue
            _leave_queue(of, waiting.pop(ccid, None), payload, moment, start, settings, answered_from, ccid)
        elif kind == "call.hangup" and ccid in waiting:
            hung_up.add(ccid)
            _leave_queue(of, waiting.pop(ccid), {"reason": "hangup"}, moment, start, settings, answered_from, ccid)
        elif kind == "conference.participant.joined" and ccid:
            joined_at[(payload.get("conference_id"), ccid)] = moment
        elif kind == "conference.participant.left" and ccid:
            began = joined_at.pop((payload.get("conference_id"), ccid), None)
            queue = answered_from.get(ccid)
            if began is not None and queue is not None and moment >= start:
                figure = of(queue)
                figure.handled += 1
                figure.total_handle += (moment - began).total_seconds()
    for ccid, entry in waiting.items():
        figure = of(entry.queue)
        figure.waiting += 1
        if figure.oldest_enqueued_at is None or entry.since < figure.oldest_enqueued_at:
            figure.oldest_enqueued_at = entry.since
    for (_conference, ccid) in joined_at:
        if ccid in answered_from:
            of(answered_from[ccid]).in_conference += 1
    for figure in figures.values():
        if figure.oldest_enqueued_at is not None:
            figure.longest_wait = max(0.0, (end - figure.oldest_enqueued_at).total_seconds())
    figures[ALL_QUEUES] = combine(figures.values(), settings)
    return figures


def _leave_queue(of, entry: _Waiting | None, payload: dict, moment: datetime, start: datetime,
                 settings: KpiSettings, answered_from: dict, ccid: str) -> None:
    """Count one call leaving its queue: answered, abandoned (short or not) or moved on."""
    queue = entry.queue if entry else payload.get("queue")
    if not queue:
        return
    wait = (moment - entry.since).total_seconds() if entry else float(payload.get("wait_time_secs") or 0)
    reason = payload.get("reason")
    if reason in ANSWERED_REASONS:
        answered_from[ccid] = queue
    if moment < start:
        return
    figure = of(queue)
    target = figure.target.seconds
    if reason in ANSWERED_REASONS:
        figure.offered += 1
        figure.answered += 1
        figure.total_answer_wait += wait
        if wait <= target:
            figure.answered_in_target += 1
    elif reason in ABANDON_REASONS:
        if wait < settings.short_abandon_seconds:
            figure.short_abandoned += 1
        else:
            figure.offered += 1
            figure.abandoned += 1
            if wait > target:
                figure.abandoned_beyond_target += 1
    else:
        figure.left += 1


def combine(per_queue: Iterable[QueueFigures], settings: KpiSettings) -> QueueFigures:
    """All queues together; each queue's calls judged against that queue's own target. Its "in conference"
    is the queues' callers in conference added up: legs that never queued (agents) are nobody's call."""
    total = QueueFigures(ALL_QUEUES, settings.target, formula=settings.formula)
    for figure in per_queue:
        for name in ("waiting", "offered", "answered", "answered_in_target", "abandoned", "short_abandoned",
                     "abandoned_beyond_target", "left", "total_answer_wait", "handled", "total_handle",
                     "in_conference"):
            setattr(total, name, getattr(total, name) + getattr(figure, name))
        total.longest_wait = max(total.longest_wait, figure.longest_wait)
        if figure.oldest_enqueued_at and (total.oldest_enqueued_at is None
                                          or figure.oldest_enqueued_at < total.oldest_enqueued_at):
            total.oldest_enqueued_at = figure.oldest_enqueued_at
    return total


def intervals(events: list[Event], start: datetime, end: datetime, step: timedelta,
              settings: KpiSettings = KpiSettings()) -> list[tuple[datetime, dict[str, QueueFigures]]]:
    """Figures for each interval [t, t+step) from start to end, for CSV export and charts."""
    rows = []
    moment = start
    while moment < end:
        stop = min(moment + step, end)
        rows.append((moment, compute(events, stop, settings, start=moment, end=stop)))
        moment = stop
    return rows


FORMULAS = {
    "waiting": "Callers in the queue now (enqueued, not yet dequeued or hung up).",
    "longest_wait": "Now minus the enqueue time of the caller who has waited longest.",
    "asa": "Average speed of answer: total queue wait of answered calls ÷ answered calls.",
    "service_level": "Answered within the target seconds ÷ answered calls × 100.",
    "service_level_abandons": "Answered within the target seconds ÷ (answered + abandoned after the "
                              "short-abandon cutoff) × 100.",
    "abandoned": "Callers who hung up or timed out while queued, after waiting at least the short-abandon "
                 "cutoff; rate = abandoned ÷ (answered + abandoned) × 100.",
    "offered": "Calls that left the queue this period, answered or abandoned (short abandons excluded).",
    "answered": "Calls dequeued into a conference (reason bridged) this period.",
    "aht": "Average handle time: time answered callers spent in their conference, averaged over calls "
           "that finished this period.",
    "in_conference": "Callers answered from the queue who are in a conference right now (for all queues, the "
                     "queues' callers added up; agents are not counted).",
}
