"""A day's queue figures kept once its calls leave the log: folded before it goes, read back as the export gave them.

``fold_day`` stores what /history/kpis.csv showed for the day in 15-minute intervals (``figure_intervals``
over the facts, under the settings of the day it was folded), per queue and for all queues (``*``),
with the counts and sums behind each rate. ``folded_intervals`` gives them back for any interval
that is a whole number of those: counts and sums add up, and what is true at an interval's end
(callers waiting, the longest wait, legs in conferences) is what was true at the end of its last
15 minutes. ``day_totals`` is the whole day as one interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from console.config import ServiceTarget
from console.queues.figures import figure_intervals, kpi_settings
from console.queues.kpis import QueueFigures
from console.state import folded_days
from console.state.folded_days import FIGURE_COLUMNS, Fold
from console.telnyx.events import format_timestamp, parse_timestamp

FOLD_STEP = timedelta(minutes=15)
# QueueFigures attributes by the column each is kept in (only "left" is named differently).
_ATTRIBUTES = {column: "left" if column == "left_otherwise" else column for column in FIGURE_COLUMNS}
# What is true at an interval's end, rather than summed over it.
_AT_END = ("waiting", "longest_wait", "in_conference")


class IntervalNotKept(ValueError):
    """A folded day is asked for in intervals its 15-minute figures cannot add up to."""


def day_span(day: date, zone_name: str) -> tuple[datetime, datetime]:
    """A day's [start, end) in UTC: midnight to midnight in the zone (23 or 25 hours when clocks change)."""
    zone = ZoneInfo(zone_name)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def fold_day(store, config: Mapping, day: date, now: datetime) -> int:
    """Keep the day's KPI figures in 15-minute intervals, as the export shows them now; return the rows kept."""
    settings = kpi_settings(config)
    start, end = day_span(day, settings.timezone)
    rows = []
    for moment, figures in figure_intervals(store, start, end, FOLD_STEP, settings):
        for queue, figure in figures.items():
            rows.append({"interval_start": format_timestamp(moment), "queue": queue,
                         "target_seconds": figure.target.seconds, "target_goal": figure.target.goal,
                         "formula": figure.formula}
                        | {column: getattr(figure, attribute) for column, attribute in _ATTRIBUTES.items()})
    fold = Fold(day.isoformat(), settings.timezone, start, end, int(FOLD_STEP.total_seconds()), now)
    return folded_days.save(store, fold, rows)


def find(store, day: date) -> Fold | None:
    """The day's fold, or None while its calls are kept in full."""
    return folded_days.find(store, day.isoformat())


def _figure(row: dict) -> QueueFigures:
    figure = QueueFigures(row["queue"], ServiceTarget(row["target_seconds"], row["target_goal"]),
                          formula=row["formula"])
    for column, attribute in _ATTRIBUTES.items():
        setattr(figure, attribute, row[column])
    return figure


def _added(earlier: QueueFigures | None, later: QueueFigures | None) -> QueueFigures:
    """Two consecutive intervals of one queue as one: sums added, the end as the later one found it."""
    if earlier is None:
        return later
    total = replace(earlier)
    for attribute in _ATTRIBUTES.values():
        if attribute in _AT_END:
            setattr(total, attribute, getattr(later, attribute) if later is not None else 0)
        elif later is not None:
            setattr(total, attribute, getattr(total, attribute) + getattr(later, attribute))
    return total


def folded_intervals(store, fold: Fold, step: timedelta) -> list[tuple[datetime, dict[str, QueueFigures]]]:
    """The folded day's figures per interval of `step` from its start, as ``figure_intervals`` gave them."""
    seconds = int(step.total_seconds())
    if seconds <= 0 or seconds % fold.step_seconds:
        raise IntervalNotKept(f"{fold.day} is kept as {fold.step_seconds // 60}-minute figures only: choose an"
                              f" interval that is a whole number of {fold.step_seconds} seconds")
    kept: dict[datetime, dict[str, QueueFigures]] = {}
    for row in folded_days.figure_rows(store, fold.day):
        kept.setdefault(parse_timestamp(row["interval_start"]), {})[row["queue"]] = _figure(row)
    found: list[tuple[datetime, dict[str, QueueFigures]]] = []
    moment = fold.start
    while moment < fold.end:
        stop = min(moment + step, fold.end)
        figures: dict[str, QueueFigures] = {}
        part = moment
        while part < stop:
            within = kept.get(part, {})
            for queue in figures.keys() | within.keys():
                figures[queue] = _added(figures.get(queue), within.get(queue))
            part += timedelta(seconds=fold.step_seconds)
        found.append((moment, figures))
        moment = stop
    return found


def day_totals(store, fold: Fold) -> dict[str, QueueFigures]:
    """The folded day as one period, per queue and ``*``."""
    intervals = folded_intervals(store, fold, fold.end - fold.start)
    return intervals[0][1] if intervals else {}
